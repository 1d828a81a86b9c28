public import DuetCrypto

/// A space's membership, replayed from its log. The relay uses it to accept envelopes only from
/// member devices; clients use the same replay, so neither trusts the other's word.
public struct MembershipLog: Sendable {
    public let space: SpaceID
    public private(set) var records: [MembershipRecord] = []
    /// Member identities, and for each its member devices with their certificates.
    public private(set) var identities: Set<VerifyingKey> = []
    public private(set) var devices: [VerifyingKey: DeviceCertificate] = [:]
    /// Devices a record removed: the relay refuses them everything at once (issue #12).
    public private(set) var removedDevices: Set<VerifyingKey> = []
    /// For each removed device, the highest seq its removal counts as written while it was a
    /// member: its envelopes up to there still verify, on every device, new ones included.
    public private(set) var lastSeqOfRemoved: [VerifyingKey: UInt64] = [:]
    public private(set) var epoch: UInt64 = 1
    /// Wrapped content keys: epoch → device → sealed box (SPEC § 7.2).
    public var wrappedKeys: [UInt64: [VerifyingKey: [UInt8]]] { wraps.mapValues { $0.mapValues(\.box) } }
    /// Each wrap with the identity that posted it: epoch → device → (box, signer).
    public private(set) var wraps: [UInt64: [VerifyingKey: Wrap]] = [:]

    /// A wrapped key and who posted it.
    public struct Wrap: Hashable, Sendable {
        public let box: [UInt8]
        public let signer: VerifyingKey
    }

    public init(space: SpaceID) { self.space = space }

    /// The most content-key epochs a space may have.
    public static let maximumEpochs: UInt64 = 255

    /// Who certified each device key the log ever named, removed ones included: a key is
    /// certified once, by one identity, for good.
    public private(set) var certifiers: [VerifyingKey: VerifyingKey] = [:]
    /// Each device key certified with an expiry (ms since the epoch), removed ones included:
    /// a change that device dates at or after it is refused by every client (SPEC § 6.2).
    public private(set) var expiries: [VerifyingKey: UInt64] = [:]
    /// Identities that removed a device since the last rotation: only they may rotate.
    public private(set) var removalsAwaitingRotation: Set<VerifyingKey> = []
    /// A rotation whose wraps have not all been posted: who rotated, and the member devices
    /// still without the new key. Nothing else may follow until it is complete.
    public private(set) var openRotation: OpenRotation?

    /// A rotation not yet complete.
    public struct OpenRotation: Hashable, Sendable {
        public let signer: VerifyingKey
        public var remaining: Set<VerifyingKey>
    }
    /// Per epoch, the commitment to its content key (from `create` and each `rotateKey`).
    public private(set) var keyCommitments: [UInt64: Digest] = [:]
    /// Who began the current epoch (the creator for epoch 1), and whether the other identity
    /// may answer it with a rotation of its own: once per epoch begun by creation or a removal,
    /// never an answer to an answer. This is how a person whose device was handed a key that
    /// does not work (junk, or not the committed one) gets a working key back.
    public private(set) var epochBegunBy: VerifyingKey?
    public private(set) var epochAnswerable = false
    /// Per identity, its latest directory record (SPEC § 6.2, action 7): the epoch sealing it
    /// and the sealed bytes.
    public private(set) var directories: [VerifyingKey: DirectoryRecord] = [:]

    /// A directory record as the log keeps it.
    public struct DirectoryRecord: Hashable, Sendable {
        public let epoch: UInt64
        public let sealed: [UInt8]
        /// How many directory records this identity has posted in the space.
        public let count: Int
    }

    /// At most this many directory records per identity and space (two per device it may ever
    /// certify, and room for pairing and renames).
    public static let maximumDirectoriesPerIdentity = 2 * maximumCertifiedPerIdentity + 8

    /// The oldest epoch no removed device held: its key and every later one are as safe to
    /// write under as the current one. A device handed a key that does not work for the current
    /// epoch writes under the newest of these it holds (`epoch + 1` while a removal awaits its
    /// rotation: then none is).
    public var oldestSafeEpoch: UInt64 {
        var safe: UInt64 = 1
        var removed = false
        for record in records {
            switch record.action {
            case .removeDevice: removed = true
            case .rotateKey(let next, _):
                if removed { safe = next; removed = false }
            default: break
            }
        }
        return removed ? epoch + 1 : safe
    }
    /// Per identity, devices certified in this space, ever.
    public private(set) var certifiedCount: [VerifyingKey: Int] = [:]

