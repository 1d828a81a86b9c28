import DuetDevice
import DuetSync
import DuetTesting
import Foundation
import Synchronization

/// Time that passes only when someone waits: a sleep moves the clock on at once. The relay's
/// time and every device's are one reading, so a rate limit's Retry-After, an invitation's
/// expiry or a poll's deadline pass in no wall time at all, and the same every run.
final class SimulatedClock: Sendable {
    private let offset = Mutex<Duration>(.zero)
    /// Wall-clock milliseconds at the start.
    let start: UInt64

    init(start: UInt64 = 1_767_225_600_000) { self.start = start }

    var elapsed: Duration { offset.withLock { $0 } }

    /// Milliseconds since the epoch.
    var now: UInt64 {
        let elapsed = self.elapsed.components
        return start + UInt64(elapsed.seconds) * 1000 + UInt64(elapsed.attoseconds / 1_000_000_000_000_000)
    }

    func advance(by duration: Duration) { offset.withLock { $0 += duration } }

    /// `environment` with this clock for `now`, `elapsed` and `sleep`.
    func driving(_ environment: DeviceEnvironment) -> DeviceEnvironment {
        var environment = environment
        environment.sync.now = { self.now }
        environment.sync.elapsed = { self.elapsed }
        environment.sync.sleep = { duration in
            try Task.checkCancellation()
            self.advance(by: duration)
            await Task.yield()
        }
        return environment
    }
}
