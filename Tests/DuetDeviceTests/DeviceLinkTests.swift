import DuetDevice
import DuetSync
import DuetTesting
import Foundation
import GRDB
import Testing

/// Linking, joining and revoking devices through the real relay service in process (these
/// ran as `duet` and `duet-relay` processes before issue #15 item 6).
@Suite("Linking, joining and revoking devices")
struct DeviceLinkTests {
    @Test("A linked device reads everything written before, writes as the same person, and everyone sees it")
    func linking() async throws {
        let couple = try await TwoPartners.make()
        defer { couple.remove() }
        let privateBefore = try couple.alex.write(NewEntry(title: "before", body: "private, before the phone"))
        let sharedBefore = try couple.alex.write(NewEntry(visibility: .shared, body: "shared, before the phone"))
        _ = try await couple.alex.sync()
        let phone = try await couple.link(couple.alex, named: "Alex's phone")

        #expect(try phone.body(of: privateBefore) == "private, before the phone")
        #expect(try phone.author(of: sharedBefore) == "Alex")
        let fromPhone = try phone.write(NewEntry(body: "private, from the phone"))
        _ = try await phone.sync()
        _ = try await couple.alex.sync()
        let onLaptop = try couple.alex.show(fromPhone).record
        #expect(onLaptop.author?.person == "Alex" && onLaptop.visibility == .private)

        // The partner sees the new device, named, and never the private entries.
        _ = try await couple.sam.sync()
        let pairing = try #require(try couple.sam.device.pairing())
        let partnerDevices = pairing.devices.filter { !$0.isMine }
        #expect(partnerDevices.map(\.name) == ["Alex's laptop", "Alex's phone"])
        #expect(partnerDevices.allSatisfy { $0.person == "Alex" })
        #expect(pairing.people.map(\.name) == ["Sam", "Alex"], "both identities of the couple space")
        #expect(try couple.sam.list(EntryFilter()).map(\.id) == [sharedBefore])
        #expect(try phone.device.devices().filter(\.isThisDevice).map(\.name) == ["Alex's phone"])
    }

