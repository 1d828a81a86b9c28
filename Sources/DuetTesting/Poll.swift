/// Waits for an effect of another process that has no completion signal of its own (a daemon's
/// write, a line in a file another process appends to): checks `condition` every `interval`,
/// suspending in between (no thread is held), for at most `timeout`. The deadline is a guard
/// against a test that would otherwise hang, not a pause the test relies on.
public enum Poll {
    /// The first value `condition` gives, or nil when `timeout` passes first.
    public static func value<T>(timeout: Duration = .seconds(20), every interval: Duration = .milliseconds(50),
                                _ condition: () async throws -> T?) async rethrows -> T? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let value = try await condition() { return value }
            try? await Task.sleep(for: interval)
        }
        return try await condition()
    }

    /// Whether `condition` held before `timeout` passed.
    public static func until(timeout: Duration = .seconds(20), every interval: Duration = .milliseconds(50),
                             _ condition: () async throws -> Bool) async rethrows -> Bool {
        try await value(timeout: timeout, every: interval) { try await condition() ? true : nil } ?? false
    }
}
