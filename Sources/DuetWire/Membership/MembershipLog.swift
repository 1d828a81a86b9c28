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
    public private(set) var epoch: UInt64 = 1
    /// Wrapped content keys: epoch → device → sealed box (SPEC § 7.2).
    public private(set) var wrappedKeys: [UInt64: [VerifyingKey: [UInt8]]] = [:]

    public init(space: SpaceID) { self.space = space }

    /// The most content-key epochs a space may have.
    public static let maximumEpochs: UInt64 = 255

    /// Why a record is refused. Applying nothing on refusal keeps the log as it was.
    public enum Refusal: String, Error, Hashable, Sendable {
        case wrongSpace = "wrong-space"
        case outOfOrder = "out-of-order"
        case brokenChain = "broken-chain"
        case badSignature = "bad-signature"
        case notAMember = "not-a-member"
        case invalidAction = "invalid-action"
    }

    /// The device ids of current members, as envelopes name them.
    public var memberDeviceIDs: Set<WireDeviceID> { Set(devices.keys.map { WireDeviceID(verifyingKey: $0) }) }

    /// The verifying key of member device `id`, if it is one.
    public func deviceKey(for id: WireDeviceID) -> VerifyingKey? {
        devices.keys.first { WireDeviceID(verifyingKey: $0) == id }
    }

    /// Applies the next record after checking everything about it.
    public mutating func append(_ record: MembershipRecord) throws(Refusal) {
        guard record.space == space else { throw .wrongSpace }
        guard record.index == UInt64(records.count) + 1 else { throw .outOfOrder }
        guard record.previous == (records.last?.hash ?? .zero) else { throw .brokenChain }
        do { try record.verifySignature() } catch { throw .badSignature }
        switch record.action {
        case .create(let identity):
            guard records.isEmpty, record.signer == identity else { throw .invalidAction }
            identities.insert(identity)
        case .addIdentity(let identity):
            guard identities.contains(record.signer) else { throw .notAMember }
            guard !identities.contains(identity) else { throw .invalidAction }
            identities.insert(identity)
        case .addDevice(let certificate):
            // Any member identity may post it (the inviter adds the partner's device), but the
            // certificate itself must come from a member identity: that is the authority.
            guard identities.contains(record.signer) else { throw .notAMember }
            guard identities.contains(certificate.identity) else { throw .invalidAction }
            // A removed device stays removed: its old certificate is still validly signed, and
            // re-posting it (the partner did) would undo a revocation.
            guard !removedDevices.contains(certificate.device) else { throw .invalidAction }
            do { try certificate.verify() } catch { throw .badSignature }
            devices[certificate.device] = certificate
        case .removeDevice(let device):
            guard identities.contains(record.signer) else { throw .notAMember }
            guard let certificate = devices[device], certificate.identity == record.signer else { throw .invalidAction }
            devices[device] = nil
            removedDevices.insert(device)
        case .rotateKey(let next):
            guard identities.contains(record.signer) else { throw .notAMember }
            // Key lists count epochs in one byte (SPEC § 7.2): a 256th epoch is refused here,
            // by the relay and by every client alike, rather than trapping where keys are kept.
            guard next == epoch + 1, next <= Self.maximumEpochs else { throw .invalidAction }
            epoch = next
        case .wrapKey(let keyEpoch, let device, let box):
            guard identities.contains(record.signer) else { throw .notAMember }
            guard keyEpoch == epoch, devices[device] != nil, box.count >= 48 else { throw .invalidAction }
            wrappedKeys[keyEpoch, default: [:]][device] = box
        }
        records.append(record)
    }
}
