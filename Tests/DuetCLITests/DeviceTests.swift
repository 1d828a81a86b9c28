import DuetTesting
import Foundation
import Testing

extension Couple {
    /// Links a new device for Alex in a fresh home; returns it once `join` has synced.
    func linkAlexDevice(named name: String) async throws -> TemporaryJournal {
        try await Self.link(alex, relay: relay, named: name)
    }

    /// Links a new device of `journal`'s person in a fresh home; returns it once `join` has synced.
    static func link(_ alex: TemporaryJournal, relay: RelayProcess, named name: String) async throws -> TemporaryJournal {
        try await link(alex, base: relay.base, named: name)
    }

    /// The same through the relay at `base` (a proxy in front of it, say).
    static func link(_ alex: TemporaryJournal, base: String, named name: String) async throws -> TemporaryJournal {
        let phone = try await TemporaryJournal(name: "Alex", initialise: false)
        let link = try alex.background(["device", "link", "--timeout", "60"])
        guard let code = await link.firstLine() else { throw TestFailure("no link code: \(await link.finish().stderr)") }
        let join = try await phone.duet(["device", "join", code, "--relay", base, "--device", name])
        let linked = await link.finish()
        guard join.status == 0, linked.status == 0 else { throw TestFailure("linking failed: \(join.stderr) \(linked.stderr)") }
        return phone
    }
}

/// What `duet` shows of devices changing elsewhere; linking, joining and revoking themselves
/// are tested in process (DuetDeviceTests' DeviceLinkTests).
@Suite("duet device: notices and who deleted, as the CLI shows them")
struct DeviceTests {
    @Test("Every membership change made elsewhere shows as a notice until seen; pair status lists both people and every device")
    func membershipNotices() async throws {
        let couple = try await Couple()
        #expect((try await couple.alex.status()["notices"] as? [String]) == [], "pairing itself is no news")
        // Sam links a tablet: Alex is told at the next sync, and Alex's laptop alone is not news to Alex.
        let tablet = try await TemporaryJournal(name: "Sam", initialise: false)
        let link = try couple.sam.background(["device", "link", "--timeout", "60"])
        let code = try #require(await link.firstLine())
        #expect(try await tablet.duet(["device", "join", code, "--relay", couple.relay.base, "--device", "Sam's tablet"]).status == 0)
        #expect(await link.finish().status == 0)
        #expect(try await couple.alex.duet(["sync"]).status == 0)
        let notices = (try await couple.alex.status()["notices"] as? [String]) ?? []
        #expect(notices == ["Sam added a device, “Sam's tablet”, to your shared space"], "\(notices)")
        let shown = try await couple.alex.duet(["status"], withoutPassphrase: true)
        #expect(shown.stdout.contains("NOTICE:   Sam added a device, “Sam's tablet”"), "\(shown.stdout)")
        #expect((try await couple.alex.status()["notices"] as? [String]) == [], "seen once shown")
        // Sam revokes it: Alex is told that too, and sees it in pair status.
        #expect(try await couple.sam.duet(["device", "revoke", "Sam's tablet"]).status == 0)
        #expect(try await couple.alex.duet(["sync"]).status == 0)
        #expect((try await couple.alex.status()["notices"] as? [String]) == ["Sam removed the device “Sam's tablet” from your shared space; its key was changed"])
        let status = try #require(try await couple.alex.duet(["pair", "status", "--json"], withoutPassphrase: true).json as? [String: Any])
        let devices = (status["devices"] as? [[String: Any]]) ?? []
        #expect(devices.map { $0["name"] as? String ?? "" } == ["Alex's laptop", "Sam's phone", "Sam's tablet"])
        #expect(devices.last?["removed"] is String && devices.first?["isMine"] as? Bool == true)
        let alexWarnings = try await couple.alex.status()["warnings"] as? [String], samWarnings = try await couple.sam.status()["warnings"] as? [String]
        #expect(alexWarnings == [] && samWarnings == [], "\(alexWarnings ?? []) \(samWarnings ?? [])")
    }

    @Test("A shared entry the partner deleted says who deleted it, in show and list --deleted")
    func deletedBy() async throws {
        let couple = try await Couple()
        let id = try await couple.alex.write("ours to keep", ["--shared"])
        try await couple.syncBoth()
        #expect(try await couple.sam.duet(["delete", id]).status == 0)
        try await couple.syncBoth()
        let shown = try await couple.alex.duet(["show", id])
        #expect(shown.stdout.contains("deleted: by Sam (Sam's phone)"), "\(shown.stdout)")
        let deleted = try await couple.alex.list(["--deleted"])
        #expect(deleted.first?["deletedBy"] as? String == "Sam (Sam's phone)")
        #expect(try await couple.alex.duet(["list", "--deleted"]).stdout.contains("deleted by Sam (Sam's phone)"))
    }
}
