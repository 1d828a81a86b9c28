/// What can go wrong with a device's store. Every message says what happened; what to do next
/// is the client's to word from the code (no message names a command or flag). None includes
/// a passphrase, a key or journal text.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        case notInitialised, alreadyInitialised, wrongPassphrase, noPassphrase, passphraseMismatch
        case corrupt, newerVersion, readOnly, diskFull, unknownEntry, ambiguousEntry, invalidInput
        case insecurePermissions, io, integrity, notPaired
        /// This device has no key for the space's current epoch yet: a sync brings it.
        case awaitingKey
        /// This device's certificate expired: it must be linked again from another device.
        case certificateExpired
        /// A change larger than every other replica's decoder (or the relay) takes: not written.
        case changeTooLarge
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func notInitialised(_ home: String) -> StoreError {
        StoreError(.notInitialised, "no Duet journal in \(home)")
    }
    static func corrupt(_ detail: String) -> StoreError {
        StoreError(.corrupt, "the store file is damaged (\(detail)); it was left untouched — restore it from a backup or re-sync")
    }
    static let newerVersion = StoreError(.newerVersion, "the store was written by a newer version of Duet; upgrade Duet (the file was left untouched)")
    static let wrongPassphrase = StoreError(.wrongPassphrase, "wrong passphrase; nothing was changed")
}
