/// A device's identity inside the CRDTs: 128 bits, derived by the edges from the device's
/// verified signing key (so a peer cannot pick an id that collides with ours).
///
/// Concurrent operations that nothing else orders are ordered by device id; comparing the two
/// 64-bit halves gives the same total order on every replica.
public struct DeviceID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// From 16 bytes, big-endian; nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard let (high, low) = Bits128.split(bytes) else { return nil }
        self.init(high: high, low: low)
    }

    public var bytes: [UInt8] { Bits128.join(high, low) }

    public static func < (lhs: DeviceID, rhs: DeviceID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    /// Short hex form, like a git short hash.
    public var description: String {
        let hex = String(high, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// 128-bit identifiers as two big-endian 64-bit halves (DeviceID, EntryID).
enum Bits128 {
    static func split(_ bytes: some Collection<UInt8>) -> (UInt64, UInt64)? {
        guard bytes.count == 16 else { return nil }
        var high: UInt64 = 0, low: UInt64 = 0
        for (index, byte) in bytes.enumerated() {
            if index < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        return (high, low)
    }

    static func join(_ high: UInt64, _ low: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
    }
}
