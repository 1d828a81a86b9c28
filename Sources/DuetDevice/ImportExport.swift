import DuetCore
import DuetStore
public import Foundation

/// Where an import comes from.
public enum ImportFormat: String, Sendable, Equatable, CaseIterable {
    /// Duet's own export: each entry's snapshot with its history. An import keeps every value;
    /// where it lived (private or shared) and who wrote it only as far as the file proves them
    /// (``ImportResult/SharedAsPrivate``, ``ExportTags``). The copy is the importing device's
    /// writing, marked "Sam imported this; the file says Alex wrote it" unless it is Sam's own.
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
/// `starred` and `originalAuthor` (an entry this journal itself imported). Version 3 adds
/// `coupleSpace` (the journal's couple space, null when not paired) and, per entry, `mac`
/// (``ExportTags``: what lets the exporting person's devices believe the item). Versions 1 and 2
/// still import.
public struct DuetExport: Codable, Sendable {
    static let formatName = "duet"
    static let currentVersion = 3

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
        /// Keyed BLAKE2b of the item (``ExportTags``), hex; only the exporting person's
        /// devices can check it (version 3).
        public let mac: String?
    }

    public let format: String
    public let version: Int
    public let exportedAt: String
    /// The exporting journal's couple space id, hex; nil (null in the file) when it was not
    /// paired (version 3).
    public let coupleSpace: String?
    public let entries: [Item]

    enum CodingKeys: String, CodingKey {
        case format, version, exportedAt, coupleSpace, entries
    }

    /// As synthesised, but `coupleSpace` is written as null rather than left out: the file says
    /// "not paired" instead of leaving a reader to guess which version dropped it.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(format, forKey: .format)
        try container.encode(version, forKey: .version)
        try container.encode(exportedAt, forKey: .exportedAt)
        try container.encode(coupleSpace, forKey: .coupleSpace)
        try container.encode(entries, forKey: .entries)
    }
}

extension UnlockedDevice {
    /// Imports every entry of an export, or none: everything is checked before anything is
    /// written, in one transaction. Entries are keyed by their source (a Duet entry by its id,
    /// a jrnl entry by its date, time and text, a Day One entry by its uuid): one already here is
    /// skipped, so importing a file again adds nothing. jrnl's local times are taken in
    /// `timeZone`. `progress` hears (done, total) as entries are written.
    ///
    /// A Duet entry the file marks shared goes into the couple space only when the file proves
    /// it is this person's own export of this couple space, or with `keepShared` (the person
    /// trusts the file); otherwise it is imported as private, and counted.
    public func importEntries(_ data: Data, from format: ImportFormat, keepShared: Bool = false, timeZone: TimeZone = .current,
                              progress: ((Int, Int) -> Void)? = nil) throws(DeviceError) -> ImportResult {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw .importNotJSON(format: format) }
        var tally = LeftOutTally()
        let personalKeys = unlocked.keystore.personalKeys
        guard let keys = ImportKeys(personalKeys: personalKeys), let tags = ExportTags(personalKeys: personalKeys) else { throw .importNoKey }
        let file = switch format {
        case .duet: try DuetImport.read(root, tags: tags)
        case .jrnl: DuetImport.File(entries: try JrnlImport.entries(root, timeZone: timeZone, tally: &tally))
        case .dayone: DuetImport.File(entries: try DayOneImport.entries(root, tally: &tally))
        }
        let couple = try translatingErrors { try store.space(.couple) }?.id.description
        var skipped = 0
        var madePrivate: [ImportResult.SharedAsPrivate: Int] = [:]
        var seen = Set<EntryID>()
        var planned: [(EntryID, SpaceKind, Incoming)] = []
        for item in file.entries {
            let id: EntryID
            switch item.source {
            case .entry(let original):
                // The original itself is here (synced, or imported under its own id by an
                // earlier version): nothing to add.
                if try translatingErrors({ try unlocked.contains(original) }) { skipped += 1; continue }
                // Otherwise the copy gets an id of its own, derived as a jrnl entry's is: the
                // original may still arrive by sync (this person's unsynced other device, the
                // partner's shared entry), and two creates of one id would merge into one
                // doubled body.
                guard let derived = keys.entryID(for: ImportKeys.sourceKey("duet", [original.description])) else { throw .importNoKey }
                id = derived
            case .key(let key):
                guard let derived = keys.entryID(for: key) else { throw .importNoKey }
                id = derived
            }
            guard seen.insert(id).inserted else { skipped += 1; continue }
            if try translatingErrors({ try unlocked.contains(id) }) { skipped += 1; continue }
            var kind = item.visibility.kind
            if item.visibility == .shared {
                guard let couple else { tally.add(.sharedEntriesNotPaired); continue }
                if !keepShared, let reason = Self.unproven(file.coupleSpace, here: couple, origin: item.origin) {
                    kind = .personal
                    madePrivate[reason, default: 0] &+= 1
                }
            }
            planned.append((id, kind, item))
        }
        let total = planned.count
        let edits: [(EntryID, SpaceKind, (inout EntryEditor) throws -> Void)] = planned.enumerated().map { position, planned in
            let (id, kind, item) = planned
            return (id, kind, { editor in
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
        return ImportResult(imported: edits.count, skipped: skipped, leftOut: tally.counts, sharedAsPrivate: madePrivate)
    }

    /// Why a file's claim that an entry was shared in this couple space is not proven, or nil
    /// when it is: the file names this couple space and the item's tag shows this person
    /// exported it so (the tag covers the space and the couple space; without it, anyone who
    /// has seen one export of this journal could mark its private entries shared).
    static func unproven(_ fileCouple: String?, here couple: String, origin: ExportTags.Origin) -> ImportResult.SharedAsPrivate? {
        guard let fileCouple else { return .coupleNotNamed }
        guard fileCouple == couple else { return .fromAnotherCouple }
        return origin == .unchecked ? .notYourExport : nil
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
    /// Each item carries a tag (``ExportTags``) that this person's devices check on import.
    public func exportJSON() throws(DeviceError) -> (data: Data, count: Int) {
        try translatingErrors {
            let authors = try Authors(unlocked)
            let couple = try store.space(.couple)?.id.description
            let tags = ExportTags(personalKeys: unlocked.keystore.personalKeys)
            var entries: [(Entry, SpaceKind)] = []
            try unlocked.forEachEntry { entries.append(($0, $1)); return true }
            entries.reverse()
            let items = entries.map { entry, kind in
                let written = (entry.date.value ?? nil) ?? entry.creation?.hlc.milliseconds ?? 0
                let snapshot = EntrySnapshot.encode(entry)
                let ownWriting = entry.author.map(authors.isMine) ?? false
                return DuetExport.Item(
                    id: entry.id.description, title: entry.title.value ?? "", body: entry.body.string,
                    createdAt: Timestamps.rfc3339(written), factors: entry.factors.elements.map(\.rawValue), tags: entry.tags.elements,
                    mood: (entry.mood.value ?? nil).map(Int.init), deleted: entry.isDeleted,
                    space: Visibility(kind).rawValue, author: entry.author.flatMap { authors.author($0).person },
                    starred: entry.isStarred, originalAuthor: entry.attribution,
                    snapshot: Data(snapshot).base64EncodedString(),
                    mac: tags?.tag(id: entry.id, snapshot: snapshot, visibility: Visibility(kind), couple: couple, ownWriting: ownWriting))
            }
            let export = DuetExport(format: DuetExport.formatName, version: DuetExport.currentVersion,
                                    exportedAt: Timestamps.rfc3339(environment.now), coupleSpace: couple, entries: items)
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