    @Test("A wrong link code creates nothing on the new device")
    func badJoin() async throws {
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        let phone = couple.folder + "/phone"
        // Nobody answers: the join waits its second on a simulated clock, which passes at once.
        let clock = SimulatedClock()
        let refused = await #expect(throws: DeviceError.self) {
            try await Device.join(code: "00000-00000-00000-00000-00000-0", home: phone, deviceName: "Alex's phone", passphrase: TwoPartners.passphrase,
                                  relay: couple.relay.origin, timeout: .seconds(1), environment: clock.driving(couple.environment))
        }
        #expect(refused.flatMap(PartnerTests.reason) == .otherDeviceDidNotAnswer, "\(String(describing: refused))")
        #expect(!FileManager.default.fileExists(atPath: phone + "/duet.sqlite"), "no journal was created")
        await #expect(throws: DeviceError.invalidCode(.link)) {
            try await Device.join(code: "nonsense", home: phone, deviceName: "Alex's phone", passphrase: TwoPartners.passphrase,
                                  relay: couple.relay.origin, timeout: .seconds(60), environment: couple.environment)
        }
    }

    @Test("Revoking a device removes it at the relay, rotates the keys, and it cannot read anything written after")
    func revocation() async throws {
        let couple = try await TwoPartners.make()
        defer { couple.remove() }
        let phone = try await couple.link(couple.alex, named: "Alex's phone")
        let before = try couple.alex.write(NewEntry(visibility: .shared, body: "shared, before the revocation"))
        _ = try await couple.alex.sync()
        _ = try await phone.sync()
        #expect(try phone.body(of: before) == "shared, before the revocation")

        let own = await #expect(throws: DeviceError.self) { try await couple.alex.revoke(try couple.alex.device.revocableDevice("Alex's laptop")) }
        #expect(own.flatMap(PartnerTests.reason) == .revokingThisDevice, "\(String(describing: own))")
        _ = try await couple.alex.revoke(try couple.alex.device.revocableDevice("Alex's phone"))
        let after = try couple.alex.write(NewEntry(visibility: .shared, body: "shared, after the revocation"))
        let privateAfter = try couple.alex.write(NewEntry(body: "private, after the revocation"))
        _ = try await couple.alex.sync()

        // The partner learns the removal and reads what Alex writes under the new key.
        _ = try await couple.sam.sync()
        #expect(try couple.sam.body(of: after) == "shared, after the revocation")
        #expect(try couple.sam.body(of: before) == "shared, before the revocation", "old entries stay readable")
        #expect(try couple.sam.device.devices().first { $0.name == "Alex's phone" }?.removed != nil)

        // The relay no longer serves the phone.
        let refused = await #expect(throws: DeviceError.self) { try await phone.sync() }
        guard case .relayRefused(_, let code, _, _)? = refused else {
            Issue.record("the phone's sync was not refused by the relay: \(String(describing: refused))")
            return
        }
        #expect(code == "not-a-member")

        // Even handed the new log and envelopes by a relay that colludes, the phone opens none.
        let relayDatabase = try DatabaseQueue(path: couple.relay.directory + "/relay.sqlite")
        let (records, envelopes) = try await relayDatabase.read { db in
            (try Row.fetchAll(db, sql: "SELECT space, idx, record FROM membership").map { ($0["space"] as Data, $0["idx"] as Int64, $0["record"] as Data) },
             try Row.fetchAll(db, sql: "SELECT space, device, seq, hash, bytes FROM envelopes").map {
                 ($0["space"] as Data, $0["device"] as Data, $0["seq"] as Int64, $0["hash"] as Data, $0["bytes"] as Data)
             })
        }
        try relayDatabase.close()
        let phoneDatabase = try DatabaseQueue(path: phone.device.home + "/duet.sqlite")
        try await phoneDatabase.write { db in
            for (space, index, record) in records {
                try db.execute(sql: "INSERT OR IGNORE INTO membership (space, idx, bytes) VALUES (?, ?, ?)", arguments: [space, index, record])
            }
            for (space, device, seq, hash, bytes) in envelopes {
                try db.execute(sql: "INSERT OR IGNORE INTO envelopes (space, device, seq, hash, bytes) VALUES (?, ?, ?, ?, ?)",
                               arguments: [space, device, seq, hash, bytes])
            }
        }
        try phoneDatabase.close()
        // Opened afresh, as the next command on the phone would.
        let reopened = try Device.open(home: phone.device.home, environment: couple.environment).unlock(TwoPartners.passphrase)
        let listed = try reopened.list(EntryFilter()).map(\.id)
        #expect(!listed.contains(after) && !listed.contains(privateAfter), "nothing sealed under the new keys opens on the revoked phone")
        #expect(listed.contains(before))
    }

    @Test("Lost the phone, revoked it, set up a new one: the new device reads everything the phone had synced, private and shared")
    func historyOutlivesRevocation() async throws {
        let couple = try await TwoPartners.make()
        defer { couple.remove() }
        let phone = try await couple.link(couple.alex, named: "Alex's phone")
        let sharedFromPhone = try phone.write(NewEntry(visibility: .shared, body: "shared, from the phone"))
        let privateFromPhone = try phone.write(NewEntry(body: "private, from the phone"))
        _ = try await phone.sync()
        // The phone is lost; the laptop (which has not synced since) revokes it, and Alex links a tablet.
        _ = try await couple.alex.revoke(try couple.alex.device.revocableDevice("Alex's phone"))
        let tablet = try await couple.link(couple.alex, named: "Alex's tablet")
        // Read as the next command on each would: unlocked afresh. (The laptop's link and
        // revocation stored the phone's envelopes sealed; the open UnlockedDevice applies them
        // at its next sync or unlock, not at once.)
        for open in [tablet, couple.alex] {
            let device = try Device.open(home: open.device.home, environment: couple.environment).unlock(TwoPartners.passphrase)
            #expect(try device.body(of: sharedFromPhone) == "shared, from the phone")
            #expect(try device.body(of: privateFromPhone) == "private, from the phone")
            #expect(try device.author(of: privateFromPhone) == "Alex")
            #expect(try device.device.status().warnings == [], "nothing stalls, nothing blames the relay")
        }
        _ = try await couple.sam.sync()
        #expect(try couple.sam.body(of: sharedFromPhone) == "shared, from the phone")
        #expect(try couple.sam.device.status().warnings == [])
        // What the phone writes now never arrives: the relay refuses it everything.
        _ = try phone.write(NewEntry(visibility: .shared, body: "written after the revocation"))
        await #expect(throws: DeviceError.self) { try await phone.sync() }
    }
}

