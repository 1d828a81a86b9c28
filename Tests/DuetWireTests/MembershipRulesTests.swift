import DuetCrypto
import DuetWire
import Testing

/// Issue #13, item 4: the rules of SPEC § 6.2's table, as the relay and every client replay
/// them. Each case is an attack the partner (a full member, with real keys) could sign.
@Suite("Each person controls only their own devices")
struct MembershipRulesTests {
    typealias Person = MembershipTests.Person
    static let box = [UInt8](repeating: 0xbb, count: 80)

    /// A paired couple space as pairing builds it: Alex's laptop keyed by Alex, Sam's phone
    /// certified by Sam and keyed by Alex.
    static func paired() throws -> (MembershipLog, Person, Person) {
        var (log, alex, sam) = try MembershipTests.coupleSpace()
        _ = alex
        try log.appendNext(.wrapKey(epoch: 1, device: alex.device.verifyingKey, box: box), by: alex.identity)
        try log.appendNext(.wrapKey(epoch: 1, device: sam.device.verifyingKey, box: box), by: alex.identity)
        return (log, alex, sam)
    }

    @Test("A couple space has exactly two identities: no third, from either partner")
    func twoIdentities() throws {
        let (log, alex, sam) = try Self.paired()
        let stranger = Person()
        for signer in [alex.identity, sam.identity] {
            var copy = log
            #expect(throws: MembershipLog.Refusal.identityLimit) { try copy.appendNext(.addIdentity(stranger.identity.verifyingKey), by: signer) }
        }
        #expect(log.identities.count == 2)
    }

    @Test("The partner can neither re-certify, replace, add under the other's name, nor remove the other's devices")
    func ownDevicesOnly() throws {
        let (log, alex, sam) = try Self.paired()
        let laptop = try #require(log.devices[alex.device.verifyingKey])
        // Re-certified as expired, under Alex's identity (a certificate Alex once signed).
        let expired = DeviceCertificate.issue(identity: alex.identity, device: alex.device.verifyingKey, created: 1, expires: 2)
        var copy = log
        #expect(throws: MembershipLog.Refusal.notOwnDevice) { try copy.appendNext(.addDevice(expired), by: sam.identity) }
        // Claimed under Sam's identity.
        let claimed = DeviceCertificate.issue(identity: sam.identity, device: alex.device.verifyingKey, created: 1)
        #expect(throws: MembershipLog.Refusal.deviceKnown) { try copy.appendNext(.addDevice(claimed), by: sam.identity) }
        // Even Alex cannot certify the same key twice (the first certificate stands).
        #expect(throws: MembershipLog.Refusal.deviceKnown) { try copy.appendNext(.addDevice(expired), by: alex.identity) }
        // Removed by Sam.
        #expect(throws: MembershipLog.Refusal.notOwnDevice) { try copy.appendNext(.removeDevice(alex.device.verifyingKey), by: sam.identity) }
        #expect(copy.devices[alex.device.verifyingKey] == laptop)
        // Alex posting a device Sam certified.
        let watch = Person(identity: sam.identity).certificate(name: "watch")
        #expect(throws: MembershipLog.Refusal.notOwnDevice) { try copy.appendNext(.addDevice(watch), by: alex.identity) }
        try copy.appendNext(.addDevice(watch), by: sam.identity)
        #expect(copy.devices[watch.device] == watch)
    }

