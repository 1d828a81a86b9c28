// Touches C: crypto_generichash (BLAKE2b).
internal import CSodium

/// A 32-byte BLAKE2b digest: envelope chains, safety numbers, content addresses.
public struct Digest: Hashable, Sendable {
    public static let byteCount = 32

    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == Self.byteCount else { throw .invalidLength }
        self.bytes = bytes
    }

    init(produced bytes: [UInt8]) {
        precondition(bytes.count == Self.byteCount)
        self.bytes = bytes
    }

    /// The digest of nothing in particular: the "previous envelope" of a device's first envelope.
    public static let zero = Digest(produced: [UInt8](repeating: 0, count: byteCount))
}

extension Digest: CustomStringConvertible {
    public var description: String { Hex.encode(bytes) }
}

/// BLAKE2b (`crypto_generichash`), unkeyed or keyed.
public enum Hash {
    /// The 32-byte digest of `parts` concatenated, without building the concatenation.
    public static func digest(_ parts: [UInt8]...) -> Digest {
        Digest(produced: blake2b(parts, byteCount: Digest.byteCount, key: nil))
    }

    /// The 32-byte digest of `parts` followed by `secret`, reading the secret in place (never
    /// copied into an ordinary array): a commitment to a key that reveals nothing of it.
    public static func digest(_ parts: [UInt8]..., secret: SecretBytes) -> Digest {
        Sodium.ready()
        let state = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        defer {
            sodium_memzero(state, crypto_generichash_statebytes())
            state.deallocate()
        }
        let statePointer = OpaquePointer(state)
        var output = [UInt8](repeating: 0, count: Digest.byteCount)
        var result = crypto_generichash_init(statePointer, nil, 0, Digest.byteCount)
        for part in parts where result == 0 {
            result = part.withUnsafeBytes { buffer in crypto_generichash_update(statePointer, buffer.cBytes, UInt64(buffer.count)) }
        }
        if result == 0 {
            result = secret.withUnsafeBytes { buffer in crypto_generichash_update(statePointer, buffer.cBytes, UInt64(buffer.count)) }
        }
        if result == 0 { result = crypto_generichash_final(statePointer, &output, Digest.byteCount) }
        precondition(result == 0, "BLAKE2b cannot fail for valid sizes")
        return Digest(produced: output)
    }

    /// BLAKE2b with any output length (16…64) and optional key (16…64 bytes), for vectors.
    package static func blake2b(_ parts: [[UInt8]], byteCount: Int, key: [UInt8]?) -> [UInt8] {
        Sodium.ready()
        precondition(byteCount >= Int(crypto_generichash_BYTES_MIN) && byteCount <= Int(crypto_generichash_BYTES_MAX))
        // The state is an opaque, 64-byte-aligned C struct: Swift sees only a pointer to it.
        let state = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        defer {
            sodium_memzero(state, crypto_generichash_statebytes())
            state.deallocate()
        }
        let statePointer = OpaquePointer(state)
        var output = [UInt8](repeating: 0, count: byteCount)
        let keyBytes = key ?? []
        precondition(keyBytes.count <= Int(crypto_generichash_KEYBYTES_MAX))
        var result = keyBytes.withUnsafeBytes { keyBuffer in
            crypto_generichash_init(statePointer, keyBuffer.cBytes, keyBytes.count, byteCount)
        }
        for part in parts where result == 0 {
            result = part.withUnsafeBytes { buffer in
                crypto_generichash_update(statePointer, buffer.cBytes, UInt64(buffer.count))
            }
        }
        if result == 0 { result = crypto_generichash_final(statePointer, &output, byteCount) }
        precondition(result == 0, "BLAKE2b cannot fail for valid sizes")
        return output
    }
}
