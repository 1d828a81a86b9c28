import DuetCore
import DuetCrypto
import DuetTesting
import DuetWire
import Foundation
import GRDB
import Testing

/// Issue #13: Sam, a full member of the couple space, attacks Alex with nothing but Sam's own
/// keys and the published protocol, through the real relay. Every attack is refused or survived,
/// with a notice naming Sam's device, and Alex's journal goes on working.
@Suite("The partner as an adversary")
struct PartnerAttackTests {
    /// A paired couple where Alex has written a shared entry Sam received, and Sam's keys in
    /// hostile hands.
    static func setUp(relayOptions: [String] = []) async throws -> (Couple, HostileMember, alexDevice: DeviceID, shared: String) {
        let couple = try await Couple(relayOptions: relayOptions)
        let shared = try await couple.alex.write("Thank you for listening last night.", ["--shared"])
        try await couple.syncBoth()
        let authorHex = try await couple.alex.show(shared)["authorDevice"] as? String ?? ""
        let alexDevice = try #require(Hex.decode(authorHex).flatMap { DeviceID(bytes: $0) })
        let sam = try await HostileMember.take(couple.sam, relay: couple.relay.base)
        return (couple, sam, alexDevice, shared)
    }

    /// Alex syncs (unlocked: what arrived is applied) and must still work.
    static func alexSyncs(_ couple: Couple) async throws -> [String] {
        let sync = try await couple.alex.duet(["sync"])
        #expect(sync.status == 0, "Alex's sync still works: \(sync.stderr)")
        #expect(try await couple.alex.duet(["list"]).status == 0, "Alex's journal still opens")
        return (try await couple.alex.status()["warnings"] as? [String]) ?? []
    }

