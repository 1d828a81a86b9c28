import ArgumentParser
import DuetCrypto
import DuetStore
import DuetSync
import Foundation

struct PairCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pair",
        abstract: "Pair with your partner: one invites, the other accepts; both compare the safety number.",
        subcommands: [PairInviteCommand.self, PairAcceptCommand.self, PairStatusCommand.self])
}

/// Writes one line to stdout at once (unbuffered), so a script reading the code is not kept
/// waiting while the command waits for the partner.
func emitLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Shows a one-time code the moment it exists: alone on the first line of stdout (or as
/// `{"code": …}`), with what to do with it on stderr.
func announce(code: String, json: Bool, hint: String) {
    if json {
        try? emitJSONLine(["code": code])
    } else {
        emitLine(code)
        FileHandle.standardError.write(Data((hint + "\n").utf8))
    }
}

func emitJSONLine(_ object: [String: String]) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    emitLine(String(decoding: try encoder.encode(object), as: UTF8.self))
}

struct PairInviteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invite",
        abstract: "Print a one-time code for your partner, wait for them to accept, then print the safety number.")

    @OptionGroup var common: CommonOptions
    @Option(help: "The relay (remembered; default: the one given to init).") var relay: String?
    @Option(help: "How long to wait for your partner, in seconds (at most 600: codes last 10 minutes).") var timeout: Int = 600
    @Flag(help: "Print one JSON object per line.") var json = false

    func validate() throws {
        guard (1...600).contains(timeout) else { throw ValidationError("--timeout is 1 to 600 seconds") }
    }

    func run() async throws {
        try await reportingRelayErrors {
            let store = try Store.open(home: common.resolvedHome)
            let url = try relayURL(store, given: relay)
            let unlocked = try store.unlock(passphrase: try PassphraseSource.read(file: common.passphraseFile))
            let paired = try await PairingEngine.invite(
                unlocked, store: store, relay: url, timeout: .seconds(timeout)
            ) { code in
                announce(code: code, json: json, hint: "Give this code to your partner (`duet pair accept CODE`); waiting up to \(timeout) s…")
            }
            try showPaired(paired, json: json)
        }
    }
}

struct PairAcceptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accept",
        abstract: "Join the couple space from your partner's code; prints their name and the safety number.")

    @OptionGroup var common: CommonOptions
    @Argument(help: "The code your partner's `duet pair invite` printed.") var code: String
    @Option(help: "The relay (remembered; default: the one given to init).") var relay: String?
    @Option(help: "How long to wait for your partner's device to add this one, in seconds.") var timeout: Int = 120
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard (1...600).contains(timeout) else { throw ValidationError("--timeout is 1 to 600 seconds") }
    }

    func run() async throws {
        try await reportingRelayErrors {
            // A malformed code is refused before the passphrase is asked for.
            guard PairingEngine.isWellFormed(code: code) else {
                throw InputError("that is not a pairing code: it has 26 letters and digits (dashes and spaces are ignored)")
            }
            let store = try Store.open(home: common.resolvedHome)
            let url = try relayURL(store, given: relay)
            let unlocked = try store.unlock(passphrase: try PassphraseSource.read(file: common.passphraseFile))
            let paired = try await PairingEngine.accept(code: code, unlocked, store: store, relay: url,
                                                        timeout: .seconds(timeout))
            try showPaired(paired, json: json)
        }
    }
}

private func showPaired(_ paired: PairingEngine.Paired, json: Bool) throws {
    if json {
        try emitJSONLine(["partner": paired.partnerName, "safetyNumber": paired.safetyNumber])
    } else {
        emitLine("Paired with \(Sanitise.line(paired.partnerName)).")
        emitLine("Safety number: \(paired.safetyNumber)")
        emitLine("Compare it with your partner's, in person or on a call: if the numbers differ, someone is in between.")
    }
}

struct PairStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Your partner, their devices and the safety number.")

    @OptionGroup var common: CommonOptions
    @Flag(help: "Print one JSON object.") var json = false

    struct Report: Encodable {
        struct Person: Encodable { let name: String; let isMe: Bool }
        /// Every device of the couple space, both partners', as its verified log names them.
        struct Device: Encodable { let id: String; let name: String; let person: String; let isMine: Bool; let added: String; let removed: String? }
        let partner: String?
        let safetyNumber: String?
        let people: [Person]
        let devices: [Device]
    }

    func run() throws {
        try reportingErrors {
            let store = try Store.open(home: common.resolvedHome)
            let people = try store.people()
            guard let me = people.first(where: \.isMe), let partner = people.first(where: { !$0.isMe }),
                  let couple = try store.space(.couple) else {
                if json { return try printJSON(Report(partner: nil, safetyNumber: nil, people: [], devices: [])) }
                print("Not paired yet: one of you runs `duet pair invite`, the other `duet pair accept CODE`.")
                return
            }
            let log = try store.membershipLog(space: couple.id)
            let directory = try store.directory()
            let names = Dictionary(people.map { ($0.identity, $0.name) }) { first, _ in first }
            var devices: [Report.Device] = []
            for record in log.records {
                guard case .addDevice(let certificate) = record.action else { continue }
                let known = directory.devices.values.first { $0.publicKey == certificate.device }
                devices.append(Report.Device(id: known?.id.description ?? Hex.encode(certificate.device.bytes), name: known?.displayName ?? "a device not yet named",
                                             person: names[certificate.identity] ?? "someone unknown",
                                             isMine: certificate.identity == me.identity, added: rfc3339(certificate.created),
                                             removed: log.removedDevices.contains(certificate.device) ? known?.removed.map(rfc3339) ?? "yes" : nil))
            }
            let report = Report(partner: partner.name, safetyNumber: PairingEngine.safetyNumber(me.identity, partner.identity),
                                people: log.identities.map { Report.Person(name: names[$0] ?? "someone unknown", isMe: $0 == me.identity) }
                                    .sorted { ($0.isMe ? 0 : 1, $0.name) < ($1.isMe ? 0 : 1, $1.name) },
                                devices: devices)
            if json { return try printJSON(report) }
            print("partner:       \(Sanitise.line(partner.name))")
            print("safety number: \(report.safetyNumber ?? "")")
            print("people:        \(report.people.map { Sanitise.line($0.name) + ($0.isMe ? " (you)" : "") }.joined(separator: ", "))")
            for device in devices {
                print("device:        \(Sanitise.line(device.name)), \(Sanitise.line(device.person))'s (added \(device.added)\(device.removed.map { ", removed \($0)" } ?? ""))")
            }
        }
    }
}
