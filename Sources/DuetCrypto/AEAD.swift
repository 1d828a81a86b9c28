// Touches C: crypto_aead_xchacha20poly1305_ietf_*.
internal import CSodium

/// XChaCha20-Poly1305 (IETF variant) authenticated encryption with associated data.
///
/// A sealed message is laid out as `nonce (24) ‖ ciphertext ‖ tag (16)`. The nonce is drawn at
/// random for every message: with 192 bits a collision is not a practical concern, so no counter
/// has to be kept in sync across devices. Associated data is authenticated, not encrypted: bind
/// everything that gives the ciphertext its meaning (space, epoch, device, position) there, so a
/// ciphertext moved elsewhere fails to open.
public enum AEAD {
    public static let nonceByteCount = Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
    public static let tagByteCount = Int(crypto_aead_xchacha20poly1305_ietf_ABYTES)
    /// Bytes a sealed message adds to its plaintext.
    public static let overhead = nonceByteCount + tagByteCount

    /// Seals `plaintext` under `key` with a fresh random nonce.
    public static func seal(
        _ plaintext: [UInt8], using key: SymmetricKey, associatedData: [UInt8] = []
    ) -> [UInt8] {
        plaintext.withUnsafeBytes { sealRaw($0, key: key, nonce: RandomBytes.make(count: nonceByteCount), associatedData: associatedData) }
    }

    /// Seals secret bytes (a key being wrapped) without copying them into an ordinary array.
    public static func seal(
        _ plaintext: SecretBytes, using key: SymmetricKey, associatedData: [UInt8] = []
    ) -> [UInt8] {
        plaintext.withUnsafeBytes { sealRaw($0, key: key, nonce: RandomBytes.make(count: nonceByteCount), associatedData: associatedData) }
    }

    /// Seals with a caller-chosen nonce. Only for known-answer tests: a repeated nonce under one
    /// key destroys confidentiality and authenticity, which is why this is not public.
    package static func seal(
        _ plaintext: [UInt8], using key: SymmetricKey, nonce: [UInt8], associatedData: [UInt8]
    ) throws(CryptoError) -> [UInt8] {
        guard nonce.count == nonceByteCount else { throw .invalidLength }
        return plaintext.withUnsafeBytes { sealRaw($0, key: key, nonce: nonce, associatedData: associatedData) }
    }

    /// Opens a sealed message. Any failure — altered bytes, wrong key, wrong associated data, a
    /// message too short to hold a nonce and tag — is the one ``CryptoError/authenticationFailure``.
    public static func open(
        _ sealed: [UInt8], using key: SymmetricKey, associatedData: [UInt8] = []
    ) throws(CryptoError) -> [UInt8] {
        guard sealed.count >= overhead else { throw .authenticationFailure }
        var plaintext = [UInt8](repeating: 0, count: sealed.count - overhead)
        let ok = plaintext.withUnsafeMutableBytes { output in
            openRaw(sealed, key: key, associatedData: associatedData, into: output)
        }
        guard ok else { throw .authenticationFailure }
        return plaintext
    }

    /// Opens a sealed secret (a wrapped key) straight into zeroing storage.
    public static func openSecret(
        _ sealed: [UInt8], using key: SymmetricKey, associatedData: [UInt8] = []
    ) throws(CryptoError) -> SecretBytes {
        guard sealed.count >= overhead else { throw .authenticationFailure }
        var ok = false
        let secret = SecretBytes(count: sealed.count - overhead) { output in
            ok = openRaw(sealed, key: key, associatedData: associatedData, into: output)
        }
        guard ok else { throw .authenticationFailure }
        return secret
    }

    private static func sealRaw(
        _ plaintext: UnsafeRawBufferPointer, key: SymmetricKey, nonce: [UInt8], associatedData: [UInt8]
    ) -> [UInt8] {
        Sodium.ready()
        var sealed = [UInt8](repeating: 0, count: overhead + plaintext.count)
        sealed.withUnsafeMutableBufferPointer { out in
            guard let outBase = out.baseAddress else { return }
            for index in 0..<nonceByteCount { out[index] = nonce[index] }
            var written: UInt64 = 0
            let result = key.bytes.withUnsafeBytes { keyBytes in
                associatedData.withUnsafeBytes { ad in
                    crypto_aead_xchacha20poly1305_ietf_encrypt(
                        outBase + nonceByteCount, &written,
                        plaintext.cBytes, UInt64(plaintext.count),
                        ad.cBytes, UInt64(ad.count),
                        nil, outBase, keyBytes.cBytes)
                }
            }
            // Encryption cannot fail for a message that fits in memory.
            precondition(result == 0 && written == UInt64(plaintext.count + tagByteCount))
        }
        return sealed
    }

    /// Decrypts into `output` (exactly `sealed.count - overhead` bytes); false on any failure.
    private static func openRaw(
        _ sealed: [UInt8], key: SymmetricKey, associatedData: [UInt8],
        into output: UnsafeMutableRawBufferPointer
    ) -> Bool {
        Sodium.ready()
        return sealed.withUnsafeBufferPointer { input in
            guard let inBase = input.baseAddress else { return false }
            var written: UInt64 = 0
            let result = key.bytes.withUnsafeBytes { keyBytes in
                associatedData.withUnsafeBytes { ad in
                    crypto_aead_xchacha20poly1305_ietf_decrypt(
                        output.cBytes, &written, nil,
                        inBase + nonceByteCount, UInt64(input.count - nonceByteCount),
                        ad.cBytes, UInt64(ad.count),
                        inBase, keyBytes.cBytes)
                }
            }
            return result == 0
        }
    }
}
