internal import CZlib
package import DuetEncoding

/// The form an entry snapshot takes at rest, inside its AEAD seal: the canonical
/// ``EntrySnapshot`` bytes, deflated when that pays.
///
/// An entry's snapshot keeps every scalar ever typed (deleted text is history) and every span's
/// ids and origins, so a long-edited entry is mostly text and small, repetitive numbers — what
/// deflate is good at (automerge-paper: 281 KB canonical, about 116 KB stored). The canonical
/// form stays uncompressed in DuetCore so that replicas' canonical bytes never depend on a
/// compressor's version; only this layer's bytes do, and nobody compares them.
///
/// Layout: a compressed snapshot is `0x00, varint(canonical length), zlib stream`. A canonical
/// snapshot starts with its format version, a varint ≥ 1, so its first byte is never 0x00:
/// snapshots stored before compression existed read unchanged.
///
/// Sizes are not a side channel worth closing here: the seal is local, at rest, and nobody can
/// put chosen text beside the journal's and watch the stored size.
package enum StoredSnapshot {
    /// Below this, deflate saves too little to pay for its time on every save (a sync that
    /// touches 20,000 small entries seals 20,000 snapshots).
    package static let compressionThreshold = 2048
    /// The largest canonical snapshot a stored one may inflate to (DuetCore's limits fit inside).
    package static let maximumCanonicalBytes = 256 << 20

    private static let compressedMarker: UInt8 = 0

    package static func pack(_ canonical: [UInt8]) -> [UInt8] {
        guard canonical.count >= compressionThreshold, let deflated = deflate(canonical) else { return canonical }
        var writer = ByteWriter(capacity: deflated.count + 6)
        writer.byte(compressedMarker)
        writer.varint(canonical.count)
        writer.raw(deflated)
        // Incompressible text (or already-random bytes) stays as it was.
        return writer.bytes.count < canonical.count ? writer.bytes : canonical
    }

    /// The canonical bytes of a stored snapshot. Throws, never traps, on anything malformed.
    package static func unpack(_ stored: [UInt8]) throws(DecodingError) -> [UInt8] {
        guard stored.first == compressedMarker else { return stored }
        var reader = ByteReader(stored)
        _ = try reader.byte()
        let length = try reader.count(max: maximumCanonicalBytes, "stored snapshot length")
        guard length >= compressionThreshold else { throw .nonCanonical("a small snapshot stored compressed") }
        let stream = Array(try reader.raw(reader.remaining))
        return try inflate(stream, expectedLength: length)
    }

    private static func deflate(_ input: [UInt8]) -> [UInt8]? {
        var capacity = compressBound(uLong(input.count))
        var output = [UInt8](repeating: 0, count: Int(capacity))
        let status = output.withUnsafeMutableBufferPointer { out in
            input.withUnsafeBufferPointer { source in
                compress2(out.baseAddress, &capacity, source.baseAddress, uLong(source.count), Z_DEFAULT_COMPRESSION)
            }
        }
        guard status == Z_OK else { return nil }
        output.removeSubrange(Int(capacity)...)
        return output
    }

    private static func inflate(_ stream: [UInt8], expectedLength: Int) throws(DecodingError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: expectedLength)
        var produced = uLong(expectedLength)
        var consumed = uLong(stream.count)
        let status = output.withUnsafeMutableBufferPointer { out in
            stream.withUnsafeBufferPointer { source in
                uncompress2(out.baseAddress, &produced, source.baseAddress, &consumed)
            }
        }
        // Z_BUF_ERROR: the stream wants more room than it declared (or ends early).
        guard status == Z_OK else { throw .invalidValue("stored snapshot does not inflate") }
        guard produced == uLong(expectedLength) else { throw .invalidValue("stored snapshot length") }
        guard consumed == uLong(stream.count) else { throw .trailingBytes }
        return output
    }
}
