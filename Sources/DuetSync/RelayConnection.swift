public import DuetWire

/// How a device reaches one relay (issue #15): requests and replies as bytes (``RelayRequest``,
/// ``RelayReply``), and the live feed. ``RelayTransport`` speaks the protocol over any of them:
/// HTTP to a `duet-relay` process (``HTTPRelayConnection``), or, in tests and the simulator, a
/// relay in the same process, with faults in between.
public protocol RelayConnection: Sendable {
    /// The relay's origin as this device names it: what it signs to authenticate (SPEC § 6.3).
    var origin: String { get }

    /// Sends one request and returns the relay's reply, whatever its status; throws
    /// ``RelayConnectionFailure`` when no reply came, or one larger than `maximumReplyBytes`.
    func send(_ request: RelayRequest, maximumReplyBytes: Int) async throws -> RelayReply

    /// Follows the live feed of `space` with a session `token`: calls `opened` once the feed is
    /// up, then `receive` with each envelope pushed, in order, until the relay ends the feed
    /// (returns) or it fails (throws). A relay that stops answering pings for two
    /// `pingInterval`s has failed.
    func live(space: SpaceID, token: [UInt8], pingInterval: Duration, opened: @escaping @Sendable () -> Void,
              receive: @escaping @Sendable ([UInt8]) async throws -> Void) async throws
}

/// Why a request got no usable reply. Never carries request bytes or tokens.
public enum RelayConnectionFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// No connection, refused, reset, closed mid-reply: try again later.
    case unreachable(String)
    /// No answer in time.
    case timedOut
    /// The reply was larger than the request allowed.
    case replyTooLarge(limit: Int)

    public var description: String {
        switch self {
        case .unreachable(let reason): "unreachable (\(reason))"
        case .timedOut: "no answer in time"
        case .replyTooLarge(let limit): "the reply was larger than \(limit) bytes"
        }
    }
}

/// Where relays are: the connection to use for a relay URL a person gave (or the store keeps).
public protocol RelayDialer: Sendable {
    func connection(to origin: String) -> any RelayConnection
}

/// Relays over HTTP: the dialer every shipped program uses.
public struct HTTPRelayDialer: RelayDialer {
    public init() {}
    public func connection(to origin: String) -> any RelayConnection { HTTPRelayConnection(origin: origin) }
}
