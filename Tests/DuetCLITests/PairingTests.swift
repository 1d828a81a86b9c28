import DuetTesting
import Foundation
import Testing

/// Two partners, each with a journal of their own, and a real relay on loopback.
final class Couple {
    let relay: RelayProcess
    let alex: TemporaryJournal
    let sam: TemporaryJournal
    var alexPairing = "", samPairing = ""

    /// With `proxy`, every device reaches the relay through it (a relay that lies).
    init(pair: Bool = true, relayOptions: [String] = [], via proxy: TamperingProxy? = nil) throws {
        relay = try RelayProcess(options: relayOptions + (proxy.map { ["--public-url", $0.base] } ?? []))
        proxy?.forward(to: relay.port)
        let base = proxy?.base ?? relay.base
        alex = try TemporaryJournal(name: "Alex", initOptions: ["--device", "Alex's laptop", "--relay", base])
        sam = try TemporaryJournal(name: "Sam", initOptions: ["--device", "Sam's phone", "--relay", base])
        if pair { try self.pair() }
    }

    /// Alex invites, Sam accepts the code Alex printed; both runs must succeed.
    func pair() throws {
        let invite = try alex.background(["pair", "invite", "--timeout", "60"])
        guard let code = invite.firstLine() else { throw TestFailure("no code: \(invite.finish().stderr)") }
        let accept = try sam.duet(["pair", "accept", code])
        let invited = invite.finish()
        guard accept.status == 0, invited.status == 0 else {
            throw TestFailure("pairing failed: accept \(accept.stderr) invite \(invited.stderr)")
        }
        alexPairing = invited.stdout
        samPairing = accept.stdout
    }

    func syncBoth() throws {
        for journal in [alex, sam, alex] {
            let run = try journal.duet(["sync"])
            guard run.status == 0 else { throw TestFailure("sync failed: \(run.stderr)") }
        }
    }
}

extension TemporaryJournal {
    func background(_ arguments: [String]) throws -> BackgroundRun {
        try BackgroundRun("duet", arguments, environment: environment.merging(["DUET_HOME": home]) { $1 })
    }

    func show(_ id: String) throws -> [String: Any] {
        let run = try duet(["show", id, "--json"])
        guard let object = run.json as? [String: Any] else { throw TestFailure("show failed: \(run.stderr)") }
        return object
    }

    func list(_ options: [String] = []) throws -> [[String: Any]] {
        let run = try duet(["list", "--json"] + options)
        guard let array = run.json as? [[String: Any]] else { throw TestFailure("list failed: \(run.stderr)") }
        return array
    }

    func status() throws -> [String: Any] {
        (try duet(["status", "--json"], withoutPassphrase: true).json as? [String: Any]) ?? [:]
    }

    /// Whether any file under the home holds `bytes`.
    func holds(_ bytes: [UInt8]) throws -> Bool {
        try files().contains { $0.bytes.range(of: Data(bytes)) != nil }
    }
}

func hexBytes(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex, let next = text.index(index, offsetBy: 2, limitedBy: text.endIndex),
          let byte = UInt8(text[index..<next], radix: 16) {
        bytes.append(byte)
        index = next
    }
    return bytes
}

@Suite("duet pair, shared entries and authorship")
struct PairingTests {
    @Test("Both partners print the same 60-digit safety number and name each other")
    func safetyNumbers() throws {
        let couple = try Couple()
        func number(_ text: String) -> String? {
            text.split(separator: "\n").first { $0.hasPrefix("Safety number: ") }.map { String($0.dropFirst(15)) }
        }
        let alexNumber = try #require(number(couple.alexPairing), "\(couple.alexPairing)")
        #expect(alexNumber == number(couple.samPairing))
        #expect(alexNumber.filter(\.isNumber).count == 60)
        #expect(couple.alexPairing.contains("Paired with Sam."))
        #expect(couple.samPairing.contains("Paired with Alex."))
        let status = try #require(try couple.sam.duet(["pair", "status", "--json"], withoutPassphrase: true).json as? [String: Any])
        #expect(status["partner"] as? String == "Alex")
        #expect(status["safetyNumber"] as? String == alexNumber)
        let devices = try #require(status["devices"] as? [[String: Any]])
        #expect(devices.map { $0["name"] as? String } == ["Alex's laptop", "Sam's phone"])
        #expect(devices.map { $0["person"] as? String } == ["Alex", "Sam"])
        #expect(try couple.alex.status()["partner"] as? String == "Sam")
    }

