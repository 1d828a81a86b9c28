import DuetCore

/// What the run did and what was acknowledged: a write or edit counts once `duet` exited 0 (it is
/// then durable on that device). The checks compare every device against this ledger.
struct SoakLedger: Sendable {
    struct Write: Sendable {
        let event: Int
        let id: String
        let device: SoakDevice
        let shared: Bool
        let marker: String
        let title: String

        /// Whether `device` should hold this entry: shared ones on all four, private ones on
        /// the writer's two devices only.
        func belongs(on device: SoakDevice) -> Bool { shared || device.person == self.device.person }
    }

    enum Edit: Sendable {
        case body(marker: String)
        case title(String)
        case factor(witness: String)
        /// `duet ack`: one acknowledgement more (each person acknowledges once; both of a
        /// person's devices may, concurrently).
        case ack
    }

    struct AcknowledgedEdit: Sendable {
        let event: Int
        let device: SoakDevice
        let target: Int
        let edit: Edit
    }

    private(set) var writes: [Int: Write] = [:]
    private(set) var edits: [AcknowledgedEdit] = []
    /// Markers, titles and witnesses of edits that did not exit 0: none may appear anywhere.
    private(set) var unacknowledged: [String] = []
    /// Edits planned on a device the entry had not reached yet (the person could not have made them).
    private(set) var skipped = 0
    /// Edits of a write that was itself not acknowledged.
    private(set) var orphaned = 0
    private(set) var syncs = (succeeded: 0, failed: 0)
    /// Commands that failed where nothing excuses it (a write refused, an edit that is not
    /// "no such entry here yet", a sync with the relay up): violations.
    private(set) var failures: [String] = []
    private(set) var faults: [SoakFault: Int] = [:]
    /// Commands refused because this device's daemon, stopped by SIGSTOP, held the store's write
    /// lock (SQLite's busy timeout): not acknowledged and not violations (any process stopped
    /// inside a write transaction blocks the others), but reported.
    private(set) var excused: [String] = []

    var acknowledgedWrites: (private: Int, shared: Int) {
        (writes.values.count { !$0.shared }, writes.values.count { $0.shared })
    }

    func count(_ kind: (Edit) -> Bool) -> Int { edits.count { kind($0.edit) } }

    mutating func acknowledge(_ write: Write) { writes[write.event] = write }
    mutating func acknowledge(_ edit: AcknowledgedEdit) { edits.append(edit) }
    mutating func refuse(_ text: String) { unacknowledged.append(text) }
    mutating func skip() { skipped += 1 }
    mutating func orphan() { orphaned += 1 }
    mutating func fail(_ line: String) { failures.append(line) }
    mutating func excuse(_ line: String) { excused.append(line) }
    mutating func synced(_ succeeded: Bool) {
        if succeeded { syncs.succeeded += 1 } else { syncs.failed += 1 }
    }
    mutating func injected(_ fault: SoakFault) { if fault.begins { faults[fault, default: 0] += 1 } }

    /// Edits acknowledged for the entry written at `event`.
    func edits(of event: Int) -> [AcknowledgedEdit] { edits.filter { $0.target == event } }
}
