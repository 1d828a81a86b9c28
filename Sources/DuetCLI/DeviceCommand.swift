import ArgumentParser
import DuetDevice
import Foundation

struct DeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device",
        abstract: "Add another device of yours, see every device, revoke one.",
        subcommands: [DeviceLinkCommand.self, DeviceJoinCommand.self, DeviceListCommand.self, DeviceRevokeCommand.self])
}

struct DeviceLinkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "link",
        abstract: "On a device you have: print a one-time code, then wait for `duet device join CODE` on the new one.")

    @OptionGroup var common: CommonOptions
    @Option(help: "The relay (remembered; default: the one given to init).") var relay: String?
    @Option(help: "How long to wait for the new device, in seconds (at most 600).") var timeout: Int = 600
    @Flag(help: "Print one JSON object per line.") var json = false

    func validate() throws {
        guard (1...600).contains(timeout) else { throw ValidationError("--timeout is 1 to 600 seconds") }
    }

    func run() async throws {
        try await reportingRelayErrors {
            let device = try common.open()
            let url = try device.relay(given: relay)
            let unlocked = try PassphraseSource.typed(device, file: common.passphraseFile)
            let name = try await unlocked.link(relay: relay, timeout: .seconds(timeout)) { code in
                announce(code: code, json: json, hint: "On the new device: `duet device join CODE --relay \(url)`; waiting up to \(timeout) s…")
            }
            if json { try emitJSONLine(["device": name]) } else { emitLine("Linked \(Display.line(name)).") }
        }
    }
}

struct DeviceJoinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join",
        abstract: "On a new device: join your journal with the code `duet device link` printed on one you have.")

    @OptionGroup var common: CommonOptions
    @Argument(help: "The code your other device printed.") var code: String
    @Option(help: "The relay your other device uses.") var relay: String
    @Option(name: .customLong("device"), help: "This device's name (default: your other device's person name and this host).") var deviceName: String?
    @Option(help: "How long to wait for your other device, in seconds.") var timeout: Int = 120

    func validate() throws {
        guard (1...600).contains(timeout) else { throw ValidationError("--timeout is 1 to 600 seconds") }
        if let deviceName { try checkedName(deviceName, option: "--device") }
    }

    func run() async throws {
        try await reportingRelayErrors {
            guard Device.isWellFormed(code: code, .link) else { throw DeviceError.invalidCode(.link) }
            let home = common.resolvedHome
            if Device.exists(home: home) { throw DeviceError.alreadyInitialised(home: home) }
            let url = try Device.checkedRelayURL(relay)
            let passphrase = try PassphraseSource.readNew(file: common.passphraseFile)
            let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "device"
            let name = deviceName?.trimmingCharacters(in: .whitespaces) ?? "new \(host)"
            let joined = try await Device.join(code: code, home: home, deviceName: name, passphrase: passphrase, relay: url,
                                               timeout: .seconds(timeout), environment: .cli)
            print("Joined \(Display.line(joined.device.name))'s journal as \(Display.line(name)); received \(joined.received) change(s).")
        }
    }
}

struct DeviceListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Your devices and your partner's, with when each was added or removed.")

    @OptionGroup var common: CommonOptions
    @Flag(help: "Print one JSON array.") var json = false

    struct Row: Encodable {
        let id: String
        let name: String
        let person: String
        let added: String
        let removed: String?
        let thisDevice: Bool
    }

    func run() throws {
        try reportingErrors {
            let rows = try common.open().devices().map {
                Row(id: $0.id, name: $0.name, person: $0.person ?? "unknown", added: rfc3339($0.added),
                    removed: $0.removed.map(rfc3339), thisDevice: $0.isThisDevice)
            }
            if json { return try printJSON(rows) }
            for row in rows {
                let state = row.removed.map { "removed \($0)" } ?? "added \(row.added)"
                print("\(row.id.prefix(8))  \(Display.line(row.person)): \(Display.line(row.name))  \(state)\(row.thisDevice ? "  (this device)" : "")")
            }
        }
    }
}

struct DeviceRevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Remove one of your devices everywhere and move its spaces to new keys it never sees.")

    @OptionGroup var common: CommonOptions
    @Argument(help: "The device's id (4+ characters from `duet device list`) or its exact name.") var id: String
    @Option(help: "The relay (remembered; default: the one given to init).") var relay: String?

    func run() async throws {
        try await reportingRelayErrors {
            let device = try common.open()
            _ = try device.relay(given: relay)
            let target = try device.revocableDevice(id)
            let unlocked = try PassphraseSource.typed(device, file: common.passphraseFile)
            let spaces = try await unlocked.revoke(target, relay: relay)
            print("Revoked \(Display.line(target.name)): removed from \(spaces) space(s); new keys sealed to your remaining devices\(spaces > 1 ? " and your partner's" : "").")
        }
    }
}
