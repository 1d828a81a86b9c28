import DuetCore
import Foundation

/// A new entry, as a person gives it. ``validate()`` checks it without the journal, so a
/// client can refuse bad input before asking for the passphrase.
public struct NewEntry: Sendable, Equatable {
    public var visibility: Visibility
    public var title: String?
    public var body: String
    public var factors: [String]
    public var tags: [String]
    public var mood: Int?
    /// The id (or a unique prefix) of the entry this answers. A reply lives where the entry it
    /// answers lives (``UnlockedDevice/reply(to:_:)`` picks that space).
    public var replyTo: String?
    /// When it was written (milliseconds), when not now: `write --date`.
    public var date: UInt64?
    /// Starred (one flag for the entry: on a shared one, for both partners).
    public var starred: Bool

    public init(visibility: Visibility = .private, title: String? = nil, body: String = "", factors: [String] = [],
                tags: [String] = [], mood: Int? = nil, replyTo: String? = nil, date: UInt64? = nil, starred: Bool = false) {
        self.visibility = visibility
        self.title = title
        self.body = body
        self.factors = factors
        self.tags = tags
        self.mood = mood
        self.replyTo = replyTo
        self.date = date
        self.starred = starred
    }

    public func validate() throws(DeviceError) { _ = try checked() }

    struct Checked {
        let title: String?
        let body: [Unicode.Scalar]
        let factors: [Factor]
        let tags: [String]
        let mood: UInt8?
    }

    func checked() throws(DeviceError) -> Checked {
        Checked(title: try title.map(EntryRules.title), body: try EntryRules.body(body), factors: try factors.map(EntryRules.factor),
                tags: try tags.map(EntryRules.tag), mood: try mood.map(EntryRules.mood))
    }
}

/// Changes to an entry. A new body is diffed against `base` (the version it was edited from)
/// when given, else against the body as it is when the change is made.
public struct EntryChanges: Sendable, Equatable {
    public var body: String?
    public var base: EntryVersion?
    public var title: String?
    public var mood: Int?
    public var addFactors: [String]
    public var removeFactors: [String]
    public var addTags: [String]
    public var removeTags: [String]
    /// A new time for when it was written (milliseconds): `edit --date`.
    public var date: UInt64?
    /// Star (true) or unstar (false) it; nil leaves the star as it is.
    public var starred: Bool?

    public init(body: String? = nil, base: EntryVersion? = nil, title: String? = nil, mood: Int? = nil, addFactors: [String] = [],
                removeFactors: [String] = [], addTags: [String] = [], removeTags: [String] = [], date: UInt64? = nil, starred: Bool? = nil) {
        self.body = body
        self.base = base
        self.title = title
        self.mood = mood
        self.addFactors = addFactors
        self.removeFactors = removeFactors
        self.addTags = addTags
        self.removeTags = removeTags
        self.date = date
        self.starred = starred
    }

    /// Whether it touches anything but the body.
    public var changesMetadata: Bool {
        title != nil || mood != nil || date != nil || !addFactors.isEmpty || !removeFactors.isEmpty || !addTags.isEmpty || !removeTags.isEmpty
            || starred != nil
    }

    public func validate() throws(DeviceError) {
        _ = try body.map(EntryRules.body)
        _ = try title.map(EntryRules.title)
        _ = try mood.map(EntryRules.mood)
        _ = try (addFactors + removeFactors).map(EntryRules.factor)
        _ = try (addTags + removeTags).map(EntryRules.tag)
    }
}

/// What a field of an entry may hold (the limits every replica enforces on what it receives).
public enum EntryRules {
    /// The five things partners give each other, by name.
    public static let factorNames = Factor.allCases.map(\.rawValue)
    public static let maximumBodyCharacters = ChangeLimits.maximumBodyScalars
    public static let maximumTitleBytes = ChangeLimits.maximumTitleBytes
    public static let maximumTags = ChangeLimits.maximumTags

    static func factor(_ text: String) throws(DeviceError) -> Factor {
        guard let factor = Factor(rawValue: text.lowercased()) else { throw .unknownFactor(text, known: factorNames) }
        return factor
    }

    static func mood(_ value: Int) throws(DeviceError) -> UInt8 {
        guard (1...5).contains(value) else { throw .moodOutOfRange(value) }
        return UInt8(value)
    }

    /// The characters jrnl marks tags with (its default `tagsymbols`).
    public static let tagSigils: Set<Character> = ["#", "@"]

    /// A tag as stored: without the sigils jrnl users type (`#repair` and `@repair` are the tag
    /// `repair`), so one tag is one element however it was written; 1 to 64 bytes after that.
    public static func tag(_ tag: String) throws(DeviceError) -> String {
        let bare = String(tag.drop { tagSigils.contains($0) })
        guard !bare.isEmpty, bare.utf8.count <= ChangeLimits.maximumTagBytes else { throw .tagSize(maximum: ChangeLimits.maximumTagBytes) }
        return bare
    }

    static func title(_ title: String) throws(DeviceError) -> String {
        guard title.utf8.count <= ChangeLimits.maximumTitleBytes else { throw .titleTooLong(maximum: ChangeLimits.maximumTitleBytes) }
        return title
    }

    static func body(_ text: String) throws(DeviceError) -> [Unicode.Scalar] {
        let scalars = Array(text.unicodeScalars)
        guard scalars.count <= ChangeLimits.maximumBodyScalars else {
            throw .bodyTooLong(count: scalars.count, maximum: ChangeLimits.maximumBodyScalars)
        }
        return scalars
    }

    /// Text from bytes (a file, standard input, an editor's file), if it is UTF-8 and fits.
    public static func text(utf8 bytes: some Collection<UInt8>) throws(DeviceError) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .notUTF8 }
        _ = try body(text)
        return text
    }

    /// `YYYY-MM-DD` (the start of that day, UTC) or a full RFC 3339 time, in milliseconds.
    public static func date(_ text: String) throws(DeviceError) -> UInt64 {
        let full = ISO8601DateFormatter()
        if let date = full.date(from: text) { return milliseconds(date) }
        // The day form exactly: the formatter alone took "2026-12-02 23:59" and "2026-12-02junk"
        // as that day, dropping the rest without a word (found by the new-user trial).
        let bytes = Array(text.utf8)
        let isDay = bytes.count == 10 && bytes.indices.allSatisfy { index in
            index == 4 || index == 7 ? bytes[index] == UInt8(ascii: "-") : (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index])
        }
        guard isDay else { throw .notADate(text) }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        day.timeZone = TimeZone(identifier: "UTC")
        if let date = day.date(from: text) { return milliseconds(date) }
        throw .notADate(text)
    }

    /// A date from an import file or a person: before 1970 is 0, past UInt64 is its maximum.
    static func milliseconds(_ date: Date) -> UInt64 {
        let value = (date.timeIntervalSince1970 * 1000).rounded(.down)
        guard value.isFinite, value > 0 else { return 0 }
        return UInt64(exactly: value) ?? UInt64.max
    }

    /// A name for a person or a device: 1 to 64 bytes once trimmed.
    public static func name(_ text: String) throws(DeviceError) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 64 else { throw .nameSize(maximum: 64) }
        return trimmed
    }
}
