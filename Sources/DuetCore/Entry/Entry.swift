/// One journal document (DESIGN §4): registers, sets, acknowledgements and the body, each
/// keeping its full history.
public struct Entry: Sendable {
    public let id: EntryID
    /// The change that created the entry: its author and time. Nil until a `create` arrives.
    public internal(set) var creation: Stamp?
    public internal(set) var body = Body()
    /// The latest change applied to this entry (`updatedAt`).
    public internal(set) var lastChange: Stamp?
    /// Registers, sets and acknowledgements, behind one reference (see ``EntryFields``); nil
    /// until the first is written, so an empty entry holds no reference at all.
    private var fields: EntryFields?

    public init(id: EntryID) { self.id = id }

    public internal(set) var title: Register<String> {
        get { fields?.title ?? Register() }
        _modify { yield &uniqueFields().title }
    }
    public internal(set) var mood: Register<UInt8?> {
        get { fields?.mood ?? Register() }
        _modify { yield &uniqueFields().mood }
    }
    public internal(set) var deleted: Register<Bool> {
        get { fields?.deleted ?? Register() }
        _modify { yield &uniqueFields().deleted }
    }
    public internal(set) var kind: Register<String> {
        get { fields?.kind ?? Register() }
        _modify { yield &uniqueFields().kind }
    }
    public internal(set) var replyTo: Register<EntryID?> {
        get { fields?.replyTo ?? Register() }
        _modify { yield &uniqueFields().replyTo }
    }
    /// When the reflection was written, if set (imports keep their original dates).
    public internal(set) var date: Register<UInt64?> {
        get { fields?.date ?? Register() }
        _modify { yield &uniqueFields().date }
    }
    /// Starred or not: one flag for the entry (on a shared one, for both partners).
    public internal(set) var starred: Register<Bool> {
        get { fields?.starred ?? Register() }
        _modify { yield &uniqueFields().starred }
    }
    /// For an entry copied from another journal's export: the original author's name there
    /// ("" when the export named none). A claim of the importing device, not authorship.
    public internal(set) var originalAuthor: Register<String?> {
        get { fields?.originalAuthor ?? Register() }
        _modify { yield &uniqueFields().originalAuthor }
    }
    public internal(set) var factors: ObservedRemoveSet<Factor> {
        get { fields?.factors ?? ObservedRemoveSet() }
        _modify { yield &uniqueFields().factors }
    }
    public internal(set) var tags: ObservedRemoveSet<String> {
        get { fields?.tags ?? ObservedRemoveSet() }
        _modify { yield &uniqueFields().tags }
    }
    /// Who acknowledged the entry and when (grow-only).
    public internal(set) var acknowledgements: Set<Stamp> {
        get { fields?.acknowledgements ?? [] }
        _modify { yield &uniqueFields().acknowledgements }
    }

    private mutating func uniqueFields() -> EntryFields {
        if isKnownUniquelyReferenced(&fields), let fields { return fields }
        let fresh = fields.map(EntryFields.init(copying:)) ?? EntryFields()
        fields = fresh
        return fresh
    }

    public var author: DeviceID? { creation?.device }
    public var isDeleted: Bool { deleted.value ?? false }
    public var isStarred: Bool { starred.value ?? false }

    /// "Originally written by NAME" of an imported copy: the write made in the change that
    /// created the entry, whatever came after. A later write — a partner's, on a shared entry, or
    /// one riding a second `create` — can neither relabel the words nor erase whose they were
    /// (it stays in the register's history, shown by `show --history`). Nil when there is none.
    public var attribution: String? {
        guard let creation else { return nil }
        return originalAuthor.history.first { $0.stamp == creation }?.value ?? nil
    }

    /// Why an operation is refused. Refusal may depend only on the operation itself and its
    /// causal past — never on what happens to have arrived concurrently — so every replica
    /// refuses the same changes. Limits that depend on the whole state (body length, number of
    /// tags) are therefore enforced where a change is made, not where it is applied.
    public enum InvalidOperation: Error, Hashable, Sendable {
        case text(TextError)
        case moodOutOfRange(UInt8)
        case tooLong(field: String, limit: Int)
        case emptyTag
        /// Something attributed to a device other than the change's author: a text insert under
        /// another device's id, or an adopted snapshot that names another device anywhere.
        case foreignAuthor
        /// A snapshot that does not decode, names another entry, or arrives for an entry that
        /// already has state.
        case invalidSnapshot
        /// A change that did not open, unpad or decode (a newer Duet's, or hostile): consumed
        /// whole, none of it applied (SPEC § 3.2, forward compatibility).
        case unreadable
        /// A change its author dated at or after the expiry of that device's certificate:
        /// consumed whole, none of it applied (SPEC § 6.2; the time is the change's own, so
        /// every replica decides alike).
        case expiredCertificate
    }