    @Test("--json prints the code first, then the partner and safety number, one object per line")
    func jsonLines() throws {
        let couple = try Couple(pair: false)
        let invite = try couple.alex.background(["pair", "invite", "--json", "--timeout", "60"])
        let first = try #require(invite.firstLine())
        let code = try #require((try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: String])?["code"])
        let accept = try couple.sam.duet(["pair", "accept", code, "--json"])
        let invited = invite.finish()
        #expect(invited.status == 0 && accept.status == 0, "\(invited.stderr) \(accept.stderr)")
        let alexLine = try #require(try JSONSerialization.jsonObject(with: Data(invited.stdout.utf8)) as? [String: String])
        let samLine = try #require(accept.json as? [String: String])
        #expect(alexLine["partner"] == "Sam" && samLine["partner"] == "Alex")
        #expect(alexLine["safetyNumber"] != nil && alexLine["safetyNumber"] == samLine["safetyNumber"])
    }

    @Test("A wrong, malformed, reused or expired code is refused with one clear line and pairs nothing")
    func badCodes() throws {
        let couple = try Couple(pair: false)
        let wrong = try couple.sam.duet(["pair", "accept", "00000-00000-00000-00000-00000-0"])
        #expect(wrong.status != 0)
        #expect(wrong.errorLine.hasPrefix("error: no invitation waits under this code"), "\(wrong.stderr)")
        let malformed = try couple.sam.duet(["pair", "accept", "not-a-code"])
        #expect(malformed.status != 0 && malformed.errorLine.hasPrefix("error: that is not a pairing code"), "\(malformed.stderr)")

        // Expired: the inviter gives up and keeps nothing.
        let expired = try couple.alex.background(["pair", "invite", "--timeout", "1"])
        let staleCode = try #require(expired.firstLine())
        let gaveUp = expired.finish()
        #expect(gaveUp.status != 0 && gaveUp.stderr.contains("no answer from your partner in time"), "\(gaveUp.stderr)")
        #expect(try couple.alex.status()["partner"] is NSNull)
        #expect(try couple.sam.status()["partner"] is NSNull, "the failed attempts left Sam unpaired")
        _ = staleCode

        // Reused: after a pairing, the same code finds nothing for a third person.
        let invite = try couple.alex.background(["pair", "invite", "--timeout", "60"])
        let code = try #require(invite.firstLine())
        #expect(try couple.sam.duet(["pair", "accept", code]).status == 0)
        #expect(invite.finish().status == 0)
        let kim = try TemporaryJournal(name: "Kim", initOptions: ["--relay", couple.relay.base])
        let reused = try kim.duet(["pair", "accept", code])
        #expect(reused.status != 0 && reused.errorLine.contains("already used"), "\(reused.stderr)")
        #expect(try kim.status()["partner"] is NSNull)
        // Pairing twice is refused too.
        let again = try couple.sam.duet(["pair", "invite", "--timeout", "1"])
        #expect(again.status != 0 && again.errorLine.contains("already paired with Alex"), "\(again.stderr)")
    }

