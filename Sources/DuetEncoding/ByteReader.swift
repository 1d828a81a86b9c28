/// Reads Duet's canonical binary forms from untrusted bytes. Never traps: every read checks the
/// bytes left, varints must be in shortest form, and every length is checked against a stated
/// limit and against the bytes actually left before anything is allocated.
///
/// The one reader: DuetCore decodes changes and snapshots with it, DuetWire the relay-visible
/// structures (through `WireReader`, which only renames the errors), so the two layers cannot
/// drift on what a valid varint is.
public struct ByteReader: Sendable {
    private let bytes: [UInt8]
    public private(set) var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset == bytes.count }

    public mutating func byte() throws(DecodingError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Unsigned LEB128; refuses overlong encodings and values past 64 bits.
    public mutating func varint() throws(DecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let next = try byte()
            let payload = UInt64(next & 0x7f)
            if shift == 63, payload > 1 { throw .varintOverflow }
            result |= payload << shift
            if next & 0x80 == 0 {
                // A final zero byte after the first one means a shorter form existed.
                if next == 0, shift > 0 { throw .nonCanonical("overlong varint") }
                return result
            }
            shift += 7
            if shift > 63 { throw .varintOverflow }
        }
    }

    /// A varint that must be at most `limit`.
    public mutating func varint(max limit: UInt64, _ what: StaticString) throws(DecodingError) -> UInt64 {
        let value = try varint()
        guard value <= limit else { throw .limitExceeded(String(describing: what)) }
        return value
    }

    public mutating func count(max limit: Int, _ what: StaticString) throws(DecodingError) -> Int {
        Int(try varint(max: UInt64(limit), what))
    }

    public mutating func fixed64() throws(DecodingError) -> UInt64 {
        guard remaining >= 8 else { throw .truncated }
        var value: UInt64 = 0
        for index in offset..<offset + 8 { value = value << 8 | UInt64(bytes[index]) }
        offset += 8
        return value
    }

    public mutating func raw(_ count: Int) throws(DecodingError) -> ArraySlice<UInt8> {
        guard count >= 0, remaining >= count else { throw .truncated }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    /// A length-prefixed byte string of at most `limit` bytes.
    public mutating func lengthPrefixed(max limit: Int, _ what: StaticString) throws(DecodingError) -> ArraySlice<UInt8> {
        let length = try count(max: limit, what)
        return try raw(length)
    }

    /// A length-prefixed string that must be valid UTF-8.
    public mutating func string(max limit: Int, _ what: StaticString) throws(DecodingError) -> String {
        let slice = try lengthPrefixed(max: limit, what)
        guard let text = String(validating: slice, as: UTF8.self) else { throw .invalidUTF8 }
        return text
    }

    /// A length-prefixed string that must be valid UTF-8, as its Unicode scalars: decoded in
    /// one pass, where validating a `String` and then taking its scalars would read it three
    /// times (validate, count, copy).
    public mutating func scalars(max limit: Int, _ what: StaticString) throws(DecodingError) -> [Unicode.Scalar] {
        let slice = try lengthPrefixed(max: limit, what)
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(slice.count)
        var bytes = slice.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&bytes) {
            case .scalarValue(let scalar): scalars.append(scalar)
            case .emptyInput: return scalars
            case .error: throw .invalidUTF8
            }
        }
    }

    public func expectEnd() throws(DecodingError) {
        guard isAtEnd else { throw .trailingBytes }
    }
}

/// Why bytes are not a valid encoding. Messages never include the bytes themselves.
public enum DecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    case truncated
    case trailingBytes
    case varintOverflow
    case nonCanonical(String)
    case limitExceeded(String)
    case invalidUTF8
    case unknownVersion(UInt64)
    case unknownTag(UInt8)
    case invalidValue(String)

    /// The stable name used by test vectors.
    public var name: String {
        switch self {
        case .truncated: "truncated"
        case .trailingBytes: "trailingBytes"
        case .varintOverflow: "varintOverflow"
        case .nonCanonical: "nonCanonical"
        case .limitExceeded: "limitExceeded"
        case .invalidUTF8: "invalidUTF8"
        case .unknownVersion: "unknownVersion"
        case .unknownTag: "unknownTag"
        case .invalidValue: "invalidValue"
        }
    }

    public var description: String {
        switch self {
        case .truncated: "the data ends too early"
        case .trailingBytes: "unexpected bytes after the end of the data"
        case .varintOverflow: "a number is too large"
        case .nonCanonical(let what): "not in canonical form: \(what)"
        case .limitExceeded(let what): "\(what) is past its limit"
        case .invalidUTF8: "text is not valid UTF-8"
        case .unknownVersion(let version): "unknown format version \(version); upgrade Duet"
        case .unknownTag(let tag): "unknown operation tag \(tag); upgrade Duet"
        case .invalidValue(let what): "invalid value: \(what)"
        }
    }
}
