import ArgumentParser
import DuetCore
import DuetStore
import DuetTesting
import Foundation

/// `duet-bench trace PATH`: replays a sequential trace into one entry body.
struct TraceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Replay a sequential editing trace into one entry's body.")

    @Argument(help: "A trace (.json or .json.gz) from ../shared/traces.")
    var path: String

    @Option(help: "change-per-op: every edit its own change (default); one-change: the whole trace as one.")
    var mode: String = TraceReplay.Mode.changePerOp.rawValue

    @Option(help: "Fresh runs to take the median of.")
    var runs: Int = 5

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard TraceReplay.Mode(rawValue: mode) != nil else {
            throw ValidationError("--mode must be change-per-op or one-change")
        }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
    }

    struct Run: Encodable {
        let milliseconds: Double
        let cpuMilliseconds: Double
        let retainedBytes: Int
        let encodedBytes: Int
        let decodeMilliseconds: Double
        let storedBytes: Int
        let loadMilliseconds: Double
        let gapBufferCPUMilliseconds: Double
        let contentMatched: Bool
    }

    struct Report: Encodable {
        let trace: String
        let mode: String
        let operations: Int
        let finalLength: Int
        let contentMatched: Bool
        let runs: [Run]
        let milliseconds: Summary
        let cpuMilliseconds: Summary
        let decodeMilliseconds: Summary
        let loadMilliseconds: Summary
        let gapBufferCPUMilliseconds: Summary
        let encodedBytes: Int
        let storedBytes: Int
        let retainedBytes: Int
        let spans: Int
        let peakResidentBytes: Int
    }

    func run() async throws {
        let trace = try await EditingTrace.load(path: path)
        let mode = TraceReplay.Mode(rawValue: mode) ?? .changePerOp
        var results: [Run] = []
        var finalLength = 0, spans = 0
        for _ in 0..<runs {
            let heapBefore = Measure.heapInUse()
            var journal = Journal()
            var cpu = 0.0
            let elapsed = Measure.milliseconds {
                cpu = Measure.threadCPUMilliseconds { journal = TraceReplay.sequential(trace, mode: mode) }
            }
            let retained = Measure.heapInUse() - heapBefore
            // The floor, in the same process and run: the same patches into a plain gap buffer.
            var floor: GapBuffer?
            let floorCPU = Measure.threadCPUMilliseconds { floor = GapBuffer.replay(trace) }
            guard let entry = journal.entries[TraceReplay.entry] else { throw ValidationError("the trace made no entry") }
            let encoded = EntrySnapshot.encode(entry)
            var decoded: Entry?
            let decodeTime = try Measure.milliseconds { decoded = try EntrySnapshot.decode(encoded) }
            // What the store keeps (inside its seal) and what opening it costs.
            let stored = StoredSnapshot.pack(encoded)
            var loaded: Entry?
            let loadTime = try Measure.milliseconds { loaded = try EntrySnapshot.decode(try StoredSnapshot.unpack(stored)) }
            let matched = entry.body.string == trace.endContent && decoded?.body.string == trace.endContent
                && loaded?.body.string == trace.endContent && floor?.string == trace.endContent
            finalLength = entry.body.count
            spans = entry.body.shape.spans
            results.append(Run(milliseconds: elapsed, cpuMilliseconds: cpu, retainedBytes: retained, encodedBytes: encoded.count,
                               decodeMilliseconds: decodeTime, storedBytes: stored.count, loadMilliseconds: loadTime,
                               gapBufferCPUMilliseconds: floorCPU, contentMatched: matched))
        }
        let report = Report(
            trace: URL(fileURLWithPath: path).lastPathComponent, mode: mode.rawValue, operations: trace.patchCount,
            finalLength: finalLength, contentMatched: results.allSatisfy(\.contentMatched), runs: results,
            milliseconds: Summary(results.map(\.milliseconds)), cpuMilliseconds: Summary(results.map(\.cpuMilliseconds)),
            decodeMilliseconds: Summary(results.map(\.decodeMilliseconds)),
            loadMilliseconds: Summary(results.map(\.loadMilliseconds)),
            gapBufferCPUMilliseconds: Summary(results.map(\.gapBufferCPUMilliseconds)),
            encodedBytes: results.last?.encodedBytes ?? 0, storedBytes: results.last?.storedBytes ?? 0,
            retainedBytes: Int(Summary(results.map { Double($0.retainedBytes) }).median), spans: spans,
            peakResidentBytes: Measure.peakResident())
        if json {
            try printJSON(report)
        } else {
            print("\(report.trace) [\(report.mode)]: \(report.operations) operations, final length \(report.finalLength), content \(report.contentMatched ? "matched" : "DID NOT MATCH")")
            for (index, run) in results.enumerated() {
                print(String(format: "  run %d: %.2f ms (CPU %.2f ms), retained %.2f MB, decode %.2f ms", index + 1, run.milliseconds, run.cpuMilliseconds,
                             Double(run.retainedBytes) / 1_048_576, run.decodeMilliseconds))
            }
            print("  replay ms: \(report.milliseconds.text)")
            print("  replay CPU ms: \(report.cpuMilliseconds.text)")
            print("  plain gap buffer (the floor), CPU ms: \(report.gapBufferCPUMilliseconds.text)")
            print("  decode ms (canonical): \(report.decodeMilliseconds.text)")
            print("  load ms (stored form: inflate + decode): \(report.loadMilliseconds.text)")
            print(String(format: "  encoded with full history: %d bytes canonical, %d bytes stored; spans: %d; retained %.2f MB; peak RSS %.1f MB",
                         report.encodedBytes, report.storedBytes, report.spans, Double(report.retainedBytes) / 1_048_576,
                         Double(report.peakResidentBytes) / 1_048_576))
        }
        if !report.contentMatched { throw ExitCode(1) }
    }
}

/// `duet-bench concurrent PATH`: one replica per agent, causal delivery, check end content.
struct ConcurrentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concurrent",
        abstract: "Replay a concurrent trace with one replica per agent.")

    @Argument(help: "A concurrent trace (.json or .json.gz).")
    var path: String

    @Option(help: "Fresh runs to take the median of.")
    var runs: Int = 5

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    struct Report: Encodable {
        let trace: String
        let agents: Int
        let transactions: Int
        let contentMatched: Bool
        let milliseconds: Summary
    }

    func run() async throws {
        let trace = try await EditingTrace.load(path: path)
        guard trace.isConcurrent else { throw ValidationError("\(path) is not a concurrent trace") }
        var times: [Double] = []
        var matched = true
        for _ in 0..<max(runs, 1) {
            var journals: [Journal] = []
            times.append(Measure.milliseconds { journals = TraceReplay.concurrent(trace) })
            let states = Set(journals.map(\.canonicalState))
            matched = matched && states.count == 1
                && journals.allSatisfy { $0.entries[TraceReplay.entry]?.body.string == trace.endContent }
        }
        let report = Report(trace: URL(fileURLWithPath: path).lastPathComponent, agents: trace.agentCount,
                            transactions: trace.transactions.count, contentMatched: matched, milliseconds: Summary(times))
        if json {
            try printJSON(report)
        } else {
            print("\(report.trace): \(report.agents) agents, \(report.transactions) transactions, content \(matched ? "matched" : "DID NOT MATCH")")
            print("  replay ms: \(report.milliseconds.text)")
        }
        if !matched { throw ExitCode(1) }
    }
}