    @Test("Shared entries reach the partner under their verified author; private ones never leave their owner")
    func sharedAndPrivate() throws {
        let couple = try Couple()
        let secret = try couple.alex.write("PRIVATE-MARKER only Alex may read this", ["--title", "mine"])
        let shared = try couple.alex.write("We walked by the river.", ["--shared", "--title", "Sunday", "--factor", "delight"])
        try couple.syncBoth()
        let samShared = try couple.sam.write("Thank you for Sunday.", ["--shared", "--reply-to", shared])
        try couple.syncBoth()

        let onSam = try couple.sam.show(shared)
        #expect(onSam["space"] as? String == "shared")
        #expect(onSam["author"] as? String == "Alex")
        #expect(onSam["body"] as? String == "We walked by the river.")
        let alexDevice = try #require(try couple.alex.show(secret)["authorDevice"] as? String)
        #expect(onSam["authorDevice"] as? String == alexDevice, "the author device is the one that signed")
        let reply = try couple.alex.show(samShared)
        #expect(reply["author"] as? String == "Sam" && reply["replyTo"] as? String == shared)

        // Alex's private entry: not listed on Sam's device, not even its sealed form.
        #expect(try couple.sam.list().allSatisfy { $0["id"] as? String != secret })
        let missing = try couple.sam.duet(["show", secret])
        #expect(missing.status != 0 && missing.errorLine.contains("no entry"), "\(missing.stderr)")
        let alexPrivateSpace = try #require((try couple.alex.status()["spaces"] as? [String: String])?["private"])
        #expect(try !couple.sam.holds(hexBytes(alexPrivateSpace)), "nothing of Alex's private space is on Sam's device")
        #expect(try couple.alex.files().allSatisfy { $0.bytes.range(of: Data("PRIVATE-MARKER".utf8)) == nil })
        for path in FileManager.default.subpaths(atPath: couple.relay.data) ?? [] {
            let data = (try? Data(contentsOf: URL(fileURLWithPath: couple.relay.data + "/" + path))) ?? Data()
            for marker in ["PRIVATE-MARKER", "river", "Thank you"] {
                #expect(data.range(of: Data(marker.utf8)) == nil, "plaintext '\(marker)' in the relay's \(path)")
            }
        }

        // Filters by space and author, from each side.
        #expect(try couple.sam.list(["--shared"]).count == 2)
        #expect(try couple.sam.list(["--private"]).isEmpty)
        #expect(try couple.sam.list(["--author", "partner"]).map { $0["id"] as? String } == [shared])
        #expect(try couple.alex.list(["--author", "me"]).compactMap { $0["id"] as? String }.sorted() == [secret, shared].sorted())
    }

    @Test("Concurrent offline edits of one shared body by both partners both survive, identically on both")
    func concurrentEdits() throws {
        let couple = try Couple()
        let id = try couple.alex.write("The middle.", ["--shared"])
        try couple.syncBoth()
        #expect(try couple.alex.duet(["edit", id, "-m", "Alex's opening. The middle."]).status == 0)
        #expect(try couple.sam.duet(["edit", id, "-m", "The middle. Sam's ending."]).status == 0)
        try couple.syncBoth()
        let alexView = try couple.alex.show(id), samView = try couple.sam.show(id)
        #expect(alexView["body"] as? String == "Alex's opening. The middle. Sam's ending.")
        #expect(samView["body"] as? String == alexView["body"] as? String)
        // Who typed what, from the signing devices.
        let history = try #require(try couple.sam.duet(["show", id, "--history", "--json"]).json as? [String: Any])
        let runs = try #require((history["history"] as? [String: Any])?["text"] as? [[String: String]])
        #expect(runs.map { $0["by"] ?? "" } == ["Alex", "Sam"])
        #expect(runs.last?["text"] == " Sam's ending.")
    }

    @Test("ack marks the partner's shared entry as read; share copies a private entry; misuse is refused")
    func ackAndShare() throws {
        let couple = try Couple()
        let shared = try couple.alex.write("Please read this.", ["--shared"])
        let privateEntry = try couple.alex.write("Something I am ready to show.", ["--title", "Ready", "--factor", "exploration"])
        try couple.syncBoth()
        #expect(try couple.sam.duet(["ack", shared]).status == 0)
        let twice = try couple.sam.duet(["ack", shared])
        #expect(twice.status != 0 && twice.errorLine.contains("already acknowledged"), "\(twice.stderr)")
        let own = try couple.alex.duet(["ack", shared])
        #expect(own.status != 0 && own.errorLine.contains("your own"), "\(own.stderr)")
        let priv = try couple.alex.duet(["ack", privateEntry])
        #expect(priv.status != 0 && priv.errorLine.contains("private"), "\(priv.stderr)")
        try couple.syncBoth()
        let acks = try #require(try couple.alex.show(shared)["acks"] as? [[String: String]])
        #expect(acks.map { $0["by"] } == ["Sam"])

        let copy = try #require(try couple.alex.duet(["share", privateEntry]).stdout.split(separator: "\n").first.map(String.init))
        #expect(copy != privateEntry)
        #expect(try couple.alex.show(privateEntry)["space"] as? String == "private", "the original stays private")
        try couple.syncBoth()
        let onSam = try couple.sam.show(copy)
        #expect(onSam["space"] as? String == "shared" && onSam["title"] as? String == "Ready")
        #expect(onSam["body"] as? String == "Something I am ready to show." && onSam["factors"] as? [String] == ["exploration"])
        let again = try couple.alex.duet(["share", copy])
        #expect(again.status != 0 && again.errorLine.contains("already shared"), "\(again.stderr)")
    }