    /// At most this many current devices per identity: a rotation wraps to every one in one
    /// batch, which must fit what the relay takes at once (SPEC § 6.6).
    public static let maximumDevicesPerIdentity = 16
    /// At most this many devices per identity and space, ever. With rotations that need a
    /// removal (or answer one) this bounds the epochs two people can use up: 1 + 4 × 60 ≤ 255.
    public static let maximumCertifiedPerIdentity = 60

    /// The commitment to a content key: BLAKE2b-256("duet key commitment v1" ‖ space ‖ epoch as
    /// 8 bytes big-endian ‖ key).
    public static func keyCommitment(space: SpaceID, epoch: UInt64, key: SymmetricKey) -> Digest {
        let epochBytes = (0..<8).map { UInt8(truncatingIfNeeded: epoch >> (56 - 8 * UInt64($0))) }
        return Hash.digest(Array("duet key commitment v1".utf8), space.bytes, epochBytes, secret: key.bytes)
    }

    /// Whether `identity` may begin the next epoch now (SPEC § 6.2).
    public func mayRotate(_ identity: VerifyingKey) -> Bool {
        guard identities.contains(identity), openRotation == nil, epoch < Self.maximumEpochs else { return false }
        return removalsAwaitingRotation.contains(identity) || (epochAnswerable && epochBegunBy != identity)
    }

    /// The space's creator: the identity of its first record.
    public var creator: VerifyingKey? {
        if case .create(let identity, _)? = records.first?.action { return identity }
        return nil
    }

    /// Why a record is refused (SPEC § 6.2, the table of who may post what). Applying nothing
    /// on refusal keeps the log as it was.
    public enum Refusal: String, Error, Hashable, Sendable {
        case wrongSpace = "wrong-space"
        case outOfOrder = "out-of-order"
        case brokenChain = "broken-chain"
        case badSignature = "bad-signature"
        case notAMember = "not-a-member"
        case invalidAction = "invalid-action"
        /// A space has at most two identities: its creator and the partner the creator added.
        case identityLimit = "identity-limit"
        /// An identity adds and removes only devices it certified itself.
        case notOwnDevice = "not-own-device"
        /// A device key already in the log (a member now or once) is never certified again.
        case deviceKnown = "device-known"
        /// One wrapped key per (epoch, device), never replaced.
        case wrapExists = "wrap-exists"
        /// A wrap from an identity that may not give this device its key.
        case wrapNotAllowed = "wrap-not-allowed"
        /// A rotation from an identity that removed no device since the last one.
        case rotationNotAllowed = "rotation-not-allowed"
        /// A rotation must wrap the new key to every member device before anything else.
        case rotationIncomplete = "rotation-incomplete"
        /// An identity holds at most 16 devices at once, and certifies at most 60 per space.
        case deviceLimit = "device-limit"
        /// An identity posts at most 128 directory records per space.
        case directoryLimit = "directory-limit"
    }

    /// The device ids of current members, as envelopes name them.
    public var memberDeviceIDs: Set<WireDeviceID> { Set(devices.keys.map { WireDeviceID(verifyingKey: $0) }) }

    /// Every device whose envelopes verify in this space, with the highest seq that does:
    /// current members without bound, removed ones up to what their removal names.
    public var envelopeSigners: [WireDeviceID: (key: VerifyingKey, lastSeq: UInt64)] {
        var signers: [WireDeviceID: (key: VerifyingKey, lastSeq: UInt64)] = [:]
        for device in devices.keys { signers[WireDeviceID(verifyingKey: device)] = (device, Envelope.maximumSeq) }
        for (device, lastSeq) in lastSeqOfRemoved { signers[WireDeviceID(verifyingKey: device)] = (device, lastSeq) }
        return signers
    }

