/// A 256-bit secret key for XChaCha20-Poly1305 and for key derivation.
public struct SymmetricKey: Sendable, Equatable {
    public static let byteCount = 32

    /// The key material. Secret: redacted when printed, zeroed when released.
    public let bytes: SecretBytes

    /// Wraps existing key material; refuses anything but exactly 32 bytes.
    public init(bytes: SecretBytes) throws(CryptoError) {
        guard bytes.count == Self.byteCount else { throw .invalidLength }
        self.bytes = bytes
    }

    /// A fresh key from the system random source.
    public static func random() -> SymmetricKey {
        // A 32-byte secret always passes the length check.
        SymmetricKey(unchecked: RandomBytes.secret(count: byteCount))
    }

    init(unchecked bytes: SecretBytes) {
        precondition(bytes.count == Self.byteCount)
        self.bytes = bytes
    }
}

extension SymmetricKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "SymmetricKey(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
