/// Reads the relay-visible encodings from untrusted bytes. Never traps: every read checks the
/// bytes left; varints must be shortest-form; lengths are checked against limits and the input
/// before anything is allocated.
struct WireReader {
    private let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func byte() throws(WireError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func varint() throws(WireError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let next = try byte()
            let payload = UInt64(next & 0x7f)
            if shift == 63, payload > 1 { throw .malformed("a number is too large") }
            result |= payload << shift
            if next & 0x80 == 0 {
                if next == 0, shift > 0 { throw .malformed("overlong varint") }
                return result
            }
            shift += 7
            if shift > 63 { throw .malformed("a number is too large") }
        }
    }

    mutating func raw(_ count: Int) throws(WireError) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw .truncated }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    func expectEnd() throws(WireError) {
        guard remaining == 0 else { throw .malformed("trailing bytes") }
    }
}

/// Appends the relay-visible encodings.
struct WireWriter {
    private(set) var bytes: [UInt8] = []

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func raw(_ data: [UInt8]) { bytes.append(contentsOf: data) }
}

/// Why bytes from the network or disk are not a valid wire structure. Authentication failures
/// are DuetCrypto's one opaque error, never this.
public enum WireError: Error, Hashable, Sendable, CustomStringConvertible {
    case truncated
    case malformed(String)
    case unsupportedVersion(UInt8)
    case tooLarge(limit: Int)

    /// The stable name used by test vectors.
    public var name: String {
        switch self {
        case .truncated: "truncated"
        case .malformed: "malformed"
        case .unsupportedVersion: "unsupportedVersion"
        case .tooLarge: "tooLarge"
        }
    }

    public var description: String {
        switch self {
        case .truncated: "the envelope ends too early; it was damaged in transit or storage"
        case .malformed(let what): "the envelope is malformed (\(what)); it was damaged or is not Duet's"
        case .unsupportedVersion(let version): "envelope version \(version) is not supported; upgrade Duet"
        case .tooLarge(let limit): "the envelope is larger than \(limit) bytes and was refused"
        }
    }
}