    /// The verifying key of member device `id`, if it is one.
    public func deviceKey(for id: WireDeviceID) -> VerifyingKey? {
        devices.keys.first { WireDeviceID(verifyingKey: $0) == id }
    }

    /// The record that would come next, signed by `signer`.
    public func nextRecord(_ action: MembershipRecord.Action, by signer: SigningKey) -> MembershipRecord {
        .sign(space: space, index: UInt64(records.count + 1), previous: records.last?.hash ?? .zero, action: action, signer: signer)
    }

    /// The records that would come next, in order, all signed by `signer`.
    public func nextRecords(_ actions: [MembershipRecord.Action], by signer: SigningKey) -> [MembershipRecord] {
        var records: [MembershipRecord] = []
        for action in actions {
            records.append(.sign(space: space, index: UInt64(self.records.count + records.count + 1),
                                 previous: records.last?.hash ?? self.records.last?.hash ?? .zero, action: action, signer: signer))
        }
        return records
    }

    /// Applies `records` as one batch (what a relay takes in one request): each is checked as
    /// by ``append(_:)``, and the batch must not leave a rotation open. On refusal the log is
    /// as it was.
    public mutating func append(batch records: [MembershipRecord]) throws(Refusal) {
        var copy = self
        for record in records { try copy.append(record) }
        guard copy.openRotation == nil else { throw .rotationIncomplete }
        self = copy
    }

    /// Applies the next record after checking everything about it, including who may post it
    /// (SPEC § 6.2). The relay and every client replay with this one function.
    public mutating func append(_ record: MembershipRecord) throws(Refusal) {
        guard record.space == space else { throw .wrongSpace }
        guard record.index == UInt64(records.count) + 1 else { throw .outOfOrder }
        guard record.previous == (records.last?.hash ?? .zero) else { throw .brokenChain }
        do { try record.verifySignature() } catch { throw .badSignature }
        if case .create = record.action {} else {
            guard identities.contains(record.signer) else { throw .notAMember }
        }
        if let rotation = openRotation {
            // Only the rotation's own wraps may follow until every member device has the key.
            guard case .wrapKey = record.action, record.signer == rotation.signer else { throw .rotationIncomplete }
        }
        switch record.action {
        case .create(let identity, let commitment):
            guard records.isEmpty, record.signer == identity else { throw .invalidAction }
            identities.insert(identity)
            keyCommitments[1] = commitment
            epochBegunBy = identity
            epochAnswerable = true
        case .addIdentity(let identity):
            // The creator adds the partner, once: a couple is two people, fixed at pairing.
            guard record.signer == creator else { throw .identityLimit }
            guard identities.count == 1, !identities.contains(identity) else { throw .identityLimit }
            identities.insert(identity)
        case .addDevice(let certificate):
            // Each person certifies and posts their own devices only: the partner can neither
            // add a device in someone's name nor re-certify (expire, replace) theirs.
            guard certificate.identity == record.signer else { throw .notOwnDevice }
            // A key is certified once for good: a removed device's old certificate is still
            // validly signed, and re-posting it would undo a revocation.
            guard certifiers[certificate.device] == nil, !identities.contains(certificate.device) else { throw .deviceKnown }
            let current = devices.values.lazy.filter { $0.identity == record.signer }.count
            guard current < Self.maximumDevicesPerIdentity, certifiedCount[record.signer, default: 0] < Self.maximumCertifiedPerIdentity else {
                throw .deviceLimit
            }
            do { try certificate.verify() } catch { throw .badSignature }
            devices[certificate.device] = certificate
            certifiers[certificate.device] = certificate.identity
            if certificate.expires != 0 { expiries[certificate.device] = certificate.expires }
            certifiedCount[record.signer, default: 0] += 1
        case .removeDevice(let device, let lastSeq):
            guard let certificate = devices[device] else { throw .invalidAction }
            guard certificate.identity == record.signer else { throw .notOwnDevice }
            devices[device] = nil
            removedDevices.insert(device)
            lastSeqOfRemoved[device] = lastSeq
            removalsAwaitingRotation.insert(record.signer)
        case .rotateKey(let next, let commitment):
            // A new key keeps a removed device out; only who removed one has cause to rotate —
            // or the other identity, once, to answer an epoch it did not begin (its devices may
            // have been handed a key that does not work).
            let answering = !removalsAwaitingRotation.contains(record.signer)
            guard !answering || (epochAnswerable && epochBegunBy != record.signer) else { throw .rotationNotAllowed }
            // Key lists count epochs in one byte (SPEC § 7.2): a 256th epoch is refused here,
            // by the relay and by every client alike, rather than trapping where keys are kept.
            guard next == epoch + 1, next <= Self.maximumEpochs else { throw .invalidAction }
            epoch = next
            keyCommitments[next] = commitment
            epochBegunBy = record.signer
            epochAnswerable = !answering
            removalsAwaitingRotation = []
            let members = Set(devices.keys)
            openRotation = members.isEmpty ? nil : OpenRotation(signer: record.signer, remaining: members)
        case .wrapKey(let keyEpoch, let device, let box):
            guard keyEpoch == epoch, let certificate = devices[device], box.count >= 48 else { throw .invalidAction }
            if let existing = wraps[keyEpoch]?[device] {
                // Never replaced — except once by the device's own person over one the other
                // person posted: a rotation may hand one of Alex's devices junk, and Alex's device
                // that holds the committed key gives the other the right one (clients take only
                // a key matching the commitment, so a replacement cannot give worse).
                guard openRotation == nil, record.signer == certificate.identity, existing.signer != certificate.identity else { throw .wrapExists }
            }
            if var rotation = openRotation {
                rotation.remaining.remove(device)
                openRotation = rotation.remaining.isEmpty ? nil : rotation
            } else {
                // Outside a rotation a person gives the key to their own devices; the other
                // person gives it only to someone who holds no key of their own giving at this
                // epoch (the partner's devices, at pairing: all of them, in one batch).
                let owner = certificate.identity
                var ownerKeyedItself = false
                for (keyed, wrap) in wraps[keyEpoch] ?? [:] where wrap.signer == owner && devices[keyed]?.identity == owner { ownerKeyedItself = true }
                guard record.signer == owner || !ownerKeyedItself else { throw .wrapNotAllowed }
            }
            wraps[keyEpoch, default: [:]][device] = Wrap(box: box, signer: record.signer)
        case .directory(let sealedEpoch, let sealed):
            // Sealed under a key every current member holds: this epoch's or an earlier one.
            guard (1...epoch).contains(sealedEpoch), sealed.count >= 40 else { throw .invalidAction }
            // A person's directory changes when a device comes or goes: a bounded number keeps a
            // partner from filling the log (and every member's fetch of it) with sealed bytes.
            let count = (directories[record.signer]?.count ?? 0) + 1
            guard count <= Self.maximumDirectoriesPerIdentity else { throw .directoryLimit }
            directories[record.signer] = DirectoryRecord(epoch: sealedEpoch, sealed: sealed, count: count)
        }
        records.append(record)
    }
}

