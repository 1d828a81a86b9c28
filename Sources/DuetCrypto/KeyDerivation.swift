// Touches C: crypto_kdf_derive_from_key.
internal import CSodium

/// Subkeys from a master key with a distinct context per purpose (`crypto_kdf`, BLAKE2b), so
/// that a key derived for one purpose can never be used, or reproduced, for another.
public enum KeyDerivation {
    /// An 8-byte purpose label. The set is closed: every purpose Duet has is listed here, which is
    /// what lets a test check that no two purposes share a context.
    public struct Context: Hashable, Sendable, CaseIterable, CustomStringConvertible {
        public let label: String

        private init(_ label: StaticString) {
            precondition(label.utf8CodeUnitCount == Int(crypto_kdf_CONTEXTBYTES))
            self.label = label.description
        }

        /// The mailbox ids and key derived from a pairing or linking code (SPEC § 7.2).
        public static let mailbox = Context("duetmbox")
        /// The recovery slot id and the key sealing the recovery blob, from the recovery code
        /// (SPEC § 7.5).
        public static let recovery = Context("duetrcvr")
        /// The key that turns an imported entry's source (a jrnl entry's date and text, a Day One
        /// uuid) into its entry id, from the personal space's first content key: local to this
        /// person's devices, so an id reveals nothing of the text it came from.
        public static let importSource = Context("duetimpt")
        /// The key sealing a draft the editor produced when its entry could not be written
        /// (issue #16), from the device's storage key: only this device opens it.
        public static let draft = Context("duetdrft")
        /// The key of the MAC an export puts on each of its items (who exported and wrote it,
        /// where it lived), from the same personal key: only this person's devices can make or
        /// check it, and it is local too (a file, never the wire).
        public static let exportItems = Context("duetexpt")
        // No others: content keys and the storage key are random keys used as they are, and
        // the relay sees device ids, not pseudonyms (SPEC § 2.1).

        public static let allCases: [Context] = [.mailbox, .recovery, .importSource, .draft, .exportItems]

        public var description: String { label }
    }

    /// Derives subkey number `subkeyID` of `master` for `context`.
    public static func deriveKey(
        from master: SymmetricKey, subkeyID: UInt64, context: Context
    ) -> SymmetricKey {
        // 32 bytes is within crypto_kdf's 16…64 range, so derivation cannot fail.
        SymmetricKey(unchecked: deriveBytes(
            count: SymmetricKey.byteCount, from: master, subkeyID: subkeyID, context: context.label))
    }

    /// Raw derivation with any 8-byte context, for known-answer vectors.
    package static func deriveBytes(
        count: Int, from master: SymmetricKey, subkeyID: UInt64, context: String
    ) -> SecretBytes {
        Sodium.ready()
        let contextBytes = Array(context.utf8)
        precondition(contextBytes.count == Int(crypto_kdf_CONTEXTBYTES), "a KDF context is 8 bytes")
        precondition(count >= Int(crypto_kdf_BYTES_MIN) && count <= Int(crypto_kdf_BYTES_MAX))
        return SecretBytes(count: count) { output in
            master.bytes.withUnsafeBytes { masterBytes in
                contextBytes.withUnsafeBytes { label in
                    let result = crypto_kdf_derive_from_key(
                        output.cBytes, count, subkeyID, label.cChars, masterBytes.cBytes)
                    precondition(result == 0, "crypto_kdf_derive_from_key cannot fail for valid sizes")
                }
            }
        }
    }
}
