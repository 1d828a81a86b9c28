public import DuetCrypto

/// The recovery code and what derives from it (SPEC § 7.5): a slot at the relay and the key that
/// seals the person's identity bundle there. The code is shown once, at `duet init`.
public enum Recovery {

    public static func makeCode() -> String { Pairing.makeCode() }

    /// Nil when the text is not a well-formed code (26 Crockford characters, however grouped).
    public static func derive(code: String) -> RecoverySlot? {
        guard let normalised = Pairing.normalise(code) else { return nil }
        let seed = Hash.digest(Array("duet recovery v1".utf8), Array(normalised.utf8))
        guard let master = try? SymmetricKey(bytes: SecretBytes(copying: seed.bytes)) else { return nil }
        let slot = KeyDerivation.deriveKey(from: master, subkeyID: 1, context: .recovery).bytes.withUnsafeBytes { Array($0.prefix(16)) }
        return RecoverySlot(slot: slot, key: KeyDerivation.deriveKey(from: master, subkeyID: 2, context: .recovery))
    }

    static let slotContext = Array("duet recovery slot v1".utf8)

    /// The body of `PUT /v1/recovery/{slot}`: the identity that owns the slot, its signature over
    /// slot and blob, then the sealed blob. The relay keeps the slot for that identity only.
    public static func putBody(slot: [UInt8], blob: [UInt8], identity: SigningKey) -> [UInt8] {
        identity.verifyingKey.bytes + identity.signature(for: slotContext + slot + blob).bytes + blob
    }

    /// Parses and checks a `putBody`: returns the owner and the blob, or nil if the signature fails.
    public static func openPutBody(_ body: [UInt8], slot: [UInt8]) -> (owner: VerifyingKey, blob: [UInt8])? {
        guard body.count > 96, let owner = try? VerifyingKey(bytes: Array(body[0..<32])),
              let signature = try? Signature(bytes: Array(body[32..<96])) else { return nil }
        let blob = Array(body[96...])
        guard owner.isValidSignature(signature, for: slotContext + slot + blob) else { return nil }
        return (owner, blob)
    }
}
