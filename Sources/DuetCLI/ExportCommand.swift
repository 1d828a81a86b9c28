import ArgumentParser
import DuetCore
import DuetStore
import Foundation

/// Duet's own export: every entry this device can read, readable fields beside the canonical
/// snapshot (base64) that carries its full history, so `import --from duet` is lossless.
struct DuetExport: Codable {
    static let formatName = "duet"
    static let currentVersion = 1

    struct Item: Codable {
        let id: String
        let title: String
        let body: String
        let createdAt: String
        let factors: [String]
        let tags: [String]
        let mood: Int?
        let deleted: Bool
        /// EntrySnapshot (Protocol/SPEC.md § 4), base64: the entry with its whole history.
        let snapshot: String
    }

    let format: String
    let version: Int
    let exportedAt: String
    let entries: [Item]
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export everything this device can read (json re-imports losslessly; markdown is for reading).")

    @OptionGroup var common: CommonOptions
    @Option(help: "json or markdown.") var format: String = "json"
    @Option(help: "Write to this file (created 0600) instead of standard output.") var out: String?

    func validate() throws {
        guard ["json", "markdown"].contains(format) else { throw ValidationError("--format is json or markdown") }
    }

    func run() throws {
        try reportingErrors {
            let unlocked = try common.unlock()
            let authors = try Authors(unlocked)
            var entries: [(Entry, SpaceKind)] = []
            try unlocked.forEachEntry { entries.append(($0, $1)); return true }
            entries.reverse()  // oldest first reads naturally in a document
            let data: Data
            if format == "json" {
                let items = entries.map { entry, kind in
                    let view = EntryView(entry, kind: kind, authors: authors)
                    return DuetExport.Item(
                        id: view.id, title: view.title, body: view.body, createdAt: view.createdAt, factors: view.factors,
                        tags: view.tags, mood: view.mood, deleted: view.deleted,
                        snapshot: Data(EntrySnapshot.encode(entry)).base64EncodedString())
                }
                let export = DuetExport(format: DuetExport.formatName, version: DuetExport.currentVersion,
                                        exportedAt: rfc3339(nowMilliseconds), entries: items)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                data = try encoder.encode(export) + Data("\n".utf8)
            } else {
                data = Data(Self.markdown(entries.map { EntryView($0, kind: $1, authors: authors) }, name: unlocked.keystore.name).utf8)
            }
            if let out {
                // The user asked for plaintext on disk here; keep it theirs alone.
                let previousMask = umask(0o077)
                defer { umask(previousMask) }
                guard FileManager.default.createFile(atPath: out, contents: data, attributes: [.posixPermissions: 0o600]) else {
                    throw InputError("cannot write \(out); check the folder exists and is writable")
                }
                FileHandle.standardError.write(Data("Exported \(entries.count) entries to \(out).\n".utf8))
            } else {
                FileHandle.standardOutput.write(data)
            }
        }
    }

    static func markdown(_ views: [EntryView], name: String) -> String {
        var text = "# \(name)'s journal\n\n_Exported from Duet on \(rfc3339(nowMilliseconds).prefix(10)); \(views.count) entries._\n"
        for view in views {
            text += "\n---\n\n## \(view.title.isEmpty ? "Untitled" : view.title)\n\n"
            var facts = [String(view.createdAt.prefix(16)).replacingOccurrences(of: "T", with: " ")]
            if !view.factors.isEmpty { facts.append(view.factors.joined(separator: ", ")) }
            if let mood = view.mood { facts.append("mood \(mood)/5") }
            if view.deleted { facts.append("deleted") }
            text += "*\(facts.joined(separator: " · "))*\n"
            if !view.tags.isEmpty { text += "\nTags: \(view.tags.joined(separator: ", "))\n" }
            text += "\n\(view.body)\n"
        }
        return text
    }
}
