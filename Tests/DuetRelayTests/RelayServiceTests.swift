import DuetCrypto
import DuetWire
import Foundation
import DuetTesting
import Testing
@testable import DuetRelay

/// The relay's rules without HTTP: who may do what.
@Suite("Relay service")
struct RelayServiceTests {
    static let now: UInt64 = 1_767_225_600_000
    static let origin = "http://127.0.0.1:8479"

    struct Person {
        let identity = SigningKey.generate()
        let device = SigningKey.generate()
        var certificate: DeviceCertificate { .issue(identity: identity, device: device.verifyingKey, created: RelayServiceTests.now) }
    }

    /// Runs `body` on a service over a fresh store of `kind` (sessions in the database on
    /// PostgreSQL, as several relay processes share them), closed afterwards.
    static func withService(_ kind: RelayBackendKind, _ body: (RelayService) async throws -> Void) async throws {
        let backend = try await TestRelayBackend.make(kind)
        do { try await body(RelayService(storage: backend.storage, origin: origin, access: backend.access)) } catch {
            await backend.close()
            throw error
        }
        await backend.close()
    }

    /// Creates a space owned by `owner` with the owner's device as member.
    static func createSpace(_ service: RelayService, owner: Person) async throws -> SpaceID {
        let space = SpaceID.random()
        let create = MembershipRecord.sign(space: space, index: 1, previous: .zero, action: .create(identity: owner.identity.verifyingKey), signer: owner.identity)
        let add = MembershipRecord.sign(space: space, index: 2, previous: create.hash, action: .addDevice(owner.certificate), signer: owner.identity)
        _ = try await service.appendMembership(create.encoded, from: owner.device.verifyingKey)
        _ = try await service.appendMembership(add.encoded, from: owner.device.verifyingKey)
        return space
    }

    @Test("The signed authentication message is exactly the bytes SPEC § 6.3 gives")
    func authenticationBytes() {
        let message = RelayMessages.authenticationMessage(origin: "http://127.0.0.1:8479", challenge: [UInt8](repeating: 7, count: 32))
        let expected = "64756574" + "2072656c" + "61792061" + "75746820" + "7631" + "68747470" + "3a2f2f31" + "32372e30" + "2e302e31" + "3a383437" + "39"
            + "00" + String(repeating: "07", count: 32)
        #expect(message.count == 72 && Hex.encode(message) == expected)
    }

