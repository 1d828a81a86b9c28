import DuetCore
import DuetCrypto
import DuetTesting
import DuetWire
import Foundation
import Testing

/// Issue #13: Sam, a full member of the couple space, attacks Alex with nothing but Sam's own
/// keys and the published protocol, through the real relay. Every attack is refused or survived,
/// with a notice naming Sam's device, and Alex's journal goes on working.
@Suite("The partner as an adversary")
struct PartnerAttackTests {
    /// A paired couple where Alex has written a shared entry Sam received, and Sam's keys in
    /// hostile hands.
    static func setUp(relayOptions: [String] = []) async throws -> (Couple, HostileMember, alexDevice: DeviceID, shared: String) {
        let couple = try Couple(relayOptions: relayOptions)
        let shared = try couple.alex.write("Thank you for listening last night.", ["--shared"])
        try couple.syncBoth()
        let authorHex = try couple.alex.show(shared)["authorDevice"] as? String ?? ""
        let alexDevice = try #require(DeviceID(bytes: hexBytes(authorHex)))
        let sam = try await HostileMember.take(couple.sam, relay: couple.relay.base)
        return (couple, sam, alexDevice, shared)
    }

    /// Alex syncs (unlocked: what arrived is applied) and must still work.
    static func alexSyncs(_ couple: Couple) throws -> [String] {
        let sync = try couple.alex.duet(["sync"])
        #expect(sync.status == 0, "Alex's sync still works: \(sync.stderr)")
        #expect(try couple.alex.duet(["list"]).status == 0, "Alex's journal still opens")
        return (try couple.alex.status()["warnings"] as? [String]) ?? []
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
        let warnings = try Self.alexSyncs(couple)
        let bodies = try couple.alex.list().compactMap { $0["body"] as? String }
        #expect(!bodies.contains { $0.contains("never loved") }, "the forged entry is not shown: \(bodies)")
        #expect(try couple.alex.duet(["show", forgedID.description]).status != 0)
        let honest = try couple.alex.show(honestID.description)
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
        let warnings = try Self.alexSyncs(couple)
        #expect(warnings.contains { $0.contains("Sam") && $0.contains("could not be read") }, "\(warnings)")
        #expect(try couple.alex.show(later.description)["title"] as? String == "after the bad one", "Sam's next change applies")
        #expect(try couple.alex.show(shared)["body"] as? String == "Thank you for listening last night.")
        // A second run is as calm: the change was consumed, not retried for ever.
        #expect(try couple.alex.duet(["list"]).status == 0)
        #expect(try couple.alex.duet(["write", "-m", "still here", "--shared"]).status == 0)
    }

    @Test("Sam cannot re-certify, remove, or re-key Alex's devices, nor add a third person; the relay refuses each by name")
    func membershipAttacks() async throws {
        let (couple, sam, _, _) = try await Self.setUp()
        let log = try await sam.log()
        let (laptop, certificate) = try #require(log.devices.first { $0.value.identity != sam.identity.verifyingKey })
        let alexIdentity = certificate.identity
        let third = SigningKey.generate()
        let attacks: [(String, [MembershipRecord.Action], String)] = [
            ("re-certify Alex's laptop under Sam", [.addDevice(.issue(identity: sam.identity, device: laptop, name: "mine", created: 1))], "membership-device-known"),
            ("remove Alex's laptop", [.removeDevice(laptop)], "membership-not-own-device"),
            ("replace the laptop's key", [.wrapKey(epoch: 1, device: laptop, box: [UInt8](repeating: 7, count: 80))], "membership-wrap-exists"),
            ("add a third reader", [.addIdentity(third.verifyingKey)], "membership-identity-limit"),
            ("rotate without removing", [.rotateKey(epoch: 2)], "membership-rotation-not-allowed"),
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
        let warnings = try Self.alexSyncs(couple)
        for refusal in [MembershipLog.Refusal.deviceKnown, .notOwnDevice, .wrapExists, .identityLimit, .rotationNotAllowed] {
            #expect(warnings.contains("Sam signed a change to your shared space that was refused and not followed: \(refusal.explanation)"), "\(warnings)")
        }
        #expect(warnings.count == 5)
        #expect(try Self.alexSyncs(couple).count == 5, "told once")
        _ = try couple.alex.write("still mine", ["--shared"])
        #expect(try couple.alex.duet(["sync"]).status == 0)
        let heads = try await sam.client.request("GET", "/v1/spaces/\(RelayClient.hex(sam.couple))/heads")
        let alexHead = try RelayMessages.decodeVector(heads.body)[WireDeviceID(verifyingKey: laptop)]
        #expect(alexHead == 2, "Alex's second shared entry was accepted by the relay")
    }

    @Test("255 epochs of Sam's rotations leave Alex working; the 256th is refused by the relay")
    func manyRotations() async throws {
        let (couple, sam, _, _) = try await Self.setUp(relayOptions: ["--membership-per-second", "100000", "--membership-burst", "100000"])
        for epoch in UInt64(2)...256 {
            let spare = SigningKey.generate()
            #expect(try await sam.post([.addDevice(.issue(identity: sam.identity, device: spare.verifyingKey, name: "spare", created: 1))]).status == 200)
            #expect(try await sam.post([.removeDevice(spare.verifyingKey)]).status == 200)
            let members = try await sam.log().devices.keys
            let reply = try await sam.post([.rotateKey(epoch: epoch)] + members.map {
                .wrapKey(epoch: epoch, device: $0, box: try SealedBox.seal(SymmetricKey.random().bytes, to: BoxPublicKey(converting: $0)))
            })
            if epoch <= 255 { #expect(reply.status == 200, "epoch \(epoch): \(reply.text)") } else {
                #expect(reply.status == 409 && reply.code == "membership-invalid-action", "\(reply.text)")
            }
        }
        let sync = try couple.alex.duet(["sync"])
        #expect(sync.status == 0, "\(sync.stderr)")
        #expect(try couple.alex.duet(["list"]).status == 0)
        #expect(try couple.alex.duet(["write", "-m", "shared, still", "--shared"]).status == 0)
        #expect(try couple.alex.duet(["sync"]).status == 0)
    }
}
