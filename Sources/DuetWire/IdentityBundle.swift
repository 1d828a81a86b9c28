public import DuetCrypto

/// Where a person's recovery blob is kept and the key that seals it (SPEC § 7.5).
public struct RecoverySlot: Sendable {
    public let slot: [UInt8]
    public let key: SymmetricKey

    public init(slot: [UInt8], key: SymmetricKey) {
        self.slot = slot
        self.key = key
    }
}

/// A person's secrets as one device hands them to another of the same person (linking, SPEC
/// § 7.3) or leaves them for recovery (§ 7.5): the identity key, the personal space and its keys
/// of every epoch, and the couple space with its keys and the partner, if paired. Only ever
/// handled sealed under a key from a code; in memory the secrets stay in zeroing storage.
public struct IdentityBundle: Sendable {
    public struct Couple: Sendable {
        public let space: SpaceID
        public let keys: [UInt64: SymmetricKey]
        public let partner: VerifyingKey
        public let partnerName: String

        public init(space: SpaceID, keys: [UInt64: SymmetricKey], partner: VerifyingKey, partnerName: String) {
            self.space = space
            self.keys = keys
            self.partner = partner
            self.partnerName = partnerName
        }
    }

    public let identity: SigningKey
    public let name: String
    public let personalSpace: SpaceID
    public let personalKeys: [UInt64: SymmetricKey]
    public let couple: Couple?
    /// The recovery slot, so a linked device can refresh the blob too.
    public let recovery: RecoverySlot?

    public init(identity: SigningKey, name: String, personalSpace: SpaceID, personalKeys: [UInt64: SymmetricKey], couple: Couple?,
                recovery: RecoverySlot? = nil) {
        self.identity = identity
        self.name = name
        self.personalSpace = personalSpace
        self.personalKeys = personalKeys
        self.couple = couple
        self.recovery = recovery
    }

    static let version: UInt8 = 1

    /// Seals the bundle under `key` (the AEAD's associated data names the purpose, so a link
    /// bundle cannot be replayed as a recovery blob or the other way round).
    public func seal(using key: SymmetricKey, purpose: String) -> [UInt8] {
        let plain = encoded()
        return AEAD.seal(plain, using: key, associatedData: Array("duet identity bundle v1 \(purpose)".utf8))
    }

    /// Opens a sealed bundle; anything altered, sealed for another purpose or under another key
    /// is refused as a whole.
    public static func open(_ sealed: [UInt8], using key: SymmetricKey, purpose: String) throws(WireError) -> IdentityBundle {
        let plain: SecretBytes
        do { plain = try AEAD.openSecret(sealed, using: key, associatedData: Array("duet identity bundle v1 \(purpose)".utf8)) } catch {
            throw .malformed("the bundle does not open with this code")
        }
        guard let bundle = decode(plain) else { throw .malformed("the bundle's contents") }
        return bundle
    }

