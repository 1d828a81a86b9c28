import DuetCrypto
import DuetStore
public import DuetSync

/// A journal just made: the device, unlocked, and the recovery code (shown once, never kept).
public struct CreatedJournal: Sendable {
    public let device: UnlockedDevice
    /// The code that restores the journal on a new device; anyone holding it can read it.
    public let recoveryCode: String
    /// Whether the relay keeps the code's blob now (else the next sync puts it there).
    public let recoveryAtRelay: Bool
    /// Why the first sync did not happen, when a relay was given and it failed. The journal
    /// is made either way: offline first.
    public let relayFailure: DeviceError?
}

extension CreatedJournal: CustomStringConvertible, CustomReflectable {
    /// Redacted: an app that logs what `create` returned must not log the recovery code.
    public var description: String { "CreatedJournal(recoveryCode: redacted, recoveryAtRelay: \(recoveryAtRelay))" }
    public var customMirror: Mirror { Mirror(self, children: ["recoveryAtRelay": recoveryAtRelay], displayStyle: .struct) }
}

/// A journal brought to this device (by linking or recovery) and what its first sync moved.
public struct JoinedJournal: Sendable {
    public let device: UnlockedDevice
    public let received: Int
}

extension Device {
    /// Creates the person's identity, this device and the private space in `home`. With a
    /// relay it syncs once, so the recovery code works from the moment it is shown.
    public static func create(home: String, name: String, deviceName: String, passphrase: Passphrase, relay: String? = nil,
                              environment: DeviceEnvironment = .system) async throws(DeviceError) -> CreatedJournal {
        let name = try EntryRules.name(name), deviceName = try EntryRules.name(deviceName)
        let folder = Home(path: home)
        guard !folder.exists else { throw .alreadyInitialised(home: home) }
        let secret = try passphrase.checkedNew()
        if let relay { _ = try checkedRelayURL(relay) }
        guard let recovery = RecoveryEngine.newCode() else { throw .noRecoveryCode }
        let (store, unlocked) = try translatingErrors {
            try Store.create(home: folder, name: name, deviceName: deviceName, passphrase: secret,
                             parameters: environment.passphraseHashing.parameters, now: environment.now, recovery: recovery.slot)
        }
        let device = UnlockedDevice(device: Device(store: store, environment: environment), unlocked: unlocked)
        // The directory of the new log is read now, so that the first unlock finds nothing to
        // do: a command that then fails (a relay out of reach) leaves the files as they were.
        try translatingErrors { try unlocked.refreshDirectory() }
        // The blob the code opens is sealed now; with a relay it is put there at once (a first
        // sync registers the private space). Out of reach, it stays pending for a later sync.
        try translatingErrors { try RecoveryEngine.prepare(unlocked, store: store) }
        var stored = false
        var failure: DeviceError?
        if let relay {
            // Remembered even if this first sync fails: offline first, the next sync uses it.
            try translatingErrors { try store.setMeta("relay", relay) }
            do {
                _ = try await device.sync(relay: relay)
                stored = try translatingErrors { try store.meta("recovery_pending") == nil && store.meta("recovery_state") != nil }
            } catch {
                failure = error
            }
        }
        return CreatedJournal(device: device, recoveryCode: recovery.code, recoveryAtRelay: stored, relayFailure: failure)
    }

    /// On a new device: restores the journal from its recovery code and the relay it synced
    /// through. Nothing is created unless the blob opens.
    public static func recover(code: String, home: String, deviceName: String, passphrase: Passphrase, relay: String,
                               environment: DeviceEnvironment = .system) async throws(DeviceError) -> JoinedJournal {
        guard RecoveryEngine.isWellFormed(code: code) else { throw .invalidCode(.recovery) }
        let url = try checkedRelayURL(relay)
        let deviceName = try EntryRules.name(deviceName)
        guard !Home(path: home).exists else { throw .alreadyInitialised(home: home) }
        let secret = try passphrase.checkedNew()
        let recovered = try await translatingErrors {
            try await RecoveryEngine.recover(code: code, home: Home(path: home), deviceName: deviceName, passphrase: secret,
                                             parameters: environment.passphraseHashing.parameters, relay: url, environment: environment.sync)
        }
        return JoinedJournal(device: UnlockedDevice(device: Device(store: recovered.store, environment: environment), unlocked: recovered.unlocked),
                             received: recovered.sync.received)
    }

    /// On a new device: joins the person's journal with the code ``UnlockedDevice/link(relay:timeout:show:)``
    /// showed on one they have.
    public static func join(code: String, home: String, deviceName: String, passphrase: Passphrase, relay: String,
                            timeout: Duration, environment: DeviceEnvironment = .system) async throws(DeviceError) -> JoinedJournal {
        guard PairingEngine.isWellFormed(code: code) else { throw .invalidCode(.link) }
        let url = try checkedRelayURL(relay)
        let deviceName = try EntryRules.name(deviceName)
        guard !Home(path: home).exists else { throw .alreadyInitialised(home: home) }
        let secret = try passphrase.checkedNew()
        let joined = try await translatingErrors {
            try await DeviceEngine.join(code: code, home: Home(path: home), deviceName: deviceName, passphrase: secret,
                                        parameters: environment.passphraseHashing.parameters, relay: url, timeout: timeout,
                                        environment: environment.sync)
        }
        return JoinedJournal(device: UnlockedDevice(device: Device(store: joined.store, environment: environment), unlocked: joined.unlocked),
                             received: joined.sync.received)
    }

    /// Whether `code` has the shape of a pairing, link or recovery code (26 letters and digits;
    /// dashes and spaces are ignored), so a client can refuse a typo before asking anything.
    public static func isWellFormed(code: String, _ kind: DeviceError.CodeKind) -> Bool {
        kind == .recovery ? RecoveryEngine.isWellFormed(code: code) : PairingEngine.isWellFormed(code: code)
    }
}
