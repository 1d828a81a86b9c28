import Foundation

/// Work spread over the cores in contiguous slices, results in input order. Below a small size
/// the threads cost more than they save, so it runs in place.
enum Parallel {
    static func map<Input: Sendable, Output: Sendable>(_ inputs: [Input], minimum: Int = 64, _ transform: @Sendable (Input) -> Output) -> [Output] {
        guard inputs.count >= minimum else { return inputs.map(transform) }
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
        let slice = (inputs.count + workers - 1) / workers
        let results = Slots<Output>(count: inputs.count)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in (worker * slice)..<min(inputs.count, (worker + 1) * slice) { results.set(index, transform(inputs[index])) }
        }
        return results.values
    }
}

/// Slots written by concurrent workers, each slot by exactly one of them. Raw memory, not an
/// array property: concurrent mutating accesses to one stored array would break exclusivity.
private final class Slots<Value>: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<Value?>
    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil)
    }
    deinit {
        _ = slots.deinitialize()
        slots.deallocate()
    }
    func set(_ index: Int, _ value: Value) { slots[index] = value }
    var values: [Value] { slots.compactMap { $0 } }
}
