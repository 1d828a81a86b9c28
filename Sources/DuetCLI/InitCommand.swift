import ArgumentParser
import DuetCrypto
import DuetStore
import Foundation

struct InitCommand: ParsableCommand {
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

    func run() throws {
        try reportingErrors {
            let home = common.resolvedHome
            if home.exists {
                throw StoreError(.alreadyInitialised, "\(home.path) already holds a Duet journal; nothing was changed")
            }
            let passphrase = try PassphraseSource.readNew(file: common.passphraseFile)
            let (store, unlocked) = try Store.create(home: home, name: name, deviceName: resolvedDeviceName, passphrase: passphrase,
                                                    parameters: Self.parameters(), now: nowMilliseconds)
            if let relay { try store.setMeta("relay", relay) }
            if json {
                try printJSON(["device": unlocked.keystore.deviceID.description, "home": home.path, "name": name])
            } else {
                print("Created \(Sanitise.line(name))'s journal in \(home.path) (device \(unlocked.keystore.deviceID)).")
            }
        }
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
