import DuetEncoding

/// One replica of a space: its entries, the vector of what it has applied, and the changes that
/// arrived before their causal past (held until it arrives).
///
/// Changes are applied in causal order: a change waits until its author's previous change and
/// every change in its `dependencies` are here. Given that, every replica that has applied the
/// same set of changes has the same entries, whatever the order and duplication of arrival.
public struct Journal: Sendable {
    public private(set) var entries: [EntryID: Entry] = [:]
    /// Per device, the highest seq applied (applied or refused: both are final).
    public private(set) var vector: [DeviceID: UInt64] = [:]
    private var pending: [Dot: Change] = [:]
    /// Held changes that could not be read (SPEC § 3.2, forward compatibility): consumed in
    /// turn, after their device's previous change, since what they depend on is unknown.
    private var pendingUnreadable: [Dot: Entry.InvalidOperation] = [:]
    /// Changes refused as invalid, with the reason. Every replica refuses the same ones.
    public private(set) var refused: [Dot: Entry.InvalidOperation] = [:]

    public init() {}

    /// Changes received whose causal past has not arrived yet.
    public var pendingCount: Int { pending.count + pendingUnreadable.count }

    /// For each held change, the dots of its causal past that this replica has neither applied
    /// nor holds (the author's earlier changes and its dependencies): what it waits for.
    public var missingPast: [(waiting: Dot, needs: Dot)] {
        var missing: [(waiting: Dot, needs: Dot)] = []
        for (dot, change) in pending {
            for needed in change.dependencies where needed.seq > vector[needed.device, default: 0] {
                // The first of the dots up to it that is neither applied nor held. The walk
                // stops at one not held, so it takes at most as many steps as changes are held
                // (seqs are at most 2⁶³ − 1 from the decoder: the step cannot overflow).
                var seq = vector[needed.device, default: 0]
                while seq < needed.seq {
                    seq += 1
                    let candidate = Dot(device: needed.device, seq: seq)
                    if pending[candidate] == nil, pendingUnreadable[candidate] == nil {
                        missing.append((dot, candidate))
                        break
                    }
                }
            }
        }
        return missing
    }

    /// The author's view to put in a new change: the vector without the author itself.
    public func dependencies(excluding device: DeviceID) -> [Dot] {
        // Built straight into the array (this runs on every keystroke's change): no filtered
        // dictionary in between, and no allocation at all for a journal only its author wrote.
        var dots: [Dot] = []
        for (other, seq) in vector where other != device { dots.append(Dot(device: other, seq: seq)) }
        if dots.count > 1 { dots.sort() }
        return dots
    }

    /// What became of a received change.
    public enum Outcome: Equatable, Sendable {
        case applied
        /// Already applied (or refused) earlier: nothing changed.
        case duplicate
        /// Waiting for its causal past.
        case pending
        case refused(Entry.InvalidOperation)
    }

    /// Receives a change from another replica (or a re-delivery of our own), applies it if its
    /// causal past is here, then applies every held change that became ready. Returns the
    /// outcome for `change` and the dots of all changes applied by this call, in order.
    @discardableResult
    public mutating func receive(_ change: Change) -> (outcome: Outcome, applied: [Dot]) {
        if change.seq <= vector[change.device, default: 0] { return (.duplicate, []) }
        guard isReady(change) else {
            // A second, different change for a held dot is a forked device; the relay refuses
            // forks, and the first one held stays (SPEC: the relay keeps the evidence).
            if pending[change.dot] == nil { pending[change.dot] = change }
            return (.pending, [])
        }
        var applied: [Dot] = []
        let outcome = integrate(change, into: &applied)
        drainPending(into: &applied)
        return (outcome, applied)
    }

    /// Receives a change that could not be opened or decoded (a newer Duet's, or hostile bytes a
    /// verified device signed): it is consumed once its device's previous change is here, so
    /// that device's later changes are not blocked, and none of it is applied. Recorded as
    /// refused (`unreadable`).
    @discardableResult
    public mutating func receiveUnreadable(_ dot: Dot) -> (outcome: Outcome, applied: [Dot]) {
        receiveRefused(dot, .unreadable)
    }

    /// Receives a change refused whole before any of it is read for what it does (unreadable,
    /// or dated after its device's certificate expired): consumed in turn like an unreadable one.
    @discardableResult
    public mutating func receiveRefused(_ dot: Dot, _ reason: Entry.InvalidOperation) -> (outcome: Outcome, applied: [Dot]) {
        if dot.seq <= vector[dot.device, default: 0] { return (.duplicate, []) }
        guard vector[dot.device, default: 0] == dot.seq - 1 else {
            pendingUnreadable[dot] = reason
            return (.pending, [])
        }
        var applied: [Dot] = []
        consumeUnreadable(dot, as: reason, into: &applied)
        drainPending(into: &applied)
        return (.refused(reason), applied)
    }

    private mutating func consumeUnreadable(_ dot: Dot, as reason: Entry.InvalidOperation, into applied: inout [Dot]) {
        vector[dot.device] = dot.seq
        refused[dot] = reason
        applied.append(dot)
    }

