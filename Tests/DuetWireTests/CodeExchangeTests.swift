import DuetCrypto
import Testing
@testable import DuetWire

/// The messages sealed under a pairing, link or recovery code: they round-trip, every altered
/// bit is refused as a whole, the wrong code or purpose opens nothing, and no input traps.
@Suite("Pairing, link and recovery messages")
struct CodeExchangeTests {
    static func certificate(_ identity: SigningKey, name: String = "Sam's phone") -> DeviceCertificate {
        DeviceCertificate.issue(identity: identity, device: SigningKey.generate().verifyingKey, created: 1_700_000_000_000)
    }

    static func bundle(couple: Bool) -> IdentityBundle {
        IdentityBundle(identity: .generate(), name: "Alex", personalSpace: .random(), personalKeys: [1: .random(), 2: .random()],
                       couple: couple ? .init(space: .random(), keys: [1: .random()], partner: SigningKey.generate().verifyingKey, partnerName: "Sam") : nil,
                       recovery: couple ? RecoverySlot(slot: RandomBytes.make(count: 16), key: .random()) : nil)
    }

    @Test("Invite and reply round-trip; a certificate of another identity is refused")
    func pairingMessages() throws {
        let key = SymmetricKey.random()
        let alex = SigningKey.generate()
        let invite = PairingMessages.Invite(space: .random(), identity: alex.verifyingKey, certificate: Self.certificate(alex, name: "Alex's laptop"),
                                            name: "Alex", logHead: Hash.digest([1, 2, 3]), logLength: 3)
        #expect(try PairingMessages.openInvite(PairingMessages.seal(invite, key: key), key: key) == invite)
        let sam = SigningKey.generate()
        let reply = PairingMessages.Reply(identity: sam.verifyingKey, certificate: Self.certificate(sam), name: "Sam")
        #expect(try PairingMessages.openReply(PairingMessages.seal(reply, key: key), key: key) == reply)
        // Sam's identity with a certificate Alex's identity signed: refused.
        let forged = PairingMessages.Reply(identity: sam.verifyingKey, certificate: Self.certificate(alex), name: "Sam")
        #expect(throws: WireError.self) { try PairingMessages.openReply(PairingMessages.seal(forged, key: key), key: key) }
        // An invite opened as a reply, or under another code: nothing.
        #expect(throws: WireError.self) { try PairingMessages.openReply(PairingMessages.seal(invite, key: key), key: key) }
        #expect(throws: WireError.self) { try PairingMessages.openInvite(PairingMessages.seal(invite, key: key), key: .random()) }
    }

    @Test("Identity bundles round-trip with and without a couple space; purpose and key are bound")
    func bundles() throws {
        let key = SymmetricKey.random()
        for couple in [false, true] {
            let bundle = Self.bundle(couple: couple)
            let opened = try IdentityBundle.open(bundle.seal(using: key, purpose: "link"), using: key, purpose: "link")
            #expect(opened.identity.verifyingKey == bundle.identity.verifyingKey)
            #expect(opened.name == bundle.name && opened.personalSpace == bundle.personalSpace)
            #expect(opened.personalKeys.keys.sorted() == [1, 2])
            #expect(opened.personalKeys[2]?.bytes == bundle.personalKeys[2]?.bytes)
            #expect(opened.couple?.space == bundle.couple?.space && opened.couple?.partnerName == bundle.couple?.partnerName)
            #expect(opened.couple?.keys[1]?.bytes == bundle.couple?.keys[1]?.bytes)
            #expect(opened.recovery?.slot == bundle.recovery?.slot)
            #expect(throws: WireError.self) { try IdentityBundle.open(bundle.seal(using: key, purpose: "link"), using: key, purpose: "recovery") }
            #expect(throws: WireError.self) { try IdentityBundle.open(bundle.seal(using: key, purpose: "link"), using: .random(), purpose: "link") }
        }
    }

    @Test("Every bit of a sealed bundle and link request is authenticated")
    func tamper() throws {
        let key = SymmetricKey.random()
        let sealed = try Self.bundle(couple: true).seal(using: key, purpose: "link")
        for index in sealed.indices {
            var altered = sealed
            altered[index] ^= 0x10
            #expect(throws: WireError.self) { try IdentityBundle.open(altered, using: key, purpose: "link") }
        }
        let request = LinkRequest(device: SigningKey.generate().verifyingKey, deviceName: "Alex's phone")
        let sealedRequest = try request.seal(using: key)
        #expect(try LinkRequest.open(sealedRequest, using: key) == request)
        for index in sealedRequest.indices {
            var altered = sealedRequest
            altered[index] ^= 0x01
            #expect(throws: WireError.self) { try LinkRequest.open(altered, using: key) }
        }
    }

    @Test("Random and truncated inputs never trap any of the openers")
    func hostileInputs() throws {
        let key = SymmetricKey.random()
        var generator = SystemRandomNumberGenerator()
        let sealed = try Self.bundle(couple: true).seal(using: key, purpose: "link")
        for length in 0..<sealed.count { _ = try? IdentityBundle.open(Array(sealed.prefix(length)), using: key, purpose: "link") }
        for _ in 0..<2_000 {
            let bytes = (0..<Int.random(in: 0..<300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? IdentityBundle.open(bytes, using: key, purpose: "link")
            _ = try? LinkRequest.open(bytes, using: key)
            _ = try? PairingMessages.openInvite(bytes, key: key)
            _ = try? PairingMessages.openReply(bytes, key: key)
            _ = Recovery.openPutBody(bytes, slot: [1, 2, 3])
        }
    }

    @Test("Recovery slots: codes derive the same slot however typed; the owner's signature binds slot and blob")
    func recovery() throws {
        let code = Recovery.makeCode()
        let slot = try #require(Recovery.derive(code: code))
        let retyped = try #require(Recovery.derive(code: code.lowercased().replacingOccurrences(of: "-", with: " ")))
        #expect(slot.slot == retyped.slot && slot.key.bytes == retyped.key.bytes)
        #expect(slot.slot != Pairing.derive(code: code)?.inviteMailbox, "recovery and pairing derive apart")
        let identity = SigningKey.generate()
        let body = Recovery.putBody(slot: slot.slot, blob: [9, 9, 9], identity: identity)
        #expect(Recovery.openPutBody(body, slot: slot.slot)?.owner == identity.verifyingKey)
        #expect(Recovery.openPutBody(body, slot: RandomBytes.make(count: 16)) == nil, "a body for one slot is useless in another")
        var altered = body
        altered[altered.count - 1] ^= 1
        #expect(Recovery.openPutBody(altered, slot: slot.slot) == nil)
    }

    @Test("A daemon key vouched for by one device is not vouched for by another")
    func delegation() {
        let device = SigningKey.generate(), daemon = SigningKey.generate()
        let delegation = SyncDelegation.sign(delegate: daemon.verifyingKey, by: device)
        #expect(SyncDelegation.isValid(delegation, delegate: daemon.verifyingKey, device: device.verifyingKey))
        #expect(!SyncDelegation.isValid(delegation, delegate: SigningKey.generate().verifyingKey, device: device.verifyingKey))
        #expect(!SyncDelegation.isValid(delegation, delegate: daemon.verifyingKey, device: SigningKey.generate().verifyingKey))
    }
}
