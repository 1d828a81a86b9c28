public import DuetCrypto

/// Which envelopes a holder takes at all, before the chain rule (``EnvelopeChain``) places them
/// (SPEC § 5.3 steps 1–2): it parses, belongs to the space it is offered for, comes from a
/// device allowed to sign there — up to the last seq a removal names — and carries that
/// device's valid signature. The relay and every device check the same steps in the same
/// order; who may sign is each one's own knowledge (the relay: the session's device, a current
/// member; a device: the signers its verified log names).
public enum EnvelopeAdmission {
    /// A key whose envelopes verify in a space, for seqs up to `lastSeq` (``Envelope/maximumSeq``
    /// for a current member; the bound its removal names for a removed device).
    public struct Signer: Sendable {
        public let key: VerifyingKey
        public let lastSeq: UInt64

        public init(key: VerifyingKey, lastSeq: UInt64 = Envelope.maximumSeq) {
            self.key = key
            self.lastSeq = lastSeq
        }
    }

    /// Why an envelope was not admitted, in the order the steps are checked.
    public enum Refusal: Error, Hashable, Sendable {
        case malformed(WireError)
        case otherSpace
        /// No signer is known for the header's device.
        case unknownSigner
        /// The device signed it after its removal's last seq.
        case signedAfterRemoval
        /// The one opaque failure: the signature or the key's id does not match.
        case badSignature
    }

    /// Admits `bytes` offered for `space`, with `signer` telling who may sign for a device.
    public static func admit(_ bytes: [UInt8], to space: SpaceID, signer: (WireDeviceID) -> Signer?) -> Result<Envelope, Refusal> {
        let envelope: Envelope
        do { envelope = try Envelope(bytes: bytes) } catch { return .failure(.malformed(error)) }
        // The header is signed: an envelope moved here from another space says so.
        guard envelope.header.space == space else { return .failure(.otherSpace) }
        guard let signer = signer(envelope.header.device) else { return .failure(.unknownSigner) }
        guard envelope.header.seq <= signer.lastSeq else { return .failure(.signedAfterRemoval) }
        do { try envelope.verify(signer: signer.key) } catch { return .failure(.badSignature) }
        return .success(envelope)
    }
}