/// Every device of a person is in the couple space, and the relay learns no names.
@Suite("Every device of a person in the couple space")
struct AllDevicesPairingTests {
    @Test("Devices linked before pairing join the couple space (both partners'); they read and write shared entries")
    func linkedBeforePairing() async throws {
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        let alexPhone = try await couple.link(couple.alex, named: "Alex's phone")
        let samTablet = try await couple.link(couple.sam, named: "Sam's tablet")
        try await couple.pair()
        let fromSam = try couple.sam.write(NewEntry(visibility: .shared, body: "for both of your devices"))
        _ = try await couple.sam.sync()
        // Alex's phone never paired: its own directory tells it which couple space Alex joined.
        _ = try await alexPhone.sync()
        #expect(try alexPhone.body(of: fromSam) == "for both of your devices")
        #expect(try alexPhone.device.status().partner == "Sam")
        let fromPhone = try alexPhone.write(NewEntry(visibility: .shared, body: "from Alex's phone"))
        _ = try await alexPhone.sync()
        _ = try await samTablet.sync()
        #expect(try samTablet.author(of: fromPhone) == "Alex")
        #expect(try samTablet.body(of: fromSam) == "for both of your devices")
        let names = Set(try #require(try samTablet.device.pairing()).devices.compactMap(\.name))
        #expect(names == ["Alex's laptop", "Alex's phone", "Sam's phone", "Sam's tablet"], "\(names)")
        for device in [couple.alex, couple.sam, alexPhone, samTablet] {
            #expect(try device.device.status().warnings == [], "no warning in honest use")
        }
    }

    @Test("A device linked from another device the pairing device never synced with still joins the couple space")
    func linkedElsewhereBeforePairing() async throws {
        // Found by the second adversarial review: pairing read the personal log without syncing it.
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        let phone = try await couple.link(couple.alex, named: "Alex's phone")
        let tablet = try await couple.link(phone, named: "Alex's tablet")
        try await couple.pair()
        let fromSam = try couple.sam.write(NewEntry(visibility: .shared, body: "to all of Alex's devices"))
        _ = try await couple.sam.sync()
        _ = try await tablet.sync()
        #expect(try tablet.body(of: fromSam) == "to all of Alex's devices")
        #expect(try tablet.device.status().warnings == [])
    }

    @Test("A device linked before pairing cannot pair with a second partner: it is told it is paired on another device")
    func noSecondPartner() async throws {
        // Found by a new-user trial: the phone, not yet synced, said "not paired" and invited someone else.
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        let phone = try await couple.link(couple.alex, named: "Alex's phone")
        try await couple.pair()
        let second = await #expect(throws: DeviceError.self) { try await phone.invitePartner(timeout: .seconds(5)) { _ in } }
        #expect(second.flatMap(PartnerTests.reason) == .pairedOnAnotherDevice(partner: "Sam"),
                "\(String(describing: second))")
        _ = try await phone.sync()
        #expect(try phone.device.status().partner == "Sam")
        // Publishing directories converges: another sync changes nothing.
        #expect(try await phone.sync().deviceChanges == 0)
    }

    @Test("Device and person names never reach the relay's files: certificates carry keys and times, names travel sealed")
    func relayLearnsNoNames() async throws {
        let couple = try await TwoPartners.make()
        defer { couple.remove() }
        _ = try await couple.link(couple.alex, named: "Alex's phone")
        _ = try couple.alex.write(NewEntry(visibility: .shared, body: "shared"))
        try await couple.syncBoth()
        var relayBytes = Data()
        for suffix in ["", "-wal"] {
            if let data = FileManager.default.contents(atPath: couple.relay.directory + "/relay.sqlite" + suffix) { relayBytes.append(data) }
        }
        #expect(relayBytes.count > 10_000)
        for name in ["Alex's laptop", "Alex's phone", "Sam's phone", "Alex", "Sam"] {
            #expect(relayBytes.range(of: Data(name.utf8)) == nil, "the relay holds “\(name)”")
        }
        // The partner still sees every name.
        #expect(Set(try #require(try couple.sam.device.pairing()).devices.compactMap(\.name)) == ["Alex's laptop", "Alex's phone", "Sam's phone"])
    }
}
