// Touches C: crypto_aead_xchacha20poly1305_ietf_*, crypto_sign_*, randombytes_buf.
internal import CSodium

/// The same work as DuetCrypto's seal+sign and verify+open, done with bare libsodium calls into
/// caller-owned buffers: no zeroing storage, no checks beyond libsodium's own. Only for the
/// benchmark that measures DuetCrypto's overhead against it in the same process (G8); package
/// access keeps it out of the public API, and keeps CSodium imported by DuetCrypto alone.
package struct RawBaseline {
    private var key = [UInt8](repeating: 0, count: Int(crypto_aead_xchacha20poly1305_ietf_KEYBYTES))
    private var secret = [UInt8](repeating: 0, count: Int(crypto_sign_SECRETKEYBYTES))
    package private(set) var publicKey = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))

    package init() {
        Sodium.ready()
        crypto_aead_xchacha20poly1305_ietf_keygen(&key)
        _ = crypto_sign_keypair(&publicKey, &secret)
    }

    /// nonce ‖ ciphertext ‖ tag, then a detached signature over all of it.
    package func sealAndSign(_ message: [UInt8], associatedData: [UInt8]) -> (sealed: [UInt8], signature: [UInt8]) {
        let nonceBytes = Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
        var sealed = [UInt8](repeating: 0, count: nonceBytes + message.count + Int(crypto_aead_xchacha20poly1305_ietf_ABYTES))
        sealed.withUnsafeMutableBufferPointer { out in
            guard let base = out.baseAddress else { return }
            randombytes_buf(base, nonceBytes)
            var length: UInt64 = 0
            _ = crypto_aead_xchacha20poly1305_ietf_encrypt(base + nonceBytes, &length, message, UInt64(message.count),
                                                            associatedData, UInt64(associatedData.count), nil, base, key)
        }
        var signature = [UInt8](repeating: 0, count: Int(crypto_sign_BYTES))
        _ = crypto_sign_detached(&signature, nil, sealed, UInt64(sealed.count), secret)
        return (sealed, signature)
    }

    /// Verifies the signature, then opens; nil on any failure.
    package func verifyAndOpen(_ sealed: [UInt8], signature: [UInt8], associatedData: [UInt8]) -> [UInt8]? {
        guard crypto_sign_verify_detached(signature, sealed, UInt64(sealed.count), publicKey) == 0 else { return nil }
        let nonceBytes = Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
        let overhead = nonceBytes + Int(crypto_aead_xchacha20poly1305_ietf_ABYTES)
        guard sealed.count >= overhead else { return nil }
        var message = [UInt8](repeating: 0, count: sealed.count - overhead)
        let result = sealed.withUnsafeBufferPointer { input -> Int32 in
            guard let base = input.baseAddress else { return -1 }
            var length: UInt64 = 0
            return crypto_aead_xchacha20poly1305_ietf_decrypt(&message, &length, nil, base + nonceBytes, UInt64(sealed.count - nonceBytes),
                                                               associatedData, UInt64(associatedData.count), base, key)
        }
        return result == 0 ? message : nil
    }
}
