public import DuetCrypto

/// A device's delegation of relay access to its sync daemon (SPEC § 6.3): the device key signs
/// the daemon's own key, which then answers the relay's challenges for that device. The daemon
/// key is kept on the device without a passphrase, so it can do only what a relay session can:
/// fetch and push ciphertext that the device itself signed. It signs no envelope and opens none.
public enum SyncDelegation {
    static let context = Array("duet sync delegation v1".utf8)

    public static func sign(delegate: VerifyingKey, by device: SigningKey) -> Signature {
        device.signature(for: context + delegate.bytes)
    }

    public static func isValid(_ delegation: Signature, delegate: VerifyingKey, device: VerifyingKey) -> Bool {
        device.isValidSignature(delegation, for: context + delegate.bytes)
    }
}
