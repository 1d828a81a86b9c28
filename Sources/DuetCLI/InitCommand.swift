import ArgumentParser
import DuetDevice
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
        try checkedName(name, option: "--name")
        if let deviceName { try checkedName(deviceName, option: "--device") }
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
            if Device.exists(home: home) { throw DeviceError.alreadyInitialised(home: home) }
            let passphrase = try PassphraseSource.readNew(file: common.passphraseFile)
            let created = try await Device.create(home: home, name: name, deviceName: resolvedDeviceName, passphrase: passphrase,
                                                  relay: relay, environment: .cli)
            let unreachable = created.relayFailure.map { Display.line($0.english) }
            if json {
                try printJSON(Created(device: created.device.deviceID, home: home, name: name, recoveryCode: created.recoveryCode,
                                      recoveryAtRelay: created.recoveryAtRelay))
            } else {
                print("Created \(Display.line(name))'s journal in \(home) (device \(created.device.deviceID)).")
                // Shown once, on stderr, so it is not caught in a script's captured output by accident.
                FileHandle.standardError.write(Data("""
                    Your recovery code (shown only now — write it down and keep it somewhere safe; with it and your
                    relay, your journal can be restored on a new device, and anyone holding it can read it):

                        \(created.recoveryCode)

                    \(created.recoveryAtRelay ? "It is stored at your relay now." : relay == nil
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

}

struct PassphraseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passphrase",
        abstract: "Change the passphrase (re-seals the keystore only).")

    @OptionGroup var common: CommonOptions

    @Option(help: "Read the new passphrase from this file (for scripts).", completion: .file())
    var newPassphraseFile: String?

    func run() throws {
        try reportingErrors {
            let device = try common.open()
            // The current one is checked before the new one is asked for; typed, never the unlock
            // agent's key: whoever finds the journal unlocked must not be able to change it.
            let unlocked = try PassphraseSource.withPassphrase(file: common.passphraseFile, prompt: "Current passphrase: ") {
                passphrase in try device.unlock(passphrase)
            }
            try unlocked.changePassphrase(to: try PassphraseSource.readReplacement(file: newPassphraseFile))
            // Its key opens the keystore no longer.
            let locked = AgentClient.lock(home: device.home)
            print(locked ? "Passphrase changed; the unlock agent is locked (`duet unlock` again)." : "Passphrase changed.")
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
        if let deviceName { try checkedName(deviceName, option: "--device") }
    }

    func run() async throws {
        try await reportingRelayErrors {
            guard Device.isWellFormed(code: code, .recovery) else { throw DeviceError.invalidCode(.recovery) }
            guard let relay else { throw InputError("pass --relay URL: the relay your journal synced through") }
            let url = try Device.checkedRelayURL(relay)
            let home = common.resolvedHome
            if Device.exists(home: home) { throw DeviceError.alreadyInitialised(home: home) }
            let passphrase = try PassphraseSource.readNew(file: common.passphraseFile)
            let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "device"
            let name = deviceName?.trimmingCharacters(in: .whitespaces) ?? "recovered \(host)"
            let recovered = try await Device.recover(code: code, home: home, deviceName: name, passphrase: passphrase, relay: url, environment: .cli)
            print("Recovered \(Display.line(recovered.device.name))'s journal on \(Display.line(name)); received \(recovered.received) change(s).")
        }
    }
}