    /// Makes a local change to `entry` (created if new) by `device` at clock reading `hlc`,
    /// applies it and returns it for sending. The editor's calls shape the change.
    /// A change with no operations was not applied and must not be sent: the journal is
    /// left exactly as it was, its sequence number still free.
    @discardableResult
    public mutating func commit(
        entry id: EntryID, by device: DeviceID, at hlc: HLC, _ edit: (inout EntryEditor) -> Void
    ) -> Change {
        // A change per keystroke makes this the hot path of typing: one hash lookup for the
        // vector and one for the entry, each entry field moved, never copied.
        let known = vector.index(forKey: device)
        let seq = (known.map { vector.values[$0] } ?? 0) + 1
        // A journal only its author has written (the common case while typing) depends on nothing.
        let dependencies = vector.isEmpty || (vector.count == 1 && known != nil) ? [] : dependencies(excluding: device)
        let dot = Dot(device: device, seq: seq), stamp = Stamp(hlc: hlc, device: device)
        var operations: [EntryOperation] = []
        var leftEmpty = false
        // The entry is edited in its slot of the table, swapped into the editor and back, so
        // its body stays uniquely referenced (one extra reference and the first keystroke
        // would copy the whole body).
        modifyEntry(id) { slot in
            var editor = EntryEditor(entry: Entry(id: id), dot: dot, stamp: stamp)
            editor.swapEntry(with: &slot)
            edit(&editor)
            operations = editor.operations
            slot = editor.finish()
            leftEmpty = operations.isEmpty && slot.isEmpty
        }
        if operations.isEmpty {
            // An edit that changed nothing uses no sequence number: peers check a gap-free chain
            // per device, so an empty change is never numbered or sent (nor leaves an empty entry).
            if leftEmpty { entries[id] = nil }
        } else if let known {
            vector.values[known] = seq
        } else {
            vector[device] = seq
        }
        return Change(device: device, seq: seq, hlc: hlc, dependencies: dependencies, entry: id, operations: operations)
    }

    /// Runs `body` on the entry's slot in the table (a new, empty entry if there is none),
    /// with a single lookup.
    private mutating func modifyEntry(_ id: EntryID, _ body: (inout Entry) -> Void) {
        body(&entries[id, default: Entry(id: id)])
    }

    private func isReady(_ change: Change) -> Bool {
        guard vector[change.device, default: 0] == change.seq - 1 else { return false }
        return change.dependencies.allSatisfy { vector[$0.device, default: 0] >= $0.seq }
    }

    private mutating func integrate(_ change: Change, into applied: inout [Dot]) -> Outcome {
        vector[change.device] = change.seq
        applied.append(change.dot)
        var entry = entries.removeValue(forKey: change.entry) ?? Entry(id: change.entry)
        defer { entries[change.entry] = entry.isEmpty ? nil : entry }
        do {
            try entry.validate(change)
        } catch {
            refused[change.dot] = error
            return .refused(error)
        }
        entry.apply(change)
        return .applied
    }

    private mutating func drainPending(into applied: inout [Dot]) {
        var progress = true
        while progress, !pending.isEmpty || !pendingUnreadable.isEmpty {
            progress = false
            for (device, seq) in vector {
                let next = Dot(device: device, seq: seq + 1)
                if let change = pending[next], isReady(change) {
                    pending[next] = nil
                    _ = integrate(change, into: &applied)
                    progress = true
                } else if let reason = pendingUnreadable.removeValue(forKey: next) {
                    consumeUnreadable(next, as: reason, into: &applied)
                    progress = true
                }
            }
            for (dot, reason) in pendingUnreadable where dot.seq == 1 {
                pendingUnreadable[dot] = nil
                consumeUnreadable(dot, as: reason, into: &applied)
                progress = true
            }
            // A device's first change (seq 1) is not keyed by any vector entry yet.
            for (dot, change) in pending where dot.seq == 1 && isReady(change) {
                pending[dot] = nil
                _ = integrate(change, into: &applied)
                progress = true
            }
        }
    }
}

extension Entry {
    /// True for an entry no change has touched (a refused first change leaves nothing behind).
    var isEmpty: Bool { lastChange == nil && creation == nil }
}

extension Journal {
    /// Every entry's canonical snapshot in id order, then the vector: equal bytes mean equal
    /// replicas (the convergence tests compare these).
    public var canonicalState: [UInt8] {
        var writer = ByteWriter()
        for id in entries.keys.sorted() {
            if let entry = entries[id] { writer.lengthPrefixed(EntrySnapshot.encode(entry)) }
        }
        for (device, seq) in vector.sorted(by: { $0.key < $1.key }) {
            writer.raw(device.bytes)
            writer.varint(seq)
        }
        return writer.bytes
    }
}

extension Journal {
    /// A journal rebuilt from stored state: the vector and the entries about to be read or
    /// edited (a store does not need every entry in memory to make a change to one).
    public init(restoring vector: [DeviceID: UInt64], entries: [Entry]) {
        self.init()
        self.vector = vector
        for entry in entries { self.entries[entry.id] = entry }
    }
}
