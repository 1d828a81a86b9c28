/// Makes one local change to one entry: each call updates the entry at once (so later calls see
/// earlier ones, as a person editing would) and records the operation for other replicas.
public struct EntryEditor: Sendable {
    public private(set) var entry: Entry
    public let dot: Dot
    public let stamp: Stamp
    public private(set) var operations: [EntryOperation] = []

    init(entry: Entry, dot: Dot, stamp: Stamp) {
        self.entry = entry
        self.dot = dot
        self.stamp = stamp
    }

    private var device: DeviceID { dot.device }

    /// Exchanges the entry being edited with `other` (how the journal hands an entry over
    /// without copying it).
    mutating func swapEntry(with other: inout Entry) {
        swap(&entry, &other)
    }

    /// The edited entry, stamped with this change, moved out of the editor (which is done).
    /// Swapped out rather than copied: a copy retains and then releases every field of the
    /// entry, which on a change per keystroke was a tenth of the replay.
    mutating func finish() -> Entry {
        if !operations.allSatisfy(\.isAdoption) { entry.noteChange(stamp) }
        var finished = Entry(id: entry.id)
        swap(&finished, &entry)
        return finished
    }

    private mutating func record(_ operation: EntryOperation) {
        entry.applyMetadata(operation, dot: dot, stamp: stamp)
        operations.append(operation)
    }

    public mutating func create() { record(.create) }
    public mutating func setTitle(_ title: String) { record(.setTitle(title, supersedes: entry.title.headDots)) }
    public mutating func setMood(_ mood: UInt8?) { record(.setMood(mood, supersedes: entry.mood.headDots)) }
    public mutating func setDeleted(_ deleted: Bool) { record(.setDeleted(deleted, supersedes: entry.deleted.headDots)) }
    public mutating func setKind(_ kind: String) { record(.setKind(kind, supersedes: entry.kind.headDots)) }
    public mutating func setReplyTo(_ id: EntryID?) { record(.setReplyTo(id, supersedes: entry.replyTo.headDots)) }
    public mutating func setDate(_ milliseconds: UInt64?) { record(.setDate(milliseconds, supersedes: entry.date.headDots)) }
    public mutating func setStarred(_ starred: Bool) { record(.setStarred(starred, supersedes: entry.starred.headDots)) }
    /// "Originally written by NAME", for a copy an import makes: only in the change that creates
    /// the entry, the only write ``Entry/attribution`` counts, so elsewhere it writes nothing.
    public mutating func setOriginalAuthor(_ name: String?) {
        guard operations.contains(.create) else { return }
        record(.setOriginalAuthor(name, supersedes: entry.originalAuthor.headDots))
    }

    /// Adopts a snapshot of this entry whole, history included. Throws if it is not a valid
    /// snapshot of this entry, the entry already has state here, or the snapshot names any
    /// device but this one (`foreignAuthor`: every replica refuses that, SPEC § 3.3.2; copy
    /// such an entry with ``recreate(from:)``).
    public mutating func adopt(snapshot bytes: [UInt8]) throws(Entry.InvalidOperation) {
        try entry.validateAdoption(bytes, by: device)
        entry.applyMetadata(.adoptSnapshot(bytes), dot: dot, stamp: stamp)
        operations.append(.adoptSnapshot(bytes))
    }

    /// Writes `source`'s current values into this (new) entry as ordinary operations by this
    /// device: title, mood, kind, factors, tags, visible text, deletion, and its date (the date it
    /// carries, else when it was created), and an imported entry's original author (sharing an
    /// imported entry must not drop whose words they were). Not the star: a person's star on a
    /// private entry is theirs, and the shared copy would show it to the partner. What `duet
    /// share` and imports of another journal's entries do: the copy is this device's writing,
    /// so no one else's authorship is claimed.
    public mutating func recreate(from source: Entry) {
        create()
        if let title = source.title.value, !title.isEmpty { setTitle(title) }
        if let mood = source.mood.value ?? nil { setMood(mood) }
        if let kind = source.kind.value, !kind.isEmpty { setKind(kind) }
        for factor in source.factors.elements { addFactor(factor) }
        for tag in source.tags.elements { addTag(tag) }
        if let date = (source.date.value ?? nil) ?? source.creation?.hlc.milliseconds { setDate(date) }
        if let original = source.attribution { setOriginalAuthor(original) }
        insertText(source.body.scalars, at: 0)
        if source.isDeleted { setDeleted(true) }
    }

    public mutating func addFactor(_ factor: Factor) { record(.addFactor(factor)) }
    public mutating func removeFactor(_ factor: Factor) {
        record(.removeFactor(factor, observed: entry.factors.liveDots(of: factor)))
    }
    public mutating func addTag(_ tag: String) { record(.addTag(tag)) }
    public mutating func removeTag(_ tag: String) { record(.removeTag(tag, observed: entry.tags.liveDots(of: tag))) }
    public mutating func acknowledge() { record(.acknowledge) }

    /// Inserts `scalars` at visible position `position` of the body.
    public mutating func insertText(_ scalars: [Unicode.Scalar], at position: Int) {
        guard !scalars.isEmpty else { return }
        let device = device
        let insert = entry.withBody { $0.insert(scalars, at: position, by: device) }
        // Typing continues the previous insert (next counter, right after its last scalar,
        // same right origin): one operation for the whole run. A receiver stores such a run as
        // one span either way, so the result is identical; the change is smaller and a merge
        // integrates one run instead of one operation per keystroke.
        if continuesLastInsert(insert), case .insertText(var run) = operations.removeLast() {
            // Taken out and put back, so the run's scalars grow in place rather than being
            // copied whole on every keystroke.
            run.scalars.append(contentsOf: insert.scalars)
            operations.append(.insertText(run))
            return
        }
        operations.append(.insertText(insert))
    }

    /// Whether `insert` continues the change's last operation, an insert: the next counter,
    /// right after its last scalar, the same right origin.
    private func continuesLastInsert(_ insert: TextInsert) -> Bool {
        guard case .insertText(let previous)? = operations.last else { return false }
        return previous.id.device == insert.id.device
            && UInt64(previous.id.counter) + UInt64(previous.scalars.count) == UInt64(insert.id.counter)
            && insert.originLeft == CharID(device: previous.id.device, counter: insert.id.counter &- 1)
            && insert.originRight == previous.originRight
    }

    /// Deletes `count` visible scalars of the body from `position`.
    public mutating func deleteText(at position: Int, count: Int) {
        guard count > 0 else { return }
        let deletes = entry.withBody { $0.delete(at: position, count: count) }
        operations.append(contentsOf: deletes.map(EntryOperation.deleteText))
    }

    /// Replaces the body with `text`, turning only the differing scalars into operations.
    public mutating func replaceBody(with text: [Unicode.Scalar]) {
        let old = entry.body.scalars
        for edit in TextDiff.edits(from: old, to: text).reversed() {
            // Applied from the end so earlier positions stay valid.
            deleteText(at: edit.position, count: edit.deleteCount)
            insertText(Array(text[edit.insertRange]), at: edit.position)
        }
    }
}
