import DuetEncoding

/// The binary bodies of relay requests and replies (SPEC § 6.5).
public enum RelayMessages {
    /// What a device signs to open a session (SPEC § 6.3): context ‖ the relay's origin ‖ 0x00 ‖
    /// challenge. One definition for the relay that checks it and every client that signs it.
    public static func authenticationMessage(origin: String, challenge: [UInt8]) -> [UInt8] {
        Array("duet relay auth v1".utf8) + Array(origin.utf8) + [0] + challenge
    }

    /// A vector: `varint(count) (device:16 seq:varint)*`, devices ascending.
    public static func encode(vector: [WireDeviceID: UInt64]) -> [UInt8] {
        var writer = ByteWriter()
        writer.varint(UInt64(vector.count))
        for (device, seq) in vector.sorted(by: { $0.key < $1.key }) {
            writer.raw(device.bytes)
            writer.varint(seq)
        }
        return writer.bytes
    }

    public static func decodeVector(_ bytes: [UInt8], maximumDevices: Int = 4096) throws(WireError) -> [WireDeviceID: UInt64] {
        var reader = WireReader(bytes)
        let count = try reader.varint()
        guard count <= UInt64(maximumDevices), count <= UInt64(reader.remaining / 17) else { throw .malformed("vector too long") }
        var vector: [WireDeviceID: UInt64] = [:]
        var previous: WireDeviceID?
        for _ in 0..<count {
            let device = try WireDeviceID(bytes: try reader.raw(WireDeviceID.byteCount))
            if let previous, !(previous < device) { throw .malformed("vector devices must ascend") }
            previous = device
            let seq = try reader.varint()
            // Stores keep seqs as signed 64-bit integers; a larger one is not a seq anyone wrote.
            guard seq <= Envelope.maximumSeq else { throw .malformed("a seq is at most 2^63 - 1") }
            vector[device] = seq
        }
        try reader.expectEnd()
        return vector
    }

    /// A batch of byte strings: `varint(count) (varint(len) bytes)*`.
    public static func encode(batch: [[UInt8]]) -> [UInt8] {
        var writer = ByteWriter()
        writer.varint(UInt64(batch.count))
        for item in batch {
            writer.varint(UInt64(item.count))
            writer.raw(item)
        }
        return writer.bytes
    }

    public static func decodeBatch(_ bytes: [UInt8], maximumCount: Int, maximumItemBytes: Int) throws(WireError) -> [[UInt8]] {
        var reader = WireReader(bytes)
        let count = try reader.varint()
        guard count <= UInt64(maximumCount) else { throw .tooLarge(limit: maximumCount) }
        guard count <= UInt64(reader.remaining) else { throw .truncated }
        var items: [[UInt8]] = []
        for _ in 0..<count {
            let length = try reader.varint()
            guard length <= UInt64(maximumItemBytes) else { throw .tooLarge(limit: maximumItemBytes) }
            items.append(try reader.raw(Int(length)))
        }
        try reader.expectEnd()
        return items
    }
}
