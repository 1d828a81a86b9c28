import Synchronization

/// The operation did not finish before its deadline.
public struct DeadlineExceeded: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "timed out" }
}

/// Runs `operation` and returns its result, or throws `DeadlineExceeded` once `timeout` has
/// passed, whichever is first, and throws `CancellationError` at once if the caller is
/// cancelled. On a timeout or cancellation the operation is cancelled but **not awaited**.
///
/// Why not a task group: a group waits for every child before it returns, so a library call
/// that ignores cancellation holds the caller for ever. That happened here (issue #12): under
/// load, an AsyncHTTPClient request cancelled after its deadline never finished, and `duetd`
/// sat with a half-closed socket, syncing nothing and deaf to SIGTERM. Abandoning costs at
/// most the stuck task's memory; hanging costs the journal.
public func withAbandoningDeadline<T: Sendable>(
    _ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let gate = Gate<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            guard gate.arm(continuation) else { return }
            let work = Task {
                do { gate.finish(.success(try await operation())) } catch { gate.finish(.failure(error)) }
            }
            let timer = Task {
                try? await Task.sleep(for: timeout)
                gate.finish(.failure(DeadlineExceeded()))
            }
            gate.onFinish { work.cancel(); timer.cancel() }
        }
    } onCancel: {
        gate.finish(.failure(CancellationError()))
    }
}

/// One continuation resumed exactly once, by whichever of the work, the timer or the caller's
/// cancellation comes first; what comes after is dropped.
private final class Gate<T: Sendable>: Sendable {
    private enum State {
        case idle
        case armed(CheckedContinuation<T, any Error>)
        case finished(Result<T, any Error>)
    }
    private let state = Mutex<State>(.idle)
    private let cleanup = Mutex<(@Sendable () -> Void)?>(nil)
    private let done = Atomic<Bool>(false)

    /// Holds the continuation; false (and resumed at once) when finished before it came.
    func arm(_ continuation: CheckedContinuation<T, any Error>) -> Bool {
        let early: Result<T, any Error>? = state.withLock { state in
            if case .finished(let result) = state { return result }
            state = .armed(continuation)
            return nil
        }
        guard let early else { return true }
        continuation.resume(with: early)
        return false
    }

    func finish(_ result: Result<T, any Error>) {
        let continuation: CheckedContinuation<T, any Error>? = state.withLock { state in
            switch state {
            case .idle:
                state = .finished(result)
                return nil
            case .armed(let continuation):
                state = .finished(result)
                return continuation
            case .finished:
                return nil
            }
        }
        guard let continuation else { return }
        continuation.resume(with: result)
        done.store(true, ordering: .releasing)
        cleanup.withLock { $0 }?()
    }

    /// Runs `body` once the gate is finished (now, if it already is).
    func onFinish(_ body: @escaping @Sendable () -> Void) {
        cleanup.withLock { $0 = body }
        if done.load(ordering: .acquiring) { body() }
    }
}
