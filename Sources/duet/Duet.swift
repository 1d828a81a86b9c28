import ArgumentParser

/// `duet`: the journal's command-line client. Commands arrive with the issues that build them
/// (see README.md, "Status"); each is a thin layer over the library.
@main
struct Duet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duet",
        abstract: "An end-to-end encrypted journal for two partners.",
        discussion: """
            Private reflections are readable only on your own devices; shared reflections are \
            readable and editable by both partners. Everything is encrypted on the device before \
            it is stored or synced.
            """,
        version: DuetVersion.description
    )
}

/// The version `duet --version` prints: the release and the protocol it speaks.
enum DuetVersion {
    static let release = "0.1.0"
    static let protocolVersion = 1
    static var description: String { "duet \(release) (protocol \(protocolVersion))" }
}
