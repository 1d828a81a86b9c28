import DuetCore
import DuetCrypto
import DuetWire
import Foundation
import Testing
@testable import DuetStore

/// A second copy of a device's store receiving that device's newer envelopes: verify and store
/// without a key, then materialise when unlocked.
@Suite("Receiving envelopes")
struct IngestTests {
    static let passphrase = SecretBytes(utf8: "a passphrase")

    static func copyOf(_ home: Home) throws -> Home {
        let copy = StoreTests.temporaryHome()
        try FileManager.default.copyItem(atPath: home.path, toPath: copy.path)
        return copy
    }

    @Test("Newer envelopes verify and store without a key, then materialise to the same entries")
    func catchUp() throws {
        let home = StoreTests.temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        let (store, writer) = try Store.create(home: home, name: "A", deviceName: "A's laptop", passphrase: Self.passphrase, parameters: StoreTests.weakestAllowed, now: 1_700_000_000_000)
        let first = EntryID(high: 1, low: 1), second = EntryID(high: 2, low: 2)
        try writer.commit(entry: first, now: 1_000) { $0.create(); $0.setTitle("one"); $0.insertText(Array("hello".unicodeScalars), at: 0) }
        let copy = try Self.copyOf(home)
        defer { try? FileManager.default.removeItem(atPath: copy.path) }
        try writer.commit(entry: first, now: 2_000) { $0.insertText(Array(" world".unicodeScalars), at: 5); $0.setTitle("two") }
        try writer.commit(entry: second, now: 3_000) { $0.create(); $0.addFactor(.delight) }
        let space = writer.keystore.personalSpace
        let fresh = try store.envelopes(space: space, of: [writer.keystore.deviceID], after: [writer.keystore.deviceID: 1])
        #expect(fresh.count == 2)

        let receiver = try Store.open(home: copy)
        let report = try receiver.storeVerified(fresh, space: space)
        #expect(report.stored == 2 && report.refused.isEmpty)
        #expect(try receiver.storeVerified(fresh, space: space).duplicates == 2)
        let unlocked = try receiver.unlock(passphrase: Self.passphrase)
        #expect(try unlocked.entry(first)?.body.string == "hello", "stored but not yet applied")
        #expect(try unlocked.materialise().count == 2)
        for id in [first, second] {
            let mine = try #require(try writer.entry(id)), theirs = try #require(try unlocked.entry(id))
            #expect(EntrySnapshot.encode(mine) == EntrySnapshot.encode(theirs))
        }
        #expect(try unlocked.materialise().isEmpty, "nothing left to apply")
    }

