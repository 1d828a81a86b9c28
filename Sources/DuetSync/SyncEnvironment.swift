import DuetStore

/// What a device's sync work takes from the world, passed in so that a test or the simulator
/// can supply its own (issue #15): how to reach relays, the wall clock, and how to wait. One
/// seed's simulated clock then drives every timeout, poll and backoff.
public struct SyncEnvironment: Sendable {
    public var dialer: any RelayDialer
    /// Wall-clock milliseconds since 1970 (certificates, statuses, hybrid clocks).
    public var now: @Sendable () -> UInt64
    /// A monotonic reading for deadlines: only differences between two readings mean anything.
    public var elapsed: @Sendable () -> Duration
    /// Waits `duration` (throws when the task is cancelled).
    public var sleep: @Sendable (Duration) async throws -> Void
    /// Starts the work that runs beside a sync (a fetch of the next page while one is stored):
    /// the simulator must know of every task to run them one at a time.
    public var tasks: any TaskStarter

    public init(dialer: any RelayDialer, now: @escaping @Sendable () -> UInt64, elapsed: @escaping @Sendable () -> Duration,
                sleep: @escaping @Sendable (Duration) async throws -> Void, tasks: any TaskStarter = SystemTasks()) {
        self.dialer = dialer
        self.now = now
        self.elapsed = elapsed
        self.sleep = sleep
        self.tasks = tasks
    }

    /// HTTP, the system's clocks, and `Task.sleep`.
    public static let system: SyncEnvironment = {
        let start = ContinuousClock.now
        return SyncEnvironment(dialer: HTTPRelayDialer(), now: { WallClock.milliseconds }, elapsed: { ContinuousClock.now - start },
                               sleep: { try await Task.sleep(for: $0) })
    }()

    /// The same environment with another wall clock (a command that reads the time once).
    public func with(now: @escaping @Sendable () -> UInt64) -> SyncEnvironment {
        var copy = self
        copy.now = now
        return copy
    }

    /// A transport to the relay at `origin` as `credential`, on this environment's network and clock.
    public func transport(_ origin: String, _ credential: RelayTransport.Credential) -> RelayTransport {
        RelayTransport(connection: dialer.connection(to: origin), credential: credential, sleep: sleep, elapsed: elapsed, tasks: tasks)
    }
}

/// Starts tasks for ``SyncEnvironment``.
public protocol TaskStarter: Sendable {
    func start<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) -> Task<T, any Error>
}

/// Plain `Task { }`.
public struct SystemTasks: TaskStarter {
    public init() {}
    public func start<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) -> Task<T, any Error> {
        Task { try await operation() }
    }
}