    @Test("One wrapped key per epoch and device, replaced only once by its own person over the other's; the partner cannot key the other's new device")
    func wraps() throws {
        let (log, alex, sam) = try Self.paired()
        var copy = log
        #expect(throws: MembershipLog.Refusal.wrapExists) {
            try copy.appendNext(.wrapKey(epoch: 1, device: alex.device.verifyingKey, box: [UInt8](repeating: 0xcc, count: 80)), by: sam.identity)
        }
        // Sam may replace, once, the wrap Alex posted to Sam's own phone (it might have been
        // junk); never again, and never Alex's.
        try copy.appendNext(.wrapKey(epoch: 1, device: sam.device.verifyingKey, box: [UInt8](repeating: 0xcc, count: 80)), by: sam.identity)
        #expect(throws: MembershipLog.Refusal.wrapExists) {
            try copy.appendNext(.wrapKey(epoch: 1, device: sam.device.verifyingKey, box: [UInt8](repeating: 0xdd, count: 80)), by: sam.identity)
        }
        #expect(throws: MembershipLog.Refusal.wrapExists) {
            try copy.appendNext(.wrapKey(epoch: 1, device: sam.device.verifyingKey, box: [UInt8](repeating: 0xdd, count: 80)), by: alex.identity)
        }
        let tablet = Person(identity: alex.identity)
        try copy.appendNext(.addDevice(tablet.certificate(name: "tablet")), by: alex.identity)
        #expect(throws: MembershipLog.Refusal.wrapNotAllowed) {
            try copy.appendNext(.wrapKey(epoch: 1, device: tablet.device.verifyingKey, box: Self.box), by: sam.identity)
        }
        try copy.appendNext(.wrapKey(epoch: 1, device: tablet.device.verifyingKey, box: Self.box), by: alex.identity)
        #expect(copy.wrappedKeys[1]?[alex.device.verifyingKey] == Self.box, "Alex's own key stands")
    }

    @Test("A rotation comes from who removed a device and wraps every remaining device in the same batch, or is refused whole")
    func rotations() throws {
        let (log, alex, sam) = try Self.paired()
        var copy = log
        // Alex began epoch 1 (he created the space) and removed nothing: no cause to rotate.
        #expect(throws: MembershipLog.Refusal.rotationNotAllowed) { try copy.appendNext(.rotateKey(epoch: 2), by: alex.identity) }
        #expect(!copy.mayRotate(alex.identity.verifyingKey) && copy.mayRotate(sam.identity.verifyingKey), "Sam may answer Alex's epoch, once")
        let spare = Person(identity: alex.identity)
        try copy.appendNext(.addDevice(spare.certificate(name: "old phone")), by: alex.identity)
        try copy.appendNext(.removeDevice(spare.device.verifyingKey), by: alex.identity)
        // A rotation that leaves Sam's phone without the key is refused as a batch, and changes nothing.
        let partial = copy.nextRecords([.rotateKey(epoch: 2), .wrapKey(epoch: 2, device: alex.device.verifyingKey, box: Self.box)], by: alex.identity)
        let before = copy.records.count
        #expect(throws: MembershipLog.Refusal.rotationIncomplete) { try copy.append(batch: partial) }
        #expect(copy.records.count == before && copy.epoch == 1)
        // While a rotation is open (a relay that stored half of one), nothing else follows it.
        var replay = copy
        try replay.append(partial[0])
        #expect(throws: MembershipLog.Refusal.rotationIncomplete) {
            try replay.appendNext(.addDevice(Person(identity: alex.identity).certificate(name: "x")), by: alex.identity)
        }
        #expect(throws: MembershipLog.Refusal.rotationIncomplete) {
            try replay.appendNext(.wrapKey(epoch: 2, device: sam.device.verifyingKey, box: Self.box), by: sam.identity)
        }
        // The whole rotation is accepted.
        let whole = copy.nextRecords([.rotateKey(epoch: 2)] + [alex.device.verifyingKey, sam.device.verifyingKey].map {
            .wrapKey(epoch: 2, device: $0, box: Self.box)
        }, by: alex.identity)
        try copy.append(batch: whole)
        #expect(copy.epoch == 2 && copy.openRotation == nil && copy.wrappedKeys[2]?.count == 2)
    }

    @Test("The partner cannot use up the epochs: every rotation they can make leaves room for the other's revocation")
    func epochBudget() throws {
        // Found by the adversarial review: 254 add-remove-rotate cycles left no epoch for anyone.
        var (log, alex, sam) = try Self.paired()
        var rotations = 0
        while true {
            let spare = Person(identity: sam.identity)
            do { try log.appendNext(.addDevice(spare.certificate(name: "spare")), by: sam.identity) } catch { #expect(error == .deviceLimit); break }
            try log.appendNext(.removeDevice(spare.device.verifyingKey), by: sam.identity)
            try log.append(batch: log.nextRecords([.rotateKey(epoch: log.epoch + 1)] + log.devices.keys.map {
                .wrapKey(epoch: log.epoch + 1, device: $0, box: Self.box)
            }, by: sam.identity))
            rotations += 1
        }
        #expect(rotations == MembershipLog.maximumCertifiedPerIdentity - 1, "Sam's phone took one of Sam's 60")
        #expect(!log.mayRotate(sam.identity.verifyingKey), "no answer to Sam's own epochs")
        #expect(log.mayRotate(alex.identity.verifyingKey) && log.epoch < MembershipLog.maximumEpochs)
        try log.append(batch: log.nextRecords([.rotateKey(epoch: log.epoch + 1)] + log.devices.keys.map {
            .wrapKey(epoch: log.epoch + 1, device: $0, box: Self.box)
        }, by: alex.identity))
        #expect(!log.mayRotate(sam.identity.verifyingKey), "an answer is never answered")
    }

    @Test("A person posts at most 128 directory records in a space; the oldest safe epoch follows removals")
    func directoriesAndSafeEpochs() throws {
        var (log, alex, sam) = try Self.paired()
        for _ in 0..<MembershipLog.maximumDirectoriesPerIdentity {
            try log.appendNext(.directory(epoch: 1, sealed: [UInt8](repeating: 1, count: 64)), by: sam.identity)
        }
        #expect(throws: MembershipLog.Refusal.directoryLimit) { try log.appendNext(.directory(epoch: 1, sealed: [UInt8](repeating: 1, count: 64)), by: sam.identity) }
        try log.appendNext(.directory(epoch: 1, sealed: [UInt8](repeating: 1, count: 64)), by: alex.identity)
        #expect(log.oldestSafeEpoch == 1)
        let spare = Person(identity: alex.identity)
        try log.appendNext(.addDevice(spare.certificate(name: "spare")), by: alex.identity)
        try log.appendNext(.removeDevice(spare.device.verifyingKey), by: alex.identity)
        #expect(log.oldestSafeEpoch == 2, "no epoch is safe while a removal awaits its rotation")
        try log.append(batch: log.nextRecords([.rotateKey(epoch: 2)] + log.devices.keys.map { .wrapKey(epoch: 2, device: $0, box: Self.box) }, by: alex.identity))
        #expect(log.oldestSafeEpoch == 2)
        try log.append(batch: log.nextRecords([.rotateKey(epoch: 3)] + log.devices.keys.map { .wrapKey(epoch: 3, device: $0, box: Self.box) }, by: sam.identity))
        #expect(log.oldestSafeEpoch == 2, "an answer removed no one: epoch 2 is as safe as 3")
    }
}

