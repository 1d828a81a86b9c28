public import ArgumentParser

/// `duet`: the journal's command-line client (CLI.md). Each command is thin: it parses its
/// input, calls DuetDevice, and renders what comes back in English.
@available(macOS 10.15, macCatalyst 13, iOS 13, tvOS 13, watchOS 6, *)  // lets ArgumentParser pick the async entry point
public struct DuetCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "duet",
        abstract: "An end-to-end encrypted journal for two partners.",
        discussion: """
            Private reflections are readable only on your own devices; shared reflections are \
            readable and editable by both partners. Everything is encrypted on the device before \
            it is stored or synced.
            """,
        version: DuetVersion.description,
        subcommands: [
            InitCommand.self, RecoverCommand.self, WriteCommand.self, EditCommand.self, ListCommand.self, ShowCommand.self,
            SearchCommand.self, DeleteCommand.self, RestoreCommand.self, PromptCommand.self,
            ShareCommand.self, AckCommand.self, ExportCommand.self, ImportCommand.self,
            PairCommand.self, DeviceCommand.self, SyncCommand.self, PassphraseCommand.self, StatusCommand.self,
            CompletionsCommand.self,
            TagsCommand.self,
            UnlockCommand.self, LockCommand.self, DraftCommand.self, AgentServeCommand.self,
        ]
    )

    public init() {}
}

/// The version `duet --version` prints: the release and the protocol it speaks.
enum DuetVersion {
    static let release = "0.1.0"
    static let protocolVersion = 1
    static var description: String { "duet \(release) (protocol \(protocolVersion))" }
}
