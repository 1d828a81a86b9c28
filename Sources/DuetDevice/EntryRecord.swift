import DuetCore
import DuetStore

/// Which of the two spaces an entry lives in.
public enum Visibility: String, Sendable, Equatable, CaseIterable {
    /// Readable on this person's devices only.
    case `private`
    /// Readable and editable by both partners.
    case shared

    init(_ kind: SpaceKind) { self = kind == .couple ? .shared : .private }
    var kind: SpaceKind { self == .shared ? .couple : .personal }
}

/// An entry as a client shows it. Authorship comes from the change that created the entry,
/// whose device the store verified, never from a field of the payload. Times are milliseconds
/// since the epoch.
public struct EntryRecord: Sendable, Equatable {
    public struct Acknowledgement: Sendable, Equatable {
        public let by: Author
        public let at: UInt64
    }

    public let id: String
    public let visibility: Visibility
    /// Nil for an entry whose creating change this device does not hold.
    public let author: Author?
    /// When it was written: an imported date, else its creation.
    public let created: UInt64
    public let updated: UInt64
    public let title: String
    public let body: String
    public let mood: Int?
    public let factors: [String]
    public let tags: [String]
    public let replyTo: String?
    public let acknowledgements: [Acknowledgement]
    public let isDeleted: Bool
    /// Starred: one flag for the entry (on a shared entry, the same for both partners).
    public let isStarred: Bool
    /// For an entry imported from another journal's Duet export: the name that export gave its
    /// original author ("" when it gave none). A claim made by the device that imported it
    /// (``author``), to be shown as such — never as if that person's device wrote it here.
    public let originalAuthor: String?
    /// Who deleted it (the device that signed the winning write of `deleted`), when it is.
    public let deletedBy: Author?
    /// The body as read now: pass it back to ``UnlockedDevice/edit(_:_:)`` so that an edit made
    /// from this text merges with whatever arrives meanwhile. Made when asked (a list never
    /// asks), from the body as it was read: a value, so nothing that arrives later changes it.
    public var version: EntryVersion { EntryVersion(entry: entryID, body: read.body.version) }
    private let entryID: EntryID
    private let read: ReadBody
    /// How many live entries answer this one (filled in by `list` and `search`; `show` gives
    /// the replies themselves).
    public internal(set) var replyCount = 0

    init(_ entry: Entry, kind: SpaceKind, authors: Authors) {
        id = entry.id.description
        visibility = Visibility(kind)
        author = entry.author.map(authors.author)
        let written = (entry.date.value ?? nil) ?? entry.creation?.hlc.milliseconds ?? 0
        created = written
        updated = max(written, entry.lastChange?.hlc.milliseconds ?? 0)
        title = entry.title.value ?? ""
        body = entry.body.string
        mood = (entry.mood.value ?? nil).map(Int.init)
        factors = entry.factors.elements.map(\.rawValue)
        tags = entry.tags.elements
        replyTo = (entry.replyTo.value ?? nil)?.description
        acknowledgements = entry.acknowledgements.sorted().map { Acknowledgement(by: authors.author($0.device), at: $0.hlc.milliseconds) }
        isDeleted = entry.isDeleted
        isStarred = entry.isStarred
        originalAuthor = entry.attribution
        deletedBy = entry.isDeleted ? entry.deleted.heads.last.map { authors.author($0.stamp.device) } : nil
        entryID = entry.id
        read = ReadBody(body: entry.body)
    }
}

/// The body an ``EntryRecord`` was made from; two are equal when their versions are (worked
/// out only to compare: records are compared in tests, listed everywhere else).
private struct ReadBody: Sendable, Equatable {
    let body: Body
    static func == (lhs: ReadBody, rhs: ReadBody) -> Bool { lhs.body.version == rhs.body.version }
}

/// An entry's text as someone read it, to edit against (issue #15: an edit made on stale text
/// merges instead of erasing what arrived). Opaque; it holds the text, so keep it in memory only.
public struct EntryVersion: Sendable, Equatable {
    let entry: EntryID
    let body: BodyVersion

    /// The text it was read with.
    public var text: String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: body.scalars)
        return String(view)
    }
}

/// Every value each field of an entry ever had, who typed which text, and where this device's
/// latest change to it was delivered.
public struct EntryHistory: Sendable, Equatable {
    public struct Value: Sendable, Equatable {
        /// The value, or nil for "none" (a cleared mood).
        public let value: String?
        public let at: UInt64
        public let by: Author
        public let isCurrent: Bool
    }
    public struct SetChange: Sendable, Equatable {
        public let value: String
        public let added: Bool
        public let at: UInt64
        public let by: Author
    }
    /// Consecutive visible text typed on one device.
    public struct Run: Sendable, Equatable {
        public let by: Author
        public let text: String
    }
    public let title: [Value]
    public let mood: [Value]
    public let deleted: [Value]
    public let factors: [SetChange]
    public let tags: [SetChange]
    public let text: [Run]
    public let deletedText: String

    init(_ entry: Entry, authors: Authors) {
        func values<V>(_ register: Register<V>, _ text: (V) -> String?) -> [Value] {
            let current = register.heads.last?.dot
            return register.history.map {
                Value(value: text($0.value), at: $0.stamp.hlc.milliseconds, by: authors.author($0.stamp.device), isCurrent: $0.dot == current)
            }
        }
        func changes<E>(_ set: ObservedRemoveSet<E>, _ text: (E) -> String) -> [SetChange] {
            set.orderedHistory.map {
                SetChange(value: text($0.element), added: $0.added, at: $0.stamp.hlc.milliseconds, by: authors.author($0.stamp.device))
            }
        }
        title = values(entry.title) { $0 }
        mood = values(entry.mood) { $0.map(String.init) }
        deleted = values(entry.deleted) { $0 ? "yes" : "no" }
        factors = changes(entry.factors) { $0.rawValue }
        tags = changes(entry.tags) { $0 }
        var removed = String.UnicodeScalarView()
        removed.append(contentsOf: entry.body.deletedScalars)
        deletedText = String(removed)
        // Runs as the body holds them, one per device; a client joins them as it names people.
        text = entry.body.authoredRuns.map { run in
            var text = String.UnicodeScalarView()
            text.append(contentsOf: run.scalars)
            return Run(by: authors.author(run.device), text: String(text))
        }
    }
}

/// One entry whole: the record, its history, and the devices that applied this device's
/// latest change to it.
public struct EntryDetail: Sendable, Equatable {
    public let record: EntryRecord
    public let history: EntryHistory?
    public let deliveredTo: [Author]
    /// What it answers, when it is a reply.
    public let parent: ReplyParent?
    /// The live entries that answer it, oldest first.
    public let replies: [EntryRecord]
}
