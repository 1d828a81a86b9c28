public import DuetCrypto
import DuetEncoding

/// A change as it travels and is stored (DESIGN §5, Protocol/SPEC.md § 5): a header the relay
/// can read, the padded change sealed under the space's content key with the header as
/// associated data, and the device's signature over both.
///
///     envelope = header ‖ varint(len sealed) ‖ sealed ‖ signature(64)
///     header   = version(1) ‖ space(16) ‖ varint(epoch) ‖ device(16) ‖ varint(seq) ‖ previous(32)
///
/// Everything that gives the ciphertext its meaning is in the header, so a ciphertext moved to
/// another space, epoch, device or position fails to open; `previous` chains each device's
/// envelopes so that a gap, a reorder or a fork is evident.
public struct Envelope: Hashable, Sendable {
    public static let version: UInt8 = 1
    /// The largest sealed content accepted (2 MiB: a change holds at most 1 MiB of inserted
    /// text, padded, plus overhead).
    public static let maximumSealedBytes = 2 << 20
    /// The largest seq (SPEC § 5.1): stores on both sides keep seqs as signed 64-bit integers,
    /// so every decoder refuses a larger one instead of trapping on the conversion later.
    public static let maximumSeq = UInt64(Int64.max)

    public struct Header: Hashable, Sendable {
        public let space: SpaceID
        public let epoch: UInt64
        public let device: WireDeviceID
        public let seq: UInt64
        /// Hash of the same device's previous envelope in this space; zero for seq 1.
        public let previous: Digest

        public init(space: SpaceID, epoch: UInt64, device: WireDeviceID, seq: UInt64, previous: Digest) {
            self.space = space
            self.epoch = epoch
            self.device = device
            self.seq = seq
            self.previous = previous
        }

        public var encoded: [UInt8] {
            var writer = ByteWriter()
            writer.byte(Envelope.version)
            writer.raw(space.bytes)
            writer.varint(epoch)
            writer.raw(device.bytes)
            writer.varint(seq)
            writer.raw(previous.bytes)
            return writer.bytes
        }
    }

    public let header: Header
    public let sealed: [UInt8]
    public let signature: Signature
    /// The exact bytes, as produced: stored and forwarded unchanged.
    public let bytes: [UInt8]

    /// BLAKE2b-256 of the bytes: what the device's next envelope names as `previous`.
    public var hash: Digest { Hash.digest(bytes) }

    /// Pads, seals and signs a change's plaintext.
    public static func seal(
        _ plaintext: [UInt8], header: Header, contentKey: SymmetricKey, signingKey: SigningKey
    ) -> Envelope {
        let headerBytes = header.encoded
        let sealed = AEAD.seal(Padding.pad(plaintext), using: contentKey, associatedData: headerBytes)
        var writer = ByteWriter()
        writer.raw(headerBytes)
        writer.varint(UInt64(sealed.count))
        writer.raw(sealed)
        let signature = signingKey.signature(for: writer.bytes)
        writer.raw(signature.bytes)
        return Envelope(header: header, sealed: sealed, signature: signature, bytes: writer.bytes)
    }

    private init(header: Header, sealed: [UInt8], signature: Signature, bytes: [UInt8]) {
        self.header = header
        self.sealed = sealed
        self.signature = signature
        self.bytes = bytes
    }

    /// Parses an envelope's structure (no key needed). Refuses anything not in canonical form.
    public init(bytes: [UInt8]) throws(WireError) {
        guard bytes.count <= Self.maximumSealedBytes + 256 else { throw .tooLarge(limit: Self.maximumSealedBytes + 256) }
        var reader = WireReader(bytes)
        let version = try reader.byte()
        guard version == Self.version else { throw .unsupportedVersion(version) }
        let space = try SpaceID(bytes: try reader.raw(SpaceID.byteCount))
        let epoch = try reader.varint()
        let device = try WireDeviceID(bytes: try reader.raw(WireDeviceID.byteCount))
        let seq = try reader.varint()
        guard seq >= 1 else { throw .malformed("seq starts at 1") }
        guard seq <= Self.maximumSeq else { throw .malformed("seq is at most 2^63 - 1") }
        let previousBytes = try reader.raw(Digest.byteCount)
        let previous: Digest
        do { previous = try Digest(bytes: previousBytes) } catch { throw .malformed("previous hash") }
        if seq == 1, previous != .zero { throw .malformed("a first envelope has no previous") }
        let sealedLength = try reader.varint()
        guard sealedLength <= UInt64(Self.maximumSealedBytes) else { throw .tooLarge(limit: Self.maximumSealedBytes) }
        guard sealedLength >= UInt64(AEAD.overhead) else { throw .malformed("sealed content too short") }
        let sealed = try reader.raw(Int(sealedLength))
        let signatureBytes = try reader.raw(Signature.byteCount)
        try reader.expectEnd()
        let signature: Signature
        do { signature = try Signature(bytes: signatureBytes) } catch { throw .malformed("signature") }
        self.init(
            header: Header(space: space, epoch: epoch, device: device, seq: seq, previous: previous),
            sealed: sealed, signature: signature, bytes: bytes)
    }

    /// The bytes the signature covers: everything before it.
    private var signedBytes: [UInt8] { Array(bytes.dropLast(Signature.byteCount)) }

    /// Checks the signature against the device's key, and that the key is the one the header's
    /// device id is derived from. Any failure is ``CryptoError/authenticationFailure``.
    public func verify(signer: VerifyingKey) throws(CryptoError) {
        guard WireDeviceID(verifyingKey: signer) == header.device else { throw .authenticationFailure }
        try signer.verify(signature, for: signedBytes)
    }

    /// Opens the sealed change with the space's content key for the header's epoch.
    public func open(contentKey: SymmetricKey) throws(CryptoError) -> [UInt8] {
        let padded = try AEAD.open(sealed, using: contentKey, associatedData: header.encoded)
        return try Padding.unpad(padded)
    }
}
