import DuetTesting
import Foundation
import Testing

@Suite("duet init's recovery code and duet recover")
struct RecoveryTests {
    @Test("The code is shown once (stderr, or JSON), never stored on the device, and restores identity, private and shared entries")
    func recovery() throws {
        let relay = try RelayProcess()
        let alex = try TemporaryJournal(name: "Alex", initialise: false)
        let created = try alex.duet(["init", "--name", "Alex", "--device", "Alex's laptop", "--relay", relay.base])
        #expect(created.status == 0)
        let code = try #require(created.stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.count == 31 && $0.filter { $0 == "-" }.count == 5 })
        #expect(!created.stdout.contains(code), "the code goes to stderr, not to captured stdout")
        for form in [code, code.replacingOccurrences(of: "-", with: "")] {
            #expect(try !alex.holds(Array(form.utf8)), "the recovery code is not on the device")
        }
        let json = try TemporaryJournal(name: "Kim", initialise: false)
        let jsonRun = try json.duet(["init", "--name", "Kim", "--json"])
        #expect(((jsonRun.json as? [String: Any])?["recoveryCode"] as? String)?.count == 31)
        #expect(jsonRun.stderr.isEmpty)

        let privateEntry = try alex.write("private, before the laptop was lost")
        #expect(try alex.duet(["sync"]).status == 0)
        // Paired after the first upload: the next sync refreshes the blob with the couple space.
        let sam = try TemporaryJournal(name: "Sam", initOptions: ["--relay", relay.base])
        let couple = CoupleOf(relay: relay, alex: alex, sam: sam)
        try couple.pair()
        let shared = try alex.write("shared, before the laptop was lost", ["--shared"])
        #expect(try alex.duet(["sync"]).status == 0)

        let newLaptop = try TemporaryJournal(name: "Alex", initialise: false)
        let recovered = try newLaptop.duet(["recover", code.lowercased(), "--relay", relay.base, "--device", "Alex's new laptop"])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(try newLaptop.show(privateEntry)["body"] as? String == "private, before the laptop was lost")
        #expect(try newLaptop.show(shared)["author"] as? String == "Alex")
        let fromNew = try newLaptop.write("written on the recovered laptop", ["--shared"])
        #expect(try newLaptop.duet(["sync"]).status == 0)
        #expect(try sam.duet(["sync"]).status == 0)
        #expect(try sam.show(fromNew)["author"] as? String == "Alex")
        let devices = try #require(try sam.duet(["pair", "status", "--json"], withoutPassphrase: true).json as? [String: Any])
        #expect((devices["devices"] as? [[String: Any]])?.compactMap { $0["name"] as? String }.contains("Alex's new laptop") == true)
    }

    @Test("Recovered right after a revocation, with no sync in between: the new device reads what is written under the new key")
    func recoveryAfterRevocation() throws {
        // Found by a new-user trial: the blob was refreshed only by `duet sync`, so a device
        // recovered after a revocation held only the old epoch's key and read nothing newer,
        // with a warning that blamed the relay.
        let relay = try RelayProcess()
        let alex = try TemporaryJournal(name: "Alex", initialise: false)
        let created = try alex.duet(["init", "--name", "Alex", "--device", "Alex's laptop", "--relay", relay.base])
        let code = try #require(created.stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.count == 31 && $0.filter { $0 == "-" }.count == 5 })
        let sam = try TemporaryJournal(name: "Sam", initOptions: ["--relay", relay.base])
        let couple = CoupleOf(relay: relay, alex: alex, sam: sam)
        try couple.pair()
        #expect(try alex.duet(["sync"]).status == 0)
        let phone = try Couple.link(alex, relay: relay, named: "Alex's phone")
        _ = phone
        #expect(try alex.duet(["device", "revoke", "Alex's phone"]).status == 0)
        #expect(try sam.duet(["sync"]).status == 0)
        let after = try sam.write("written under the new key", ["--shared"])
        #expect(try sam.duet(["sync"]).status == 0)
        let newLaptop = try TemporaryJournal(name: "Alex", initialise: false)
        let recovered = try newLaptop.duet(["recover", code, "--relay", relay.base, "--device", "Alex's new laptop"])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(try newLaptop.show(after)["body"] as? String == "written under the new key")
        #expect((try newLaptop.status()["warnings"] as? [String]) == [])
    }

    @Test("A wrong or malformed code, or a relay with nothing kept, creates nothing")
    func refusals() throws {
        let relay = try RelayProcess()
        let target = try TemporaryJournal(name: "Alex", initialise: false)
        let wrong = try target.duet(["recover", "00000-00000-00000-00000-00000-0", "--relay", relay.base])
        #expect(wrong.status != 0 && wrong.errorLine.contains("keeps nothing under that recovery code"), "\(wrong.stderr)")
        let malformed = try target.duet(["recover", "not-a-code", "--relay", relay.base])
        #expect(malformed.status != 0 && malformed.errorLine.contains("not a recovery code"), "\(malformed.stderr)")
        let noRelay = try target.duet(["recover", "00000-00000-00000-00000-00000-0"])
        #expect(noRelay.status != 0 && noRelay.errorLine.contains("--relay"), "\(noRelay.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target.home + "/duet.sqlite"))
    }
}

/// Pairing two journals made elsewhere (the recovery test makes Alex's by hand).
struct CoupleOf {
    let relay: RelayProcess
    let alex: TemporaryJournal
    let sam: TemporaryJournal

    func pair() throws {
        let invite = try alex.background(["pair", "invite", "--timeout", "60"])
        guard let code = invite.firstLine() else { throw TestFailure("no code: \(invite.finish().stderr)") }
        let accept = try sam.duet(["pair", "accept", code])
        guard accept.status == 0, invite.finish().status == 0 else { throw TestFailure("pairing failed: \(accept.stderr)") }
    }
}
