import DuetCore
import DuetCrypto
import DuetWire
import Foundation
@testable import DuetStore

/// Two partners' stores joined in one couple space, built from the same membership records
/// pairing posts (SPEC § 7.2) but without a relay: what a store-level test needs to hand one
/// partner's envelopes to the other.
struct PairedStores {
    let alex: (store: Store, unlocked: UnlockedStore)
    let sam: (store: Store, unlocked: UnlockedStore)
    let space: SpaceID

    init() throws {
        alex = try Store.create(home: StoreTests.temporaryHome(), name: "Alex", deviceName: "laptop", passphrase: CausalityTests.passphrase,
                                parameters: StoreTests.weakestAllowed, now: 1_700_000_000_000)
        sam = try Store.create(home: StoreTests.temporaryHome(), name: "Sam", deviceName: "phone", passphrase: CausalityTests.passphrase,
                               parameters: StoreTests.weakestAllowed, now: 1_700_000_000_000)
        let space = SpaceID.random()
        self.space = space
        let key = SymmetricKey.random()
        let alexIdentity = alex.unlocked.keystore.identity, samIdentity = sam.unlocked.keystore.identity
        let alexCertificate = try Self.certificate(of: alex)
        let samCertificate = try Self.certificate(of: sam)
        func wrap(_ device: VerifyingKey) throws -> [UInt8] { try SealedBox.seal(key.bytes, to: BoxPublicKey(converting: device)) }

        var log = MembershipLog(space: space)
        func extend(_ actions: [MembershipRecord.Action], by signer: SigningKey) throws {
            try log.append(batch: log.nextRecords(actions, by: signer))
        }
        try extend([.create(identity: alexIdentity.verifyingKey, keyCommitment: MembershipLog.keyCommitment(space: space, epoch: 1, key: key)),
                    .addDevice(alexCertificate), .wrapKey(epoch: 1, device: alexCertificate.device, box: try wrap(alexCertificate.device)),
                    .addIdentity(samIdentity.verifyingKey)], by: alexIdentity)
        try extend([.addDevice(samCertificate)], by: samIdentity)
        try extend([.wrapKey(epoch: 1, device: samCertificate.device, box: try wrap(samCertificate.device))], by: alexIdentity)
        try alex.store.joinCoupleSpace(space, records: log.records, partner: samIdentity.verifyingKey, partnerName: "Sam")
        try sam.store.joinCoupleSpace(space, records: log.records, partner: alexIdentity.verifyingKey, partnerName: "Alex")
    }

    /// The certificate of the store's own device, from its personal space's log.
    private static func certificate(of device: (store: Store, unlocked: UnlockedStore)) throws -> DeviceCertificate {
        let own = device.unlocked.keystore.device.verifyingKey
        guard let certificate = try device.store.membershipLog(space: device.unlocked.keystore.personalSpace).devices[own] else {
            throw StoreError.corrupt("no certificate for the device itself")
        }
        return certificate
    }

    /// Everything `from` wrote in the couple space, handed to `to`'s store as the relay would.
    @discardableResult
    func deliver(from: (store: Store, unlocked: UnlockedStore), to: (store: Store, unlocked: UnlockedStore)) throws -> IngestReport {
        let envelopes = try from.store.envelopes(space: space, of: [from.unlocked.keystore.deviceID], after: [:])
        return try to.store.storeVerified(envelopes, space: space)
    }
}
