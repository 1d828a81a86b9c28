import DuetEncoding

/// Reads the relay-visible encodings from untrusted bytes: DuetEncoding's reader (the one
/// varint decoder: shortest form, at most 64 bits, every read checked against the bytes left),
/// with its failures told as ``WireError`` — the names the wire's test vectors expect.
struct WireReader {
    private var reader: ByteReader

    init(_ bytes: [UInt8]) { reader = ByteReader(bytes) }

    var remaining: Int { reader.remaining }

    mutating func byte() throws(WireError) -> UInt8 {
        do { return try reader.byte() } catch { throw WireError(error) }
    }

    mutating func varint() throws(WireError) -> UInt64 {
        do { return try reader.varint() } catch { throw WireError(error) }
    }

    mutating func raw(_ count: Int) throws(WireError) -> [UInt8] {
        do { return Array(try reader.raw(count)) } catch { throw WireError(error) }
    }

    func expectEnd() throws(WireError) {
        do { try reader.expectEnd() } catch { throw WireError(error) }
    }
}

extension WireError {
    /// The wire's name for a failure of the shared reader. Only the reads WireReader makes can
    /// fail here; the rest map to `malformed` with the reader's own words.
    init(_ error: DuetEncoding.DecodingError) {
        switch error {
        case .truncated: self = .truncated
        case .varintOverflow: self = .malformed("a number is too large")
        case .nonCanonical(let what): self = .malformed(what)
        case .trailingBytes: self = .malformed("trailing bytes")
        default: self = .malformed(error.description)
        }
    }
}
