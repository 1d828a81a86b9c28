import DuetCrypto
import DuetWire
import Foundation
import Testing
@testable import DuetStore

/// Issue #14 item 3: a linked or recovered device remembers how far each log went at the device
/// that made its bundle, so the log it adopts from the relay can be held to it.
@Suite("Log floors from a bundle")
struct LogFloorTests {
    @Test("createLinked keeps each space's log head from the bundle; a store made by init has none")
    func floorsKept() throws {
        let first = try Store.create(home: StoreTests.temporaryHome(), name: "A", deviceName: "laptop", passphrase: CausalityTests.passphrase,
                                     parameters: StoreTests.weakestAllowed, now: 1)
        let keystore = first.1.keystore
        #expect(try first.0.logFloor(space: keystore.personalSpace) == nil)
        let log = try first.0.membershipLog(space: keystore.personalSpace)
        let head = IdentityBundle.LogHead(records: UInt64(log.records.count), last: try #require(log.records.last).hash)
        let bundle = IdentityBundle(identity: keystore.identity, name: keystore.name, personalSpace: keystore.personalSpace,
                                    personalKeys: keystore.personalKeys, couple: nil, logHeads: [keystore.personalSpace: head])
        let linked = try Store.createLinked(home: StoreTests.temporaryHome(), bundle: bundle, device: .generate(), deviceName: "phone",
                                            passphrase: CausalityTests.passphrase, parameters: StoreTests.weakestAllowed)
        #expect(try linked.0.logFloor(space: keystore.personalSpace) == head)
        #expect(head.isHeld(by: log.records))
        #expect(!head.isHeld(by: Array(log.records.dropLast())), "a shorter log is an old prefix")
    }
}

/// Found by a new-user trial: a revocation interrupted by a relay kill (posted, not yet kept
/// here) was learnt back at the next sync and shown as "You (on another device) removed …".
@Suite("A device's own records are not news to it")
struct SignedHereTests {
    @Test("A record this device signed and posted, learnt back from the relay, raises no notice; one from another device does")
    func ownRecordsAreNoNews() throws {
        for signedHere in [true, false] {
            let (store, unlocked) = try Store.create(home: StoreTests.temporaryHome(), name: "A", deviceName: "laptop", passphrase: CausalityTests.passphrase,
                                                     parameters: StoreTests.weakestAllowed, now: 1)
            let space = unlocked.keystore.personalSpace
            let log = try store.membershipLog(space: space)
            let record = log.nextRecord(.addDevice(DeviceCertificate.issue(identity: unlocked.keystore.identity, device: SigningKey.generate().verifyingKey,
                                                                           created: 2)), by: unlocked.keystore.identity)
            if signedHere { try store.noteSignedHere([record]) }
            try store.appendMembership([record], space: space, notify: true)
            try unlocked.refreshDirectory()
            let notices = try store.notices()
            #expect(notices.isEmpty == signedHere, "signed here: \(signedHere): \(notices)")
            #expect(try !store.hasUnreadMembershipChanges(), "the refresh wrote (or dropped) what waited")
        }
    }
}
