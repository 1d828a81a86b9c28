import DuetCore
import DuetCrypto
import DuetWire
import Foundation
import Testing
@testable import DuetStore

/// Three devices of one person: a change carries what its author had applied, so a device that
/// receives an edit before the text it edits holds the edit back instead of losing it.
@Suite("Causality across devices")
struct CausalityTests {
    static let passphrase = SecretBytes(utf8: "a passphrase")

    /// A store for another device of `first`'s person, with both devices in each log.
    static func linkedDevice(to first: (Store, UnlockedStore), name: String) throws -> (Store, UnlockedStore) {
        let keystore = first.1.keystore
        let bundle = IdentityBundle(identity: keystore.identity, name: keystore.name, personalSpace: keystore.personalSpace,
                                    personalKeys: keystore.personalKeys, couple: nil)
        let device = SigningKey.generate()
        let home = StoreTests.temporaryHome()
        let linked = try Store.createLinked(home: home, bundle: bundle, device: device, deviceName: name,
                                            passphrase: passphrase, parameters: StoreTests.weakestAllowed)
        let log = try first.0.membershipLog(space: keystore.personalSpace)
        let certificate = DeviceCertificate.issue(identity: keystore.identity, device: device.verifyingKey, created: 1)
        let add = MembershipRecord.sign(space: keystore.personalSpace, index: UInt64(log.records.count + 1), previous: log.records.last?.hash ?? .zero,
                                        action: .addDevice(certificate), signer: keystore.identity)
        try first.0.appendMembership([add], space: keystore.personalSpace)
        try linked.0.appendMembership(log.records + [add], space: keystore.personalSpace)
        return linked
    }

    static func envelopes(of store: Store, _ unlocked: UnlockedStore) throws -> [[UInt8]] {
        try store.envelopes(space: unlocked.keystore.personalSpace, of: [unlocked.keystore.deviceID], after: [:])
    }

    @Test("An edit that arrives before the text it edits waits for it, and both apply")
    func editBeforeItsPast() throws {
        let laptop = try Store.create(home: StoreTests.temporaryHome(), name: "A", deviceName: "laptop", passphrase: Self.passphrase,
                                      parameters: StoreTests.weakestAllowed, now: 1)
        let phone = try Self.linkedDevice(to: laptop, name: "phone")
        let tablet = try Self.linkedDevice(to: laptop, name: "tablet")
        // The laptop must know the tablet too for the phone's... every store learns every device.
        try phone.0.appendMembership(Array(try laptop.0.membershipLog(space: laptop.1.keystore.personalSpace).records.suffix(1)),
                                     space: laptop.1.keystore.personalSpace)
        let space = laptop.1.keystore.personalSpace
        let id = EntryID(high: 9, low: 9)
        try laptop.1.commit(entry: id, now: 1_000) { $0.create(); $0.insertText(Array("hello".unicodeScalars), at: 0) }
        let fromLaptop = try Self.envelopes(of: laptop.0, laptop.1)
        #expect(try phone.0.storeVerified(fromLaptop, space: space).stored == 1)
        try phone.1.materialise()
        // The phone edits the laptop's text; its clock reads earlier than the laptop's did.
        let edit = try phone.1.commit(entry: id, now: 500) { $0.insertText(Array(" world".unicodeScalars), at: 5) }
        #expect(edit.dependencies.contains(Dot(device: laptop.1.device, seq: 1)), "the edit names the text it was made on")

        // The tablet gets the phone's edit first.
        #expect(try tablet.0.storeVerified(try Self.envelopes(of: phone.0, phone.1), space: space).stored == 1)
        #expect(try tablet.1.materialise().isEmpty, "held back: its past has not arrived")
        #expect(try tablet.1.entry(id) == nil)
        #expect(try tablet.0.storeVerified(fromLaptop, space: space).stored == 1)
        #expect(try tablet.1.materialise().count == 2)
        #expect(try tablet.1.entry(id)?.body.string == "hello world", "nothing was lost to the order of arrival")
    }
}
