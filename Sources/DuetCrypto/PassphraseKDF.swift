// Touches C: crypto_pwhash (Argon2id).
internal import CSodium

/// Argon2id parameters, stored beside what they protect so that a key can be derived again.
///
/// The minimum is pinned in the client: parameters read from a file or received from anyone are
/// checked against it and refused if weaker, so an attacker who can edit the file cannot make the
/// next unlock cheap to brute-force (the downgrade that broke several E2EE storage systems).
public struct PassphraseKDFParameters: Hashable, Sendable {
    /// Argon2id version 1.3 is the only algorithm: a stored value names it so a later one can be
    /// added without guessing.
    public static let algorithmArgon2id13: UInt8 = 1
    public static let saltByteCount = Int(crypto_pwhash_SALTBYTES)

    /// libsodium's "interactive" level: 2 passes over 64 MiB. Nothing weaker is ever accepted.
    public static let minimumOpsLimit: UInt64 = 2
    public static let minimumMemoryBytes: Int = 64 << 20
    /// Upper bounds keep a damaged or hostile file from asking for hours or for all memory.
    public static let maximumOpsLimit: UInt64 = 64
    public static let maximumMemoryBytes: Int = 4 << 30

    /// Duet's default for new keystores: 3 passes over 256 MiB (libsodium's "moderate" memory;
    /// see BENCHMARKS.md for the measured unlock time on the reference machine).
    public static let defaultOpsLimit: UInt64 = 3
    public static let defaultMemoryBytes: Int = 256 << 20

    public let opsLimit: UInt64
    public let memoryBytes: Int
    public let salt: [UInt8]

    /// Parameters for a new key: Duet's defaults and a fresh random salt.
    public static func makeDefault() -> PassphraseKDFParameters {
        PassphraseKDFParameters(
            unvalidatedOpsLimit: defaultOpsLimit, memoryBytes: defaultMemoryBytes,
            salt: RandomBytes.make(count: saltByteCount))
    }

    /// Validated parameters: refuses a wrong salt length, anything below the pinned minimum
    /// (``CryptoError/weakParameters``) anything past the maximum, and memory that is not whole KiB.
    public init(opsLimit: UInt64, memoryBytes: Int, salt: [UInt8]) throws(CryptoError) {
        guard salt.count == Self.saltByteCount else { throw .invalidLength }
        guard opsLimit >= Self.minimumOpsLimit, memoryBytes >= Self.minimumMemoryBytes else {
            throw .weakParameters
        }
        guard opsLimit <= Self.maximumOpsLimit, memoryBytes <= Self.maximumMemoryBytes,
              memoryBytes % 1024 == 0 else {
            throw .unsupportedParameters
        }
        self.init(unvalidatedOpsLimit: opsLimit, memoryBytes: memoryBytes, salt: salt)
    }

    private init(unvalidatedOpsLimit opsLimit: UInt64, memoryBytes: Int, salt: [UInt8]) {
        self.opsLimit = opsLimit
        self.memoryBytes = memoryBytes
        self.salt = salt
    }

    /// Encoded length: algorithm (1) ‖ opsLimit (4, big-endian) ‖ memory in KiB (4, big-endian) ‖ salt (16).
    public static let encodedByteCount = 1 + 4 + 4 + saltByteCount

    /// The stored form, documented in Protocol/SPEC.md (§ keystore).
    public var encoded: [UInt8] {
        var out: [UInt8] = [Self.algorithmArgon2id13]
        out += bigEndianBytes(UInt32(opsLimit))
        out += bigEndianBytes(UInt32(memoryBytes >> 10))
        out += salt
        return out
    }

    /// Reads the stored form and validates it exactly as ``init(opsLimit:memoryBytes:salt:)``.
    public init(encoded bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == Self.encodedByteCount else { throw .malformedEncoding }
        guard bytes[0] == Self.algorithmArgon2id13 else { throw .unsupportedParameters }
        let ops = readBigEndianUInt32(bytes, at: 1)
        let kibibytes = readBigEndianUInt32(bytes, at: 5)
        try self.init(
            opsLimit: UInt64(ops), memoryBytes: Int(kibibytes) << 10,
            salt: Array(bytes[9..<Self.encodedByteCount]))
    }
}

/// Argon2id: passphrase → key-encryption key.
public enum PassphraseKDF {
    /// Derives a 32-byte key. Slow and memory-hard on purpose (about a quarter to half a second).
    public static func deriveKey(
        passphrase: SecretBytes, parameters: PassphraseKDFParameters
    ) throws(CryptoError) -> SymmetricKey {
        try remembering(passphrase: passphrase, parameters: parameters) { () throws(CryptoError) -> SymmetricKey in
            let bytes = try argon2id(
                passphrase: passphrase, salt: parameters.salt, opsLimit: parameters.opsLimit,
                memoryBytes: parameters.memoryBytes, outputByteCount: SymmetricKey.byteCount)
            return SymmetricKey(unchecked: bytes)
        }
    }

    /// Raw Argon2id (v1.3, one lane) with no minimum: for published known-answer vectors, which
    /// use tiny parameters. Not public: everything real goes through ``deriveKey``.
    package static func argon2id(
        passphrase: SecretBytes, salt: [UInt8], opsLimit: UInt64, memoryBytes: Int,
        outputByteCount: Int
    ) throws(CryptoError) -> SecretBytes {
        Sodium.ready()
        guard salt.count == PassphraseKDFParameters.saltByteCount,
              outputByteCount >= Int(crypto_pwhash_BYTES_MIN) else { throw .invalidLength }
        guard opsLimit >= UInt64(crypto_pwhash_argon2id_OPSLIMIT_MIN),
              memoryBytes >= Int(crypto_pwhash_argon2id_MEMLIMIT_MIN) else { throw .unsupportedParameters }
        var result: Int32 = 0
        let key = SecretBytes(count: outputByteCount) { output in
            passphrase.withUnsafeBytes { password in
                result = crypto_pwhash(
                    output.cBytes, UInt64(outputByteCount),
                    password.cChars, UInt64(password.count),
                    salt, opsLimit, memoryBytes, duet_pwhash_alg_argon2id13())
            }
        }
        // With valid lengths and limits, libsodium fails only when it cannot allocate the memory.
        guard result == 0 else { throw .resourceExhausted }
        return key
    }
}

private func bigEndianBytes(_ value: UInt32) -> [UInt8] {
    [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
     UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
}

/// Reads 4 bytes at `offset`; callers have checked the length.
private func readBigEndianUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    bytes[offset..<offset + 4].reduce(0) { ($0 << 8) | UInt32($1) }
}
