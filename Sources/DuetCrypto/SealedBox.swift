// Touches C: crypto_box_*, crypto_sign_ed25519_*_to_curve25519.
internal import CSodium

/// An X25519 public key that sealed boxes are addressed to (a device's key-delivery key).
public struct BoxPublicKey: Hashable, Sendable {
    public static let byteCount = Int(crypto_box_PUBLICKEYBYTES)

    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == Self.byteCount else { throw .invalidLength }
        self.bytes = bytes
    }

    /// The X25519 form of an Ed25519 public key, so a device certified by its signing key can
    /// receive sealed keys without a second certificate. Refuses keys that are not valid points.
    public init(converting verifyingKey: VerifyingKey) throws(CryptoError) {
        Sodium.ready()
        var converted = [UInt8](repeating: 0, count: Self.byteCount)
        guard crypto_sign_ed25519_pk_to_curve25519(&converted, verifyingKey.bytes) == 0 else {
            throw .malformedEncoding
        }
        bytes = converted
    }
}

extension BoxPublicKey: CustomStringConvertible {
    public var description: String { "BoxPublicKey(\(Hex.encode(bytes)))" }
}

/// An X25519 secret key that opens sealed boxes addressed to its public key.
public struct BoxSecretKey: Sendable {
    public static let byteCount = Int(crypto_box_SECRETKEYBYTES)

    private let secret: SecretBytes
    public let publicKey: BoxPublicKey

    public static func generate() -> BoxSecretKey {
        Sodium.ready()
        var publicKey = [UInt8](repeating: 0, count: BoxPublicKey.byteCount)
        let secret = SecretBytes(count: byteCount) { buffer in
            let result = crypto_box_keypair(&publicKey, buffer.cBytes)
            precondition(result == 0, "crypto_box_keypair cannot fail")
        }
        return BoxSecretKey(secret: secret, publicKey: publicKey)
    }

    /// Rebuilds a key from its 32 secret bytes (as kept in the keystore).
    public init(bytes: SecretBytes) throws(CryptoError) {
        guard bytes.count == Self.byteCount else { throw .invalidLength }
        Sodium.ready()
        var publicKey = [UInt8](repeating: 0, count: BoxPublicKey.byteCount)
        bytes.withUnsafeBytes { secret in
            let result = crypto_scalarmult_base(&publicKey, secret.cBytes)
            precondition(result == 0, "crypto_scalarmult_base cannot fail")
        }
        self.init(secret: bytes, publicKey: publicKey)
    }

    /// The X25519 form of an Ed25519 signing key; pairs with ``BoxPublicKey/init(converting:)``.
    public init(converting signingKey: SigningKey) {
        Sodium.ready()
        let secret = SecretBytes(count: Self.byteCount) { buffer in
            signingKey.withSecretKey { ed25519Secret in
                let result = crypto_sign_ed25519_sk_to_curve25519(
                    buffer.cBytes, ed25519Secret)
                precondition(result == 0, "crypto_sign_ed25519_sk_to_curve25519 cannot fail")
            }
        }
        var publicKey = [UInt8](repeating: 0, count: BoxPublicKey.byteCount)
        secret.withUnsafeBytes { secretBytes in
            let result = crypto_scalarmult_base(&publicKey, secretBytes.cBytes)
            precondition(result == 0, "crypto_scalarmult_base cannot fail")
        }
        self.init(secret: secret, publicKey: publicKey)
    }

    private init(secret: SecretBytes, publicKey: [UInt8]) {
        precondition(publicKey.count == BoxPublicKey.byteCount)
        self.secret = secret
        self.publicKey = BoxPublicKey(produced: publicKey)
    }

    /// The secret bytes, for sealing into the keystore.
    public var bytes: SecretBytes { secret }

    /// Opens a box sealed to this key. Not addressed to us, altered or truncated: all the one
    /// ``CryptoError/authenticationFailure``.
    public func open(_ box: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard box.count >= SealedBox.overhead else { throw .authenticationFailure }
        var message = [UInt8](repeating: 0, count: box.count - SealedBox.overhead)
        let ok = message.withUnsafeMutableBytes { openRaw(box, into: $0) }
        guard ok else { throw .authenticationFailure }
        return message
    }

    /// Opens a box that holds a secret (a content key) straight into zeroing storage.
    public func openSecret(_ box: [UInt8]) throws(CryptoError) -> SecretBytes {
        guard box.count >= SealedBox.overhead else { throw .authenticationFailure }
        var ok = false
        let message = SecretBytes(count: box.count - SealedBox.overhead) { ok = openRaw(box, into: $0) }
        guard ok else { throw .authenticationFailure }
        return message
    }

    private func openRaw(_ box: [UInt8], into output: UnsafeMutableRawBufferPointer) -> Bool {
        Sodium.ready()
        return secret.withUnsafeBytes { secretBytes in
            crypto_box_seal_open(
                output.cBytes, box, UInt64(box.count),
                publicKey.bytes, secretBytes.cBytes) == 0
        }
    }
}

extension BoxSecretKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "BoxSecretKey(public: \(Hex.encode(publicKey.bytes)), secret redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["publicKey": publicKey], displayStyle: .struct) }
}

extension BoxPublicKey {
    init(produced bytes: [UInt8]) {
        precondition(bytes.count == Self.byteCount)
        self.bytes = bytes
    }
}

/// Anonymous sealed boxes (`crypto_box_seal`): anyone can seal to a public key, only the holder
/// of the secret key can open, and the box does not say who sealed it. Authorship therefore
/// always comes from a signature around the box, never from the box itself.
public enum SealedBox {
    /// Bytes a sealed box adds to its message (ephemeral public key and tag).
    public static let overhead = Int(crypto_box_sealbytes())

    /// Seals `message` to `recipient`. A recipient key that is a low-order point (a hostile or
    /// broken key: every box to it would be readable by anyone) is refused with
    /// ``CryptoError/malformedEncoding``.
    public static func seal(_ message: [UInt8], to recipient: BoxPublicKey) throws(CryptoError) -> [UInt8] {
        try message.withUnsafeBytes { sealRaw($0, to: recipient) }.get()
    }

    /// Seals a secret (a content key being delivered to a device).
    public static func seal(_ message: SecretBytes, to recipient: BoxPublicKey) throws(CryptoError) -> [UInt8] {
        try message.withUnsafeBytes { sealRaw($0, to: recipient) }.get()
    }

    private static func sealRaw(
        _ message: UnsafeRawBufferPointer, to recipient: BoxPublicKey
    ) -> Result<[UInt8], CryptoError> {
        Sodium.ready()
        var box = [UInt8](repeating: 0, count: message.count + overhead)
        let result = crypto_box_seal(
            &box, message.cBytes, UInt64(message.count),
            recipient.bytes)
        // Fails only for a recipient key that is a low-order point.
        guard result == 0 else { return .failure(.malformedEncoding) }
        return .success(box)
    }
}