extension MembershipLog.Refusal {
    /// What the refusal means, in words, for whoever posted the record and for the partner who
    /// is shown the attempt.
    public var explanation: String {
        switch self {
        case .identityLimit: "a couple space has two identities, fixed when the creator adds the partner"
        case .notOwnDevice: "an identity adds and removes only devices it certified itself"
        case .deviceKnown: "that device key is already in the log (a member now or once) and is never certified again"
        case .wrapExists: "that device already holds a key for this epoch; wrapped keys are never replaced"
        case .wrapNotAllowed: "only the device's own person gives it the key, unless they have given it to none of their devices yet"
        case .rotationNotAllowed: "only an identity that removed a device since the last rotation may rotate, or the other, once, to answer it"
        case .rotationIncomplete: "a rotation carries the new key wrapped to every member device, in the same batch"
        case .deviceLimit: "an identity holds at most 16 devices at once and certifies at most 60 in a space"
        case .directoryLimit: "an identity posts at most 128 directory records in a space"
        default: "the record does not follow the space's log"
        }
    }

    /// Whether a rule refused the record (rather than its order, chain, space or signature,
    /// which say nothing about what its signer attempted).
    public var isRule: Bool {
        switch self {
        case .wrongSpace, .outOfOrder, .brokenChain, .badSignature, .notAMember: false
        default: true
        }
    }
}

