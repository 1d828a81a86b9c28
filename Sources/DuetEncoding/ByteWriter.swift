/// Appends Duet's canonical binary forms: LEB128 varints, fixed-width big-endian integers,
/// length-prefixed byte strings. The one writer, for DuetCore's encodings and DuetWire's.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    public mutating func byte(_ value: UInt8) { bytes.append(value) }

    /// Unsigned LEB128, shortest form.
    public mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    public mutating func varint(_ value: Int) { varint(UInt64(value)) }
    public mutating func varint(_ value: UInt32) { varint(UInt64(value)) }

    public mutating func fixed(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    public mutating func raw(_ data: [UInt8]) { bytes.append(contentsOf: data) }

    /// Length (varint) then the bytes.
    public mutating func lengthPrefixed(_ data: some Collection<UInt8>) {
        varint(data.count)
        bytes.append(contentsOf: data)
    }

    public mutating func string(_ text: String) { lengthPrefixed(text.utf8) }
}
