import DuetCrypto
import DuetTesting
import Foundation
import Testing

/// Two partners, each with a journal of their own, and a real relay on loopback.
final class Couple {
    let relay: RelayProcess
    /// Sam's relay when the couple is split over two relay processes on one PostgreSQL
    /// database (issue #17); otherwise Sam uses `relay` too.
    let samRelay: RelayProcess?
    let alex: TemporaryJournal
    let sam: TemporaryJournal
    var alexPairing = "", samPairing = ""

    /// With `proxy`, every device reaches the relay through it (a relay that lies). With
    /// `splitOverPostgres`, Alex uses one relay process and Sam another, on one database.
    init(pair: Bool = true, relayOptions: [String] = [], via proxy: TamperingProxy? = nil, splitOverPostgres: Bool = false) async throws {
        relay = try await RelayProcess(options: relayOptions + (proxy.map { ["--public-url", $0.base] } ?? []),
                                       backend: splitOverPostgres ? .postgres : .sqlite)
        samRelay = splitOverPostgres ? try await RelayProcess(options: relayOptions, postgresURL: relay.postgresURL) : nil
        proxy?.forward(to: relay.port)
        let base = proxy?.base ?? relay.base
        alex = try await TemporaryJournal(name: "Alex", initOptions: ["--device", "Alex's laptop", "--relay", base])
        sam = try await TemporaryJournal(name: "Sam", initOptions: ["--device", "Sam's phone", "--relay", samRelay?.base ?? base])
        if pair { try await self.pair() }
    }

    /// Alex invites, Sam accepts the code Alex printed; both runs must succeed.
    func pair() async throws {
        let invite = try alex.background(["pair", "invite", "--timeout", "60"])
        guard let code = await invite.firstLine() else { throw TestFailure("no code: \(await invite.finish().stderr)") }
        let accept = try await sam.duet(["pair", "accept", code])
        let invited = await invite.finish()
        guard accept.status == 0, invited.status == 0 else {
            throw TestFailure("pairing failed: accept \(accept.stderr) invite \(invited.stderr)")
        }
        alexPairing = invited.stdout
        samPairing = accept.stdout
    }

    func syncBoth() async throws {
        for journal in [alex, sam, alex] {
            let run = try await journal.duet(["sync"])
            guard run.status == 0 else { throw TestFailure("sync failed: \(run.stderr)") }
        }
    }
}

extension TemporaryJournal {
    func background(_ arguments: [String]) throws -> BackgroundRun {
        try BackgroundRun("duet", arguments, environment: environment.merging(["DUET_HOME": home]) { $1 })
    }

    func show(_ id: String) async throws -> [String: Any] {
        let run = try await duet(["show", id, "--json"])
        guard let object = run.json as? [String: Any] else { throw TestFailure("show failed: \(run.stderr)") }
        return object
    }

    func list(_ options: [String] = []) async throws -> [[String: Any]] {
        let run = try await duet(["list", "--json"] + options)
        guard let array = run.json as? [[String: Any]] else { throw TestFailure("list failed: \(run.stderr)") }
        return array
    }

    func status() async throws -> [String: Any] {
        (try await duet(["status", "--json"], withoutPassphrase: true).json as? [String: Any]) ?? [:]
    }

    /// Whether any file under the home holds `bytes`.
    func holds(_ bytes: [UInt8]) throws -> Bool {
        try files().contains { $0.bytes.range(of: Data(bytes)) != nil }
    }
}


/// Pairing through `duet` and `duet-relay` processes, end to end; what pairing means (codes,
/// authorship, shared and private entries, linked devices) is tested in process, in
/// DuetDeviceTests.
@Suite("duet pair, end to end")
struct PairingTests {
    @Test("Both partners print the same 60-digit safety number and name each other")
    func safetyNumbers() async throws {
        let couple = try await Couple()
        func number(_ text: String) -> String? {
            text.split(separator: "\n").first { $0.hasPrefix("Safety number: ") }.map { String($0.dropFirst(15)) }
        }
        let alexNumber = try #require(number(couple.alexPairing), "\(couple.alexPairing)")
        #expect(alexNumber == number(couple.samPairing))
        #expect(alexNumber.filter(\.isNumber).count == 60)
        #expect(couple.alexPairing.contains("Paired with Sam."))
        #expect(couple.samPairing.contains("Paired with Alex."))
        let status = try #require(try await couple.sam.duet(["pair", "status", "--json"], withoutPassphrase: true).json as? [String: Any])
        #expect(status["partner"] as? String == "Alex")
        #expect(status["safetyNumber"] as? String == alexNumber)
        let devices = try #require(status["devices"] as? [[String: Any]])
        #expect(devices.map { $0["name"] as? String } == ["Alex's laptop", "Sam's phone"])
        #expect(devices.map { $0["person"] as? String } == ["Alex", "Sam"])
        #expect(devices.allSatisfy { $0["removed"] is NSNull }, "a device still in the space has removed: null, not a missing key")
        #expect(try await couple.alex.status()["partner"] as? String == "Sam")
    }

    @Test("--json prints the code first, then the partner and safety number, one object per line")
    func jsonLines() async throws {
        let couple = try await Couple(pair: false)
        let invite = try couple.alex.background(["pair", "invite", "--json", "--timeout", "60"])
        let first = try #require(await invite.firstLine())
        let code = try #require((try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: String])?["code"])
        let accept = try await couple.sam.duet(["pair", "accept", code, "--json"])
        let invited = await invite.finish()
        #expect(invited.status == 0 && accept.status == 0, "\(invited.stderr) \(accept.stderr)")
        let alexLine = try #require(try JSONSerialization.jsonObject(with: Data(invited.stdout.utf8)) as? [String: String])
        let samLine = try #require(accept.json as? [String: String])
        #expect(alexLine["partner"] == "Sam" && samLine["partner"] == "Alex")
        #expect(alexLine["safetyNumber"] != nil && alexLine["safetyNumber"] == samLine["safetyNumber"])
    }

    @Test("With the relay unreachable, invite, accept, link, join and recover fail with one clear line and change nothing")
    func relayUnreachable() async throws {
        let down = "http://127.0.0.1:9"
        let alex = try await TemporaryJournal(name: "Alex", initOptions: ["--relay", down])
        let before = try alex.files()
        for arguments in [["pair", "invite", "--timeout", "5"], ["pair", "accept", "00000-00000-00000-00000-00000-0"], ["device", "link", "--timeout", "5"]] {
            let run = try await alex.duet(arguments)
            #expect(run.status != 0 && run.errorLine.contains("cannot be reached"), "\(arguments): \(run.stderr)")
        }
        #expect(try await alex.status()["partner"] is NSNull)
        #expect(try alex.files().map(\.bytes) == before.map(\.bytes), "the store is byte for byte as it was")
        let fresh = try await TemporaryJournal(name: "Alex", initialise: false)
        for arguments in [["device", "join", "00000-00000-00000-00000-00000-0", "--relay", down], ["recover", "00000-00000-00000-00000-00000-0", "--relay", down]] {
            let run = try await fresh.duet(arguments)
            #expect(run.status != 0 && run.errorLine.contains("cannot be reached"), "\(arguments): \(run.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: fresh.home + "/duet.sqlite"), "nothing was created")
    }

    @Test("Without a partner, shared writing is refused with what to do")
    func unpaired() async throws {
        let journal = try await TemporaryJournal()
        let run = try await journal.duet(["write", "--shared", "-m", "hello"])
        #expect(run.status != 0 && run.errorLine.contains("pair first"), "\(run.stderr)")
        #expect(try await journal.list().isEmpty, "nothing was written")
    }
}