    @Test("A session needs a fresh challenge signed for this relay, used once", arguments: RelayBackendKind.allCases)
    func authentication(backend kind: RelayBackendKind) async throws {
        try await Self.withService(kind) { (service: RelayService) async throws in
            let device = SigningKey.generate()
            let challenge = try await service.challenge(for: device.verifyingKey, now: Self.now)
            let signature = device.signature(for: RelayMessages.authenticationMessage(origin: Self.origin, challenge: challenge))
            let token = try await service.session(device: device.verifyingKey, challenge: challenge, signature: signature, now: Self.now + 1)
            #expect(try await service.device(for: token, now: Self.now + 2) == device.verifyingKey)
            // Reusing the challenge, signing for another relay, or another key's signature: refused.
            await #expect(throws: RelayError.unauthenticated) {
                try await service.session(device: device.verifyingKey, challenge: challenge, signature: signature, now: Self.now + 1)
            }
            let second = try await service.challenge(for: device.verifyingKey, now: Self.now)
            let elsewhere = device.signature(for: RelayMessages.authenticationMessage(origin: "http://evil.example", challenge: second))
            await #expect { try await service.session(device: device.verifyingKey, challenge: second, signature: elsewhere, now: Self.now + 1) } throws: { error in
                // The refusal names the origin the relay expects: the likeliest mistake is the URL.
                (error as? RelayError)?.code == "unauthenticated" && "\(error)".contains(Self.origin)
            }
            await #expect(throws: RelayError.self) {
                try await service.session(device: device.verifyingKey, challenge: second, signature: elsewhere, now: Self.now + 1)
            }
            let third = try await service.challenge(for: device.verifyingKey, now: Self.now)
            let late = device.signature(for: RelayMessages.authenticationMessage(origin: Self.origin, challenge: third))
            await #expect(throws: RelayError.unauthenticated) {
                try await service.session(device: device.verifyingKey, challenge: third, signature: late, now: Self.now + 61_000)
            }
            await #expect(throws: RelayError.unauthenticated) { try await service.device(for: token, now: Self.now + 3_600_001) }
        }
    }

    @Test("Only member devices append, each only its own correctly signed envelopes", arguments: RelayBackendKind.allCases)
    func appendRules(backend kind: RelayBackendKind) async throws {
        try await Self.withService(kind) { (service: RelayService) async throws in
            let alex = Person(), sam = Person()
            let space = try await Self.createSpace(service, owner: alex)
            let key = SymmetricKey.random()
            let alexID = WireDeviceID(verifyingKey: alex.device.verifyingKey)
            let first = Envelope.seal([1], header: .init(space: space, epoch: 1, device: alexID, seq: 1, previous: .zero), contentKey: key, signingKey: alex.device)
            #expect(try await service.append([first.bytes], to: space, from: alex.device.verifyingKey, now: Self.now) == [.stored(position: 1)])
            // Sam is not a member of Alex's personal space: may neither write nor read it.
            let samID = WireDeviceID(verifyingKey: sam.device.verifyingKey)
            let samsOwn = Envelope.seal([2], header: .init(space: space, epoch: 1, device: samID, seq: 1, previous: .zero), contentKey: key, signingKey: sam.device)
            await #expect(throws: RelayError.notAMember) { try await service.append([samsOwn.bytes], to: space, from: sam.device.verifyingKey, now: Self.now) }
            await #expect(throws: RelayError.notAMember) { try await service.fetch(space: space, after: [:], limit: 10, device: sam.device.verifyingKey) }
            await #expect(throws: RelayError.notAMember) { try await service.heads(space: space, device: sam.device.verifyingKey) }
            // Alex cannot upload an envelope claiming to be another device's, nor a badly signed one.
            let forged = Envelope.seal([3], header: .init(space: space, epoch: 1, device: samID, seq: 1, previous: .zero), contentKey: key, signingKey: alex.device)
            await #expect(throws: RelayError.self) { try await service.append([forged.bytes], to: space, from: alex.device.verifyingKey, now: Self.now) }
            var tampered = first.bytes
            tampered[tampered.count - 1] ^= 1
            let second = Envelope.seal([4], header: .init(space: space, epoch: 1, device: alexID, seq: 2, previous: first.hash), contentKey: key, signingKey: alex.device)
            var badSignature = second.bytes
            badSignature[badSignature.count - 5] ^= 0x10
            await #expect(throws: RelayError.self) { try await service.append([badSignature], to: space, from: alex.device.verifyingKey, now: Self.now) }
            await #expect(throws: RelayError.self) { try await service.append([[0, 1, 2]], to: space, from: alex.device.verifyingKey, now: Self.now) }
            await #expect(throws: RelayError.unknownSpace) { try await service.append([first.bytes], to: SpaceID.random(), from: alex.device.verifyingKey, now: Self.now) }
            #expect(try await service.append([second.bytes], to: space, from: alex.device.verifyingKey, now: Self.now) == [.stored(position: 2)])
            #expect(try await service.heads(space: space, device: alex.device.verifyingKey) == [alexID: 2])
        }
    }

    @Test("A couple space: the partner joins through records the relay verifies but cannot invent", arguments: RelayBackendKind.allCases)
    func coupleSpace(backend kind: RelayBackendKind) async throws {
        try await Self.withService(kind) { (service: RelayService) async throws in
            let alex = Person(), sam = Person(), mallory = Person()
            let space = try await Self.createSpace(service, owner: alex)
            let records = try await service.membership(space: space, from: 1, device: alex.device.verifyingKey).map { try MembershipRecord(bytes: $0) }
            let addSam = MembershipRecord.sign(space: space, index: 3, previous: records[1].hash, action: .addIdentity(sam.identity.verifyingKey), signer: alex.identity)
            // Mallory cannot add herself, even by sending a well-formed record.
            let addMallory = MembershipRecord.sign(space: space, index: 3, previous: records[1].hash, action: .addIdentity(mallory.identity.verifyingKey), signer: mallory.identity)
            await #expect(throws: RelayError.self) { try await service.appendMembership(addMallory.encoded, from: mallory.device.verifyingKey) }
            #expect(try await service.appendMembership(addSam.encoded, from: alex.device.verifyingKey).index == 3)
            let samDevice = MembershipRecord.sign(space: space, index: 4, previous: addSam.hash, action: .addDevice(sam.certificate), signer: sam.identity)
            #expect(try await service.appendMembership(samDevice.encoded, from: sam.device.verifyingKey).index == 4)
            #expect(try await service.heads(space: space, device: sam.device.verifyingKey).isEmpty)
            // A record that does not follow the log (replayed index) is refused.
            await #expect(throws: RelayError.self) { try await service.appendMembership(addSam.encoded, from: alex.device.verifyingKey) }
        }
    }
}

