import DuetWire
import Synchronization

/// Runs a world's tasks one at a time, in an order drawn from the seed (issue #15). Every device
/// task runs until it waits on the network or the clock; only then does the loop choose what
/// happens next: which request the relay answers, which reply is lost, whose timer fires,
/// who crashes. So one seed gives one interleaving, and a failing seed replays exactly.
final class Scheduler: Sendable {
    /// A request a device sent that the network has not answered yet.
    struct Request: Sendable {
        let id: Int
        let device: Int
        let request: RelayRequest
        let maximumReplyBytes: Int
        let continuation: CheckedContinuation<RelayReply, any Error>
    }

    /// A task waiting on the simulated clock.
    struct Sleeper: Sendable {
        let id: Int
        let device: Int
        let wake: UInt64
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var running = 0
        var idle: CheckedContinuation<Void, Never>?
        var requests: [Request] = []
        var sleepers: [Sleeper] = []
        var nextID = 0
        /// Requests whose task was cancelled while they waited.
        var cancelled: Set<Int> = []
        var now: UInt64
        /// Set at the end of a seed: every wait fails at once, so abandoned tasks finish.
        var closed = false
    }

    private let state: Mutex<State>

    init(start: UInt64) { state = Mutex(State(now: start)) }

    /// The simulated wall clock, in milliseconds.
    var now: UInt64 { state.withLock { $0.now } }

    // MARK: - What device tasks call

    /// Parks the calling task until the loop answers its request.
    /// A task cancelled while it waits (a prefetch the exchange no longer wants) still has its
    /// request answered, but nobody reads the reply: ``isCancelled(_:)`` tells the loop so.
    func send(from device: Int, _ request: RelayRequest, maximumReplyBytes: Int) async throws -> RelayReply {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let ready = state.withLock { state -> CheckedContinuation<Void, Never>? in
                    guard !state.closed else {
                        continuation.resume(throwing: SimulatedFault.ended)
                        return nil
                    }
                    state.requests.append(Request(id: id, device: device, request: request, maximumReplyBytes: maximumReplyBytes,
                                                  continuation: continuation))
                    return Self.parked(&state)
                }
                ready?.resume()
            }
        } onCancel: {
            state.withLock { _ = $0.cancelled.insert(id) }
        }
    }

    /// Whether the task that sent request `id` was cancelled (nobody will read its reply).
    func isCancelled(_ id: Int) -> Bool { state.withLock { $0.cancelled.remove(id) != nil } }

    /// Parks the calling task for `duration` of simulated time.
    func sleep(device: Int, _ duration: Duration) async throws {
        let milliseconds = UInt64(clamping: duration.components.seconds) &* 1000 &+ UInt64(clamping: duration.components.attoseconds / 1_000_000_000_000_000)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let ready = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard !state.closed else {
                    continuation.resume(throwing: SimulatedFault.ended)
                    return nil
                }
                state.nextID += 1
                let (wake, overflow) = state.now.addingReportingOverflow(milliseconds)
                state.sleepers.append(Sleeper(id: state.nextID, device: device, wake: overflow ? .max : wake, continuation: continuation))
                return Self.parked(&state)
            }
            ready?.resume()
        }
    }

    /// One running task fewer; the loop's wait ends when none runs.
    private static func parked(_ state: inout State) -> CheckedContinuation<Void, Never>? {
        state.running -= 1
        guard state.running == 0, let idle = state.idle else { return nil }
        state.idle = nil
        return idle
    }

    // MARK: - What the loop calls

    /// Starts `operation` as a task and waits until every task is parked or done.
    func run(_ operation: @escaping @Sendable () async -> Void) async {
        state.withLock { $0.running += 1 }
        Task {
            await operation()
            let ready = state.withLock { Self.parked(&$0) }
            ready?.resume()
        }
        await settle()
    }

    /// Starts a task from inside a device's task (a prefetch): counted as running until it
    /// parks or ends, like every other, so the loop never moves while it runs.
    func spawn<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) -> Task<T, any Error> {
        state.withLock { $0.running += 1 }
        return Task {
            defer {
                let ready = state.withLock { Self.parked(&$0) }
                ready?.resume()
            }
            return try await operation()
        }
    }

    /// Waits until no task runs.
    func settle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                if state.running == 0 { return true }
                state.idle = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// The requests waiting for the network, oldest first.
    var requests: [Request] { state.withLock { $0.requests } }
    /// The earliest timer, if any.
    var nextWake: UInt64? { state.withLock { $0.sleepers.map(\.wake).min() } }
    var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Takes request `id` off the queue (the loop then answers it with ``answer(_:with:)``).
    func take(_ id: Int) -> Request? {
        state.withLock { state in
            guard let index = state.requests.firstIndex(where: { $0.id == id }) else { return nil }
            return state.requests.remove(at: index)
        }
    }

    /// Resumes a taken request's task with `result` and waits until it parks again.
    func answer(_ request: Request, with result: Result<RelayReply, any Error>) async {
        state.withLock { $0.running += 1 }
        request.continuation.resume(with: result)
        await settle()
    }

    /// Moves the clock forward by `milliseconds` (never back).
    func advance(by milliseconds: UInt64) {
        state.withLock { state in
            let (next, overflow) = state.now.addingReportingOverflow(milliseconds)
            state.now = overflow ? .max : next
        }
    }

    /// Moves the clock to the earliest timer and wakes every task due by then, one by one in
    /// the order they slept.
    func wakeNext() async {
        let due: [Sleeper] = state.withLock { state in
            guard let wake = state.sleepers.map(\.wake).min() else { return [] }
            state.now = max(state.now, wake)
            let due = state.sleepers.filter { $0.wake <= state.now }.sorted { $0.id < $1.id }
            state.sleepers.removeAll { $0.wake <= state.now }
            return due
        }
        for sleeper in due {
            state.withLock { $0.running += 1 }
            sleeper.continuation.resume()
            await settle()
        }
    }

    /// A crashed device's waits: taken off the queues and never resumed while the seed runs
    /// (a killed process runs nothing more); ``close()`` ends them.
    func abandon(device: Int) -> (requests: [Request], sleepers: [Sleeper]) {
        state.withLock { state in
            let requests = state.requests.filter { $0.device == device }
            let sleepers = state.sleepers.filter { $0.device == device }
            state.requests.removeAll { $0.device == device }
            state.sleepers.removeAll { $0.device == device }
            return (requests, sleepers)
        }
    }

    /// Ends the seed: every wait from now on fails, and every task left waiting (crashed
    /// devices' included, `abandoned`) is woken with a failure, until none runs.
    func close(abandoned: [(requests: [Request], sleepers: [Sleeper])]) async {
        let (requests, sleepers) = state.withLock { state -> ([Request], [Sleeper]) in
            state.closed = true
            let waiting = (state.requests, state.sleepers)
            state.requests = []
            state.sleepers = []
            state.running += waiting.0.count + waiting.1.count + abandoned.reduce(0) { $0 + $1.requests.count + $1.sleepers.count }
            return waiting
        }
        for request in requests + abandoned.flatMap(\.requests) { request.continuation.resume(throwing: SimulatedFault.ended) }
        for sleeper in sleepers + abandoned.flatMap(\.sleepers) { sleeper.continuation.resume(throwing: SimulatedFault.ended) }
        await settle()
    }
}

/// What the simulated network says instead of a reply.
enum SimulatedFault: Error {
    /// The seed is over.
    case ended
}
