import DuetCrypto
import Foundation

/// A passphrase as typed. The same passphrase typed on different keyboards can arrive composed
/// or decomposed: NFC makes them one. Never printed (its description is redacted).
public struct Passphrase: Sendable, CustomStringConvertible {
    /// The shortest passphrase a new journal accepts.
    public static let minimumLength = 8

    let secret: SecretBytes

    public init(_ text: String) {
        secret = SecretBytes(utf8: text.precomposedStringWithCanonicalMapping)
    }

    /// Whether it may protect a new journal (or replace a passphrase).
    public var isLongEnough: Bool { secret.count >= Self.minimumLength }

    public static func == (lhs: Passphrase, rhs: Passphrase) -> Bool { lhs.secret == rhs.secret }

    public var description: String { "Passphrase(redacted)" }

    /// A new passphrase, refused when too short.
    func checkedNew() throws(DeviceError) -> SecretBytes {
        guard isLongEnough else { throw .passphraseTooShort(minimum: Self.minimumLength) }
        return secret
    }
}
