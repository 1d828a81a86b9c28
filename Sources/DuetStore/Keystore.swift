import DuetCore
public import DuetCrypto
public import DuetWire

/// The device's secrets (DESIGN §6), kept only sealed at rest under a key derived from the
/// passphrase. Unlocked, it lives in memory in zeroing storage.
public struct Keystore: Sendable {
    /// 2 adds the keys of other spaces received whole (a linked or recovered device gets every
    /// epoch of the couple space this way); 1 is still read.
    public static let version: UInt8 = 2

    public let name: String
    public let identity: SigningKey
    public let device: SigningKey
    /// Seals the materialised view (never leaves this device).
    public let storageKey: SymmetricKey
    public let personalSpace: SpaceID
    /// Content keys of the personal space by epoch.
    public let personalKeys: [UInt64: SymmetricKey]
    /// Content keys of other spaces that arrived in an identity bundle rather than as `wrapKey`
    /// records (earlier epochs of the couple space, for a linked or recovered device).
    public let otherKeys: [SpaceID: [UInt64: SymmetricKey]]
    /// Where and under which key this person's recovery blob is kept (from the recovery code
    /// shown once at `init`), so that the blob can be refreshed when keys change.
    public let recovery: RecoverySlot?

    public var deviceID: WireDeviceID { WireDeviceID(verifyingKey: device.verifyingKey) }

    public static func create(name: String, recovery: RecoverySlot?) -> Keystore {
        Keystore(name: name, identity: .generate(), device: .generate(), storageKey: .random(),
                 personalSpace: .random(), personalKeys: [1: .random()], otherKeys: [:], recovery: recovery)
    }

    /// A new device of the person a bundle describes: their identity and spaces, its own device
    /// and storage keys.
    public static func create(from bundle: IdentityBundle, device: SigningKey, recovery: RecoverySlot?) -> Keystore {
        Keystore(name: bundle.name, identity: bundle.identity, device: device, storageKey: .random(),
                 personalSpace: bundle.personalSpace, personalKeys: bundle.personalKeys,
                 otherKeys: bundle.couple.map { [$0.space: $0.keys] } ?? [:], recovery: recovery ?? bundle.recovery)
    }

    private static let associatedData = Array("duet keystore v1".utf8)

    /// Seals under a key derived from `passphrase` with fresh `parameters`.
    func seal(passphrase: SecretBytes, parameters: PassphraseKDFParameters) throws(StoreError) -> [UInt8] {
        let key: SymmetricKey
        do { key = try PassphraseKDF.deriveKey(passphrase: passphrase, parameters: parameters) } catch {
            throw StoreError(.io, "could not derive the key: \(error)")
        }
        let plain: SecretBytes
        do { plain = try encoded() } catch { throw StoreError(.invalidInput, "more key epochs or a longer name than a keystore holds (255)") }
        return AEAD.seal(plain, using: key, associatedData: Self.associatedData + parameters.encoded)
    }

    /// Opens a sealed keystore. A wrong passphrase and a damaged keystore look the same.
    static func open(sealed: [UInt8], parameters: PassphraseKDFParameters, passphrase: SecretBytes) throws(StoreError) -> Keystore {
        try open(sealed: sealed, parameters: parameters, key: deriveKey(passphrase: passphrase, parameters: parameters))
    }

    /// The key a passphrase unseals the keystore with (Argon2id: the slow part of an unlock).
    static func deriveKey(passphrase: SecretBytes, parameters: PassphraseKDFParameters) throws(StoreError) -> SymmetricKey {
        do { return try PassphraseKDF.deriveKey(passphrase: passphrase, parameters: parameters) } catch {
            throw StoreError(.io, "could not derive the key: \(error)")
        }
    }