    @Test("Sam's change adopting a snapshot of an entry 'by Alex' is refused: nothing appears under Alex's name")
    func forgedAdoption() async throws {
        var (couple, sam, alexDevice, _) = try await Self.setUp()
        let forgedID = EntryID(high: 0xF0, low: 0x6E)
        var forger = Journal()
        forger.commit(entry: forgedID, by: alexDevice, at: HLC(milliseconds: 1_767_225_600_000, counter: 0)) {
            $0.create(); $0.insertText(Array("I never loved you.".unicodeScalars), at: 0)
        }
        let snapshot = EntrySnapshot.encode(try #require(forger.entries[forgedID]))
        #expect(try await sam.push(entry: forgedID, operations: [.adoptSnapshot(snapshot)]).status == 200)
        // Sam goes on writing honestly; that must still arrive.
        let honestID = EntryID(high: 0xF0, low: 0x01)
        #expect(try await sam.push(entry: honestID, operations: [.create, .insertText(TextInsert(
            id: CharID(device: sam.deviceID, counter: 0), originLeft: nil, originRight: nil, scalars: Array("later, honestly".unicodeScalars)))]).status == 200)
        let warnings = try await Self.alexSyncs(couple)
        let bodies = try await couple.alex.list().compactMap { $0["body"] as? String }
        #expect(!bodies.contains { $0.contains("never loved") }, "the forged entry is not shown: \(bodies)")
        #expect(try await couple.alex.duet(["show", forgedID.description]).status != 0)
        let honest = try await couple.alex.show(honestID.description)
        #expect(honest["body"] as? String == "later, honestly" && honest["author"] as? String == "Sam")
        #expect(warnings.contains { $0.contains("Sam") && $0.contains("another device") }, "\(warnings)")
    }

    enum Unreadable: String, CaseIterable, CustomTestStringConvertible {
        case randomBytes, newerChangeVersion, unknownOperationTag, otherAuthorsSeq
        var testDescription: String { rawValue }
    }

    @Test("A verified envelope that does not decode is set aside with a notice; Alex's journal and Sam's later changes go on",
          arguments: Unreadable.allCases)
    func unreadableChange(_ kind: Unreadable) async throws {
        var (couple, sam, alexDevice, shared) = try await Self.setUp()
        let entry = EntryID(high: 0xBA, low: 0xD)
        let valid = ChangeCodec.encode(Change(device: sam.deviceID, seq: sam.seq, hlc: HLC(milliseconds: 1_767_225_600_000, counter: 0),
                                              dependencies: [], entry: entry, operations: [.create, .setTitle("x", supersedes: [])]))
        let plaintext: [UInt8] = switch kind {
        case .randomBytes: (0..<200).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        case .newerChangeVersion: [2] + valid.dropFirst()
        case .unknownOperationTag: Array(valid.dropLast(5)) + [0x7f, 0x00]
        case .otherAuthorsSeq: ChangeCodec.encode(Change(device: alexDevice, seq: 1, hlc: HLC(milliseconds: 1_767_225_600_000, counter: 0),
                                                         dependencies: [], entry: entry, operations: [.create]))
        }
        #expect(try await sam.push(plaintext: plaintext).status == 200)
        let later = EntryID(high: 0xBA, low: 0xE)
        #expect(try await sam.push(entry: later, operations: [.create, .setTitle("after the bad one", supersedes: [])]).status == 200)
        let warnings = try await Self.alexSyncs(couple)
        #expect(warnings.contains { $0.contains("Sam") && $0.contains("could not be read") }, "\(warnings)")
        #expect(try await couple.alex.show(later.description)["title"] as? String == "after the bad one", "Sam's next change applies")
        #expect(try await couple.alex.show(shared)["body"] as? String == "Thank you for listening last night.")
        // A second run is as calm: the change was consumed, not retried for ever.
        #expect(try await couple.alex.duet(["list"]).status == 0)
        #expect(try await couple.alex.duet(["write", "-m", "still here", "--shared"]).status == 0)
    }

    @Test("Sam cannot re-certify, remove, or re-key Alex's devices, nor add a third person; the relay refuses each by name")
    func membershipAttacks() async throws {
        let (couple, sam, _, _) = try await Self.setUp()
        let log = try await sam.log()
        let (laptop, certificate) = try #require(log.devices.first { $0.value.identity != sam.identity.verifyingKey })
        let alexIdentity = certificate.identity
        let third = SigningKey.generate()
        let attacks: [(String, [MembershipRecord.Action], String)] = [
            ("re-certify Alex's laptop under Sam", [.addDevice(.issue(identity: sam.identity, device: laptop, created: 1))], "membership-device-known"),
            ("remove Alex's laptop", [.removeDevice(laptop)], "membership-not-own-device"),
            ("replace the laptop's key", [.wrapKey(epoch: 1, device: laptop, box: [UInt8](repeating: 7, count: 80))], "membership-wrap-exists"),
            ("add a third reader", [.addIdentity(third.verifyingKey)], "membership-identity-limit"),
            ("rotate without wrapping the new key to Alex", [.rotateKey(epoch: 2)], "membership-rotation-incomplete"),
        ]
        for (name, actions, code) in attacks {
            let reply = try await sam.post(actions)
            #expect(reply.status == 409 && reply.code == code, "\(name): \(reply.status) \(reply.text)")
        }
        // Alex's laptop was certified by Alex and stays so; Alex syncs and writes as before.
        let after = try await sam.log()
        #expect(after.devices[laptop]?.identity == alexIdentity && after.identities.count == 2 && after.records.count == log.records.count)
        // Alex is shown each attempt (the relay kept the refused records; Alex's device replayed
        // them against its own log before believing it), once.
        let warnings = try await Self.alexSyncs(couple)
        for refusal in [MembershipLog.Refusal.deviceKnown, .notOwnDevice, .wrapExists, .identityLimit, .rotationIncomplete] {
            #expect(warnings.contains("Sam signed a change to your shared space that was refused and not followed: \(refusal.explanation)"), "\(warnings)")
        }
        #expect(warnings.count == 5)
        #expect(try await Self.alexSyncs(couple).count == 5, "told once")
        _ = try await couple.alex.write("still mine", ["--shared"])
        #expect(try await couple.alex.duet(["sync"]).status == 0)
        let heads = try await sam.client.request("GET", "/v1/spaces/\(RelayClient.hex(sam.couple))/heads")
        let alexHead = try RelayMessages.decodeVector(heads.body)[WireDeviceID(verifyingKey: laptop)]
        #expect(alexHead == 2, "Alex's second shared entry was accepted by the relay")
    }

    @Test("Sam's rotations are bounded by his devices: after 59 he can rotate no more, and Alex still shares and revokes")
    func manyRotations() async throws {
        // Each rotation needs a removal, each removal a device Sam certified, and Sam certifies at
        // most 60 in a space (one is his phone): the epochs (at most 255) cannot run out.
        let (couple, sam, _, _) = try await Self.setUp(relayOptions: ["--membership-per-second", "100000", "--membership-burst", "100000"])
        var rotations = 0
        while true {
            let spare = SigningKey.generate()
            let added = try await sam.post([.addDevice(.issue(identity: sam.identity, device: spare.verifyingKey, created: 1))])
            if added.status != 200 {
                #expect(added.code == "membership-device-limit", "\(added.text)")
                break
            }
            #expect(try await sam.post([.removeDevice(spare.verifyingKey)]).status == 200)
            let log = try await sam.log()
            let key = SymmetricKey.random()
            let reply = try await sam.post([.rotateKey(epoch: log.epoch + 1, keyCommitment: MembershipLog.keyCommitment(space: sam.couple, epoch: log.epoch + 1, key: key))]
                + log.devices.keys.map { .wrapKey(epoch: log.epoch + 1, device: $0, box: try SealedBox.seal(key.bytes, to: BoxPublicKey(converting: $0))) })
            #expect(reply.status == 200, "\(reply.text)")
            rotations += 1
            if rotations > 70 { break }
        }
        #expect(rotations == 59)
        let sync = try await couple.alex.duet(["sync"])
        #expect(sync.status == 0, "\(sync.stderr)")
        #expect(try await couple.alex.duet(["write", "-m", "shared, still", "--shared"]).status == 0)
        #expect(try await couple.alex.duet(["sync"]).status == 0)
        _ = try await couple.linkAlexDevice(named: "Alex's phone")
        let revoke = try await couple.alex.duet(["device", "revoke", "Alex's phone"])
        #expect(revoke.status == 0, "Alex can still rotate: \(revoke.stderr)")
    }

    enum BadKey: String, CaseIterable, CustomTestStringConvertible {
        case junkBytes, anotherKey
        var testDescription: String { rawValue }
    }

    @Test("Sam's rotation hands Alex's laptop a key that does not work: Alex is told, sets a new key for both, and writes on",
          arguments: BadKey.allCases)
    func badRotationKey(_ bad: BadKey) async throws {
        // Found by the adversarial review: a junk wrap (never replaceable) left Alex unable to
        // write a shared entry again, with no warning.
        let (couple, sam, _, _) = try await Self.setUp()
        let spare = SigningKey.generate()
        #expect(try await sam.post([.addDevice(.issue(identity: sam.identity, device: spare.verifyingKey, created: 1))]).status == 200)
        #expect(try await sam.post([.removeDevice(spare.verifyingKey)]).status == 200)
        let log = try await sam.log()
        let key = SymmetricKey.random()
        let wraps: [MembershipRecord.Action] = try log.devices.map { device, certificate in
            let box: [UInt8]
            if certificate.identity == sam.identity.verifyingKey {
                box = try SealedBox.seal(key.bytes, to: BoxPublicKey(converting: device))
            } else {
                box = bad == .junkBytes ? [UInt8](repeating: 0x41, count: 80) : try SealedBox.seal(SymmetricKey.random().bytes, to: BoxPublicKey(converting: device))
            }
            return .wrapKey(epoch: 2, device: device, box: box)
        }
        let rotation = try await sam.post([.rotateKey(epoch: 2, keyCommitment: MembershipLog.keyCommitment(space: sam.couple, epoch: 2, key: key))] + wraps)
        #expect(rotation.status == 200, "every rule is met: \(rotation.text)")
        let warnings = try await Self.alexSyncs(couple)
        #expect(warnings.contains("Sam gave this device a key for your shared space that does not work (it does not open, or is not the key announced); this device set a new key for every device in it"), "\(warnings)")
        let notices = (try await couple.alex.status()["notices"] as? [String]) ?? []
        #expect(notices.contains("Sam removed the device “unnamed” from your shared space; its key was changed"), "\(notices)")
        let write = try await couple.alex.duet(["write", "--shared", "-m", "still able to share"])
        #expect(write.status == 0, "\(write.stderr)")
        #expect(try await couple.alex.duet(["sync"]).status == 0)
        let after = try await sam.log()
        #expect(after.epoch == 3 && after.epochBegunBy != sam.identity.verifyingKey, "Alex answered with epoch 3")
        // Sam cannot answer Alex's answer.
        #expect(try await sam.post([.rotateKey(epoch: 4)] + after.devices.keys.map { .wrapKey(epoch: 4, device: $0, box: [UInt8](repeating: 1, count: 80)) }).code
                == "membership-rotation-not-allowed")
    }

    @Test("Sam holds at most 16 devices: a 17th is refused, and Alex can still revoke a device of his own in one batch")
    func deviceFlood() async throws {
        let (couple, sam, _, _) = try await Self.setUp()
        let flood: [MembershipRecord.Action] = (0..<15).map { _ in .addDevice(.issue(identity: sam.identity, device: SigningKey.generate().verifyingKey, created: 1)) }
        #expect(try await sam.post(flood).status == 200)
        let more = try await sam.post([.addDevice(.issue(identity: sam.identity, device: SigningKey.generate().verifyingKey, created: 1))])
        #expect(more.status == 409 && more.code == "membership-device-limit", "\(more.text)")
        let phone = try await couple.linkAlexDevice(named: "Alex's phone")
        _ = phone
        let revoke = try await couple.alex.duet(["device", "revoke", "Alex's phone"])
        #expect(revoke.status == 0, "\(revoke.stderr)")
        #expect(try await sam.log().devices.count == 17, "Alex's laptop and Sam's 16")
        // A removal without a rotation says nothing about a new key.
        let samLog = try await sam.log()
        let spare = try #require(samLog.devices.first { $0.value.identity == sam.identity.verifyingKey && $0.key != sam.device.verifyingKey }?.key)
        #expect(try await sam.post([.removeDevice(spare)]).status == 200)
        _ = try await Self.alexSyncs(couple)
        let notices = (try await couple.alex.status()["notices"] as? [String]) ?? []
        #expect(notices.contains("Sam removed the device “unnamed” from your shared space"), "no directory named it: \(notices)")
    }

    /// Sam's rotation of the couple space: the committed key to his own devices, and to each of
    /// Alex's what `boxFor` says (nil: the real key).
    static func rotate(_ sam: HostileMember, removing spare: Bool, boxFor: (VerifyingKey) throws -> [UInt8]?) async throws -> RelayClient.Reply {
        if spare {
            let device = SigningKey.generate()
            _ = try await sam.post([.addDevice(.issue(identity: sam.identity, device: device.verifyingKey, created: 1))])
            _ = try await sam.post([.removeDevice(device.verifyingKey)])
        }
        let log = try await sam.log()
        let next = log.epoch + 1, key = SymmetricKey.random()
        let wraps: [MembershipRecord.Action] = try log.devices.map { device, certificate in
            let box = certificate.identity == sam.identity.verifyingKey ? nil : try boxFor(device)
            return .wrapKey(epoch: next, device: device, box: try box ?? SealedBox.seal(key.bytes, to: BoxPublicKey(converting: device)))
        }
        return try await sam.post([.rotateKey(epoch: next, keyCommitment: MembershipLog.keyCommitment(space: sam.couple, epoch: next, key: key))] + wraps)
    }

    @Test("Sam answers Alex's epoch (no removal) with junk for Alex: Alex cannot answer an answer, but writes on under his own key")
    func junkAnswer() async throws {
        // Found by the second adversarial review: an answer cannot be answered, so this locked Alex out.
        let (couple, sam, _, _) = try await Self.setUp()
        let reply = try await Self.rotate(sam, removing: false) { _ in [UInt8](repeating: 0x41, count: 80) }
        #expect(reply.status == 200, "Sam may answer the epoch Alex began by creating the space: \(reply.text)")
        let warnings = try await Self.alexSyncs(couple)
        #expect(warnings.contains { $0.contains("it writes under the previous key") }, "\(warnings)")
        let write = try await couple.alex.duet(["write", "--shared", "-m", "still writing"])
        #expect(write.status == 0, "\(write.stderr)")
        #expect(try await couple.alex.duet(["sync"]).status == 0)
    }

    @Test("Sam's rotation spoils the key of one of Alex's devices only: another of Alex's devices mends it")
    func partialJunk() async throws {
        let (couple, sam, _, _) = try await Self.setUp()
        let phone = try await couple.linkAlexDevice(named: "Alex's phone")
        // Alex's newest device is the phone (certified after the laptop).
        let alexDevices = try await sam.log().devices.filter { $0.value.identity != sam.identity.verifyingKey }
        let phoneKey = try #require(alexDevices.max { $0.value.created < $1.value.created }?.key)
        let reply = try await Self.rotate(sam, removing: true) { device in device == phoneKey ? [UInt8](repeating: 0x41, count: 80) : nil }
        #expect(reply.status == 200, "\(reply.text)")
        #expect(try await couple.alex.duet(["sync"]).status == 0, "the laptop holds the committed key and re-keys the phone")
        #expect(try await phone.duet(["sync"]).status == 0)
        let fromLaptop = try await couple.alex.write("from the laptop, under the new key", ["--shared"])
        #expect(try await couple.alex.duet(["sync"]).status == 0)
        #expect(try await phone.duet(["sync"]).status == 0)
        #expect(try await phone.show(fromLaptop)["body"] as? String == "from the laptop, under the new key")
        #expect(try await phone.duet(["write", "--shared", "-m", "and from the phone"]).status == 0)
    }

    @Test("Sam cannot fill the log with directory records: at most 128 each")
    func directoryFlood() async throws {
        let (couple, sam, _, _) = try await Self.setUp(relayOptions: ["--membership-per-second", "100000", "--membership-burst", "100000"])
        defer { withExtendedLifetime(couple) {} }   // the relay lives as long as the couple
        var accepted = 0
        for _ in 0..<140 {
            let reply = try await sam.post([.directory(epoch: 1, sealed: [UInt8](repeating: 0x5a, count: 3000))])
            if reply.status != 200 {
                #expect(reply.code == "membership-directory-limit", "\(reply.text)")
                break
            }
            accepted += 1
        }
        #expect(accepted == MembershipLog.maximumDirectoriesPerIdentity - 1, "one was posted at pairing")
    }
}

@Suite("A relay that lies about refused records")
struct FalseEvidenceTests {
    @Test("A relay that presents an accepted record as refused evidence raises no warning")
    func acceptedRecordIsNoEvidence() async throws {
        // Found by the second adversarial review: an accepted rotation, replayed alone, looked refused.
        let couple = try await Couple()
        _ = try await couple.linkAlexDevice(named: "Alex's phone")
        #expect(try await couple.alex.duet(["device", "revoke", "Alex's phone"]).status == 0)
        #expect(await couple.relay.terminate() == 0)
        let database = try DatabaseQueue(path: couple.relay.data + "/relay.sqlite")
        try await database.write { db in
            try db.execute(sql: "INSERT INTO membership_refused (space, record) SELECT space, record FROM membership")
        }
        try database.close()
        try await couple.relay.start()
        for journal in [couple.alex, couple.sam] {
            #expect(try await journal.duet(["sync", "--relay", couple.relay.base]).status == 0)
            #expect((try await journal.status()["warnings"] as? [String]) == [], "nothing was refused")
        }
    }
}
