public import DuetCrypto
import DuetEncoding

/// One record of a space's membership log (SPEC § 6.2): hash-chained, signed by an identity
/// that is a member when it applies.
public struct MembershipRecord: Hashable, Sendable {
    public static let version: UInt8 = 1
    static let context = Array("duet membership v1".utf8)

    public enum Action: Hashable, Sendable {
        /// Creates the space. `keyCommitment` binds epoch 1's content key (``MembershipLog/keyCommitment``):
        /// every device checks the key it is given against it.
        case create(identity: VerifyingKey, keyCommitment: Digest = .zero)
        case addIdentity(VerifyingKey)
        case addDevice(DeviceCertificate)
        /// Removes a device. `lastSeq` is the highest seq of the device's envelopes in this space
        /// that the remover counts as written while it was a member (what the relay held when it
        /// was revoked): those stay valid for every device, new ones included; anything it signs
        /// above is refused (SPEC § 5.3, § 7.4).
        case removeDevice(VerifyingKey, lastSeq: UInt64 = 0)
        /// Begins `epoch`, whose content key `keyCommitment` binds: a wrap that opens to another
        /// key is refused by the device it is for, so a rotation cannot hand out junk or a
        /// different key to each device unnoticed.
        case rotateKey(epoch: UInt64, keyCommitment: Digest = .zero)
        /// A space content key for `epoch`, sealed (`crypto_box_seal`) to member `device`.
        case wrapKey(epoch: UInt64, device: VerifyingKey, box: [UInt8])
        /// The signer's ``SpaceDirectory`` (names, and the couple space for their own devices),
        /// sealed under the content key of `epoch`: members read it, the relay cannot.
        case directory(epoch: UInt64, sealed: [UInt8])

        var code: UInt8 {
            switch self {
            case .create: 1
            case .addIdentity: 2
            case .addDevice: 3
            case .removeDevice: 4
            case .rotateKey: 5
            case .wrapKey: 6
            case .directory: 7
            }
        }
    }

    public let space: SpaceID
    public let index: UInt64
    public let previous: Digest
    public let action: Action
    public let signer: VerifyingKey
    public let signature: Signature

    /// Signs a record as `signer` (an identity key).
    public static func sign(space: SpaceID, index: UInt64, previous: Digest, action: Action, signer: SigningKey) -> MembershipRecord {
        let body = encodeBody(space: space, index: index, previous: previous, action: action, signer: signer.verifyingKey)
        return MembershipRecord(space: space, index: index, previous: previous, action: action, signer: signer.verifyingKey,
                                signature: signer.signature(for: context + body))
    }

    private init(space: SpaceID, index: UInt64, previous: Digest, action: Action, signer: VerifyingKey, signature: Signature) {
        self.space = space
        self.index = index
        self.previous = previous
        self.action = action
        self.signer = signer
        self.signature = signature
    }

    static func encodeBody(space: SpaceID, index: UInt64, previous: Digest, action: Action, signer: VerifyingKey) -> [UInt8] {
        var writer = ByteWriter()
        writer.byte(version)
        writer.raw(space.bytes)
        writer.varint(index)
        writer.raw(previous.bytes)
        writer.byte(action.code)
        switch action {
        case .create(let identity, let commitment): writer.raw(identity.bytes); writer.raw(commitment.bytes)
        case .addIdentity(let identity): writer.raw(identity.bytes)
        case .addDevice(let certificate): writer.raw(certificate.encoded)
        case .removeDevice(let device, let lastSeq): writer.raw(device.bytes); writer.varint(lastSeq)
        case .rotateKey(let epoch, let commitment): writer.varint(epoch); writer.raw(commitment.bytes)
        case .wrapKey(let epoch, let device, let box):
            writer.varint(epoch)
            writer.raw(device.bytes)
            writer.varint(UInt64(box.count))
            writer.raw(box)
        case .directory(let epoch, let sealed):
            writer.varint(epoch)
            writer.varint(UInt64(sealed.count))
            writer.raw(sealed)
        }
        writer.raw(signer.bytes)
        return writer.bytes
    }

    public var encoded: [UInt8] {
        Self.encodeBody(space: space, index: index, previous: previous, action: action, signer: signer) + signature.bytes
    }

    /// What the next record names as `previous`.
    public var hash: Digest { Hash.digest(encoded) }

    public init(bytes: [UInt8]) throws(WireError) {
        guard bytes.count <= 4096 else { throw .tooLarge(limit: 4096) }
        var reader = WireReader(bytes)
        let version = try reader.byte()
        guard version == Self.version else { throw .unsupportedVersion(version) }
        let space = try SpaceID(bytes: try reader.raw(SpaceID.byteCount))
        let index = try reader.varint()
        guard index >= 1 else { throw .malformed("records are numbered from 1") }
        let previousBytes = try reader.raw(Digest.byteCount)
        let previous: Digest
        do { previous = try Digest(bytes: previousBytes) } catch { throw .malformed("previous hash") }
        let action: Action
        switch try reader.byte() {
        case 1: action = .create(identity: try key(try reader.raw(32)), keyCommitment: try digest(try reader.raw(32)))
        case 2: action = .addIdentity(try key(try reader.raw(32)))
        case 3: action = .addDevice(try DeviceCertificate.read(&reader))
        case 4:
            let device = try key(try reader.raw(32))
            let lastSeq = try reader.varint()
            // Stores keep seqs as signed 64-bit integers (SPEC § 5.1).
            guard lastSeq <= Envelope.maximumSeq else { throw .malformed("a seq is at most 2^63 - 1") }
            action = .removeDevice(device, lastSeq: lastSeq)
        case 5: action = .rotateKey(epoch: try reader.varint(), keyCommitment: try digest(try reader.raw(32)))
        case 6:
            let epoch = try reader.varint()
            let device = try key(try reader.raw(32))
            let length = try reader.varint()
            // A sealed 32-byte key is 80 bytes; room for larger keys, never for more than that.
            guard length <= 256 else { throw .malformed("a wrapped key is at most 256 bytes") }
            action = .wrapKey(epoch: epoch, device: device, box: try reader.raw(Int(length)))
        case 7:
            let epoch = try reader.varint()
            let length = try reader.varint()
            guard length <= UInt64(SpaceDirectory.maximumSealedBytes) else { throw .malformed("a directory is at most 3 KiB sealed") }
            action = .directory(epoch: epoch, sealed: try reader.raw(Int(length)))
        default: throw .malformed("unknown membership action")
        }
        let signer = try key(try reader.raw(32))
        let signatureBytes = try reader.raw(Signature.byteCount)
        let signature: Signature
        do { signature = try Signature(bytes: signatureBytes) } catch { throw .malformed("signature") }
        try reader.expectEnd()
        self.init(space: space, index: index, previous: previous, action: action, signer: signer, signature: signature)
    }

    func verifySignature() throws(CryptoError) {
        let body = Self.encodeBody(space: space, index: index, previous: previous, action: action, signer: signer)
        try signer.verify(signature, for: Self.context + body)
    }
}

func digest(_ bytes: [UInt8]) throws(WireError) -> Digest {
    do { return try Digest(bytes: bytes) } catch { throw .malformed("a digest is 32 bytes") }
}
