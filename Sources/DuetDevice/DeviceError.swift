import DuetCrypto
import DuetStore
public import DuetSync

/// Why a use case did not happen: a code with its facts. Nothing here is English meant for a
/// person except `detail`, which carries what a lower layer said about a failure only it can
/// describe (which file is damaged and how, the reason a relay gave for a refusal). Clients
/// word the rest; the CLI's wording is in DuetCLI.
public enum DeviceError: Error, Sendable, Equatable {
    // The home and its passphrase
    case notInitialised(home: String)
    case alreadyInitialised(home: String)
    case wrongPassphrase
    /// A kept draft's file does not open: damaged, or from another device.
    case draftDamaged(id: String)
    /// As many drafts are kept as a home keeps.
    case tooManyDrafts(maximum: Int)
    /// Text larger than a draft keeps.
    case draftTooLarge(maximumBytes: Int)
    case passphraseTooShort(minimum: Int)
    case passphraseNotUTF8
    /// The store cannot be written (a read-only or foreign folder); `detail` says what was tried.
    case readOnly(detail: String)
    case diskFull(detail: String)
    /// Damaged, from a newer Duet, unsafe permissions, an I/O or integrity failure: the store says which.
    case storage(detail: String)
    case notPaired
    /// No key yet for a space's current epoch: a sync brings it.
    case awaitingKey
    case certificateExpired
    /// The change would be larger than other devices or the relay take: nothing was written.
    case changeTooLarge

    // Entries
    case notAnEntryID(String)
    case unknownEntry(prefix: String)
    case ambiguousEntry(prefix: String, matches: [String], more: Bool)
    /// The id resolved but the entry is no longer there (it went between two reads).
    case entryGone(id: String)
    case alreadyShared(id: String)
    case deleted(id: String)
    case alreadyDeleted(id: String)
    case notDeleted(id: String)
    case acknowledgingPrivate(id: String)
    case acknowledgingOwn(id: String)
    case alreadyAcknowledged(id: String)
    /// A shared entry can only answer a shared entry.
    case sharedReplyToPrivate(id: String)
    /// A reply lives where the entry it answers lives: a private one to a shared entry would
    /// never reach the partner it answers.
    case privateReplyToShared(id: String)

    // What a person typed
    case unknownFactor(String, known: [String])
    case moodOutOfRange(Int)
    case tagSize(maximum: Int)
    case titleTooLong(maximum: Int)
    case bodyTooLong(count: Int, maximum: Int)
    case notUTF8
    case emptySearch
    case nameSize(maximum: Int)
    case notADate(String)
    /// A date before 1970 (for an entry's time) or outside years 1 to 9999.
    case dateOutOfRange(String)
    /// A local time the clocks skip that day in `zone` (a change to summer time).
    case skippedTime(String, zone: String)

    // Imports
    case importNotJSON(format: ImportFormat)
    case importNotDuet
    case importNewerVersion
    case importNoEntries(format: ImportFormat)
    case importDamagedEntry(index: Int)
    /// A field of the export as a whole (not of one entry) that is not what Duet writes there.
    case importDamagedField(String)
    case importMissingDate(format: ImportFormat, index: Int)
    /// The keystore holds no personal content key to key imported entries by their source.
    case importNoKey

    // The relay and exchanges
    case noRelay
    case invalidRelayURL(String)
    case invalidCode(CodeKind)
    /// The relay could not be reached (`origin`), or refused with `code`.
    case relayUnreachable(origin: String, detail: String)
    case relayRefused(status: Int, code: String, detail: String, expectedOrigin: String?)
    /// The relay holds less than it once did: nothing was exchanged there.
    case relayRolledBack
    /// A pairing, link, recovery or revocation stopped; `next` is what the person can do.
    case exchange(ExchangeFailure, next: NextStep?)
    case noSuchDevice(String)
    case ambiguousDevice(String)
    case noIdentity
    /// A new recovery code could not be made (the system's random source failed).
    case noRecoveryCode

    /// The kinds of one-time code.
    public typealias CodeKind = ExchangeFailure.CodeKind

    /// Whether work written here waits for the relay (so a failed exchange lost nothing).
    public var relayWasUnreachable: Bool {
        if case .relayUnreachable = self { return true }
        return false
    }
}

extension DeviceError {
    /// A lower layer's error as the device's. Unknown errors keep their type's name only: no
    /// bytes from a relay or file reach the text.
    static func from(_ error: any Error) -> DeviceError {
        switch error {
        case let error as DeviceError: return error
        case let error as StoreError: return from(error)
        case let failure as RelayTransport.Failure:
            if failure.status == 0 { return .relayUnreachable(origin: failure.code, detail: failure.message) }
            return .relayRefused(status: failure.status, code: failure.code, detail: failure.message, expectedOrigin: failure.expectedOrigin)
        case let failure as PairingEngine.Failure:
            switch failure.reason {
            case .malformedCode(let kind): return .invalidCode(kind)
            default: return .exchange(failure.reason, next: failure.next)
            }
        case let error as CryptoError: return .storage(detail: error.description)
        default: return .storage(detail: String(describing: type(of: error)))
        }
    }

    static func from(_ error: StoreError) -> DeviceError {
        switch error.code {
        case .wrongPassphrase: .wrongPassphrase
        case .readOnly: .readOnly(detail: error.message)
        case .diskFull: .diskFull(detail: error.message)
        case .notPaired: .notPaired
        case .awaitingKey: .awaitingKey
        case .certificateExpired: .certificateExpired
        case .changeTooLarge: .changeTooLarge
        default: .storage(detail: error.message)
        }
    }
}

/// Runs `body`, turning any failure into a ``DeviceError``.
@discardableResult
func translatingErrors<T>(_ body: () throws -> T) throws(DeviceError) -> T {
    do { return try body() } catch { throw DeviceError.from(error) }
}

@discardableResult
func translatingErrors<T>(_ body: () async throws -> T) async throws(DeviceError) -> T {
    do { return try await body() } catch { throw DeviceError.from(error) }
}

/// What the person can do about a failed exchange, as a fact for the client to word.
public typealias NextStep = DuetSync.NextStep

/// Why an exchange stopped, as a fact for the client to word.
public typealias ExchangeFailure = DuetSync.ExchangeFailure
