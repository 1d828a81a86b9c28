import DuetTesting
import Foundation
import GRDB
import Testing

extension Couple {
    /// Links a new device for Alex in a fresh home; returns it once `join` has synced.
    func linkAlexDevice(named name: String) throws -> TemporaryJournal {
        try Self.link(alex, relay: relay, named: name)
    }

    /// Links a new device of `journal`'s person in a fresh home; returns it once `join` has synced.
    static func link(_ alex: TemporaryJournal, relay: RelayProcess, named name: String) throws -> TemporaryJournal {
        try link(alex, base: relay.base, named: name)
    }

    /// The same through the relay at `base` (a proxy in front of it, say).
    static func link(_ alex: TemporaryJournal, base: String, named name: String) throws -> TemporaryJournal {
        let phone = try TemporaryJournal(name: "Alex", initialise: false)
        let link = try alex.background(["device", "link", "--timeout", "60"])
        guard let code = link.firstLine() else { throw TestFailure("no link code: \(link.finish().stderr)") }
        let join = try phone.duet(["device", "join", code, "--relay", base, "--device", name])
        let linked = link.finish()
        guard join.status == 0, linked.status == 0 else { throw TestFailure("linking failed: \(join.stderr) \(linked.stderr)") }
        return phone
    }
}

@Suite("duet device link, join, list and revoke")
struct DeviceTests {
    @Test("A linked device reads everything written before, writes as the same person, and everyone sees it")
    func linking() throws {
        let couple = try Couple()
        let privateBefore = try couple.alex.write("private, before the phone", ["--title", "before"])
        let sharedBefore = try couple.alex.write("shared, before the phone", ["--shared"])
        #expect(try couple.alex.duet(["sync"]).status == 0)
        let phone = try couple.linkAlexDevice(named: "Alex's phone")

        #expect(try phone.show(privateBefore)["body"] as? String == "private, before the phone")
        #expect(try phone.show(sharedBefore)["author"] as? String == "Alex")
        let fromPhone = try phone.write("private, from the phone")
        #expect(try phone.duet(["sync"]).status == 0)
        #expect(try couple.alex.duet(["sync"]).status == 0)
        let onLaptop = try couple.alex.show(fromPhone)
        #expect(onLaptop["author"] as? String == "Alex" && onLaptop["space"] as? String == "private")

        // The partner sees the new device, named, and never the private entries.
        #expect(try couple.sam.duet(["sync"]).status == 0)
        let status = try #require(try couple.sam.duet(["pair", "status", "--json"], withoutPassphrase: true).json as? [String: Any])
        let partnerDevices = (status["devices"] as? [[String: Any]])?.filter { $0["isMine"] as? Bool == false }
        #expect(partnerDevices?.compactMap { $0["name"] as? String } == ["Alex's laptop", "Alex's phone"])
        #expect(partnerDevices?.allSatisfy { $0["person"] as? String == "Alex" } == true)
        let everyone = (status["people"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(everyone == ["Sam", "Alex"], "both identities of the couple space")
        #expect(try couple.sam.list().compactMap { $0["id"] as? String } == [sharedBefore])
        let devices = try #require(try phone.duet(["device", "list", "--json"], withoutPassphrase: true).json as? [[String: Any]])
        #expect(devices.filter { $0["thisDevice"] as? Bool == true }.map { $0["name"] as? String } == ["Alex's phone"])
    }

    @Test("A wrong link code creates nothing on the new device")
    func badJoin() throws {
        let couple = try Couple(pair: false)
        let phone = try TemporaryJournal(name: "Alex", initialise: false)
        let run = try phone.duet(["device", "join", "00000-00000-00000-00000-00000-0", "--relay", couple.relay.base, "--timeout", "1"])
        #expect(run.status != 0 && run.errorLine.contains("did not answer in time"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: phone.home + "/duet.sqlite"), "no journal was created")
        let malformed = try phone.duet(["device", "join", "nonsense", "--relay", couple.relay.base])
        #expect(malformed.status != 0 && malformed.errorLine.contains("not a link code"), "\(malformed.stderr)")
    }

    @Test("Revoking a device removes it at the relay, rotates the keys, and it cannot read anything written after")
    func revocation() throws {
        let couple = try Couple()
        let phone = try couple.linkAlexDevice(named: "Alex's phone")
        let before = try couple.alex.write("shared, before the revocation", ["--shared"])
        #expect(try couple.alex.duet(["sync"]).status == 0)
        #expect(try phone.duet(["sync"]).status == 0)
        #expect(try phone.show(before)["body"] as? String == "shared, before the revocation")

        let own = try couple.alex.duet(["device", "revoke", "Alex's laptop"])
        #expect(own.status != 0 && own.errorLine.contains("the device you are using"), "\(own.stderr)")
        let revoke = try couple.alex.duet(["device", "revoke", "Alex's phone"])
        #expect(revoke.status == 0, "\(revoke.stderr)")
        let after = try couple.alex.write("shared, after the revocation", ["--shared"])
        let privateAfter = try couple.alex.write("private, after the revocation")
        #expect(try couple.alex.duet(["sync"]).status == 0)

        // The partner learns the removal and reads what Alex writes under the new key.
        #expect(try couple.sam.duet(["sync"]).status == 0)
        #expect(try couple.sam.show(after)["body"] as? String == "shared, after the revocation")
        #expect(try couple.sam.show(before)["body"] as? String == "shared, before the revocation", "old entries stay readable")
        let devices = try #require(try couple.sam.duet(["device", "list", "--json"], withoutPassphrase: true).json as? [[String: Any]])
        #expect(devices.first { $0["name"] as? String == "Alex's phone" }?["removed"] is String)

        // The relay no longer serves the phone.
        let refused = try phone.duet(["sync"])
        #expect(refused.status != 0 && refused.errorLine.contains("not-a-member"), "\(refused.stderr)")

        // Even handed the new log and envelopes by a relay that colludes, the phone opens none.
        let relayDatabase = try DatabaseQueue(path: couple.relay.data + "/relay.sqlite")
        let (records, envelopes) = try relayDatabase.read { db in
            (try Row.fetchAll(db, sql: "SELECT space, idx, record FROM membership").map { ($0["space"] as Data, $0["idx"] as Int64, $0["record"] as Data) },
             try Row.fetchAll(db, sql: "SELECT space, device, seq, hash, bytes FROM envelopes").map {
                 ($0["space"] as Data, $0["device"] as Data, $0["seq"] as Int64, $0["hash"] as Data, $0["bytes"] as Data)
             })
        }
        let phoneDatabase = try DatabaseQueue(path: phone.home + "/duet.sqlite")
        try phoneDatabase.write { db in
            for (space, index, record) in records {
                try db.execute(sql: "INSERT OR IGNORE INTO membership (space, idx, bytes) VALUES (?, ?, ?)", arguments: [space, index, record])
            }
            for (space, device, seq, hash, bytes) in envelopes {
                try db.execute(sql: "INSERT OR IGNORE INTO envelopes (space, device, seq, hash, bytes) VALUES (?, ?, ?, ?, ?)",
                               arguments: [space, device, seq, hash, bytes])
            }
        }
        try phoneDatabase.close()
        let listed = try phone.list().compactMap { $0["id"] as? String }
        #expect(!listed.contains(after) && !listed.contains(privateAfter), "nothing sealed under the new keys opens on the revoked phone")
        #expect(listed.contains(before))
    }

    @Test("Lost the phone, revoked it, set up a new one: the new device reads everything the phone had synced, private and shared")
    func historyOutlivesRevocation() throws {
        let couple = try Couple()
        let phone = try couple.linkAlexDevice(named: "Alex's phone")
        let sharedFromPhone = try phone.write("shared, from the phone", ["--shared"])
        let privateFromPhone = try phone.write("private, from the phone")
        #expect(try phone.duet(["sync"]).status == 0)
        // The phone is lost; the laptop (which has not synced since) revokes it, and Alex links a tablet.
        let revoke = try couple.alex.duet(["device", "revoke", "Alex's phone"])
        #expect(revoke.status == 0, "\(revoke.stderr)")
        let tablet = try couple.linkAlexDevice(named: "Alex's tablet")
        for journal in [tablet, couple.alex] {
            #expect(try journal.show(sharedFromPhone)["body"] as? String == "shared, from the phone")
            #expect(try journal.show(privateFromPhone)["body"] as? String == "private, from the phone")
            #expect(try journal.show(privateFromPhone)["author"] as? String == "Alex")
            #expect((try journal.status()["warnings"] as? [String]) == [], "nothing stalls, nothing blames the relay")
        }
        #expect(try couple.sam.duet(["sync"]).status == 0)
        #expect(try couple.sam.show(sharedFromPhone)["body"] as? String == "shared, from the phone")
        #expect((try couple.sam.status()["warnings"] as? [String]) == [])
        // What the phone writes now never arrives: the relay refuses it everything.
        _ = try phone.write("written after the revocation", ["--shared"])
        #expect(try phone.duet(["sync"]).status != 0)
    }

    @Test("Every membership change made elsewhere shows as a notice until seen; pair status lists both people and every device")
    func membershipNotices() throws {
        let couple = try Couple()
        #expect((try couple.alex.status()["notices"] as? [String]) == [], "pairing itself is no news")
        // Sam links a tablet: Alex is told at the next sync, and Alex's laptop alone is not news to Alex.
        let tablet = try TemporaryJournal(name: "Sam", initialise: false)
        let link = try couple.sam.background(["device", "link", "--timeout", "60"])
        let code = try #require(link.firstLine())
        #expect(try tablet.duet(["device", "join", code, "--relay", couple.relay.base, "--device", "Sam's tablet"]).status == 0)
        #expect(link.finish().status == 0)
        #expect(try couple.alex.duet(["sync"]).status == 0)
        let notices = (try couple.alex.status()["notices"] as? [String]) ?? []
        #expect(notices == ["Sam added a device, “Sam's tablet”, to your shared space"], "\(notices)")
        let shown = try couple.alex.duet(["status"], withoutPassphrase: true)
        #expect(shown.stdout.contains("NOTICE:   Sam added a device, “Sam's tablet”"), "\(shown.stdout)")
        #expect((try couple.alex.status()["notices"] as? [String]) == [], "seen once shown")
        // Sam revokes it: Alex is told that too, and sees it in pair status.
        #expect(try couple.sam.duet(["device", "revoke", "Sam's tablet"]).status == 0)
        #expect(try couple.alex.duet(["sync"]).status == 0)
        #expect((try couple.alex.status()["notices"] as? [String]) == ["Sam removed the device “Sam's tablet” from your shared space; its key was changed"])
        let status = try #require(try couple.alex.duet(["pair", "status", "--json"], withoutPassphrase: true).json as? [String: Any])
        let devices = (status["devices"] as? [[String: Any]]) ?? []
        #expect(devices.map { $0["name"] as? String ?? "" } == ["Alex's laptop", "Sam's phone", "Sam's tablet"])
        #expect(devices.last?["removed"] is String && devices.first?["isMine"] as? Bool == true)
        let alexWarnings = try couple.alex.status()["warnings"] as? [String], samWarnings = try couple.sam.status()["warnings"] as? [String]
        #expect(alexWarnings == [] && samWarnings == [], "\(alexWarnings ?? []) \(samWarnings ?? [])")
    }

    @Test("A shared entry the partner deleted says who deleted it, in show and list --deleted")
    func deletedBy() throws {
        let couple = try Couple()
        let id = try couple.alex.write("ours to keep", ["--shared"])
        try couple.syncBoth()
        #expect(try couple.sam.duet(["delete", id]).status == 0)
        try couple.syncBoth()
        let shown = try couple.alex.duet(["show", id])
        #expect(shown.stdout.contains("deleted: by Sam (Sam's phone)"), "\(shown.stdout)")
        let deleted = try couple.alex.list(["--deleted"])
        #expect(deleted.first?["deletedBy"] as? String == "Sam (Sam's phone)")
        #expect(try couple.alex.duet(["list", "--deleted"]).stdout.contains("deleted by Sam (Sam's phone)"))
    }
}