    /// Checks every operation of a remote change before any is applied, so a change is taken
    /// whole or not at all. Text operations are checked against the body plus what earlier
    /// operations of the same change insert.
    func validate(_ change: Change) throws(InvalidOperation) {
        var typed: [(device: DeviceID, count: UInt32)] = []
        func count(of device: DeviceID) -> UInt32 {
            typed.first { $0.device == device }?.count ?? body.nextCounter(for: device)
        }
        func requireExists(_ id: CharID?) throws(InvalidOperation) {
            guard let id else { return }
            guard id.counter < count(of: id.device) else { throw .text(.unknownCharacter(id)) }
        }
        for operation in change.operations {
            try validate(operation)
            switch operation {
            case .insertText(let insert):
                // Authorship comes from the change, which the edges verified: a device can only
                // insert scalars under its own id, and only its next ones.
                guard insert.id.device == change.device else { throw .foreignAuthor }
                let expected = count(of: change.device)
                guard insert.id.counter == expected else {
                    throw .text(.counterOutOfSequence(expected: expected, got: insert.id.counter))
                }
                guard !insert.scalars.isEmpty else { throw .text(.emptyOperation) }
                try requireExists(insert.originLeft)
                try requireExists(insert.originRight)
                let next = expected + UInt32(insert.scalars.count)
                if let index = typed.firstIndex(where: { $0.device == change.device }) {
                    typed[index].count = next
                } else {
                    typed.append((change.device, next))
                }
            case .adoptSnapshot(let bytes):
                // The snapshot carries its own stamps and ids: taken as it is, it could show an
                // entry as written by the partner. Only what the signing device itself wrote may
                // travel whole (SPEC § 3.3.2).
                try Self.checkAdoptable(bytes, entry: change.entry, author: change.device)
            case .deleteText(let delete):
                guard delete.count > 0 else { throw .text(.emptyOperation) }
                let end = UInt64(delete.start.counter) + UInt64(delete.count)
                guard end <= UInt64(count(of: delete.start.device)) else {
                    throw .text(.unknownCharacter(delete.start))
                }
            default:
                break
            }
        }
    }

    /// Checks what a single operation carries, whatever the state.
    func validate(_ operation: EntryOperation) throws(InvalidOperation) {
        switch operation {
        case .setTitle(let title, _):
            if title.utf8.count > ChangeLimits.maximumTitleBytes {
                throw .tooLong(field: "title", limit: ChangeLimits.maximumTitleBytes)
            }
        case .setMood(let mood, _):
            if let mood, !(1...5).contains(mood) { throw .moodOutOfRange(mood) }
        case .setKind(let kind, _):
            if kind.utf8.count > ChangeLimits.maximumKindBytes {
                throw .tooLong(field: "kind", limit: ChangeLimits.maximumKindBytes)
            }
        case .setOriginalAuthor(let name?, _):
            if name.utf8.count > ChangeLimits.maximumOriginalAuthorBytes {
                throw .tooLong(field: "original author", limit: ChangeLimits.maximumOriginalAuthorBytes)
            }
        case .addTag(let tag), .removeTag(let tag, _):
            if tag.isEmpty { throw .emptyTag }
            if tag.utf8.count > ChangeLimits.maximumTagBytes {
                throw .tooLong(field: "tag", limit: ChangeLimits.maximumTagBytes)
            }
        case .adoptSnapshot(let bytes):
            if bytes.count > ChangeLimits.maximumSnapshotBytes { throw .invalidSnapshot }
        default:
            break
        }
    }

    /// Whether `bytes` may be adopted by this entry on `author`'s behalf: a valid snapshot of
    /// it, nothing here yet, and nothing in it attributed to anyone but `author`.
    func validateAdoption(_ bytes: [UInt8], by author: DeviceID) throws(InvalidOperation) {
        guard isEmpty else { throw .invalidSnapshot }
        try Self.checkAdoptable(bytes, entry: id, author: author)
    }

