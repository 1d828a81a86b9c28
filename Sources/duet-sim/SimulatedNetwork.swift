import DuetSync
import DuetWire

/// A device's connection in the simulation: every request waits in the ``Scheduler`` until the
/// loop decides its fate. There is no live feed: simulated devices sync in rounds, as
/// `duet sync` does (the daemon's socket is tested against the real relay process).
struct SimulatedConnection: RelayConnection {
    let origin: String
    let device: Int
    let scheduler: Scheduler

    func send(_ request: RelayRequest, maximumReplyBytes: Int) async throws -> RelayReply {
        try await scheduler.send(from: device, request, maximumReplyBytes: maximumReplyBytes)
    }

    func live(space: SpaceID, token: [UInt8], pingInterval: Duration, opened: @escaping @Sendable () -> Void,
              receive: @escaping @Sendable ([UInt8]) async throws -> Void) async throws {
        throw RelayConnectionFailure.unreachable("the simulated relay has no live feed")
    }
}

struct SimulatedDialer: RelayDialer {
    let device: Int
    let scheduler: Scheduler

    func connection(to origin: String) -> any RelayConnection {
        SimulatedConnection(origin: origin, device: device, scheduler: scheduler)
    }
}

extension SyncEnvironment {
    /// Device `device`'s view of the simulated world: its network, the simulated clock.
    static func simulated(device: Int, scheduler: Scheduler) -> SyncEnvironment {
        SyncEnvironment(dialer: SimulatedDialer(device: device, scheduler: scheduler), now: { scheduler.now },
                        elapsed: { .milliseconds(Int64(clamping: scheduler.now)) },
                        sleep: { try await scheduler.sleep(device: device, $0) }, tasks: SimulatedTasks(scheduler: scheduler))
    }
}

/// Tasks the scheduler counts.
struct SimulatedTasks: TaskStarter {
    let scheduler: Scheduler
    func start<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) -> Task<T, any Error> {
        scheduler.spawn(operation)
    }
}

/// The relay as the simulated network reaches it: `respond` is the real ``RelayAPI``'s answer
/// (the world's current relay, with the relay's random stream, folded into the digest).
struct SimulatedRelay: RelayConnection {
    let origin: String
    let respond: @Sendable (RelayRequest) async -> RelayReply

    func send(_ request: RelayRequest, maximumReplyBytes: Int) async throws -> RelayReply {
        let reply = await respond(request)
        guard reply.body.count <= maximumReplyBytes else { throw RelayConnectionFailure.replyTooLarge(limit: maximumReplyBytes) }
        return reply
    }

    func live(space: SpaceID, token: [UInt8], pingInterval: Duration, opened: @escaping @Sendable () -> Void,
              receive: @escaping @Sendable ([UInt8]) async throws -> Void) async throws {
        throw RelayConnectionFailure.unreachable("the simulated relay has no live feed")
    }
}