    @Test("Delivery receipts: once the partner's device writes after receiving an entry, the author sees it delivered there")
    func deliveryReceipts() throws {
        let couple = try Couple()
        let id = try couple.alex.write("Did this reach you?", ["--shared"])
        #expect(try couple.alex.duet(["sync"]).status == 0)
        #expect((try couple.alex.duet(["show", id, "--history", "--json"]).json as? [String: Any])?["deliveredTo"] as? [String] == [])
        #expect(try couple.sam.duet(["sync"]).status == 0)
        #expect(try couple.sam.duet(["ack", id]).status == 0)
        #expect(try couple.sam.duet(["sync"]).status == 0)
        #expect(try couple.alex.duet(["sync"]).status == 0)
        let shown = try #require(try couple.alex.duet(["show", id, "--history", "--json"]).json as? [String: Any])
        #expect(shown["deliveredTo"] as? [String] == ["Sam (Sam's phone)"])
        #expect(try couple.alex.duet(["show", id]).stdout.contains("delivered to: Sam (Sam's phone)"))
        // A newer edit by Alex is not delivered until Sam's device writes again.
        #expect(try couple.alex.duet(["edit", id, "-m", "Did this reach you? Edited."]).status == 0)
        #expect((try couple.alex.duet(["show", id, "--history", "--json"]).json as? [String: Any])?["deliveredTo"] as? [String] == [])
    }

