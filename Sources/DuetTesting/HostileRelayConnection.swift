public import DuetSync
public import DuetWire
import Synchronization

/// A page of a fetch reply (`GET /v1/spaces/{space}/envelopes`, SPEC § 6): a flag saying
/// whether the relay holds nothing more above the vector asked, then the envelopes.
public struct FetchPage: Sendable, Equatable {
    public var envelopes: [[UInt8]]
    public var complete: Bool

    public init(envelopes: [[UInt8]], complete: Bool) {
        self.envelopes = envelopes
        self.complete = complete
    }

    /// The page `reply` carries, when `request` is a fetch the relay answered.
    public init?(_ request: RelayRequest, _ reply: RelayReply) {
        guard request.method == "GET", reply.status == 200, request.path.hasSuffix("/envelopes"), let flag = reply.body.first,
              let envelopes = try? RelayMessages.decodeBatch(Array(reply.body.dropFirst()), maximumCount: 10_000, maximumItemBytes: 1 << 22)
        else { return nil }
        self.init(envelopes: envelopes, complete: flag == 1)
    }

    /// The reply body that carries this page.
    public var body: [UInt8] { [complete ? 1 : 0] + RelayMessages.encode(batch: envelopes) }
}

/// What a hostile relay does to one reply (issue #15). Every one of them is something the
/// relay can do without any key: envelopes are sealed and signed by devices.
public enum RelayAlteration: Sendable, Equatable {
    /// XORs `mask` (not 0) into byte `byte` of the page's envelope `envelope` (both taken modulo their counts).
    case tamper(envelope: Int, byte: Int, mask: UInt8)
    /// Sends the page's envelope `envelope` a second time, at the end of the page.
    case replay(envelope: Int)
    /// Leaves the page's envelopes at these indices out (the page's flag is kept).
    case withhold([Int])
    /// Sends the page's envelopes in this order (indices into the page; a permutation).
    case reorder([Int])
    /// Answers with the `index`-th remembered earlier reply to the same request (oldest
    /// first): heads or a page as of an earlier state of the relay.
    case rollBack(to: Int)
}

/// A ``RelayConnection`` whose relay lies (issue #15): every reply of `base` is shown to
/// `decide`, which may have it altered — tampered, replayed, withheld from, reordered, or
/// rolled back to a reply it gave earlier. Wraps any connection: ``InProcessConnection`` in
/// tests, the network in `duet-sim`.
public final class HostileRelayConnection: RelayConnection {
    /// One reply the relay is about to give, as `decide` sees it.
    public struct Observed: Sendable {
        public let request: RelayRequest
        public let reply: RelayReply
        /// The page, when the reply is a fetch's.
        public let page: FetchPage?
        /// Earlier successful replies to the same method and target, oldest first (at most
        /// `remembering` of them: the oldest are kept, the states furthest back).
        public let earlier: [RelayReply]
    }

    public let base: any RelayConnection
    private let decide: @Sendable (Observed) -> RelayAlteration?
    private let remembering: Int
    private let remembered = Mutex<[String: [RelayReply]]>([:])

    public var origin: String { base.origin }

    /// `remembering` earlier replies per request target are kept for ``RelayAlteration/rollBack(to:)``
    /// (of GET requests only: nothing else is answered from the relay's state alone).
    public init(_ base: any RelayConnection, remembering: Int = 4, decide: @escaping @Sendable (Observed) -> RelayAlteration?) {
        self.base = base
        self.decide = decide
        self.remembering = remembering
    }

    public func send(_ request: RelayRequest, maximumReplyBytes: Int) async throws -> RelayReply {
        let reply = try await base.send(request, maximumReplyBytes: maximumReplyBytes)
        let key = request.method + " " + request.target
        let earlier = request.method == "GET" ? remembered.withLock { $0[key] ?? [] } : []
        if request.method == "GET", reply.status == 200, earlier.count < remembering {
            remembered.withLock { $0[key, default: []].append(reply) }
        }
        let page = FetchPage(request, reply)
        guard let alteration = decide(Observed(request: request, reply: reply, page: page, earlier: earlier)) else { return reply }
        let altered = Self.apply(alteration, to: reply, page: page, earlier: earlier)
        guard altered.body.count <= maximumReplyBytes else { throw RelayConnectionFailure.replyTooLarge(limit: maximumReplyBytes) }
        return altered
    }

    /// `reply` as `alteration` makes it; an alteration that does not fit the reply (a page
    /// alteration of a reply that is no page, an index out of range) leaves it as it is.
    public static func apply(_ alteration: RelayAlteration, to reply: RelayReply, page: FetchPage?, earlier: [RelayReply]) -> RelayReply {
        if case .rollBack(let index) = alteration {
            return earlier.indices.contains(index) ? earlier[index] : reply
        }
        guard var page, !page.envelopes.isEmpty else { return reply }
        switch alteration {
        case .tamper(let envelope, let byte, let mask):
            let victim = envelope % page.envelopes.count
            guard !page.envelopes[victim].isEmpty else { return reply }
            page.envelopes[victim][byte % page.envelopes[victim].count] ^= mask == 0 ? 1 : mask
        case .replay(let envelope):
            page.envelopes.append(page.envelopes[envelope % page.envelopes.count])
        case .withhold(let indices):
            let left = Set(indices)
            page.envelopes = page.envelopes.indices.filter { !left.contains($0) }.map { page.envelopes[$0] }
        case .reorder(let order):
            guard order.sorted() == Array(page.envelopes.indices) else { return reply }
            page.envelopes = order.map { page.envelopes[$0] }
        case .rollBack:
            return reply
        }
        var altered = reply
        altered.body = page.body
        return altered
    }

    public func live(space: SpaceID, token: [UInt8], pingInterval: Duration, opened: @escaping @Sendable () -> Void,
                     receive: @escaping @Sendable ([UInt8]) async throws -> Void) async throws {
        try await base.live(space: space, token: token, pingInterval: pingInterval, opened: opened, receive: receive)
    }
}
