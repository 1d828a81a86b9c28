import DuetTesting
import DuetCore
import Foundation

let path = CommandLine.arguments[1]
let trace = try EditingTrace.load(path: path)
let clock = ContinuousClock()
if trace.isConcurrent {
    let start = clock.now
    let journals = TraceReplay.concurrent(trace)
    print("concurrent", clock.now - start, journals.map { $0.entries[TraceReplay.entry]?.body.string == trace.endContent })
} else {
    for mode in TraceReplay.Mode.allCases {
        let start = clock.now
        let journal = TraceReplay.sequential(trace, mode: mode)
        let elapsed = clock.now - start
        let entry = journal.entries[TraceReplay.entry]!
        let t1 = clock.now
        let snapshot = EntrySnapshot.encode(entry)
        let t2 = clock.now
        let decoded = try EntrySnapshot.decode(snapshot)
        let t3 = clock.now
        print(mode, elapsed, entry.body.string == trace.endContent, "snapshot", snapshot.count, "encode", t2 - t1, "decode", t3 - t2, decoded.body.count)
    }
}
