package import DuetCrypto

/// Writes secret layouts in place into zeroing storage (``SecretBytes/init(count:initializer:)``),
/// so key material never passes through an ordinary array. Shared by the keystore and the
/// identity bundle, whose key lists are `count:u8 (epoch:u64be key:bytes(32))*`.
package struct SecretWriter {
    private let out: UnsafeMutableRawBufferPointer
    private var index = 0

    package init(_ out: UnsafeMutableRawBufferPointer) { self.out = out }

    package static func keysByteCount(_ keys: [UInt64: SymmetricKey]) -> Int { 1 + keys.count * 40 }

    package mutating func put(_ bytes: some Collection<UInt8>) {
        for byte in bytes { out[index] = byte; index += 1 }
    }

    package mutating func put(_ secret: SecretBytes) {
        secret.withUnsafeBytes { put($0) }
    }

    /// At most 255 epochs: a count is one byte. The membership log caps a space at 255 epochs
    /// (SPEC § 6.2), so more cannot arrive; should they, this refuses instead of trapping.
    package mutating func putKeys(_ keys: [UInt64: SymmetricKey]) throws(WireError) {
        guard let count = UInt8(exactly: keys.count) else { throw .tooLarge(limit: 255) }
        put([count])
        for epoch in keys.keys.sorted() {
            put((0..<8).map { UInt8(truncatingIfNeeded: epoch >> (56 - 8 * UInt64($0))) })
            if let key = keys[epoch] { put(key.bytes) }
        }
    }

    package static func recoveryByteCount(_ recovery: RecoverySlot?) -> Int { recovery == nil ? 1 : 49 }

    /// flag:u8 (0 | 1) [slot:bytes(16) key:bytes(32)]
    package mutating func putRecovery(_ recovery: RecoverySlot?) {
        guard let recovery else { return put([0]) }
        put([1])
        put(recovery.slot)
        put(recovery.key.bytes)
    }
}

/// Reads what ``SecretWriter`` wrote, in place; every read is bounds-checked and nil past the end.
package struct SecretReader {
    private let bytes: UnsafeRawBufferPointer
    package private(set) var index = 0

    package init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    package var isAtEnd: Bool { index == bytes.count }

    package mutating func take(_ count: Int) -> Slice<UnsafeRawBufferPointer>? {
        guard count >= 0, index + count <= bytes.count else { return nil }
        defer { index += count }
        return bytes[index..<index + count]
    }

    package mutating func byte() -> UInt8? { take(1)?.first }

    package mutating func takeKeys() -> [UInt64: SymmetricKey]? {
        guard let count = byte() else { return nil }
        var keys: [UInt64: SymmetricKey] = [:]
        for _ in 0..<count {
            guard let epochBytes = take(8), let keyBytes = take(32),
                  let key = try? SymmetricKey(bytes: SecretBytes(copying: keyBytes)) else { return nil }
            // Epochs are 1…255 (SPEC § 6.2): a bundle or keystore naming another (a link code in
            // the wrong hands, a damaged file) is refused here, not stored as a number that
            // traps where it is converted.
            let epoch = epochBytes.reduce(0) { $0 << 8 | UInt64($1) }
            guard (1...MembershipLog.maximumEpochs).contains(epoch), keys[epoch] == nil else { return nil }
            keys[epoch] = key
        }
        return keys
    }

    /// What ``SecretWriter/putRecovery(_:)`` wrote: `.some(nil)` for none, nil if malformed.
    package mutating func takeRecovery() -> RecoverySlot?? {
        switch byte() {
        case 0: return .some(nil)
        case 1:
            guard let slot = take(16), let keyBytes = take(32),
                  let key = try? SymmetricKey(bytes: SecretBytes(copying: keyBytes)) else { return nil }
            return .some(RecoverySlot(slot: Array(slot), key: key))
        default: return nil
        }
    }
}
