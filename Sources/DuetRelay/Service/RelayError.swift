/// A refusal the relay sends to a client: a stable code from SPEC § 6.5, its HTTP status, and a
/// message that says what to do. Never carries a secret or ciphertext.
public struct RelayError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: String
    public let status: Int
    public let message: String
    /// Sent as `Retry-After` (every 429 carries one, SPEC § 6.6).
    public let retryAfterSeconds: Int?
    /// The same wait to the millisecond, in the JSON body: `Retry-After` counts whole seconds,
    /// and a client draining a backlog at a relay's rate would otherwise idle most of each one.
    public let retryAfterMilliseconds: Int?
    /// For a signature over the wrong origin: the origin this relay checks (public, by
    /// definition), so the client can say which side's URL to fix.
    public let expectedOrigin: String?

    public init(code: String, status: Int, message: String, retryAfterSeconds: Int? = nil, retryAfterMilliseconds: Int? = nil,
                expectedOrigin: String? = nil) {
        self.code = code
        self.status = status
        self.message = message
        self.expectedOrigin = expectedOrigin
        let seconds = retryAfterSeconds ?? retryAfterMilliseconds.map { ($0 + 999) / 1000 } ?? (status == 429 ? 1 : nil)
        self.retryAfterSeconds = seconds
        self.retryAfterMilliseconds = retryAfterMilliseconds ?? seconds.map { $0 * 1000 }
    }

    public var description: String { "\(status) \(code): \(message)" }

    public static func malformed(_ what: String) -> RelayError { RelayError(code: "malformed", status: 400, message: what) }
    public static let unauthenticated = RelayError(code: "unauthenticated", status: 401, message: "sign a fresh challenge to get a session")
    public static let notAMember = RelayError(code: "not-a-member", status: 403, message: "this device is not a member of the space")
    public static let unknownSpace = RelayError(code: "unknown-space", status: 404, message: "no such space; create it with a membership record")
    public static func conflict(_ code: String, _ message: String) -> RelayError { RelayError(code: code, status: 409, message: message) }
    public static func tooLarge(limit: Int) -> RelayError { RelayError(code: "too-large", status: 413, message: "at most \(limit) bytes") }
    /// A batch with more items than a request may carry (the same code; the message says items).
    public static func tooLarge(items limit: Int) -> RelayError { RelayError(code: "too-large", status: 413, message: "at most \(limit) items") }
    public static func rateLimited(retryAfterMilliseconds: Int) -> RelayError {
        let milliseconds = max(1, retryAfterMilliseconds)
        return RelayError(code: "rate-limited", status: 429, message: "too many requests; retry after \(milliseconds) ms",
                          retryAfterMilliseconds: milliseconds)
    }
    /// Space quota: waiting does not help, so the client is told to come back in an hour.
    public static let quotaExceeded = RelayError(code: "quota-exceeded", status: 429, message: "the space is full", retryAfterSeconds: 3600)
}
