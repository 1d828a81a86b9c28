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
        return AEAD.seal(encoded(), using: key, associatedData: Self.associatedData + parameters.encoded)
    }

    /// Opens a sealed keystore. A wrong passphrase and a damaged keystore look the same.
    static func open(sealed: [UInt8], parameters: PassphraseKDFParameters, passphrase: SecretBytes) throws(StoreError) -> Keystore {
        let key: SymmetricKey
        do { key = try PassphraseKDF.deriveKey(passphrase: passphrase, parameters: parameters) } catch {
            throw StoreError(.io, "could not derive the key: \(error)")
        }
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
    private func encoded() -> SecretBytes {
        let fixed: [SecretBytes] = [identity.seed, device.seed, storageKey.bytes]
        let nameBytes = Array(name.utf8)
        let spaces = otherKeys.keys.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
        let total = 1 + 96 + 16 + 1 + personalKeys.count * 40 + 2 + nameBytes.count
            + 1 + spaces.reduce(0) { $0 + 16 + 1 + (otherKeys[$1]?.count ?? 0) * 40 } + 1 + (recovery == nil ? 0 : 48)
        return SecretBytes(count: total) { out in
            var index = 0
            func put(_ bytes: some Collection<UInt8>) { for byte in bytes { out[index] = byte; index += 1 } }
            func putKeys(_ keys: [UInt64: SymmetricKey]) {
                put([UInt8(keys.count)])
                for epoch in keys.keys.sorted() {
                    put((0..<8).map { UInt8(truncatingIfNeeded: epoch >> (56 - 8 * UInt64($0))) })
                    keys[epoch]?.bytes.withUnsafeBytes { put($0) }
                }
            }
            put([Keystore.version])
            for secret in fixed { secret.withUnsafeBytes { put($0) } }
            put(personalSpace.bytes)
            putKeys(personalKeys)
            put([UInt8(nameBytes.count >> 8), UInt8(nameBytes.count & 0xff)])
            put(nameBytes)
            put([UInt8(spaces.count)])
            for space in spaces {
                put(space.bytes)
                putKeys(otherKeys[space] ?? [:])
            }
            if let recovery {
                put([1])
                put(recovery.slot)
                recovery.key.bytes.withUnsafeBytes { put($0) }
            } else {
                put([0])
            }
        }
    }

    private static func decode(_ secret: SecretBytes) -> Keystore? {
        // Read in place: copying the plaintext into an ordinary array would leave key material
        // in memory nobody zeroes.
        secret.withUnsafeBytes { bytes -> Keystore? in
            var index = 0
            func take(_ count: Int) -> Slice<UnsafeRawBufferPointer>? {
                guard count >= 0, index + count <= bytes.count else { return nil }
                defer { index += count }
                return bytes[index..<index + count]
            }
            func takeKeys() -> [UInt64: SymmetricKey]? {
                guard let count = take(1)?.first else { return nil }
                var keys: [UInt64: SymmetricKey] = [:]
                for _ in 0..<count {
                    guard let epochBytes = take(8), let keyBytes = take(32),
                          let key = try? SymmetricKey(bytes: SecretBytes(copying: keyBytes)) else { return nil }
                    keys[epochBytes.reduce(0) { $0 << 8 | UInt64($1) }] = key
                }
                return keys
            }
            guard let version = take(1)?.first, version == 1 || version == Keystore.version,
                  let identitySeed = take(32), let deviceSeed = take(32), let storage = take(32),
                  let space = take(16), let keys = takeKeys() else { return nil }
            guard let lengthBytes = take(2), let nameBytes = take(Int(lengthBytes[lengthBytes.startIndex]) << 8 | Int(lengthBytes[lengthBytes.startIndex + 1])) else { return nil }
            var otherKeys: [SpaceID: [UInt64: SymmetricKey]] = [:]
            if version >= 2 {
                guard let count = take(1)?.first else { return nil }
                for _ in 0..<count {
                    guard let spaceBytes = take(16), let spaceID = try? SpaceID(bytes: Array(spaceBytes)), let keys = takeKeys() else { return nil }
                    otherKeys[spaceID] = keys
                }
            }
            var recovery: RecoverySlot?
            if version >= 2 {
                guard let flag = take(1)?.first else { return nil }
                if flag == 1 {
                    guard let slot = take(16), let keyBytes = take(32),
                          let key = try? SymmetricKey(bytes: SecretBytes(copying: keyBytes)) else { return nil }
                    recovery = RecoverySlot(slot: Array(slot), key: key)
                } else if flag != 0 {
                    return nil
                }
            }
            guard index == bytes.count, let name = String(validating: nameBytes, as: UTF8.self),
                  let identity = try? SigningKey(seed: SecretBytes(copying: identitySeed)),
                  let device = try? SigningKey(seed: SecretBytes(copying: deviceSeed)),
                  let storageKey = try? SymmetricKey(bytes: SecretBytes(copying: storage)),
                  let spaceID = try? SpaceID(bytes: Array(space)) else { return nil }
            _ = lengthBytes
            return Keystore(name: name, identity: identity, device: device, storageKey: storageKey,
                            personalSpace: spaceID, personalKeys: keys, otherKeys: otherKeys, recovery: recovery)
        }
    }
}
