import DuetCrypto
import DuetWire
import Testing

@Suite("Membership records")
struct MembershipTests {
    struct Person {
        var identity = SigningKey.generate()
        let device = SigningKey.generate()
        init() {}
        /// Another device of the same person.
        init(identity: SigningKey) { self.identity = identity }
        func certificate(name: String) -> DeviceCertificate {
            .issue(identity: identity, device: device.verifyingKey, created: 1_767_225_600_000)
        }
    }

    /// Alex creates a couple space, adds a laptop, adds Sam, and Sam adds a phone.
    static func coupleSpace() throws -> (MembershipLog, Person, Person) {
        let alex = Person(), sam = Person()
        var log = MembershipLog(space: SpaceID.random())
        try log.appendNext(.create(identity: alex.identity.verifyingKey), by: alex.identity)
        try log.appendNext(.addDevice(alex.certificate(name: "Alex's laptop")), by: alex.identity)
        try log.appendNext(.addIdentity(sam.identity.verifyingKey), by: alex.identity)
        try log.appendNext(.addDevice(sam.certificate(name: "Sam's phone")), by: sam.identity)
        return (log, alex, sam)
    }

    static func nextRecord(_ log: MembershipLog, _ action: MembershipRecord.Action, by signer: SigningKey) -> MembershipRecord {
        log.nextRecord(action, by: signer)
    }

    @Test("Replaying the log gives both partners and their devices; records round-trip byte for byte")
    func replay() throws {
        let (log, alex, sam) = try Self.coupleSpace()
        #expect(log.identities == [alex.identity.verifyingKey, sam.identity.verifyingKey])
        #expect(Set(log.devices.keys) == [alex.device.verifyingKey, sam.device.verifyingKey])
        #expect(log.memberDeviceIDs.contains(WireDeviceID(verifyingKey: sam.device.verifyingKey)))
        #expect(log.deviceKey(for: WireDeviceID(verifyingKey: alex.device.verifyingKey)) == alex.device.verifyingKey)
        var replayed = MembershipLog(space: log.space)
        for record in log.records {
            let parsed = try MembershipRecord(bytes: record.encoded)
            #expect(parsed == record && parsed.encoded == record.encoded)
            try replayed.append(parsed)
        }
        #expect(replayed.devices == log.devices)
    }

    @Test("No one can add a device under another identity, remove another's device, or act without being a member")
    func authority() throws {
        let (log, alex, sam) = try Self.coupleSpace()
        let stranger = Person()
        let cases: [(MembershipRecord, MembershipLog.Refusal)] = [
            // Sam posts a device certified by an identity that is not a member.
            (Self.nextRecord(log, .addDevice(Person().certificate(name: "x")), by: sam.identity), .notOwnDevice),
            // Sam removes Alex's laptop.
            (Self.nextRecord(log, .removeDevice(alex.device.verifyingKey), by: sam.identity), .notOwnDevice),
            // A stranger adds themselves.
            (Self.nextRecord(log, .addIdentity(stranger.identity.verifyingKey), by: stranger.identity), .notAMember),
            // A second create.
            (Self.nextRecord(log, .create(identity: sam.identity.verifyingKey), by: sam.identity), .invalidAction),
            // A rotation with no removal before it.
            (Self.nextRecord(log, .rotateKey(epoch: 2), by: alex.identity), .rotationNotAllowed),
        ]
        for (record, refusal) in cases {
            var copy = log
            #expect(throws: refusal) { try copy.append(record) }
            #expect(copy.records.count == log.records.count, "a refused record changes nothing")
        }
        var copy = log
        try copy.append(Self.nextRecord(log, .removeDevice(sam.device.verifyingKey), by: sam.identity))
        #expect(copy.devices[sam.device.verifyingKey] == nil, "a person removes their own device")
    }

    @Test("Order, chain, space and signature are all checked")
    func integrity() throws {
        let (log, alex, _) = try Self.coupleSpace()
        let tablet = Person(identity: alex.identity).certificate(name: "tablet")
        let good = Self.nextRecord(log, .addDevice(tablet), by: alex.identity)
        var copy = log
        #expect(throws: MembershipLog.Refusal.outOfOrder) {
            try copy.append(.sign(space: log.space, index: 9, previous: log.records.last?.hash ?? .zero, action: .addDevice(tablet), signer: alex.identity))
        }
        #expect(throws: MembershipLog.Refusal.brokenChain) {
            try copy.append(.sign(space: log.space, index: 5, previous: log.records[0].hash, action: .addDevice(tablet), signer: alex.identity))
        }
        #expect(throws: MembershipLog.Refusal.wrongSpace) {
            try copy.append(.sign(space: SpaceID.random(), index: 5, previous: log.records.last?.hash ?? .zero, action: .addDevice(tablet), signer: alex.identity))
        }
        // Every single-bit change of a valid record is refused (or no longer parses).
        for bit in 0..<(good.encoded.count * 8) {
            var bytes = good.encoded
            bytes[bit / 8] ^= 1 << UInt8(bit % 8)
            guard let tampered = try? MembershipRecord(bytes: bytes) else { continue }
            var attempt = log
            #expect(throws: MembershipLog.Refusal.self, "bit \(bit)") { try attempt.append(tampered) }
        }
        try copy.append(good)
        #expect(copy.devices[tablet.device] == tablet)
    }

    @Test("Truncated or oversized records never trap the parser")
    func parser() throws {
        let (log, _, _) = try Self.coupleSpace()
        for record in log.records {
            for length in 0..<record.encoded.count {
                #expect(throws: WireError.self) { try MembershipRecord(bytes: Array(record.encoded.prefix(length))) }
            }
            #expect(throws: WireError.self) { try MembershipRecord(bytes: record.encoded + [0]) }
        }
        #expect(throws: WireError.self) { try MembershipRecord(bytes: [UInt8](repeating: 1, count: 5000)) }
    }
}

