import DuetCore
import DuetStore
public import Foundation

/// Where an import comes from.
public enum ImportFormat: String, Sendable, Equatable, CaseIterable {
    /// Duet's own export: each entry's snapshot with its history. An import keeps every value but
    /// not who wrote it or where: it becomes the importing device's own private writing.
    case duet
    /// jrnl's `--format json`.
    case jrnl
    /// Day One's JSON export.
    case dayone
}

/// What an import did.
public struct ImportResult: Sendable, Equatable {
    public let imported: Int
    /// Entries already in this journal (a second import of the same export).
    public let skipped: Int
}

/// Duet's own export: every entry this device can read, readable fields beside the canonical
/// snapshot (base64) that carries its full history (an import keeps the values, as its own
/// writing: no change of the importer's may claim another device's). Public so
/// that a reader of exports (the soak's replica check) decodes the one format, not a copy of it.
public struct DuetExport: Codable, Sendable {
    static let formatName = "duet"
    static let currentVersion = 1

    public struct Item: Codable, Equatable, Sendable {
        public let id: String
        public let title: String
        public let body: String
        public let createdAt: String
        public let factors: [String]
        public let tags: [String]
        public let mood: Int?
        public let deleted: Bool
        /// EntrySnapshot (Protocol/SPEC.md § 4), base64: the entry with its whole history.
        public let snapshot: String
    }

    public let format: String
    public let version: Int
    public let exportedAt: String
    public let entries: [Item]
}

extension UnlockedDevice {
    /// Imports every entry of an export, or none: everything is checked before anything is
    /// written, in one transaction.
    public func importEntries(_ data: Data, from format: ImportFormat) throws(DeviceError) -> ImportResult {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw .importNotJSON(format: format) }
        let incoming = switch format {
        case .duet: try Importers.duet(root)
        case .jrnl: try Importers.jrnl(root)
        case .dayone: try Importers.dayOne(root)
        }
        var random = environment.generator
        var skipped = 0
        var edits: [(EntryID, (inout EntryEditor) throws -> Void)] = []
        for item in incoming {
            let id = item.id ?? EntryID.random(using: &random)
            if try translatingErrors({ try unlocked.contains(id) }) { skipped += 1; continue }
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
        if !edits.isEmpty { try translatingErrors { try unlocked.commitAll(edits, now: environment.now) } }
        return ImportResult(imported: edits.count, skipped: skipped)
    }

    /// Every entry this device can read, oldest first.
    public func allEntries() throws(DeviceError) -> [EntryRecord] {
        try translatingErrors {
            let authors = try Authors(unlocked)
            var records: [EntryRecord] = []
            try unlocked.forEachEntry { records.append(EntryRecord($0, kind: $1, authors: authors)); return true }
            return records.reversed()
        }
    }

    /// Duet's JSON export of every entry this device can read, oldest first, and how many.
    /// `import --from duet` reads its values back. Plaintext: the caller decides where it goes.
    public func exportJSON() throws(DeviceError) -> (data: Data, count: Int) {
        try translatingErrors {
            var entries: [(Entry, SpaceKind)] = []
            try unlocked.forEachEntry { entries.append(($0, $1)); return true }
            entries.reverse()
            let items = entries.map { entry, kind in
                let written = (entry.date.value ?? nil) ?? entry.creation?.hlc.milliseconds ?? 0
                return DuetExport.Item(
                    id: entry.id.description, title: entry.title.value ?? "", body: entry.body.string,
                    createdAt: Timestamps.rfc3339(written), factors: entry.factors.elements.map(\.rawValue), tags: entry.tags.elements,
                    mood: (entry.mood.value ?? nil).map(Int.init), deleted: entry.isDeleted,
                    snapshot: Data(EntrySnapshot.encode(entry)).base64EncodedString())
            }
            let export = DuetExport(format: DuetExport.formatName, version: DuetExport.currentVersion,
                                    exportedAt: Timestamps.rfc3339(environment.now), entries: items)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return (try encoder.encode(export) + Data("\n".utf8), items.count)
        }
    }
}

/// RFC 3339 in UTC, to the second: the time format of Duet's files.
public enum Timestamps {
    public static func rfc3339(_ milliseconds: UInt64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}

/// One entry to create.
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

/// The three export formats Duet reads.
enum Importers {
    static func duet(_ root: [String: Any]) throws(DeviceError) -> [Incoming] {
        guard root["format"] as? String == DuetExport.formatName else { throw .importNotDuet }
        guard let version = root["version"] as? Int, version <= DuetExport.currentVersion else { throw .importNewerVersion }
        guard let entries = root["entries"] as? [[String: Any]] else { throw .importNoEntries(format: .duet) }
        var incoming: [Incoming] = []
        for (index, item) in entries.enumerated() {
            guard let idText = item["id"] as? String, let id = EntryID(idText),
                  let encoded = item["snapshot"] as? String, let snapshot = Data(base64Encoded: encoded),
                  let entry = try? EntrySnapshot.decode([UInt8](snapshot)), entry.id == id else {
                throw .importDamagedEntry(index: index + 1)
            }
            incoming.append(Incoming(id: id, original: entry))
        }
        return incoming
    }

    /// jrnl's `--format json`: `{"tags": {...}, "entries": [{"title", "body", "date": "YYYY-MM-DD",
    /// "time": "HH:MM", "tags": ["@tag"], "starred"}]}`.
    static func jrnl(_ root: [String: Any]) throws(DeviceError) -> [Incoming] {
        guard let entries = root["entries"] as? [[String: Any]] else { throw .importNoEntries(format: .jrnl) }
        var incoming: [Incoming] = []
        for (index, item) in entries.enumerated() {
            guard let date = item["date"] as? String else { throw .importMissingDate(format: .jrnl, index: index + 1) }
            let time = item["time"] as? String ?? "00:00"
            var tags: [String] = []
            for tag in (item["tags"] as? [String]) ?? [] { tags.append(try EntryRules.tag(tag.hasPrefix("@") ? String(tag.dropFirst()) : tag)) }
            incoming.append(Incoming(title: try EntryRules.title(item["title"] as? String ?? ""), body: try EntryRules.body(item["body"] as? String ?? ""),
                                     date: try EntryRules.date("\(date)T\(time):00Z"), tags: tags))
        }
        return incoming
    }

    /// Day One's JSON export: `{"metadata": {...}, "entries": [{"uuid", "creationDate", "text",
    /// "tags", "starred", …}]}`; a first line `# Title` becomes the title.
    static func dayOne(_ root: [String: Any]) throws(DeviceError) -> [Incoming] {
        guard let entries = root["entries"] as? [[String: Any]] else { throw .importNoEntries(format: .dayone) }
        var incoming: [Incoming] = []
        for (index, item) in entries.enumerated() {
            guard let created = item["creationDate"] as? String else { throw .importMissingDate(format: .dayone, index: index + 1) }
            var text = item["text"] as? String ?? ""
            var title: String?
            if text.hasPrefix("# ") {
                let firstLine = text.prefix { $0 != "\n" }
                title = try EntryRules.title(String(firstLine.dropFirst(2)).trimmingCharacters(in: .whitespaces))
                text = String(text.dropFirst(firstLine.count)).trimmingCharacters(in: .newlines)
            }
            var tags: [String] = []
            for tag in (item["tags"] as? [String]) ?? [] { tags.append(try EntryRules.tag(tag)) }
            incoming.append(Incoming(title: title, body: try EntryRules.body(text), date: try EntryRules.date(created), tags: tags))
        }
        return incoming
    }
}
