/// One request to the relay and its reply, as bytes (SPEC § 6.5), apart from how they travel:
/// HTTP/1.1 between processes, or a direct call into the relay in one process (tests and the
/// simulator). Both sides of every transport read and write exactly these, so the relay's
/// routes are parsed in one place and a device speaks one protocol however it is connected.
public struct RelayRequest: Sendable, Equatable {
    /// `GET`, `POST` or `PUT`.
    public var method: String
    /// The path and query, as on an HTTP request line: `/v1/spaces/{hex}/envelopes?limit=10`.
    public var target: String
    /// Header fields Duet sends (`authorization`, `duet-certificate`), names lower-cased.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(method: String, target: String, headers: [String: String] = [:], body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
    }

    /// The path without the query.
    public var path: Substring { target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "" }

    /// The query's value for `name` (percent-decoded), or nil when absent; the first wins. A
    /// value whose escapes are malformed or not UTF-8 is returned as sent, `%` and all, so that
    /// the route's parser refuses it (`malformed`) instead of taking the parameter as absent:
    /// `limit=%zz` is not "no limit", and `vector=%FF` is not the empty vector.
    public func query(_ name: String) -> String? {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        for pair in parts[1].split(separator: "&") {
            let field = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = Self.percentDecoded(field[0]), key == name else { continue }
            guard field.count == 2 else { return "" }
            return Self.percentDecoded(field[1]) ?? String(field[1])
        }
        return nil
    }

    /// `%XX` decoded (and `+` kept: Duet's values never use it for a space); nil when an escape
    /// is malformed or the result is not UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// The relay's answer: a status, the body, and the one header Duet reads.
public struct RelayReply: Sendable, Equatable {
    public var status: Int
    public var body: [UInt8]
    /// `Retry-After` in whole seconds, when the relay sent one.
    public var retryAfterSeconds: Int?
    /// `application/octet-stream` for binary bodies, `application/json` for the others.
    public var isJSON: Bool

    public init(status: Int, body: [UInt8], retryAfterSeconds: Int? = nil, isJSON: Bool = false) {
        self.status = status
        self.body = body
        self.retryAfterSeconds = retryAfterSeconds
        self.isJSON = isJSON
    }
}