    @Test("With the relay unreachable, invite, accept, link, join and recover fail with one clear line and change nothing")
    func relayUnreachable() throws {
        let down = "http://127.0.0.1:9"
        let alex = try TemporaryJournal(name: "Alex", initOptions: ["--relay", down])
        let before = try alex.files()
        for arguments in [["pair", "invite", "--timeout", "5"], ["pair", "accept", "00000-00000-00000-00000-00000-0"], ["device", "link", "--timeout", "5"]] {
            let run = try alex.duet(arguments)
            #expect(run.status != 0 && run.errorLine.contains("cannot be reached"), "\(arguments): \(run.stderr)")
        }
        #expect(try alex.status()["partner"] is NSNull)
        #expect(try alex.files().map(\.bytes) == before.map(\.bytes), "the store is byte for byte as it was")
        let fresh = try TemporaryJournal(name: "Alex", initialise: false)
        for arguments in [["device", "join", "00000-00000-00000-00000-00000-0", "--relay", down], ["recover", "00000-00000-00000-00000-00000-0", "--relay", down]] {
            let run = try fresh.duet(arguments)
            #expect(run.status != 0 && run.errorLine.contains("cannot be reached"), "\(arguments): \(run.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: fresh.home + "/duet.sqlite"), "nothing was created")
    }

    @Test("Without a partner, shared writing is refused with what to do")
    func unpaired() throws {
        let journal = try TemporaryJournal()
        let run = try journal.duet(["write", "--shared", "-m", "hello"])
        #expect(run.status != 0 && run.errorLine.contains("pair first"), "\(run.stderr)")
        #expect(try journal.list().isEmpty, "nothing was written")
    }
}

@Suite("Every device of a person is in the couple space, and the relay learns no names")
struct AllDevicesPairingTests {
    @Test("Devices linked before pairing join the couple space (both partners'); they read and write shared entries")
    func linkedBeforePairing() throws {
        let couple = try Couple(pair: false)
        let alexPhone = try Couple.link(couple.alex, relay: couple.relay, named: "Alex's phone")
        let samTablet = try Couple.link(couple.sam, relay: couple.relay, named: "Sam's tablet")
        try couple.pair()
        let fromSam = try couple.sam.write("for both of your devices", ["--shared"])
        #expect(try couple.sam.duet(["sync"]).status == 0)
        // Alex's phone never paired: its own directory tells it which couple space Alex joined.
        #expect(try alexPhone.duet(["sync"]).status == 0)
        #expect(try alexPhone.show(fromSam)["body"] as? String == "for both of your devices")
        #expect(try alexPhone.status()["partner"] as? String == "Sam")
        let fromPhone = try alexPhone.write("from Alex's phone", ["--shared"])
        #expect(try alexPhone.duet(["sync"]).status == 0)
        #expect(try samTablet.duet(["sync"]).status == 0)
        #expect(try samTablet.show(fromPhone)["author"] as? String == "Alex")
        #expect(try samTablet.show(fromSam)["body"] as? String == "for both of your devices")
        let status = try #require(try samTablet.duet(["pair", "status", "--json"], withoutPassphrase: true).json as? [String: Any])
        let names = Set((status["devices"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? [])
        #expect(names == ["Alex's laptop", "Alex's phone", "Sam's phone", "Sam's tablet"], "\(names)")
        for journal in [couple.alex, couple.sam, alexPhone, samTablet] {
            #expect((try journal.status()["warnings"] as? [String]) == [], "no warning in honest use")
        }
    }

    @Test("A device linked from another device the pairing device never synced with still joins the couple space")
    func linkedElsewhereBeforePairing() throws {
        // Found by the second adversarial review: pairing read the personal log without syncing it.
        let couple = try Couple(pair: false)
        let phone = try Couple.link(couple.alex, relay: couple.relay, named: "Alex's phone")
        let tablet = try Couple.link(phone, relay: couple.relay, named: "Alex's tablet")
        try couple.pair()
        let fromSam = try couple.sam.write("to all of Alex's devices", ["--shared"])
        #expect(try couple.sam.duet(["sync"]).status == 0)
        #expect(try tablet.duet(["sync"]).status == 0)
        #expect(try tablet.show(fromSam)["body"] as? String == "to all of Alex's devices")
        #expect((try tablet.status()["warnings"] as? [String]) == [])
    }

    @Test("A device linked before pairing cannot pair with a second partner: it is told it is paired on another device")
    func noSecondPartner() throws {
        // Found by a new-user trial: the phone, not yet synced, said "not paired" and invited someone else.
        let couple = try Couple(pair: false)
        let phone = try Couple.link(couple.alex, relay: couple.relay, named: "Alex's phone")
        try couple.pair()
        let second = try phone.duet(["pair", "invite", "--timeout", "5"])
        #expect(second.status != 0 && second.errorLine.contains("already paired with Sam on another of your devices"), "\(second.stderr)")
        #expect(try phone.duet(["sync"]).status == 0)
        #expect(try phone.status()["partner"] as? String == "Sam")
        // Publishing directories converges: another sync changes nothing.
        let again = try phone.duet(["sync"])
        #expect(again.status == 0)
        #expect(!again.stdout.contains("device change"), "\(again.stdout)")
    }

    @Test("Device and person names never reach the relay's files: certificates carry keys and times, names travel sealed")
    func relayLearnsNoNames() throws {
        let couple = try Couple()
        _ = try couple.linkAlexDevice(named: "Alex's phone")
        _ = try couple.alex.write("shared", ["--shared"])
        try couple.syncBoth()
        #expect(couple.relay.terminate() == 0)
        var relayBytes = Data()
        for suffix in ["", "-wal"] {
            if let data = FileManager.default.contents(atPath: couple.relay.data + "/relay.sqlite" + suffix) { relayBytes.append(data) }
        }
        #expect(relayBytes.count > 10_000)
        for name in ["Alex's laptop", "Alex's phone", "Sam's phone", "Alex", "Sam"] {
            #expect(relayBytes.range(of: Data(name.utf8)) == nil, "the relay holds “\(name)”")
        }
        // The partner still sees every name.
        let status = try #require(try couple.sam.duet(["pair", "status", "--json"], withoutPassphrase: true).json as? [String: Any])
        #expect(Set((status["devices"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []) == ["Alex's laptop", "Alex's phone", "Sam's phone"])
    }
}
