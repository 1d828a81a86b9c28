import ArgumentParser
import DuetCrypto
import DuetStore
import DuetSync
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
            let store = try Store.open(home: common.resolvedHome)
            let url = try relayURL(store, given: relay)
            let unlocked = try store.unlock(passphrase: try PassphraseSource.read(file: common.passphraseFile))
            let name = try await DeviceEngine.link(unlocked, store: store, relay: url, timeout: .seconds(timeout)) { code in
                announce(code: code, json: json, hint: "On the new device: `duet device join CODE --relay \(url)`; waiting up to \(timeout) s…")
            }
            if json { try emitJSONLine(["device": name]) } else { emitLine("Linked \(Sanitise.line(name)).") }
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
        if let deviceName {
            let trimmed = deviceName.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, trimmed.utf8.count <= 64 else { throw ValidationError("--device must be 1 to 64 bytes") }
        }
    }

    func run() async throws {
        try await reportingRelayErrors {
            guard PairingEngine.isWellFormed(code: code) else {
                throw InputError("that is not a link code: it has 26 letters and digits (dashes and spaces are ignored)")
            }
            let home = common.resolvedHome
            if home.exists { throw StoreError(.alreadyInitialised, "\(home.path) already holds a Duet journal; choose another --home") }
            let url = try checkedRelayURL(relay)
            let passphrase = try PassphraseSource.readNew(file: common.passphraseFile)
            let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "device"
            let name = deviceName?.trimmingCharacters(in: .whitespaces) ?? "new \(host)"
            let joined = try await DeviceEngine.join(code: code, home: home, deviceName: name, passphrase: passphrase,
                                                     parameters: InitCommand.parameters(), relay: url, timeout: .seconds(timeout))
            print("Joined \(Sanitise.line(joined.unlocked.keystore.name))'s journal as \(Sanitise.line(name)); received \(joined.sync.received) change(s).")
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
            let store = try Store.open(home: common.resolvedHome)
            let current = try store.deviceID()
            let rows = try store.directory().devices.values
                .sorted { ($0.isMine ? 0 : 1, $0.created) < ($1.isMine ? 0 : 1, $1.created) }
                .map { Row(id: $0.id.description, name: $0.displayName, person: $0.person ?? "unknown", added: rfc3339($0.created),
                           removed: $0.removed.map(rfc3339), thisDevice: $0.id.description == current) }
            if json { return try printJSON(rows) }
            for row in rows {
                let state = row.removed.map { "removed \($0)" } ?? "added \(row.added)"
                print("\(row.id.prefix(8))  \(Sanitise.line(row.person)): \(Sanitise.line(row.name))  \(state)\(row.thisDevice ? "  (this device)" : "")")
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
            let store = try Store.open(home: common.resolvedHome)
            let url = try relayURL(store, given: relay)
            // Devices a revocation can still act on, from the logs themselves: a device removed
            // from one space but still a member of another (a revocation cut short) is one.
            let people = try store.people()
            guard let me = people.first(where: \.isMe), let thisDevice = try store.devicePublicKey() else { throw InputError("this journal has no identity yet") }
            let revocable = try DeviceEngine.revocable(store, identity: me.identity, this: thisDevice)
            // This device is offered too, so that asking to revoke it gets the reason it cannot.
            let mine = try store.directory().devices.values.filter { $0.isMine && (revocable.contains($0.publicKey) || $0.publicKey == thisDevice) }
            let wanted = id.lowercased()
            let matches = mine.filter { $0.name == id || (wanted.count >= 4 && $0.id.description.hasPrefix(wanted)) }
            guard matches.count == 1, let target = matches.first else {
                throw InputError(matches.isEmpty
                    ? "none of your current devices is '\(Sanitise.line(id))'; `duet device list` shows them"
                    : "'\(Sanitise.line(id))' matches several of your devices; give more of the id")
            }
            let unlocked = try store.unlock(passphrase: try PassphraseSource.read(file: common.passphraseFile))
            let spaces = try await DeviceEngine.revoke(device: target.publicKey, unlocked, store: store, relay: url)
            print("Revoked \(Sanitise.line(target.displayName)): removed from \(spaces) space(s); new keys sealed to your remaining devices\(spaces > 1 ? " and your partner's" : "").")
        }
    }
}
