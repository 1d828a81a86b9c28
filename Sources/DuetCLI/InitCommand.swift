import ArgumentParser
import DuetCrypto
import DuetStore
import DuetSync
import Foundation

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create your identity, this device and your private space.")

    @OptionGroup var common: CommonOptions

    @Option(help: "Your name, as your partner will see it.")
    var name: String

    @Option(name: .customLong("device"), help: "This device's name, shown beside what it writes (default: NAME's HOSTNAME).")
    var deviceName: String?

    @Option(help: "The relay to sync through (remembered).")
    var relay: String?

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 64 else { throw ValidationError("--name must be 1 to 64 bytes") }
        if let deviceName {
            let trimmed = deviceName.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, trimmed.utf8.count <= 64 else { throw ValidationError("--device must be 1 to 64 bytes") }
        }
    }

    /// The device's name in its certificate: given, or the person's name and the host's.
    var resolvedDeviceName: String {
        if let deviceName { return deviceName.trimmingCharacters(in: .whitespaces) }
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "device"
        var name = "\(self.name)'s \(host)"
        while name.utf8.count > 64 { name.removeLast() }
        return name
    }

    func run() async throws {
        try await reportingRelayErrors {
            let home = common.resolvedHome
            if home.exists {
                throw StoreError(.alreadyInitialised, "\(home.path) already holds a Duet journal; nothing was changed")
            }
            let passphrase = try PassphraseSource.readNew(file: common.passphraseFile)
            if let relay { _ = try checkedRelayURL(relay) }
            guard let recovery = RecoveryEngine.newCode() else { throw InputError("could not make a recovery code") }
            let (store, unlocked) = try Store.create(home: home, name: name, deviceName: resolvedDeviceName, passphrase: passphrase,
                                                    parameters: Self.parameters(), now: nowMilliseconds, recovery: recovery.slot)
            // The blob the code opens is sealed now; with a relay it is put there at once (a
            // first sync registers the private space), so the code works from the moment it is
            // shown. Out of reach, it stays pending for `duet sync` or `duetd`.
            try RecoveryEngine.prepare(unlocked, store: store)
            var stored = false
            var unreachable: String?
            if let relay {
                try store.setMeta("relay", relay)
                do {
                    _ = try await SyncEngine.sync(unlocked, store: store, relay: relay, now: nowMilliseconds)
                    stored = try store.meta("recovery_pending") == nil && store.meta("recovery_state") != nil
                } catch {
                    // The journal is made either way: offline first.
                    unreachable = Sanitise.line((error as? RelayTransport.Failure)?.description ?? "\(error)")
                }
            }
            if json {
                try printJSON(Created(device: unlocked.keystore.deviceID.description, home: home.path, name: name, recoveryCode: recovery.code,
                                      recoveryAtRelay: stored))
            } else {
                print("Created \(Sanitise.line(name))'s journal in \(home.path) (device \(unlocked.keystore.deviceID)).")
                // Shown once, on stderr, so it is not caught in a script's captured output by accident.
                FileHandle.standardError.write(Data("""
                    Your recovery code (shown only now — write it down and keep it somewhere safe; with it and your
                    relay, your journal can be restored on a new device, and anyone holding it can read it):

                        \(recovery.code)

                    \(stored ? "It is stored at your relay now." : relay == nil
                        ? "It is stored at your relay at your first `duet sync --relay URL` (or by `duetd`)."
                        : "It is not stored at your relay yet: \(unreachable ?? "the relay refused"). `duet sync` or `duetd` stores it once the relay answers; until then `duet status` warns.")

                    """.utf8))
            }
        }
    }

    struct Created: Encodable {
        let device: String
        let home: String
        let name: String
        let recoveryCode: String
        /// Whether the relay keeps the recovery blob now (else `duet sync` or `duetd` puts it there).
        let recoveryAtRelay: Bool
    }

    /// Duet's default passphrase hashing (about 0.4 s here). `DUET_KDF=minimum` selects the
    /// pinned minimum instead, for test suites that create many journals; nothing weaker is
    /// possible.
    static func parameters() -> PassphraseKDFParameters {
        let defaults = PassphraseKDFParameters.makeDefault()
        guard ProcessInfo.processInfo.environment["DUET_KDF"] == "minimum",
              let minimum = try? PassphraseKDFParameters(
                opsLimit: PassphraseKDFParameters.minimumOpsLimit,
                memoryBytes: PassphraseKDFParameters.minimumMemoryBytes, salt: defaults.salt) else { return defaults }
        return minimum
    }
}

struct PassphraseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passphrase",
        abstract: "Change the passphrase (re-seals the keystore only).")

    @OptionGroup var common: CommonOptions

    @Option(help: "Read the new passphrase from this file (for scripts).")
    var newPassphraseFile: String?

    func run() throws {
        try reportingErrors {
            let store = try Store.open(home: common.resolvedHome)
            let unlocked = try store.unlock(passphrase: try PassphraseSource.read(file: common.passphraseFile, prompt: "Current passphrase: "))
            let new = try PassphraseSource.readReplacement(file: newPassphraseFile)
            try store.changePassphrase(unlocked, to: new, parameters: InitCommand.parameters())
            print("Passphrase changed.")
        }
    }
}

struct RecoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "On a new device: restore your journal from the recovery code `duet init` showed once.")

    @OptionGroup var common: CommonOptions
    @Argument(help: "The recovery code.") var code: String
    @Option(help: "The relay your journal synced through.") var relay: String?
    @Option(name: .customLong("device"), help: "This device's name.") var deviceName: String?

    func validate() throws {
        if let deviceName {
            let trimmed = deviceName.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, trimmed.utf8.count <= 64 else { throw ValidationError("--device must be 1 to 64 bytes") }
        }
    }

    func run() async throws {
        try await reportingRelayErrors {
            guard RecoveryEngine.isWellFormed(code: code) else {
                throw InputError("that is not a recovery code: it has 26 letters and digits (dashes and spaces are ignored)")
            }
            guard let relay else { throw InputError("pass --relay URL: the relay your journal synced through") }
            let url = try checkedRelayURL(relay)
            let home = common.resolvedHome
            if home.exists { throw StoreError(.alreadyInitialised, "\(home.path) already holds a Duet journal; choose another --home") }
            let passphrase = try PassphraseSource.readNew(file: common.passphraseFile)
            let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "device"
            let name = deviceName?.trimmingCharacters(in: .whitespaces) ?? "recovered \(host)"
            let recovered = try await RecoveryEngine.recover(code: code, home: home, deviceName: name, passphrase: passphrase,
                                                             parameters: InitCommand.parameters(), relay: url)
            print("Recovered \(Sanitise.line(recovered.unlocked.keystore.name))'s journal on \(Sanitise.line(name)); received \(recovered.sync.received) change(s).")
        }
    }
}
