public import DuetCore

/// Replays editing traces into Duet's journal, as the tests and `duet-bench` do.
public enum TraceReplay {
    /// How trace operations become changes.
    public enum Mode: String, Sendable, CaseIterable {
        /// Every patch is its own change with its own seq and HLC: a live editor's worst case.
        case changePerOp = "change-per-op"
        /// The whole trace is one change.
        case oneChange = "one-change"
    }

    public static let entry = EntryID(high: 0xD0E7, low: 0x7ACE)

    /// Replays a sequential trace on one device; returns the journal holding the entry.
    public static func sequential(_ trace: EditingTrace, mode: Mode, device: DeviceID = DeviceID(high: 1, low: 1)) -> Journal {
        var journal = Journal()
        var clock = HybridLogicalClock()
        let now: UInt64 = 1_767_225_600_000
        switch mode {
        case .changePerOp:
            for transaction in trace.transactions {
                for patch in transaction.patches {
                    journal.commit(entry: entry, by: device, at: clock.tick(now: now)) { editor in
                        apply(patch, to: &editor)
                    }
                }
            }
        case .oneChange:
            journal.commit(entry: entry, by: device, at: clock.tick(now: now)) { editor in
                for transaction in trace.transactions {
                    for patch in transaction.patches { apply(patch, to: &editor) }
                }
            }
        }
        return journal
    }

    /// Replays a concurrent trace with one replica per agent: before each transaction its
    /// agent receives every transaction its parents depend on (in causal order), then makes
    /// the transaction's patches as one change. At the end every replica receives everything.
    /// Returns the replicas' journals.
    public static func concurrent(_ trace: EditingTrace) -> [Journal] {
        let agents = max(trace.agentCount, (trace.transactions.map(\.agent).max() ?? 0) + 1)
        let devices = (0..<agents).map { DeviceID(high: 0xA6E7, low: UInt64($0) + 1) }
        var journals = [Journal](repeating: Journal(), count: agents)
        var clocks = [HybridLogicalClock](repeating: HybridLogicalClock(), count: agents)
        var changes: [Change?] = Array(repeating: nil, count: trace.transactions.count)
        var applied = [[Bool]](repeating: [Bool](repeating: false, count: trace.transactions.count), count: agents)
        let now: UInt64 = 1_767_225_600_000
        for (index, transaction) in trace.transactions.enumerated() {
            let agent = transaction.agent
            // Everything the parents contain that this agent has not seen, oldest first.
            var missing: [Int] = []
            var stack = transaction.parents
            while let next = stack.popLast() {
                if applied[agent][next] { continue }
                applied[agent][next] = true
                missing.append(next)
                stack.append(contentsOf: trace.transactions[next].parents)
            }
            for earlier in missing.sorted() {
                guard let change = changes[earlier] else { continue }
                journals[agent].receive(change, clock: &clocks[agent], now: now)
            }
            applied[agent][index] = true
            guard !transaction.patches.isEmpty else { continue }
            changes[index] = journals[agent].commit(entry: entry, by: devices[agent], at: clocks[agent].tick(now: now)) { editor in
                for patch in transaction.patches { apply(patch, to: &editor) }
            }
        }
        for agent in 0..<agents {
            for change in changes.compactMap({ $0 }) { journals[agent].receive(change) }
        }
        return journals
    }

    private static func apply(_ patch: EditingTrace.Patch, to editor: inout EntryEditor) {
        if patch.deleteCount > 0 { editor.deleteText(at: patch.position, count: patch.deleteCount) }
        if !patch.insert.isEmpty { editor.insertText(patch.insert, at: patch.position) }
    }
}
