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
            let certificate = DeviceCertificate.issue(identity: identity, device: device.verifyingKey, name: "laptop", created: created, expires: expires)
            #expect(throws: WireError.self) { try DeviceCertificate(bytes: certificate.encoded) }
        }
        let edge = DeviceCertificate.issue(identity: identity, device: device.verifyingKey, name: "laptop",
                                           created: DeviceCertificate.maximumTime, expires: DeviceCertificate.maximumTime)
        #expect(try DeviceCertificate(bytes: edge.encoded).created == DeviceCertificate.maximumTime, "the last millisecond is fine")
    }

    @Test("A space takes 255 key epochs; the 256th rotation is refused by the log every side replays")
    func epochCap() throws {
        // Attack: the partner adds and removes a device of their own, 255 times over, rotating
        // each time (a rotation needs a removal before it).
        let (log, _, sam) = try MembershipTests.coupleSpace()
        var replay = log
        func removeOneAndRotate(to epoch: UInt64) throws {
            let extra = MembershipTests.Person(identity: sam.identity)
            try replay.appendNext(.addDevice(extra.certificate(name: "spare")), by: sam.identity)
            try replay.appendNext(.removeDevice(extra.device.verifyingKey), by: sam.identity)
            try replay.append(batch: replay.nextRecords([.rotateKey(epoch: epoch)] + replay.devices.keys.map {
                .wrapKey(epoch: epoch, device: $0, box: [UInt8](repeating: 0xbb, count: 80))
            }, by: sam.identity))
        }
        for epoch in 2...MembershipLog.maximumEpochs { try removeOneAndRotate(to: epoch) }
        #expect(replay.epoch == 255)
        #expect(throws: MembershipLog.Refusal.invalidAction) { try removeOneAndRotate(to: 256) }
        #expect(replay.epoch == 255)
        #expect(throws: MembershipLog.Refusal.invalidAction) { try replay.appendNext(.rotateKey(epoch: UInt64.max), by: sam.identity) }
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
