import DuetTesting
import DuetCore
import Foundation

let path = CommandLine.arguments[1]
let trace = try EditingTrace.load(path: path)
let device = DeviceID(high: 7, low: 7)
for run in 0..<5 {
    let clock = ContinuousClock()
    let start = clock.now
    var text = Body()
    for txn in trace.transactions {
        for patch in txn.patches {
            if patch.deleteCount > 0 { _ = text.delete(at: patch.position, count: patch.deleteCount) }
            if !patch.insert.isEmpty { _ = text.insert(patch.insert, at: patch.position, by: device) }
        }
    }
    let elapsed = clock.now - start
    print(run, elapsed, text.string == trace.endContent, text.shape)
}
