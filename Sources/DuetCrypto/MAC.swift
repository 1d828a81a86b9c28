// Touches C: crypto_generichash (keyed BLAKE2b), crypto_verify_32.
internal import CSodium

/// Keyed BLAKE2b-256 (`crypto_generichash` with a key): a tag that only a holder of the key can
/// make, over a message given in parts (never concatenated into one copy). For claims a file
/// makes about itself that the person who wrote it can check later (an export's items).
public enum MAC {
    public static let byteCount = 32

    /// The tag of `parts`, concatenated, under `key`. The key is read in place.
    public static func tag(_ parts: [UInt8]..., key: SymmetricKey) -> [UInt8] {
        tag(parts, key: key)
    }

    /// Whether `tag` is the tag of `parts` under `key`, compared in constant time. A tag of any
    /// other length is simply not it.
    public static func verify(_ tag: [UInt8], _ parts: [UInt8]..., key: SymmetricKey) -> Bool {
        guard tag.count == byteCount else { return false }
        let expected = self.tag(parts, key: key)
        return tag.withUnsafeBytes { given in
            expected.withUnsafeBytes { wanted in crypto_verify_32(given.cBytes, wanted.cBytes) == 0 }
        }
    }

    private static func tag(_ parts: [[UInt8]], key: SymmetricKey) -> [UInt8] {
        Sodium.ready()
        let state = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        defer {
            // The state holds the key, mixed in: zeroed like the key itself.
            sodium_memzero(state, crypto_generichash_statebytes())
            state.deallocate()
        }
        let statePointer = OpaquePointer(state)
        var output = [UInt8](repeating: 0, count: byteCount)
        var result = key.bytes.withUnsafeBytes { keyBytes in
            crypto_generichash_init(statePointer, keyBytes.cBytes, keyBytes.count, byteCount)
        }
        for part in parts where result == 0 {
            result = part.withUnsafeBytes { buffer in crypto_generichash_update(statePointer, buffer.cBytes, UInt64(buffer.count)) }
        }
        if result == 0 { result = crypto_generichash_final(statePointer, &output, byteCount) }
        // A 32-byte key and output are within BLAKE2b's sizes: the calls cannot fail.
        precondition(result == 0, "keyed BLAKE2b cannot fail for valid sizes")
        return output
    }
}
