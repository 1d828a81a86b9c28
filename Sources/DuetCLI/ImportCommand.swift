import ArgumentParser
import DuetCore
import DuetCrypto
import DuetStore
import Foundation

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import from Duet's own JSON, jrnl's JSON export, or Day One's JSON export.")

    @OptionGroup var common: CommonOptions
    @Option(help: "duet, jrnl or dayone.") var from: String
    @Argument(help: "The export file.") var path: String

    func validate() throws {
        guard ["duet", "jrnl", "dayone"].contains(from) else { throw ValidationError("--from is duet, jrnl or dayone") }
    }

    /// One entry to create: everything is checked before anything is written.
    struct Incoming {
        var id: EntryID?
        /// A Duet export's entry, copied as this device's own writing (its history names the
        /// exporting journal's devices, which no change of ours may claim).
        var original: Entry?
        var title: String?
        var body: [Unicode.Scalar] = []
        var date: UInt64?
        var tags: [String] = []
    }

    func run() throws {
        try reportingErrors {
            guard let data = FileManager.default.contents(atPath: path) else { throw InputError("cannot read \(path)") }
            guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw InputError("\(path) is not a JSON object; is it an export from \(from)?")
            }
            let incoming: [Incoming]
            switch from {
            case "duet": incoming = try Self.parseDuet(root)
            case "jrnl": incoming = try Self.parseJrnl(root)
            default: incoming = try Self.parseDayOne(root)
            }
            let unlocked = try common.unlock()
            var random = SystemRandomSource()
            var skipped = 0
            var edits: [(EntryID, (inout EntryEditor) throws -> Void)] = []
            for item in incoming {
                let id = item.id ?? EntryID.random(using: &random)
                if try unlocked.contains(id) { skipped += 1; continue }
                if let original = item.original {
                    edits.append((id, { editor in editor.recreate(from: original) }))
                } else {
                    edits.append((id, { editor in
                        editor.create()
                        if let title = item.title, !title.isEmpty { editor.setTitle(title) }
                        if let date = item.date { editor.setDate(date) }
                        for tag in item.tags { editor.addTag(tag) }
                        editor.insertText(item.body, at: 0)
                    }))
                }
            }
            if !edits.isEmpty { try unlocked.commitAll(edits, now: nowMilliseconds) }
            print("Imported \(edits.count) entries\(skipped > 0 ? "; skipped \(skipped) already here" : "").")
        }
    }

    static func parseDuet(_ root: [String: Any]) throws -> [Incoming] {
        guard root["format"] as? String == DuetExport.formatName else { throw InputError("not a Duet export (format is not \"duet\")") }
        guard let version = root["version"] as? Int, version <= DuetExport.currentVersion else {
            throw InputError("this Duet export is from a newer version; upgrade Duet")
        }
        guard let entries = root["entries"] as? [[String: Any]] else { throw InputError("the export has no entries list") }
        return try entries.enumerated().map { index, item in
            guard let idText = item["id"] as? String, let id = EntryID(idText),
                  let encoded = item["snapshot"] as? String, let snapshot = Data(base64Encoded: encoded),
                  let entry = try? EntrySnapshot.decode([UInt8](snapshot)), entry.id == id else {
                throw InputError("entry \(index + 1) of the export is damaged; nothing was imported")
            }
            return Incoming(id: id, original: entry)
        }
    }

    /// jrnl's `--format json`: `{"tags": {...}, "entries": [{"title", "body", "date": "YYYY-MM-DD",
    /// "time": "HH:MM", "tags": ["@tag"], "starred"}]}`.
    static func parseJrnl(_ root: [String: Any]) throws -> [Incoming] {
        guard let entries = root["entries"] as? [[String: Any]] else { throw InputError("not a jrnl JSON export: no \"entries\" list") }
        return try entries.enumerated().map { index, item in
            guard let date = item["date"] as? String else { throw InputError("jrnl entry \(index + 1) has no date; nothing was imported") }
            let time = item["time"] as? String ?? "00:00"
            let title = try checkTitle(item["title"] as? String ?? "")
            let body = try BodyInput.checked(item["body"] as? String ?? "")
            let tags = try ((item["tags"] as? [String]) ?? []).map { try checkTag($0.hasPrefix("@") ? String($0.dropFirst()) : $0) }
            return Incoming(title: title, body: body, date: try parseDate("\(date)T\(time):00Z"), tags: tags)
        }
    }

    /// Day One's JSON export: `{"metadata": {...}, "entries": [{"uuid", "creationDate", "text",
    /// "tags", "starred", …}]}`; a first line `# Title` becomes the title.
    static func parseDayOne(_ root: [String: Any]) throws -> [Incoming] {
        guard let entries = root["entries"] as? [[String: Any]] else { throw InputError("not a Day One JSON export: no \"entries\" list") }
        return try entries.enumerated().map { index, item in
            guard let created = item["creationDate"] as? String else {
                throw InputError("Day One entry \(index + 1) has no creationDate; nothing was imported")
            }
            var text = item["text"] as? String ?? ""
            var title: String?
            if text.hasPrefix("# ") {
                let firstLine = text.prefix { $0 != "\n" }
                title = try checkTitle(String(firstLine.dropFirst(2)).trimmingCharacters(in: .whitespaces))
                text = String(text.dropFirst(firstLine.count)).trimmingCharacters(in: .newlines)
            }
            let tags = try ((item["tags"] as? [String]) ?? []).map(checkTag)
            return Incoming(title: title, body: try BodyInput.checked(text), date: try parseDate(created), tags: tags)
        }
    }
}
