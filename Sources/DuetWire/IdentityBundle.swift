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

    /// How far a space's membership log went when the bundle was made: its record count and
    /// the hash of its last record. A new device served a shorter log, or another record at
    /// that index, is being shown an old prefix (one from before a revocation, say).
    public struct LogHead: Equatable, Sendable {
        public let records: UInt64
        public let last: Digest

        public init(records: UInt64, last: Digest) {
            self.records = records
            self.last = last
        }

        /// True when `log` holds this head: at least as many records, the same one at its end.
        public func isHeld(by log: [MembershipRecord]) -> Bool {
            guard records >= 1, records <= UInt64(log.count) else { return records == 0 }
            return log[Int(records - 1)].hash == last
        }
    }

    public let identity: SigningKey
    public let name: String
    public let personalSpace: SpaceID
    public let personalKeys: [UInt64: SymmetricKey]
    public let couple: Couple?
    /// The recovery slot, so a linked device can refresh the blob too.
    public let recovery: RecoverySlot?
    /// Counts the recovery blobs this person's devices put at the relay (SPEC § 7.5): each
    /// upload names one more than any it has seen, so a relay serving an older one is caught.
    /// Zero in a link bundle, and in a version-1 blob.
    public let generation: UInt64
    /// Per space, how far its membership log went (none in a version-1 bundle).
    public let logHeads: [SpaceID: LogHead]

    public init(identity: SigningKey, name: String, personalSpace: SpaceID, personalKeys: [UInt64: SymmetricKey], couple: Couple?,
                recovery: RecoverySlot? = nil, generation: UInt64 = 0, logHeads: [SpaceID: LogHead] = [:]) {
        self.identity = identity
        self.name = name
        self.personalSpace = personalSpace
        self.personalKeys = personalKeys
        self.couple = couple
        self.recovery = recovery
        self.generation = generation
        self.logHeads = logHeads
    }

    /// The same bundle with another recovery generation.
    public func with(generation: UInt64) -> IdentityBundle {
        IdentityBundle(identity: identity, name: name, personalSpace: personalSpace, personalKeys: personalKeys, couple: couple,
                       recovery: recovery, generation: generation, logHeads: logHeads)
    }

    /// Version 2 adds the generation and the log heads; version 1 is still read.
    static let version: UInt8 = 2

    /// Seals the bundle under `key` (the AEAD's associated data names the purpose, so a link
    /// bundle cannot be replayed as a recovery blob or the other way round).
    public func seal(using key: SymmetricKey, purpose: String) throws(WireError) -> [UInt8] {
        let plain = try encoded()
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
    /// [space(16) ‖ partner(32) ‖ partner name(u8 len) ‖ keys] ‖ recovery ‖ generation(u64be) ‖
    /// heads count(u8, ≤ 2) ‖ (space(16) ‖ records(u64be) ‖ last hash(32))*, in space order;
    /// keys = count(u8) ‖ (epoch u64be ‖ key(32))*
    private func encoded() throws(WireError) -> SecretBytes {
        let nameBytes = Array(name.utf8)
        let partnerNameBytes = Array((couple?.partnerName ?? "").utf8)
        var total = 1 + 32 + 1 + nameBytes.count + 16 + SecretWriter.keysByteCount(personalKeys) + 1
        if let couple { total += 16 + 32 + 1 + partnerNameBytes.count + SecretWriter.keysByteCount(couple.keys) }
        total += SecretWriter.recoveryByteCount(recovery)
        total += 8 + 1 + logHeads.count * 56
        guard logHeads.count <= 2 else { throw .tooLarge(limit: 2) }
        guard let nameLength = UInt8(exactly: nameBytes.count), let partnerNameLength = UInt8(exactly: partnerNameBytes.count) else {
            throw .tooLarge(limit: 255)
        }
        return try SecretBytes(count: total) { (out) throws(WireError) in
            var writer = SecretWriter(out)
            writer.put([Self.version])
            writer.put(identity.seed)
            writer.put([nameLength])
            writer.put(nameBytes)
            writer.put(personalSpace.bytes)
            try writer.putKeys(personalKeys)
            if let couple {
                writer.put([1])
                writer.put(couple.space.bytes)
                writer.put(couple.partner.bytes)
                writer.put([partnerNameLength])
                writer.put(partnerNameBytes)
                try writer.putKeys(couple.keys)
            } else {
                writer.put([0])
            }
            writer.putRecovery(recovery)
            writer.put(Self.bigEndian(generation))
            writer.put([UInt8(logHeads.count)])
            for (space, head) in logHeads.sorted(by: { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }) {
                writer.put(space.bytes)
                writer.put(Self.bigEndian(head.records))
                writer.put(head.last.bytes)
            }
        }
    }

    private static func bigEndian(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) } }

    private static func decode(_ secret: SecretBytes) -> IdentityBundle? {
        secret.withUnsafeBytes { bytes -> IdentityBundle? in
            var reader = SecretReader(bytes)
            func takeName() -> String? {
                guard let length = reader.byte(), length >= 1, length <= 64, let raw = reader.take(Int(length)) else { return nil }
                return String(validating: raw, as: UTF8.self)
            }
            guard let version = reader.byte(), version == 1 || version == Self.version, let seed = reader.take(32),
                  let identity = try? SigningKey(seed: SecretBytes(copying: seed)),
                  let name = takeName(),
                  let space = reader.take(16), let personalSpace = try? SpaceID(bytes: Array(space)),
                  let personalKeys = reader.takeKeys(), !personalKeys.isEmpty, let flag = reader.byte() else { return nil }
            var couple: Couple?
            switch flag {
            case 0: break
            case 1:
                guard let space = reader.take(16), let coupleSpace = try? SpaceID(bytes: Array(space)),
                      let partnerBytes = reader.take(32), let partner = try? VerifyingKey(bytes: Array(partnerBytes)),
                      let partnerName = takeName(), let keys = reader.takeKeys() else { return nil }
                couple = Couple(space: coupleSpace, keys: keys, partner: partner, partnerName: partnerName)
            default: return nil
            }
            guard let recovery = reader.takeRecovery() else { return nil }
            var generation: UInt64 = 0
            var heads: [SpaceID: LogHead] = [:]
            if version >= 2 {
                guard let counter = reader.take(8), let count = reader.byte(), count <= 2 else { return nil }
                generation = counter.reduce(0) { $0 << 8 | UInt64($1) }
                for _ in 0..<count {
                    guard let space = reader.take(16), let id = try? SpaceID(bytes: Array(space)), heads[id] == nil,
                          let records = reader.take(8), let last = reader.take(32), let digest = try? Digest(bytes: Array(last)) else { return nil }
                    heads[id] = LogHead(records: records.reduce(0) { $0 << 8 | UInt64($1) }, last: digest)
                }
            }
            guard reader.isAtEnd else { return nil }
            return IdentityBundle(identity: identity, name: name, personalSpace: personalSpace, personalKeys: personalKeys, couple: couple,
                                  recovery: recovery, generation: generation, logHeads: heads)
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
    static let version: UInt8 = 1

    public func seal(using key: SymmetricKey) throws(WireError) -> [UInt8] {
        let nameBytes = Array(deviceName.utf8)
        guard (1...64).contains(nameBytes.count) else { throw .malformed("a device name is 1 to 64 bytes of UTF-8") }
        return AEAD.seal([Self.version] + device.bytes + [UInt8(truncatingIfNeeded: nameBytes.count)] + nameBytes, using: key,
                         associatedData: Self.context)
    }

    public static func open(_ sealed: [UInt8], using mailboxKey: SymmetricKey) throws(WireError) -> LinkRequest {
        let plain: [UInt8]
        do { plain = try AEAD.open(sealed, using: mailboxKey, associatedData: context) } catch {
            throw .malformed("the request does not open with this code")
        }
        var reader = WireReader(plain)
        let version = try reader.byte()
        guard version == Self.version else { throw .unsupportedVersion(version) }
        let device = try key(try reader.raw(32))
        let length = try reader.byte()
        guard length >= 1, length <= 64, let name = String(validating: try reader.raw(Int(length)), as: UTF8.self) else {
            throw .malformed("a device name is 1 to 64 bytes of UTF-8")
        }
        try reader.expectEnd()
        return LinkRequest(device: device, deviceName: name)
    }
}
