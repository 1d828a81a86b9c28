import ArgumentParser
import DuetDevice

struct ShareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "share",
        abstract: "Copy a private entry into the couple space as a new shared entry; prints its id.")

    @OptionGroup var common: CommonOptions
    @Argument(help: "The private entry's id or a unique prefix of 4+ characters.") var id: String

    func run() throws {
        try reportingErrors { print(try common.unlock().share(id)) }
    }
}

struct AckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ack",
        abstract: "Mark a shared entry of your partner's as read and heard.")

    @OptionGroup var common: CommonOptions
    @Argument(help: "The shared entry's id or a unique prefix of 4+ characters.") var id: String

    func run() throws {
        try reportingErrors { print(try common.unlock().acknowledge(id)) }
    }
}
