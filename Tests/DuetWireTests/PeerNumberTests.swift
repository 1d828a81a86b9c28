import DuetCrypto
import DuetWire
import Testing

/// Issue #13, item 3 (the first of its traps): numbers a partner signs are bounded where they
/// are decoded, so nothing downstream converts them with a trap.
@Suite("Numbers a peer supplies")
struct PeerNumberTests {
    @Test("Certificate times past the clock's 48 bits are refused at decode, validly signed or not",
          arguments: [UInt64.max, UInt64.max - 1, UInt64(Int64.max), DeviceCertificate.maximumTime + 1])
    func certificateTimes(time: UInt64) throws {
        let identity = SigningKey.generate(), device = SigningKey.generate()
        for (created, expires) in [(time, UInt64(0)), (UInt64(1), time)] {
            let certificate = DeviceCertificate.issue(identity: identity, device: device.verifyingKey, created: created, expires: expires)
            #expect(throws: WireError.self) { try DeviceCertificate(bytes: certificate.encoded) }
        }
        let edge = DeviceCertificate.issue(identity: identity, device: device.verifyingKey,
                                           created: DeviceCertificate.maximumTime, expires: DeviceCertificate.maximumTime)
        #expect(try DeviceCertificate(bytes: edge.encoded).created == DeviceCertificate.maximumTime, "the last millisecond is fine")
    }

    @Test("A space takes at most 255 key epochs, and the rules keep two people within them")
    func epochCap() throws {
        // Each rotation needs a removal by its author (one per device, at most 60 certified per
        // person) or answers one the other began that way (once each), plus epoch 1.
        #expect(1 + 4 * MembershipLog.maximumCertifiedPerIdentity <= Int(MembershipLog.maximumEpochs))
        var (log, _, sam) = try MembershipTests.coupleSpace()
        #expect(throws: MembershipLog.Refusal.invalidAction) { try log.appendNext(.rotateKey(epoch: UInt64.max), by: sam.identity) }
        #expect(throws: MembershipLog.Refusal.invalidAction) { try log.appendNext(.rotateKey(epoch: 256), by: sam.identity) }
        #expect(log.epoch == 1)
    }

    @Test("A removed device cannot be certified back in by anyone: its old certificate is still validly signed")
    func removedStaysRemoved() throws {
        // Attack: Alex revoked a laptop; Sam re-posted its old certificate and the laptop wrote on.
        var (log, alex, sam) = try MembershipTests.coupleSpace()
        let certificate = try #require(log.devices[alex.device.verifyingKey])
        try log.appendNext(.removeDevice(alex.device.verifyingKey), by: alex.identity)
        #expect(throws: MembershipLog.Refusal.notOwnDevice) { try log.appendNext(.addDevice(certificate), by: sam.identity) }
        #expect(throws: MembershipLog.Refusal.deviceKnown) { try log.appendNext(.addDevice(certificate), by: alex.identity) }
        #expect(log.devices[alex.device.verifyingKey] == nil)
    }
}
