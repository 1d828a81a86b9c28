import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// Duet's one HTTP client, on AsyncHTTPClient over SwiftNIO (issue #12: FoundationNetworking's
/// URLSession trapped inside `URLSessionTask.cancel()` when a relay died, and once left a test
/// run waiting forever in `select`). Every call has a connect timeout, a whole-request deadline
/// (head and body together) and a cap on the reply's size: the relay is not trusted, and a
/// hostile one must not be able to make a device wait forever or buffer gigabytes.
///
/// Redirects are never followed: the relay's origin is part of what a device signs, and a
/// redirect would send the session token to a host the person never named.
public enum BoundedHTTPClient {
    /// How long and how much one call may take.
    public struct Limits: Sendable {
        /// Establishing the TCP connection.
        public var connect: Duration
        /// The whole exchange, from sending to the last byte of the reply.
        public var request: Duration
        /// The largest reply body accepted; a larger one is refused unread past this.
        public var maximumReplyBytes: Int

        public init(connect: Duration = .seconds(5), request: Duration = .seconds(30), maximumReplyBytes: Int) {
            self.connect = connect
            self.request = request
            self.maximumReplyBytes = maximumReplyBytes
        }
    }

    /// A reply with its status, the headers Duet reads, and the whole body.
    public struct Reply: Sendable {
        public let status: Int
        public let body: [UInt8]
        /// Header name (lower-cased) to value, first occurrence.
        public let headers: [String: String]

        public init(status: Int, body: [UInt8], headers: [String: String]) {
            self.status = status
            self.body = body
            self.headers = headers
        }

        public var text: String { String(decoding: body, as: UTF8.self) }

        /// `Retry-After` in whole seconds, when the server sent a sane one (at most a day).
        public var retryAfterSeconds: Int? {
            guard let value = headers["retry-after"], let seconds = Int(value), (0...86_400).contains(seconds) else { return nil }
            return seconds
        }
    }

    /// Why a call produced no reply. Never carries request bytes or tokens.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// No connection, refused, reset, closed mid-reply: try again later.
        case unreachable(String)
        /// The connect timeout or the whole-request deadline passed.
        case timedOut
        /// The reply body was larger than the cap.
        case replyTooLarge(limit: Int)
        /// The URL cannot be used.
        case badURL

        public var description: String {
            switch self {
            case .unreachable(let reason): "unreachable (\(reason))"
            case .timedOut: "timed out"
            case .replyTooLarge(let limit): "reply larger than \(limit) bytes"
            case .badURL: "not an http:// or https:// URL"
            }
        }
    }

    /// The process-wide client. Never shut down: it lives as long as the process, like
    /// `HTTPClient.shared`, but with the timeouts and pool size Duet needs.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        // A refused connection is an answer (no relay there): say so at once instead of
        // trying again for the whole connect timeout. The caller's own retry policy (the
        // daemon's backoff, the next sync) decides when to come back.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// Sends one request and collects its reply within `limits`.
    public static func send(
        _ method: String, _ url: String, headers: [(String, String)] = [], body: [UInt8]? = nil, limits: Limits
    ) async throws(Failure) -> Reply {
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else { throw .badURL }
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(body) }
        let prepared = request
        let deadline = NIODeadline.now() + TimeAmount(limits.request)
        let maximum = limits.maximumReplyBytes
        let connect = limits.connect
        do {
            // AsyncHTTPClient's deadline ends with the reply's head; this one bounds the body
            // too (a relay that trickles a byte a minute is not waited for), and it returns
            // even if the request ignores its cancellation (see `withAbandoningDeadline`).
            return try await withAbandoningDeadline(limits.request + connect) {
                let response = try await client.execute(prepared, deadline: deadline)
                let buffer = try await response.body.collect(upTo: maximum)
                var names: [String: String] = [:]
                for (name, value) in response.headers where names[name.lowercased()] == nil { names[name.lowercased()] = value }
                return Reply(status: Int(clamping: response.status.code), body: Array(buffer.readableBytesView), headers: names)
            }
        } catch let failure as Failure {
            throw failure
        } catch is DeadlineExceeded {
            throw .timedOut
        } catch is NIOTooManyBytesError {
            throw .replyTooLarge(limit: maximum)
        } catch let error as HTTPClientError {
            switch error {
            case .deadlineExceeded, .connectTimeout, .readTimeout, .writeTimeout, .getConnectionFromPoolTimeout: throw .timedOut
            case .invalidURL, .emptyHost, .emptyScheme, .missingSocketPath: throw .badURL
            case .remoteConnectionClosed: throw .unreachable("the connection closed before the reply was complete")
            default: throw .unreachable(reason(error))
            }
        } catch is CancellationError {
            throw .unreachable("cancelled")
        } catch {
            throw .unreachable(reason(error))
        }
    }
}

/// A short, printable reason for a failure to reach a server: the socket error's own words
/// where there is one ("connection refused"), else the error's description, cut to 160
/// characters without control characters. Errors carry no request bytes.
func reason(_ error: any Error) -> String {
    if let io = error as? IOError {
        switch io.errnoCode {
        case 111: return "connection refused: nothing is listening there"
        case 104: return "connection reset"
        case 110: return "connection timed out"
        case 113, 101: return "no route to the host"
        default: break
        }
    }
    let text = String(describing: error)
    if text.contains("errno: 111") || text.contains("Connection refused") { return "connection refused: nothing is listening there" }
    if text.lowercased().contains("certificate") || text.contains("handshake") { return "TLS: " + String(text.prefix(140)) }
    let printable = text.unicodeScalars.filter { $0.properties.generalCategory != .control }
    return String(String.UnicodeScalarView(printable.prefix(160)))
}

extension TimeAmount {
    /// A Swift `Duration` as NIO's nanoseconds, saturating instead of trapping.
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let nanoseconds = overflow ? Int64.max : whole.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
        self = .nanoseconds(nanoseconds)
    }
}
