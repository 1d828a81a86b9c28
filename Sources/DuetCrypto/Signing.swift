// Touches C: crypto_sign_*.
internal import CSodium

/// An Ed25519 public key: who signed a change, a device certificate, a membership record.
public struct VerifyingKey: Hashable, Sendable {
    public static let byteCount = Int(crypto_sign_PUBLICKEYBYTES)

    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == Self.byteCount else { throw .invalidLength }
        self.bytes = bytes
    }

    /// For bytes libsodium just produced at the right length.
    init(produced bytes: [UInt8]) {
        precondition(bytes.count == Self.byteCount)
        self.bytes = bytes
    }

    /// Checks a detached signature. A bad signature, a signature by another key and a malformed
    /// key all throw the one ``CryptoError/authenticationFailure``.
    public func verify(_ signature: Signature, for message: [UInt8]) throws(CryptoError) {
        guard isValidSignature(signature, for: message) else { throw .authenticationFailure }
    }

    public func isValidSignature(_ signature: Signature, for message: [UInt8]) -> Bool {
        Sodium.ready()
        return message.withUnsafeBytes { messageBytes in
            crypto_sign_verify_detached(
                signature.bytes, messageBytes.cBytes, UInt64(messageBytes.count), bytes) == 0
        }
    }
}

extension VerifyingKey: CustomStringConvertible {
    /// Public keys may be shown; the hex form is what a person compares.
    public var description: String { "VerifyingKey(\(Hex.encode(bytes)))" }
}

/// A 64-byte detached Ed25519 signature.
public struct Signature: Hashable, Sendable {
    public static let byteCount = Int(crypto_sign_BYTES)

    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == Self.byteCount else { throw .invalidLength }
        self.bytes = bytes
    }

    /// For bytes libsodium just produced at the right length.
    init(produced bytes: [UInt8]) {
        precondition(bytes.count == Self.byteCount)
        self.bytes = bytes
    }
}

/// An Ed25519 signing key (a person's identity or one device's key).
public struct SigningKey: Sendable {
    public static let seedByteCount = Int(crypto_sign_SEEDBYTES)

    /// libsodium's 64-byte secret key (seed ‖ public key).
    private let secretKey: SecretBytes
    public let verifyingKey: VerifyingKey

    /// A new key from the system random source.
    public static func generate() -> SigningKey {
        // A 32-byte seed always has the right length.
        SigningKey(validSeed: RandomBytes.secret(count: seedByteCount))
    }

    /// Rebuilds the key from its 32-byte seed (what the keystore keeps).
    public init(seed: SecretBytes) throws(CryptoError) {
        guard seed.count == Self.seedByteCount else { throw .invalidLength }
        self.init(validSeed: seed)
    }

    private init(validSeed seed: SecretBytes) {
        Sodium.ready()
        var publicKey = [UInt8](repeating: 0, count: VerifyingKey.byteCount)
        secretKey = SecretBytes(count: Int(crypto_sign_SECRETKEYBYTES)) { secret in
            seed.withUnsafeBytes { seedBytes in
                let result = crypto_sign_seed_keypair(
                    &publicKey,
                    secret.cBytes,
                    seedBytes.cBytes)
                precondition(result == 0, "crypto_sign_seed_keypair cannot fail for a 32-byte seed")
            }
        }
        verifyingKey = VerifyingKey(produced: publicKey)
    }

    /// The 32-byte seed, for sealing into the keystore.
    public var seed: SecretBytes { secretKey.prefix(Self.seedByteCount) }

    /// Signs `message` (deterministic, as Ed25519 is).
    public func signature(for message: [UInt8]) -> Signature {
        Sodium.ready()
        var signature = [UInt8](repeating: 0, count: Signature.byteCount)
        secretKey.withUnsafeBytes { secret in
            message.withUnsafeBytes { messageBytes in
                let result = crypto_sign_detached(
                    &signature, nil, messageBytes.cBytes, UInt64(messageBytes.count),
                    secret.cBytes)
                precondition(result == 0, "crypto_sign_detached cannot fail")
            }
        }
        return Signature(produced: signature)
    }

    /// Reads the secret key (for conversion to X25519 within this module).
    func withSecretKey<Result>(_ body: (UnsafePointer<UInt8>) -> Result) -> Result {
        secretKey.withUnsafeBytes { body($0.cBytes) }
    }
}

extension SigningKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "SigningKey(public: \(Hex.encode(verifyingKey.bytes)), secret redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["verifyingKey": verifyingKey], displayStyle: .struct) }
}
