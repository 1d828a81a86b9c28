import Foundation

/// What a soak found, as text for people or one JSON object (`--json`).
struct SoakReport: Encodable {
    struct Operations: Encodable {
        let planned: Int
        let privateWrites: Int
        let sharedWrites: Int
        let bodyEdits: Int
        let titleEdits: Int
        let factorEdits: Int
        let acks: Int
        /// Edits planned on a device the entry had not reached yet.
        let skippedEdits: Int
        /// Edits of a write that was not acknowledged.
        let orphanedEdits: Int
        let syncs: Int
        let failedSyncs: Int
        var acknowledged: Int { privateWrites + sharedWrites + bodyEdits + titleEdits + factorEdits + acks }
    }

    let seed: UInt64
    let scheduleHash: String
    let seconds: Int
    let command: String
    let operations: Operations
    /// Faults begun, by kind.
    let faults: [String: Int]
    let faultCount: Int
    /// How long the planned phase took, and the most any event ran late.
    let playedSeconds: Double
    let latenessSeconds: Double
    /// The event that took longest to do, and how long.
    let slowestEvent: String
    let slowestEventSeconds: Double
    /// Seconds from healed to converged; nil if it did not converge within the deadline.
    let convergenceSeconds: Double?
    let convergenceDeadline: Int
    let violations: [String]
    /// Commands refused while their device's daemon was stopped by SIGSTOP holding the store.
    let excusedFailures: [String]
    let warnings: [String]
    /// Lines at warning level or above in each daemon's log (expected while the relay is down;
    /// not violations, shown for a look).
    let daemonLogProblems: [String: Int]

    init(seed: UInt64, scheduleHash: String, seconds: Int, command: String, schedule: SoakSchedule, ledger: SoakLedger,
         played: Double, lateness: Double, slowest: (line: String, seconds: Double), convergence: Double?, convergenceDeadline: Int, violations: [String],
         warnings: [String], daemonLogProblems: [String: Int]) {
        self.seed = seed
        self.scheduleHash = scheduleHash
        self.seconds = seconds
        self.command = command
        let writes = ledger.acknowledgedWrites
        operations = Operations(
            planned: schedule.operationCount, privateWrites: writes.private, sharedWrites: writes.shared,
            bodyEdits: ledger.count { if case .body = $0 { true } else { false } },
            titleEdits: ledger.count { if case .title = $0 { true } else { false } },
            factorEdits: ledger.count { if case .factor = $0 { true } else { false } },
            acks: ledger.count { if case .ack = $0 { true } else { false } },
            skippedEdits: ledger.skipped, orphanedEdits: ledger.orphaned,
            syncs: ledger.syncs.succeeded, failedSyncs: ledger.syncs.failed)
        faults = Dictionary(uniqueKeysWithValues: ledger.faults.map { ($0.key.rawValue, $0.value) })
        faultCount = ledger.faults.values.reduce(0, +)
        playedSeconds = played
        latenessSeconds = lateness
        slowestEvent = slowest.line
        slowestEventSeconds = slowest.seconds
        convergenceSeconds = convergence
        self.convergenceDeadline = convergenceDeadline
        self.violations = violations
        excusedFailures = ledger.excused
        self.warnings = warnings
        self.daemonLogProblems = daemonLogProblems
    }

    func printText() {
        let o = operations
        soakPrint("operations: \(o.acknowledged) acknowledged of \(o.planned) planned — writes \(o.privateWrites) private + \(o.sharedWrites) shared; edits: \(o.bodyEdits) body, \(o.titleEdits) title, \(o.factorEdits) factor; \(o.acks) acks (\(o.skippedEdits) skipped: entry not there yet or already acknowledged; \(o.orphanedEdits) of unacknowledged writes); syncs \(o.syncs) (\(o.failedSyncs) failed)")
        soakPrint("faults: \(faultCount) — " + faults.sorted { $0.key < $1.key }.map { "\($0.value)× \($0.key)" }.joined(separator: ", "))
        soakPrint(String(format: "played in %.1f s (planned %d s; at most %.1f s late); slowest event %.1f s: ", playedSeconds, seconds, latenessSeconds, slowestEventSeconds) + slowestEvent)
        if let convergenceSeconds {
            soakPrint(String(format: "converged %.1f s after healing", convergenceSeconds))
        } else {
            soakPrint("did not converge within \(convergenceDeadline) s of healing")
        }
        soakPrint("daemon log lines at warning or above: " + daemonLogProblems.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        soakPrint("violations: \(violations.count)")
        for line in violations.prefix(60) { soakPrint("  \(line)") }
        if violations.count > 60 { soakPrint("  … and \(violations.count - 60) more") }
        if !excusedFailures.isEmpty {
            soakPrint("refused while the device's daemon was stopped holding the store (not violations): \(excusedFailures.count)")
            for line in excusedFailures { soakPrint("  \(line)") }
        }
        soakPrint("warnings: \(warnings.count)")
        for line in warnings { soakPrint("  \(line)") }
        soakPrint("seed \(seed), schedule \(scheduleHash): \(violations.count) violations, \(warnings.count) warnings; replay: \(command)")
    }
}

/// A line on stdout at once (unbuffered, so it keeps its place among the lines on stderr).
func soakPrint(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
