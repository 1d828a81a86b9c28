import ArgumentParser
import DuetCore
import DuetTesting
import Foundation

/// `duet-bench merge PATH` (G5 of #7): two replicas each replay half of a trace's patches
/// concurrently from an empty document — A the first half, B the second, each as one change,
/// positions clamped to the replica's own text — then each receives the other's change. Times
/// the two merges; `benchmarks/peers/loro_merge.py` does the same in Loro.
struct MergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Two replicas each take half of a trace concurrently, then merge both ways.")

    @Argument(help: "A sequential trace (.json or .json.gz).") var path: String
    @Option(help: "Fresh runs to take the median of.") var runs = 5
    @Flag(help: "Print one JSON object instead of text.") var json = false

    struct Report: Encodable {
        let opsA: Int
        let opsB: Int
        let mergeMilliseconds: Summary
        let mergedLength: Int
        let converged: Bool
    }

    func run() async throws {
        let trace = try await EditingTrace.load(path: path)
        let patches = trace.transactions.flatMap(\.patches)
        let half = patches.count / 2
        let entry = TraceReplay.entry
        let now: UInt64 = 1_767_225_600_000
        func replica(_ slice: ArraySlice<EditingTrace.Patch>, device: DeviceID) -> (Journal, Change) {
            var journal = Journal()
            var clock = HybridLogicalClock()
            let change = journal.commit(entry: entry, by: device, at: clock.tick(now: now)) { editor in
                editor.create()
                for patch in slice {
                    let length = editor.entry.body.count
                    let position = min(patch.position, length)
                    let deleted = min(patch.deleteCount, length - position)
                    if deleted > 0 { editor.deleteText(at: position, count: deleted) }
                    if !patch.insert.isEmpty { editor.insertText(patch.insert, at: position) }
                }
            }
            return (journal, change)
        }
        var times: [Double] = []
        var converged = true
        var length = 0
        for _ in 0..<runs {
            // Fresh replicas each run, built outside the timing (a copy of a shared journal
            // would copy its text on first write, inside it).
            var (a, changeA) = replica(patches[..<half], device: DeviceID(high: 0xA, low: 1))
            var (b, changeB) = replica(patches[half...], device: DeviceID(high: 0xB, low: 2))
            times.append(Measure.threadCPUMilliseconds {
                a.receive(changeB)
                b.receive(changeA)
            })
            let textA = a.entries[entry]?.body.string, textB = b.entries[entry]?.body.string
            converged = converged && textA != nil && textA == textB
            length = a.entries[entry]?.body.count ?? 0
        }
        let report = Report(opsA: half, opsB: patches.count - half, mergeMilliseconds: Summary(times), mergedLength: length, converged: converged)
        if json { return try printJSON(report) }
        print("\(report.opsA) + \(report.opsB) patches, merged both ways: \(report.mergeMilliseconds.text) ms CPU; \(length) scalars; converged: \(converged)")
        if !converged { throw ExitCode(1) }
    }
}
