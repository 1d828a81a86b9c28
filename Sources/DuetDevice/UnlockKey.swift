import DuetCrypto
import DuetStore

/// The key a passphrase unseals this device's keystore with: what `duet unlock` hands its
/// agent, so that later commands open the journal without Argon2id (issue #16). As secret as
/// the passphrase for this journal; never printed (its description is redacted). A passphrase
/// change makes it useless: the keystore is sealed again under a fresh salt.
public struct UnlockKey: Sendable, CustomStringConvertible {
    public static let byteCount = SymmetricKey.byteCount

    let key: SymmetricKey

    init(_ key: SymmetricKey) { self.key = key }

    init?(bytes: SecretBytes) {
        guard let key = try? SymmetricKey(bytes: bytes) else { return nil }
        self.key = key
    }

    public var description: String { "UnlockKey(redacted)" }
}

extension Device {
    /// Checks `passphrase` and returns the key it unseals the keystore with (one Argon2id).
    public func unlockKey(_ passphrase: Passphrase) throws(DeviceError) -> UnlockKey {
        UnlockKey(try translatingErrors { try store.keystoreKey(passphrase: passphrase.secret) })
    }

    /// Unlocks with a key from ``unlockKey(_:)`` (the agent's): no passphrase hashing.
    /// A key from before a passphrase change is ``DeviceError/wrongPassphrase``.
    public func unlock(_ key: UnlockKey) throws(DeviceError) -> UnlockedDevice {
        try opened(translatingErrors { try store.unlock(keystoreKey: key.key) })
    }
}