    /// A snapshot a change by `author` may adopt: it decodes, is of `entry`, and every device it
    /// names (creation, writes, set operations, acknowledgements, typed text) is `author`.
    static func checkAdoptable(_ bytes: [UInt8], entry: EntryID, author: DeviceID) throws(InvalidOperation) {
        guard let adopted = try? EntrySnapshot.decode(bytes), adopted.id == entry else { throw .invalidSnapshot }
        guard EntrySnapshot.namedDevices(adopted).allSatisfy({ $0 == author }) else { throw .foreignAuthor }
    }

    /// Applies a change that ``validate(_:)`` accepted.
    mutating func apply(_ change: Change) {
        for operation in change.operations {
            switch operation {
            case .adoptSnapshot(let bytes):
                // Ignored when the entry already has state, identically everywhere: causal
                // delivery puts everything that depends on the adoption after it.
                if isEmpty, let adopted = try? EntrySnapshot.decode(bytes), adopted.id == id { self = adopted }
            case .insertText(let insert):
                // Validated above; a failure here would be a bug in validation, not bad input.
                do { try body.apply(insert) } catch { preconditionFailure("validated insert refused: \(error)") }
            case .deleteText(let delete):
                do { try body.apply(delete) } catch { preconditionFailure("validated delete refused: \(error)") }
            default:
                applyMetadata(operation, dot: change.dot, stamp: change.stamp)
            }
        }
        if !change.operations.allSatisfy(\.isAdoption) { noteChange(change.stamp) }
    }

    /// Applies a non-text operation (text operations are applied through ``withBody(_:)``
    /// locally, or ``apply(_:)`` remotely).
    mutating func applyMetadata(_ operation: EntryOperation, dot: Dot, stamp: Stamp) {
        switch operation {
        case .create:
            // One create is normal; should a faulty device send two, the earliest wins everywhere.
            if creation.map({ stamp < $0 }) ?? true { creation = stamp }
        case .setTitle(let value, let supersedes):
            title.apply(.init(dot: dot, stamp: stamp, value: value, supersedes: supersedes))
        case .setMood(let value, let supersedes):
            mood.apply(.init(dot: dot, stamp: stamp, value: value, supersedes: supersedes))
        case .setDeleted(let value, let supersedes):
            deleted.apply(.init(dot: dot, stamp: stamp, value: value, supersedes: supersedes))
        case .setKind(let value, let supersedes):
            kind.apply(.init(dot: dot, stamp: stamp, value: value, supersedes: supersedes))
        case .setReplyTo(let value, let supersedes):
            replyTo.apply(.init(dot: dot, stamp: stamp, value: value, supersedes: supersedes))
        case .setDate(let value, let supersedes):
            date.apply(.init(dot: dot, stamp: stamp, value: value, supersedes: supersedes))
        case .setStarred(let value, let supersedes):
            starred.apply(.init(dot: dot, stamp: stamp, value: value, supersedes: supersedes))
        case .setOriginalAuthor(let value, let supersedes):
            originalAuthor.apply(.init(dot: dot, stamp: stamp, value: value, supersedes: supersedes))
        case .adoptSnapshot(let bytes):
            if isEmpty, let adopted = try? EntrySnapshot.decode(bytes), adopted.id == id { self = adopted }
        case .addFactor(let factor):
            factors.add(factor, dot: dot, stamp: stamp)
        case .removeFactor(let factor, let observed):
            factors.remove(factor, observed: observed, stamp: stamp)
        case .addTag(let tag):
            tags.add(tag, dot: dot, stamp: stamp)
        case .removeTag(let tag, let observed):
            tags.remove(tag, observed: observed, stamp: stamp)
        case .acknowledge:
            acknowledgements.insert(stamp)
        case .insertText, .deleteText:
            preconditionFailure("text operations are applied to the body")
        }
    }

    mutating func noteChange(_ stamp: Stamp) {
        if lastChange.map({ $0 < stamp }) ?? true { lastChange = stamp }
    }

    /// Local body edits: the body changes at once and the caller records the operations.
    mutating func withBody<Result>(_ edit: (inout Body) -> Result) -> Result {
        edit(&body)
    }
}

extension EntryOperation {
    var isAdoption: Bool {
        if case .adoptSnapshot = self { return true }
        return false
    }
}
