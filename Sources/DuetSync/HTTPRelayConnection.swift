public import DuetWire
import DuetCrypto
import DuetHTTP
import HummingbirdWSClient
public import Logging

/// A relay reached over HTTP/1.1 (`DuetHTTP`, on AsyncHTTPClient) with live push over a
/// WebSocket (hummingbird-websocket's client): the connection every shipped program uses.
public struct HTTPRelayConnection: RelayConnection {
    public let origin: String
    let logger: Logger

    public init(origin: String, logger: Logger = Logger(label: "duet.relay", factory: { _ in SwiftLogNoOpLogHandler() })) {
        self.origin = origin.hasSuffix("/") ? String(origin.dropLast()) : origin
        self.logger = logger
    }

    public func send(_ request: RelayRequest, maximumReplyBytes: Int) async throws -> RelayReply {
        var fields = request.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let hasBody = request.method != "GET"
        if hasBody { fields.append(("Content-Type", "application/octet-stream")) }
        let reply: BoundedHTTPClient.Reply
        do {
            reply = try await BoundedHTTPClient.send(request.method, origin + request.target, headers: fields, body: hasBody ? request.body : nil,
                                                     limits: .init(maximumReplyBytes: maximumReplyBytes))
        } catch {
            switch error {
            case .replyTooLarge(let limit): throw RelayConnectionFailure.replyTooLarge(limit: limit)
            case .unreachable(let reason): throw RelayConnectionFailure.unreachable(reason)
            case .timedOut: throw RelayConnectionFailure.timedOut
            case .badURL: throw RelayConnectionFailure.unreachable(error.description)
            }
        }
        return RelayReply(status: reply.status, body: reply.body, retryAfterSeconds: reply.retryAfterSeconds,
                          isJSON: reply.headers["content-type"]?.hasPrefix("application/json") == true)
    }

    public func live(space: SpaceID, token: [UInt8], pingInterval: Duration, opened: @escaping @Sendable () -> Void,
                     receive: @escaping @Sendable ([UInt8]) async throws -> Void) async throws {
        var configuration = WebSocketClientConfiguration()
        configuration.additionalHeaders[.authorization] = "Bearer " + Hex.encode(token)
        configuration.maxFrameSize = 4 << 20
        // A relay that vanished without closing the connection (paused, unplugged, a laptop
        // that slept) stops answering pings: the socket closes and the caller reconnects,
        // instead of waiting on it for ever.
        configuration.autoPing = .enabled(timePeriod: pingInterval)
        configuration.closeTimeout = .seconds(1)
        let url = origin.replacingOccurrences(of: "http://", with: "ws://").replacingOccurrences(of: "https://", with: "wss://")
            + "/v1/spaces/\(space)/live"
        let logger = self.logger, socketConfiguration = configuration
        // Abandoned rather than awaited when the caller is cancelled: a socket library that
        // ignores its cancellation must not keep a daemon from reconnecting, or from exiting.
        _ = try await withAbandoningDeadline(Self.unbounded) {
            try await WebSocketClient.connect(url: url, configuration: socketConfiguration, logger: logger) { inbound, _, _ in
                opened()
                for try await message in inbound.messages(maxSize: 4 << 20) {
                    guard case .binary(let buffer) = message else { continue }
                    try await receive(Array(buffer.readableBytesView))
                }
            }
        }
    }

    /// No deadline, only abandonment on cancellation: a live socket runs as long as it is up.
    static let unbounded: Duration = .seconds(100 * 365 * 86_400)
}
