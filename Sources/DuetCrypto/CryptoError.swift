/// What can go wrong in DuetCrypto.
///
/// A struct over a private code, so that new cases never break callers' exhaustive switches and
/// every case carries a message that says what to do next. All authentication failures — a bad
/// tag, a wrong key, wrong associated data, a bad signature, a box not sealed to us — are the one
/// value ``authenticationFailure``: nothing distinguishes them to a caller, a log or a relay.
public struct CryptoError: Error, Hashable, Sendable, CustomStringConvertible {
    package enum Code: String, Hashable, Sendable, CaseIterable {
        case authenticationFailure
        case invalidLength
        case weakParameters
        case unsupportedParameters
        case malformedPadding
        case malformedEncoding
        case resourceExhausted
    }

    package let code: Code

    private init(_ code: Code) { self.code = code }

    /// Every error value, for tests that check all messages.
    package init(testCode code: Code) { self.code = code }

    /// The data was altered, or it was not made with this key. Never says which.
    public static let authenticationFailure = CryptoError(.authenticationFailure)
    /// A key, nonce, salt or signature has the wrong number of bytes.
    public static let invalidLength = CryptoError(.invalidLength)
    /// Passphrase-hashing parameters below Duet's pinned minimum: refused, whoever asks.
    public static let weakParameters = CryptoError(.weakParameters)
    /// An algorithm or parameter this version does not know, or one past the sane maximum.
    public static let unsupportedParameters = CryptoError(.unsupportedParameters)
    /// Padding that Duet's padder could not have produced.
    public static let malformedPadding = CryptoError(.malformedPadding)
    /// Encoded parameters or keys that are truncated, too long or otherwise not canonical.
    public static let malformedEncoding = CryptoError(.malformedEncoding)
    /// The machine could not provide the memory an operation needs (Argon2id asks for a lot).
    public static let resourceExhausted = CryptoError(.resourceExhausted)

    /// The stable name used by test vectors (`"result"` field) and diagnostics.
    public var name: String { code.rawValue }

    public var description: String {
        switch code {
        case .authenticationFailure:
            "authentication failed: the data was altered or the key is wrong; check the passphrase, or re-fetch the data"
        case .invalidLength:
            "a key, nonce, salt or signature has the wrong length; the data is damaged or not Duet's"
        case .weakParameters:
            "passphrase hashing parameters are below Duet's minimum and were refused; the file may have been tampered with"
        case .unsupportedParameters:
            "unknown or out-of-range cryptographic parameters; upgrade Duet, or the data is damaged"
        case .malformedPadding:
            "the padding of a decrypted message is malformed; the sender is faulty or hostile"
        case .malformedEncoding:
            "encoded cryptographic data is truncated or malformed; the file is damaged or not Duet's"
        case .resourceExhausted:
            "not enough memory for passphrase hashing; close other programs and try again"
        }
    }
}
