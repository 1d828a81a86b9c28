import DuetCore
import DuetStore
public import Foundation

/// Where an import comes from.
public enum ImportFormat: String, Sendable, Equatable, CaseIterable {
    /// Duet's own export: each entry's snapshot with its history. An import keeps every value,
    /// where it lived (private or shared) and who wrote it, as a marked attribution: the copy is
    /// the importing device's writing ("imported; originally written by Sam").
    case duet
    /// jrnl's `--format json`.
    case jrnl
    /// Day One's JSON export.
    case dayone
}

/// Duet's own export: every entry this device can read, readable fields beside the canonical
/// snapshot (base64) that carries its full history (an import keeps the values, as its own
/// writing: no change of the importer's may claim another device's). Public so
/// that a reader of exports (the soak's replica check) decodes the one format, not a copy of it.
///
/// Version 2 adds, per entry, `space`, `author` (the name this journal knows its author by),
/// `starred` and `originalAuthor` (an entry this journal itself imported); version 1 files
/// still import.
public struct DuetExport: Codable, Sendable {
    static let formatName = "duet"
    static let currentVersion = 2

    public struct Item: Codable, Equatable, Sendable {
        public let id: String
        public let title: String
        public let body: String
        public let createdAt: String
        public let factors: [String]
        public let tags: [String]
        public let mood: Int?
        public let deleted: Bool
        /// "private" or "shared" (version 2).
        public let space: String?
        /// The author's name as this journal knows it, nil when it does not (version 2).
        public let author: String?
        public let starred: Bool?
        /// For an entry this journal imported from another's export: the original author's name
        /// there ("" when unknown; version 2).
        public let originalAuthor: String?
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
    /// written, in one transaction. Entries are keyed by their source (a Duet entry by its id,
    /// a jrnl entry by its date, time and text, a Day One entry by its uuid): one already here is
    /// skipped, so importing a file again adds nothing. jrnl's local times are taken in
    /// `timeZone`. `progress` hears (done, total) as entries are written.
    public func importEntries(_ data: Data, from format: ImportFormat, timeZone: TimeZone = .current,
                              progress: ((Int, Int) -> Void)? = nil) throws(DeviceError) -> ImportResult {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw .importNotJSON(format: format) }
        var tally = LeftOutTally()
        let authors = try translatingErrors { try Authors(unlocked) }
        let incoming = switch format {
        case .duet: try DuetImport.entries(root, isMine: authors.isMine)
        case .jrnl: try JrnlImport.entries(root, timeZone: timeZone, tally: &tally)
        case .dayone: try DayOneImport.entries(root, tally: &tally)
        }
        guard let keys = ImportKeys(personalKeys: unlocked.keystore.personalKeys) else { throw .importNoKey }
        let paired = try translatingErrors { try unlocked.hasSpace(.couple) }
        var skipped = 0
        var seen = Set<EntryID>()
        var planned: [(EntryID, Incoming)] = []
        for item in incoming {
            let id: EntryID
            switch item.source {
            case .entry(let given): id = given
            case .key(let key):
                guard let derived = keys.entryID(for: key) else { throw .importNoKey }
                id = derived
            }
            guard seen.insert(id).inserted else { skipped += 1; continue }
            if try translatingErrors({ try unlocked.contains(id) }) { skipped += 1; continue }
            if item.visibility == .shared, !paired { tally.add(.sharedEntriesNotPaired); continue }
            planned.append((id, item))
        }
        let total = planned.count
        let edits: [(EntryID, SpaceKind, (inout EntryEditor) throws -> Void)] = planned.enumerated().map { position, planned in
            let (id, item) = planned
            return (id, item.visibility.kind, { editor in
                if let original = item.original {
                    editor.recreate(from: original)
                    if let name = item.originalAuthor, original.attribution == nil { editor.setOriginalAuthor(name) }
                } else {
                    editor.create()
                    if let title = item.title, !title.isEmpty { editor.setTitle(title) }
                    if let date = item.date { editor.setDate(date) }
                    for tag in item.tags { editor.addTag(tag) }
                    editor.insertText(item.body, at: 0)
                }
                if item.starred { editor.setStarred(true) }
                progress?(position + 1, total)
            })
        }
        if !edits.isEmpty { try translatingErrors { try unlocked.commitAll(edits, now: environment.now) } }
        return ImportResult(imported: edits.count, skipped: skipped, leftOut: tally.counts)
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
            let authors = try Authors(unlocked)
            var entries: [(Entry, SpaceKind)] = []
            try unlocked.forEachEntry { entries.append(($0, $1)); return true }
            entries.reverse()
            let items = entries.map { entry, kind in
                let written = (entry.date.value ?? nil) ?? entry.creation?.hlc.milliseconds ?? 0
                return DuetExport.Item(
                    id: entry.id.description, title: entry.title.value ?? "", body: entry.body.string,
                    createdAt: Timestamps.rfc3339(written), factors: entry.factors.elements.map(\.rawValue), tags: entry.tags.elements,
                    mood: (entry.mood.value ?? nil).map(Int.init), deleted: entry.isDeleted,
                    space: Visibility(kind).rawValue, author: entry.author.flatMap { authors.author($0).person },
                    starred: entry.isStarred, originalAuthor: entry.attribution,
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