@Suite("Wire decoders on random bytes")
struct WireFuzzTests {
    @Test("Records, certificates, vectors, batches and envelopes never trap, and what parses is canonical (100,000 inputs each)")
    func randomAndMutatedInputs() throws {
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            return z ^ (z >> 27)
        }
        let (log, _, _) = try MembershipTests.coupleSpace()
        let seeds = log.records.map(\.encoded) + [RelayMessages.encode(vector: [try WireDeviceID(bytes: [UInt8](repeating: 1, count: 16)): 9])]
            + [RelayMessages.encode(batch: [[1, 2, 3], []])]
        for round in 0..<100_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int(next() % 200)).map { _ in UInt8(truncatingIfNeeded: next()) }
            } else {
                bytes = seeds[Int(next() % UInt64(seeds.count))]
                for _ in 0..<(1 + Int(next() % 3)) where !bytes.isEmpty {
                    bytes[Int(next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: 1 << (next() % 8))
                }
            }
            if let record = try? MembershipRecord(bytes: bytes) { #expect(record.encoded == bytes) }
            if let certificate = try? DeviceCertificate(bytes: bytes) { #expect(certificate.encoded == bytes) }
            if let vector = try? RelayMessages.decodeVector(bytes) { #expect(RelayMessages.encode(vector: vector) == bytes) }
            if let batch = try? RelayMessages.decodeBatch(bytes, maximumCount: 256, maximumItemBytes: 1 << 20) {
                #expect(RelayMessages.encode(batch: batch) == bytes)
            }
            if let envelope = try? Envelope(bytes: bytes) { #expect(envelope.bytes == bytes) }
        }
    }
}

@Suite("Key wraps")
struct KeyWrapTests {
    @Test("The inviter adds the partner's device and wraps the couple key to it; only that device opens it")
    func wrapForPartner() throws {
        let alex = MembershipTests.Person(), sam = MembershipTests.Person()
        let space = SpaceID.random()
        var log = MembershipLog(space: space)
        try log.appendNext(.create(identity: alex.identity.verifyingKey), by: alex.identity)
        try log.appendNext(.addDevice(alex.certificate(name: "laptop")), by: alex.identity)
        try log.appendNext(.addIdentity(sam.identity.verifyingKey), by: alex.identity)
        // Sam posts Sam's device (no one else may), and Alex gives it the key: Sam holds it on
        // no device yet.
        #expect(throws: MembershipLog.Refusal.notOwnDevice) { try log.appendNext(.addDevice(sam.certificate(name: "phone")), by: alex.identity) }
        try log.appendNext(.addDevice(sam.certificate(name: "phone")), by: sam.identity)
        let coupleKey = SymmetricKey.random()
        let box = try SealedBox.seal(coupleKey.bytes, to: try BoxPublicKey(converting: sam.device.verifyingKey))
        try log.appendNext(.wrapKey(epoch: 1, device: sam.device.verifyingKey, box: box), by: alex.identity)
        let wrapped = try #require(log.wrappedKeys[1]?[sam.device.verifyingKey])
        let opened = try SymmetricKey(bytes: BoxSecretKey(converting: sam.device).openSecret(wrapped))
        #expect(opened == coupleKey)
        #expect(throws: CryptoError.authenticationFailure) { try BoxSecretKey(converting: alex.device).openSecret(wrapped) }
        // The record round-trips, and wraps to non-members or for another epoch are refused.
        #expect(try MembershipRecord(bytes: log.records.last!.encoded) == log.records.last!)
        var copy = log
        #expect(throws: MembershipLog.Refusal.invalidAction) {
            try copy.append(.sign(space: space, index: 6, previous: log.records.last!.hash,
                                  action: .wrapKey(epoch: 1, device: SigningKey.generate().verifyingKey, box: box), signer: alex.identity))
        }
        #expect(throws: MembershipLog.Refusal.invalidAction) {
            try copy.append(.sign(space: space, index: 6, previous: log.records.last!.hash,
                                  action: .wrapKey(epoch: 2, device: sam.device.verifyingKey, box: box), signer: alex.identity))
        }
    }
}

extension MembershipLog {
    mutating func appendNext(_ action: MembershipRecord.Action, by signer: SigningKey) throws(Refusal) {
        try append(nextRecord(action, by: signer))
    }
}