    /// version ‖ identity seed(32) ‖ name(u8 len) ‖ space(16) ‖ keys ‖ couple flag ‖
    /// [space(16) ‖ partner(32) ‖ partner name(u8 len) ‖ keys]; keys = count(u8) ‖ (epoch u64be ‖ key(32))*
    private func encoded() -> SecretBytes {
        let nameBytes = Array(name.utf8)
        let partnerNameBytes = Array((couple?.partnerName ?? "").utf8)
        func keysLength(_ keys: [UInt64: SymmetricKey]) -> Int { 1 + keys.count * 40 }
        var total = 1 + 32 + 1 + nameBytes.count + 16 + keysLength(personalKeys) + 1
        if let couple { total += 16 + 32 + 1 + partnerNameBytes.count + keysLength(couple.keys) }
        total += 1 + (recovery == nil ? 0 : 48)
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
            put([Self.version])
            identity.seed.withUnsafeBytes { put($0) }
            put([UInt8(nameBytes.count)])
            put(nameBytes)
            put(personalSpace.bytes)
            putKeys(personalKeys)
            if let couple {
                put([1])
                put(couple.space.bytes)
                put(couple.partner.bytes)
                put([UInt8(partnerNameBytes.count)])
                put(partnerNameBytes)
                putKeys(couple.keys)
            } else {
                put([0])
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

    private static func decode(_ secret: SecretBytes) -> IdentityBundle? {
        secret.withUnsafeBytes { bytes -> IdentityBundle? in
            var index = 0
            func take(_ count: Int) -> Slice<UnsafeRawBufferPointer>? {
                guard count >= 0, index + count <= bytes.count else { return nil }
                defer { index += count }
                return bytes[index..<index + count]
            }
            func takeString() -> String? {
                guard let length = take(1)?.first, length <= 64, let raw = take(Int(length)) else { return nil }
                return String(validating: raw, as: UTF8.self)
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
            guard take(1)?.first == version, let seed = take(32),
                  let identity = try? SigningKey(seed: SecretBytes(copying: seed)),
                  let name = takeString(), !name.isEmpty,
                  let space = take(16), let personalSpace = try? SpaceID(bytes: Array(space)),
                  let personalKeys = takeKeys(), !personalKeys.isEmpty, let flag = take(1)?.first else { return nil }
            var couple: Couple?
            switch flag {
            case 0: break
            case 1:
                guard let space = take(16), let coupleSpace = try? SpaceID(bytes: Array(space)),
                      let partnerBytes = take(32), let partner = try? VerifyingKey(bytes: Array(partnerBytes)),
                      let partnerName = takeString(), !partnerName.isEmpty, let keys = takeKeys() else { return nil }
                couple = Couple(space: coupleSpace, keys: keys, partner: partner, partnerName: partnerName)
            default: return nil
            }
            var recovery: RecoverySlot?
            guard let recoveryFlag = take(1)?.first else { return nil }
            if recoveryFlag == 1 {
                guard let slot = take(16), let keyBytes = take(32),
                      let key = try? SymmetricKey(bytes: SecretBytes(copying: keyBytes)) else { return nil }
                recovery = RecoverySlot(slot: Array(slot), key: key)
            } else if recoveryFlag != 0 {
                return nil
            }
            guard index == bytes.count else { return nil }
            return IdentityBundle(identity: identity, name: name, personalSpace: personalSpace, personalKeys: personalKeys, couple: couple,
                                  recovery: recovery)
        }
    }
}

/// What a new device sends the device linking it: its key and the name it will carry.
public struct LinkRequest: Equatable, Sendable {
    public let device: VerifyingKey
    public let deviceName: String

    public init(device: VerifyingKey, deviceName: String) {
        self.device = device
        self.deviceName = deviceName
    }

    static let context = Array("duet link request v1".utf8)

    public func seal(using key: SymmetricKey) -> [UInt8] {
        let nameBytes = Array(deviceName.utf8)
        return AEAD.seal([IdentityBundle.version] + device.bytes + [UInt8(nameBytes.count)] + nameBytes, using: key, associatedData: Self.context)
    }

    public static func open(_ sealed: [UInt8], using mailboxKey: SymmetricKey) throws(WireError) -> LinkRequest {
        let plain: [UInt8]
        do { plain = try AEAD.open(sealed, using: mailboxKey, associatedData: context) } catch {
            throw .malformed("the request does not open with this code")
        }
        var reader = WireReader(plain)
        let version = try reader.byte()
        guard version == IdentityBundle.version else { throw .unsupportedVersion(version) }
        let device = try key(try reader.raw(32))
        let length = try reader.byte()
        guard length >= 1, length <= 64, let name = String(validating: try reader.raw(Int(length)), as: UTF8.self) else {
            throw .malformed("a device name is 1 to 64 bytes of UTF-8")
        }
        try reader.expectEnd()
        return LinkRequest(device: device, deviceName: name)
    }
}
