import DuetCore
import DuetStore

/// Which entries a list shows. The space and the dates narrow the scan on the store's clear
/// columns and their index, so entries outside them are never decrypted; factor, tag, author
/// and deletion are inside the sealed snapshot and are checked once it is open.
public struct EntryFilter: Sendable, Equatable {
    public enum Whose: Sendable, Equatable { case mine, partners }

    public var visibility: Visibility?
    public var factor: String?
    public var tag: String?
    public var author: Whose?
    /// Written at or after (milliseconds).
    public var since: UInt64?
    /// Written before (milliseconds).
    public var until: UInt64?
    /// Deleted entries instead of live ones.
    public var deleted: Bool
    /// Only starred entries.
    public var starred: Bool
    public var limit: Int?

    public init(visibility: Visibility? = nil, factor: String? = nil, tag: String? = nil, author: Whose? = nil,
                since: UInt64? = nil, until: UInt64? = nil, deleted: Bool = false, starred: Bool = false, limit: Int? = nil) {
        self.visibility = visibility
        self.factor = factor
        self.tag = tag
        self.author = author
        self.since = since
        self.until = until
        self.deleted = deleted
        self.starred = starred
        self.limit = limit
    }

    public func validate() throws(DeviceError) {
        _ = try factor.map(EntryRules.factor)
        _ = try tag.map(EntryRules.tag)
    }
}

extension UnlockedDevice {
    /// Entries newest first (by when they were written).
    public func list(_ filter: EntryFilter = EntryFilter()) throws(DeviceError) -> [EntryRecord] {
        let factor = try filter.factor.map(EntryRules.factor)
        // `--tag #repair` finds what `--tag repair` does: tags are stored without their sigil.
        let tag = try filter.tag.map(EntryRules.tag)
        if let limit = filter.limit, limit < 1 { return [] }
        let records = try translatingErrors {
            let authors = try Authors(unlocked)
            var records: [EntryRecord] = []
            try unlocked.forEachEntry(kind: filter.visibility?.kind, from: filter.since, before: filter.until) { entry, kind in
                let mine = entry.author.map(authors.isMine) ?? false
                guard entry.isDeleted == filter.deleted,
                      !(filter.author == .mine && !mine), !(filter.author == .partners && mine),
                      factor.map({ entry.factors.contains($0) }) ?? true,
                      !(filter.starred && !entry.isStarred),
                      tag.map({ entry.tags.contains($0) }) ?? true else { return true }
                records.append(EntryRecord(entry, kind: kind, authors: authors))
                return filter.limit.map { records.count < $0 } ?? true
            }
            return records
        }
        return try countingReplies(records)
    }

    /// Live entries whose title or body contains `text`, ignoring case; newest first. Decrypted
    /// in memory: an index of journal text on disk would be journal text on disk.
    public func search(_ text: String) throws(DeviceError) -> [EntryRecord] {
        guard !text.isEmpty else { throw .emptySearch }
        let records = try translatingErrors {
            let authors = try Authors(unlocked)
            return try unlocked.search(text).map { EntryRecord($0.entry, kind: $0.kind, authors: authors) }
        }
        return try countingReplies(records)
    }

    /// A reflection prompt for `factor` (or any of the five), chosen with the environment's
    /// random source: the factor and the prompt.
    public func prompt(factor: String?) throws(DeviceError) -> (factor: String, prompt: String) {
        try Prompts.pick(factor: factor, environment: environment)
    }
}

/// A tag and how many live entries carry it.
public struct TagCount: Sendable, Equatable {
    public let tag: String
    public let count: Int

    public init(tag: String, count: Int) {
        self.tag = tag
        self.count = count
    }
}

extension UnlockedDevice {
    /// Every tag on a live entry this device can read (private and shared), most used first,
    /// then alphabetically. Counted in memory: no tag index is kept on disk.
    public func tags() throws(DeviceError) -> [TagCount] {
        try translatingErrors {
            var counts: [String: Int] = [:]
            try unlocked.forEachEntry { entry, _ in
                if !entry.isDeleted { for tag in entry.tags.elements { counts[tag, default: 0] += 1 } }
                return true
            }
            return counts.map { TagCount(tag: $0.key, count: $0.value) }
                .sorted { $0.count != $1.count ? $0.count > $1.count : $0.tag < $1.tag }
        }
    }
}
