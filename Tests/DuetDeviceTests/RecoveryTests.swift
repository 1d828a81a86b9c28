import DuetDevice
import DuetSync
import DuetTesting
import Foundation
import Testing

/// The recovery code and recovery, through the real relay service in process (these ran as
/// `duet` and `duet-relay` processes before issue #15 item 6; how `duet init` shows the code
/// stays a CLI test).
@Suite("Recovery codes and recovery")
struct RecoveryTests {
    @Test("The code is never stored on the device, and restores identity, private and shared entries")
    func recovery() async throws {
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        // Alex's journal again, made by hand here to hold its code.
        let home = couple.folder + "/alex-recovering"
        let created = try await Device.create(home: home, name: "Alex", deviceName: "Alex's laptop", passphrase: TwoPartners.passphrase,
                                              relay: couple.relay.origin, environment: couple.environment)
        let alex = created.device, code = created.recoveryCode
        #expect(code.count == 31 && code.filter { $0 == "-" }.count == 5, "\(code)")
        #expect(created.recoveryAtRelay)
        for form in [code, code.replacingOccurrences(of: "-", with: "")] {
            #expect(!TwoPartners.holds(Array(form.utf8), under: home), "the recovery code is not on the device")
        }
        let privateEntry = try alex.write(NewEntry(body: "private, before the laptop was lost"))
        _ = try await alex.sync()
        // Paired after the first upload: the next sync refreshes the blob with the couple space.
        _ = try await TwoPartners.pair(alex, couple.sam)
        let shared = try alex.write(NewEntry(visibility: .shared, body: "shared, before the laptop was lost"))
        _ = try await alex.sync()

        let newLaptop = try await Device.recover(code: code.lowercased(), home: couple.folder + "/new-laptop", deviceName: "Alex's new laptop",
                                                 passphrase: TwoPartners.passphrase, relay: couple.relay.origin, environment: couple.environment).device
        #expect(try newLaptop.body(of: privateEntry) == "private, before the laptop was lost")
        #expect(try newLaptop.author(of: shared) == "Alex")
        let fromNew = try newLaptop.write(NewEntry(visibility: .shared, body: "written on the recovered laptop"))
        _ = try await newLaptop.sync()
        _ = try await couple.sam.sync()
        #expect(try couple.sam.author(of: fromNew) == "Alex")
        #expect(try #require(try couple.sam.device.pairing()).devices.compactMap(\.name).contains("Alex's new laptop"))
    }

    @Test("Recovered right after a revocation, with no sync in between: the new device reads what is written under the new key")
    func recoveryAfterRevocation() async throws {
        // Found by a new-user trial: the blob was refreshed only by a sync, so a device
        // recovered after a revocation held only the old epoch's key and read nothing newer,
        // with a warning that blamed the relay.
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        let created = try await Device.create(home: couple.folder + "/alex-recovering", name: "Alex", deviceName: "Alex's laptop",
                                              passphrase: TwoPartners.passphrase, relay: couple.relay.origin, environment: couple.environment)
        let alex = created.device
        _ = try await TwoPartners.pair(alex, couple.sam)
        _ = try await alex.sync()
        _ = try await couple.link(alex, named: "Alex's phone")
        _ = try await alex.revoke(try alex.device.revocableDevice("Alex's phone"))
        _ = try await couple.sam.sync()
        let after = try couple.sam.write(NewEntry(visibility: .shared, body: "written under the new key"))
        _ = try await couple.sam.sync()
        let newLaptop = try await Device.recover(code: created.recoveryCode, home: couple.folder + "/new-laptop", deviceName: "Alex's new laptop",
                                                 passphrase: TwoPartners.passphrase, relay: couple.relay.origin, environment: couple.environment).device
        #expect(try newLaptop.body(of: after) == "written under the new key")
        #expect(try newLaptop.device.status().warnings == [])
    }

    @Test("A wrong or malformed code, or a relay with nothing kept, creates nothing")
    func refusals() async throws {
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        let target = couple.folder + "/target"
        let wrong = await #expect(throws: DeviceError.self) {
            try await Device.recover(code: "00000-00000-00000-00000-00000-0", home: target, deviceName: "laptop", passphrase: TwoPartners.passphrase,
                                     relay: couple.relay.origin, environment: couple.environment)
        }
        #expect(wrong.flatMap(PartnerTests.reason) == .nothingUnderRecoveryCode, "\(String(describing: wrong))")
        await #expect(throws: DeviceError.invalidCode(.recovery)) {
            try await Device.recover(code: "not-a-code", home: target, deviceName: "laptop", passphrase: TwoPartners.passphrase,
                                     relay: couple.relay.origin, environment: couple.environment)
        }
        #expect(!FileManager.default.fileExists(atPath: target + "/duet.sqlite"))
    }
}