    @Test("Tampered, gapped, forked and foreign envelopes are refused and never stored")
    func refusals() throws {
        let home = StoreTests.temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        let (store, writer) = try Store.create(home: home, name: "A", deviceName: "A's laptop", passphrase: Self.passphrase, parameters: StoreTests.weakestAllowed, now: 1_700_000_000_000)
        let id = EntryID(high: 3, low: 3)
        try writer.commit(entry: id, now: 1_000) { $0.create() }
        let copy = try Self.copyOf(home)
        defer { try? FileManager.default.removeItem(atPath: copy.path) }
        for step in 0..<3 { try writer.commit(entry: id, now: 2_000 + UInt64(step)) { $0.setTitle("v\(step)") } }
        let space = writer.keystore.personalSpace
        let newer = try store.envelopes(space: space, of: [writer.keystore.deviceID], after: [writer.keystore.deviceID: 1])
        let receiver = try Store.open(home: copy)
        var flipped = newer[0]
        flipped[flipped.count / 2] ^= 0x04
        let stranger = SigningKey.generate()
        let foreign = Envelope.seal([1], header: .init(space: space, epoch: 1, device: WireDeviceID(verifyingKey: stranger.verifyingKey), seq: 1, previous: .zero),
                                   contentKey: .random(), signingKey: stranger)
        let fork = Envelope.seal([2], header: .init(space: space, epoch: 1, device: writer.keystore.deviceID, seq: 1, previous: .zero),
                                 contentKey: .random(), signingKey: writer.keystore.device)
        // Seq 2 signed by the device but naming the wrong previous envelope.
        let unchained = Envelope.seal([3], header: .init(space: space, epoch: 1, device: writer.keystore.deviceID, seq: 2, previous: .zero),
                                      contentKey: .random(), signingKey: writer.keystore.device)
        let report = try receiver.storeVerified([flipped, newer[1], foreign.bytes, fork.bytes, [1, 2, 3], unchained.bytes], space: space)
        #expect(report.stored == 0)
        #expect(report.refused.count == 6, "\(report.refused)")
        #expect(report.refused.contains("broken chain"))
        #expect(report.refused.contains("envelope with a bad signature") && report.refused.contains("gap in a device's envelopes")
                && report.refused.contains("envelope from a device that is not a member") && report.refused.contains("fork: a second envelope for one seq"))
        #expect(try receiver.storeVerified(newer, space: space).stored == 3, "the genuine ones still go in, in order")
    }

    @Test("A relay that answers with less than it once held is reported as rolled back")
    func rollback() throws {
        let home = StoreTests.temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        let (store, writer) = try Store.create(home: home, name: "A", deviceName: "A's laptop", passphrase: Self.passphrase, parameters: StoreTests.weakestAllowed, now: 1_700_000_000_000)
        let space = writer.keystore.personalSpace, device = writer.keystore.deviceID
        #expect(try store.noteRelayHeads([device: 5], space: space).isEmpty)
        #expect(try store.noteRelayHeads([device: 7], space: space).isEmpty)
        #expect(try store.noteRelayHeads([device: 6], space: space) == [device])
        #expect(try store.noteRelayHeads([:], space: space) == [device])
    }
}

@Suite("History outlives revocation")
struct RevokedHistoryTests {
    @Test("A removed device's envelopes up to the seq its removal names verify; one it signed after is refused")
    func removedDeviceBound() throws {
        let home = StoreTests.temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        let (store, laptop) = try Store.create(home: home, name: "A", deviceName: "A's laptop", passphrase: IngestTests.passphrase,
                                               parameters: StoreTests.weakestAllowed, now: 1_700_000_000_000)
        let space = laptop.keystore.personalSpace
        let phone = SigningKey.generate()
        let phoneID = WireDeviceID(verifyingKey: phone.verifyingKey)
        let certificate = DeviceCertificate.issue(identity: laptop.keystore.identity, device: phone.verifyingKey, created: 1)
        try store.appendMembership(try store.membershipLog(space: space).nextRecords([.addDevice(certificate)], by: laptop.keystore.identity), space: space)
        // The phone wrote two changes; the removal counts the first as written while a member.
        let key = try #require(try laptop.spaceKeys(space)[1])
        let phoneDevice = try #require(DeviceID(bytes: phoneID.bytes))
        var envelopes: [Envelope] = []
        for seq in UInt64(1)...2 {
            let change = Change(device: phoneDevice, seq: seq, hlc: HLC(milliseconds: 1_700_000_000_000 + seq, counter: 0), dependencies: [],
                                entry: EntryID(high: 7, low: seq), operations: [.create, .setTitle("from the phone \(seq)", supersedes: [])])
            let header = Envelope.Header(space: space, epoch: 1, device: phoneID, seq: seq, previous: envelopes.last?.hash ?? .zero)
            envelopes.append(Envelope.seal(ChangeCodec.encode(change), header: header, contentKey: key, signingKey: phone))
        }
        try store.appendMembership(try store.membershipLog(space: space).nextRecords([.removeDevice(phone.verifyingKey, lastSeq: 1)],
                                                                                     by: laptop.keystore.identity), space: space)
        let report = try store.storeVerified(envelopes.map(\.bytes), space: space)
        #expect(report.stored == 1)
        #expect(report.refused == ["envelope a device signed after it was removed"])
        try laptop.materialise()
        #expect(try laptop.entry(EntryID(high: 7, low: 1))?.title.value == "from the phone 1")
        #expect(try laptop.entry(EntryID(high: 7, low: 2)) == nil)
    }
}