    /// Opens a sealed keystore with the key derived earlier (the unlock agent's). A key from
    /// before a passphrase change no longer opens it: that is a wrong passphrase too.
    static func open(sealed: [UInt8], parameters: PassphraseKDFParameters, key: SymmetricKey) throws(StoreError) -> Keystore {
        let plain: SecretBytes
        do {
            plain = try AEAD.openSecret(sealed, using: key, associatedData: associatedData + parameters.encoded)
        } catch {
            throw StoreError.wrongPassphrase
        }
        guard let keystore = decode(plain) else { throw StoreError.corrupt("keystore contents") }
        return keystore
    }

    /// version ‖ identity seed(32) ‖ device seed(32) ‖ storage key(32) ‖ space(16) ‖ keys ‖
    /// name length u16be ‖ name ‖ (version 2:) count ‖ (space(16) ‖ keys)*;
    /// keys = count ‖ (epoch u64be ‖ key(32))*
    private func encoded() throws(WireError) -> SecretBytes {
        let nameBytes = Array(name.utf8)
        let spaces = otherKeys.keys.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
        let total = 1 + 96 + 16 + SecretWriter.keysByteCount(personalKeys) + 2 + nameBytes.count
            + 1 + spaces.reduce(0) { $0 + 16 + SecretWriter.keysByteCount(otherKeys[$1] ?? [:]) } + SecretWriter.recoveryByteCount(recovery)
        guard let nameLength = UInt16(exactly: nameBytes.count), let spaceCount = UInt8(exactly: spaces.count) else { throw .tooLarge(limit: 255) }
        return try SecretBytes(count: total) { (out) throws(WireError) in
            var writer = SecretWriter(out)
            writer.put([Keystore.version])
            for secret in [identity.seed, device.seed, storageKey.bytes] { writer.put(secret) }
            writer.put(personalSpace.bytes)
            try writer.putKeys(personalKeys)
            writer.put([UInt8(truncatingIfNeeded: nameLength >> 8), UInt8(truncatingIfNeeded: nameLength)])
            writer.put(nameBytes)
            writer.put([spaceCount])
            for space in spaces {
                writer.put(space.bytes)
                try writer.putKeys(otherKeys[space] ?? [:])
            }
            writer.putRecovery(recovery)
        }
    }

    private static func decode(_ secret: SecretBytes) -> Keystore? {
        // Read in place: copying the plaintext into an ordinary array would leave key material
        // in memory nobody zeroes.
        secret.withUnsafeBytes { bytes -> Keystore? in
            var reader = SecretReader(bytes)
            guard let version = reader.byte(), version == 1 || version == Keystore.version,
                  let identitySeed = reader.take(32), let deviceSeed = reader.take(32), let storage = reader.take(32),
                  let space = reader.take(16), let keys = reader.takeKeys(),
                  let high = reader.byte(), let low = reader.byte(), let nameBytes = reader.take(Int(high) << 8 | Int(low)) else { return nil }
            var otherKeys: [SpaceID: [UInt64: SymmetricKey]] = [:]
            var recovery: RecoverySlot?
            if version >= 2 {
                guard let count = reader.byte() else { return nil }
                for _ in 0..<count {
                    guard let spaceBytes = reader.take(16), let spaceID = try? SpaceID(bytes: Array(spaceBytes)),
                          let keys = reader.takeKeys() else { return nil }
                    otherKeys[spaceID] = keys
                }
                guard let slot = reader.takeRecovery() else { return nil }
                recovery = slot
            }
            guard reader.isAtEnd, let name = String(validating: nameBytes, as: UTF8.self),
                  let identity = try? SigningKey(seed: SecretBytes(copying: identitySeed)),
                  let device = try? SigningKey(seed: SecretBytes(copying: deviceSeed)),
                  let storageKey = try? SymmetricKey(bytes: SecretBytes(copying: storage)),
                  let spaceID = try? SpaceID(bytes: Array(space)) else { return nil }
            return Keystore(name: name, identity: identity, device: device, storageKey: storageKey,
                            personalSpace: spaceID, personalKeys: keys, otherKeys: otherKeys, recovery: recovery)
        }
    }
}
