import ArgumentParser
import DuetCore
import DuetCrypto
import DuetStore
import Foundation

struct ShareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "share",
        abstract: "Copy a private entry into the couple space as a new shared entry; prints its id.")

    @OptionGroup var common: CommonOptions
    @Argument(help: "The private entry's id or a unique prefix of 4+ characters.") var id: String

    func run() throws {
        try reportingErrors {
            let unlocked = try common.unlock()
            let source = try unlocked.resolve(id)
            guard let entry = try unlocked.entry(source) else { throw StoreError(.unknownEntry, "entry \(source) is gone") }
            guard try unlocked.spaceKind(of: source) == .personal else {
                throw InputError("entry \(source) is already shared; nothing was changed")
            }
            guard !entry.isDeleted else { throw InputError("entry \(source) is deleted; restore it first (`duet restore \(source)`)") }
            var random = SystemRandomSource()
            let copy = EntryID.random(using: &random)
            // A new entry: the private one, with its history, stays where it is.
            try unlocked.commit(entry: copy, in: .couple, now: nowMilliseconds) { $0.recreate(from: entry) }
            print(copy.description)
        }
    }
}

struct AckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ack",
        abstract: "Mark a shared entry of your partner's as read and heard.")

    @OptionGroup var common: CommonOptions
    @Argument(help: "The shared entry's id or a unique prefix of 4+ characters.") var id: String

    func run() throws {
        try reportingErrors {
            let unlocked = try common.unlock()
            let target = try unlocked.resolve(id)
            guard let entry = try unlocked.entry(target) else { throw StoreError(.unknownEntry, "entry \(target) is gone") }
            guard try unlocked.spaceKind(of: target) == .couple else {
                throw InputError("entry \(target) is private: only your partner's shared entries can be acknowledged")
            }
            let authors = try Authors(unlocked)
            guard let author = entry.author, !authors.isMine(author) else {
                throw InputError("entry \(target) is your own; acknowledgements are for your partner's entries")
            }
            guard !entry.acknowledgements.contains(where: { authors.isMine($0.device) }) else {
                throw InputError("you already acknowledged entry \(target); nothing was changed")
            }
            try unlocked.commit(entry: target, now: nowMilliseconds) { $0.acknowledge() }
            print(target.description)
        }
    }
}
