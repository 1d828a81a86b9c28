import DuetCore
import DuetCrypto
import DuetWire
import Foundation
import Testing
@testable import DuetStore

/// Issue #14 item 7: clients check certificate expiry too, by the change's own time, so every
/// replica refuses the same changes (the relay checks appends by its clock, SPEC § 6.2).
@Suite("Certificate expiry on clients")
struct CertificateExpiryTests {
    static let expiry: UInt64 = 1_700_000_100_000

    /// Alex's laptop and a phone, in one personal space; `laptopSees` is the phone's certificate
    /// in the laptop's log and `phoneSees` in the phone's own (a device that lies about its own
    /// certificate, or an older Duet that never checked).
    static func devices(laptopSees: UInt64, phoneSees: UInt64) throws -> (laptop: (Store, UnlockedStore), phone: (Store, UnlockedStore)) {
        let laptop = try Store.create(home: StoreTests.temporaryHome(), name: "Alex", deviceName: "laptop", passphrase: CausalityTests.passphrase,
                                      parameters: StoreTests.weakestAllowed, now: 1_700_000_000_000)
        let keystore = laptop.1.keystore
        let space = keystore.personalSpace
        let phoneKey = SigningKey.generate()
        let bundle = IdentityBundle(identity: keystore.identity, name: keystore.name, personalSpace: space, personalKeys: keystore.personalKeys, couple: nil)
        let phone = try Store.createLinked(home: StoreTests.temporaryHome(), bundle: bundle, device: phoneKey, deviceName: "phone",
                                           passphrase: CausalityTests.passphrase, parameters: StoreTests.weakestAllowed)
        let log = try laptop.0.membershipLog(space: space)
        func add(_ expires: UInt64) -> MembershipRecord {
            log.nextRecord(.addDevice(DeviceCertificate.issue(identity: keystore.identity, device: phoneKey.verifyingKey,
                                                               created: 1_700_000_000_000, expires: expires)), by: keystore.identity)
        }
        try laptop.0.appendMembership([add(laptopSees)], space: space)
        try phone.0.appendMembership(log.records + [add(phoneSees)], space: space)
        return (laptop, phone)
    }

    @Test("A device whose certificate expired cannot write: nothing is stored, and it is told why")
    func expiredDeviceCannotWrite() throws {
        let (_, phone) = try Self.devices(laptopSees: Self.expiry, phoneSees: Self.expiry)
        try phone.1.commit(entry: EntryID(high: 1, low: 1), now: Self.expiry - 1) { $0.create() }
        #expect(throws: StoreError.self) { try phone.1.commit(entry: EntryID(high: 1, low: 2), now: Self.expiry) { $0.create() } }
        #expect(try phone.0.counts().envelopes == 1, "only the change made before the expiry")
    }

    @Test("Changes dated at or after the expiry are refused by every other device with a warning; those before stay")
    func laterChangesRefused() throws {
        // The phone's own log says its certificate never expires: it writes on, and signs.
        let (laptop, phone) = try Self.devices(laptopSees: Self.expiry, phoneSees: 0)
        let before = EntryID(high: 2, low: 1), after = EntryID(high: 2, low: 2)
        try phone.1.commit(entry: before, now: Self.expiry - 1) { $0.create(); $0.insertText(Array("before".unicodeScalars), at: 0) }
        try phone.1.commit(entry: after, now: Self.expiry) { $0.create(); $0.insertText(Array("after".unicodeScalars), at: 0) }
        let space = laptop.1.keystore.personalSpace
        let envelopes = try phone.0.envelopes(space: space, of: [phone.1.keystore.deviceID], after: [:])
        #expect(try laptop.0.storeVerified(envelopes, space: space).stored == 2, "signed by a member: stored")
        #expect(try laptop.1.materialise().count == 2, "both consumed")
        #expect(try laptop.1.entry(before)?.body.string == "before")
        #expect(try laptop.1.entry(after) == nil, "nothing of the late change is shown")
        let warnings = try laptop.0.warnings()
        #expect(warnings.contains { $0.contains("certificate expired") }, "\(warnings)")
    }

    @Test("A certificate without expiry (what Duet writes) refuses nothing, however late")
    func noExpiry() throws {
        let (laptop, phone) = try Self.devices(laptopSees: 0, phoneSees: 0)
        try phone.1.commit(entry: EntryID(high: 3, low: 1), now: HLC.maxMilliseconds - 10) { $0.create() }
        let space = laptop.1.keystore.personalSpace
        _ = try laptop.0.storeVerified(try phone.0.envelopes(space: space, of: [phone.1.keystore.deviceID], after: [:]), space: space)
        // The laptop's clock reads as late (a clock far behind would rightly warn of the skew).
        #expect(try laptop.1.materialise(now: HLC.maxMilliseconds - 10).count == 1)
        #expect(try laptop.1.entry(EntryID(high: 3, low: 1)) != nil)
        #expect(try laptop.0.warnings().isEmpty)
    }
}