@Suite("Relay limits")
struct RelayLimitTests {
    @Test("A device past its rate is refused with rate-limited, and recovers as time passes")
    func rateLimit() async throws {
        let folder = NSTemporaryDirectory() + "duet-relay-limits-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var limits = RelayService.Limits()
        limits.appendsPerSecond = 10
        limits.appendBurst = 5
        let service = RelayService(storage: try SQLiteRelayStorage(directory: folder), origin: "o", limits: limits)
        let alex = RelayServiceTests.Person()
        let space = try await RelayServiceTests.createSpace(service, owner: alex)
        let key = SymmetricKey.random()
        let id = WireDeviceID(verifyingKey: alex.device.verifyingKey)
        var previous = Digest.zero
        var envelopes: [Envelope] = []
        for seq in 1...8 {
            let envelope = Envelope.seal([UInt8(seq)], header: .init(space: space, epoch: 1, device: id, seq: UInt64(seq), previous: previous), contentKey: key, signingKey: alex.device)
            previous = envelope.hash
            envelopes.append(envelope)
        }
        let t = RelayServiceTests.now
        for envelope in envelopes.prefix(5) {
            _ = try await service.append([envelope.bytes], to: space, from: alex.device.verifyingKey, now: t)
        }
        await #expect(throws: RelayError.rateLimited(retryAfterMilliseconds: 100)) {
            try await service.append([envelopes[5].bytes], to: space, from: alex.device.verifyingKey, now: t)
        }
        // 200 ms later two tokens have come back.
        #expect(try await service.append([envelopes[5].bytes, envelopes[6].bytes], to: space, from: alex.device.verifyingKey, now: t + 200).count == 2)
    }

    @Test("A space past its quota refuses further envelopes with quota-exceeded", arguments: RelayBackendKind.allCases)
    func quota(backend kind: RelayBackendKind) async throws {
        let backend = try await TestRelayBackend.make(kind, spaceQuotaBytes: 1000)
        let storage = backend.storage
        let space = SpaceID.random()
        var device = RelayStorageTests.Device()
        var outcomes: [AppendOutcome] = []
        for _ in 0..<10 { outcomes += try await storage.append([device.next(space, String(repeating: "x", count: 100))]) }
        #expect(outcomes.contains(.refused(.quotaExceeded)))
        let stored = outcomes.filter { if case .stored = $0 { return true } else { return false } }.count
        #expect(stored >= 1 && stored < 10)
        #expect(try await storage.heads(space: space).values.first == UInt64(stored))
        await backend.close()
    }
}
