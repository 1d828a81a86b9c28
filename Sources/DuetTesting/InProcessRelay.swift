public import DuetRelay
public import DuetSync
public import DuetWire
import DuetCrypto

/// A relay in this process (issue #15): the real ``RelayService`` behind the real ``RelayAPI``,
/// on SQLite in a folder, reached through ``InProcessConnection`` instead of HTTP. Every
/// request takes the same routes, parsing and refusals as through `duet-relay`; only sockets,
/// threads and the wall clock are left out. The relay's time is `now`, passed in.
public final class InProcessRelay: Sendable {
    public let origin: String
    public let api: RelayAPI
    public let directory: String

    /// Opens (or reopens, after a simulated crash) the relay whose data is in `directory`.
    public init(directory: String, origin: String = "duet-sim://relay", limits: RelayService.Limits = RelayService.Limits(),
                spaceQuotaBytes: Int = 1 << 30, now: @escaping @Sendable () -> UInt64) throws {
        let storage = try SQLiteRelayStorage(directory: directory, spaceQuotaBytes: spaceQuotaBytes)
        self.origin = origin
        self.directory = directory
        api = RelayAPI(service: RelayService(storage: storage, origin: origin, limits: limits), now: now)
    }

    /// A connection to this relay.
    public func connection() -> InProcessConnection { InProcessConnection(relay: self) }
}

/// A device's connection to an ``InProcessRelay``: each request is the API's answer, as bytes.
public struct InProcessConnection: RelayConnection {
    let relay: InProcessRelay
    public var origin: String { relay.origin }

    public func send(_ request: RelayRequest, maximumReplyBytes: Int) async throws -> RelayReply {
        let reply = await relay.api.respond(request)
        guard reply.body.count <= maximumReplyBytes else { throw RelayConnectionFailure.replyTooLarge(limit: maximumReplyBytes) }
        return reply
    }

    public func live(space: SpaceID, token: [UInt8], pingInterval: Duration, opened: @escaping @Sendable () -> Void,
                     receive: @escaping @Sendable ([UInt8]) async throws -> Void) async throws {
        let request = RelayRequest(method: "GET", target: "/v1/spaces/\(space)/live", headers: ["authorization": "Bearer " + Hex.encode(token)])
        guard let subscription = await relay.api.openLive(request) else {
            throw RelayConnectionFailure.unreachable("the relay did not open the live feed")
        }
        opened()
        do {
            for await envelope in subscription.envelopes {
                subscription.written(envelope.count)
                try await receive(envelope)
            }
        } catch {
            await subscription.close()
            throw error
        }
        await subscription.close()
    }
}

/// Relays by origin, in this process; an origin no relay answers is unreachable.
public struct InProcessDialer: RelayDialer {
    let relays: @Sendable (String) -> (any RelayConnection)?

    public init(_ relays: @escaping @Sendable (String) -> (any RelayConnection)?) { self.relays = relays }

    public init(_ relay: InProcessRelay) {
        self.init { origin in origin == relay.origin ? relay.connection() : nil }
    }

    public func connection(to origin: String) -> any RelayConnection {
        relays(origin) ?? UnreachableConnection(origin: origin)
    }
}

/// A relay nobody answers at.
public struct UnreachableConnection: RelayConnection {
    public let origin: String
    public init(origin: String) { self.origin = origin }
    public func send(_ request: RelayRequest, maximumReplyBytes: Int) async throws -> RelayReply {
        throw RelayConnectionFailure.unreachable("connection refused: nothing is listening there")
    }
    public func live(space: SpaceID, token: [UInt8], pingInterval: Duration, opened: @escaping @Sendable () -> Void,
                     receive: @escaping @Sendable ([UInt8]) async throws -> Void) async throws {
        throw RelayConnectionFailure.unreachable("connection refused: nothing is listening there")
    }
}
