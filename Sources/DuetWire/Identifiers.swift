public import DuetCrypto

/// A device as the relay and other devices see it: 16 bytes derived from the device's Ed25519
/// verifying key, so that no device can claim an id it has no key for.
public struct WireDeviceID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let byteCount = 16
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(WireError) {
        guard bytes.count == Self.byteCount else { throw .malformed("a device id is 16 bytes") }
        self.bytes = bytes
    }

    /// The id of the device holding `key`: the first 16 bytes of BLAKE2b-256 of the key.
    public init(verifyingKey key: VerifyingKey) {
        bytes = Array(Hash.digest(Array("duet device id v1".utf8), key.bytes).bytes.prefix(Self.byteCount))
    }

    public static func < (lhs: WireDeviceID, rhs: WireDeviceID) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }

    public var description: String { Hex.encode(bytes) }
}

/// A space (a person's personal space, or the couple's): 16 random bytes.
public struct SpaceID: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 16
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(WireError) {
        guard bytes.count == Self.byteCount else { throw .malformed("a space id is 16 bytes") }
        self.bytes = bytes
    }

    public static func random() -> SpaceID {
        // Exactly 16 bytes, so the initialiser cannot fail.
        SpaceID(unchecked: RandomBytes.make(count: byteCount))
    }

    init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    public var description: String { Hex.encode(bytes) }
}
