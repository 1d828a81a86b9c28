import ArgumentParser
import DuetDevice
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
    print(line)
    StandardOutput.flushNow()
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
            let device = try common.open()
            let origin = try device.relay(given: relay)
            let unlocked = try PassphraseSource.typed(device, file: common.passphraseFile)
            let paired = try await unlocked.invitePartner(relay: relay, timeout: .seconds(timeout)) { code in
                // The partner's journal must reach the same relay: say which (the new-user trial's
                // partner, told only `duet pair accept CODE`, had no relay and then the wrong one).
                announce(code: code, json: json,
                         hint: "Give this code to your partner, who runs `duet pair accept CODE --relay \(Display.line(origin))` in a journal of their own; waiting up to \(timeout) s…")
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
            guard Device.isWellFormed(code: code, .pairing) else { throw DeviceError.invalidCode(.pairing) }
            let device = try common.open()
            _ = try device.relay(given: relay)
            let unlocked = try PassphraseSource.typed(device, file: common.passphraseFile)
            let paired = try await unlocked.acceptPartner(code: code, relay: relay, timeout: .seconds(timeout))
            try showPaired(paired, json: json)
        }
    }
}

private func showPaired(_ paired: PartnerPairing, json: Bool) throws {
    if json {
        try emitJSONLine(["partner": paired.partner, "safetyNumber": paired.safetyNumber])
    } else {
        emitLine("Paired with \(Display.line(paired.partner)).")
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
        struct Device: Encodable {
            let id: String; let name: String; let person: String; let isMine: Bool; let added: String
            /// `null` for a device still in the space.
            @NullWhenAbsent var removed: String?
        }
        /// `null` when not paired: a script reads `.partner` without asking whether it is there.
        @NullWhenAbsent var partner: String?
        @NullWhenAbsent var safetyNumber: String?
        let people: [Person]
        let devices: [Device]
    }

    func run() throws {
        try reportingErrors {
            guard let pairing = try common.open().pairing() else {
                if json { return try printJSON(Report(partner: nil, safetyNumber: nil, people: [], devices: [])) }
                print("Not paired yet: one of you runs `duet pair invite`, the other `duet pair accept CODE`.")
                return
            }
            let devices = pairing.devices.map { member in
                Report.Device(id: member.id, name: member.name ?? "a device not yet named", person: member.person ?? "someone unknown",
                              isMine: member.isMine, added: rfc3339(member.added),
                              removed: member.isRemoved ? member.removedAt.map(rfc3339) ?? "yes" : nil)
            }
            let report = Report(partner: pairing.partner, safetyNumber: pairing.safetyNumber,
                                people: pairing.people.map { Report.Person(name: $0.name.isEmpty ? "someone unknown" : $0.name, isMe: $0.isMe) },
                                devices: devices)
            if json { return try printJSON(report) }
            print("partner:       \(Display.line(pairing.partner))")
            print("safety number: \(report.safetyNumber ?? "")")
            print("people:        \(report.people.map { Display.line($0.name) + ($0.isMe ? " (you)" : "") }.joined(separator: ", "))")
            for device in devices {
                print("device:        \(Display.line(device.name)), \(Display.line(device.person))'s (added \(device.added)\(device.removed.map { ", removed \($0)" } ?? ""))")
            }
        }
    }
}
