import DuetCrypto
import Testing
@testable import DuetWire

/// Issue #14 item 3: the identity bundle's version 2 carries the recovery blob's generation and
/// how far each membership log went; version 1 blobs (at relays today) still open.
@Suite("Identity bundle versions")
struct BundleVersionTests {
    @Test("Version 2 round-trips its generation and log heads; a third head or a repeated space is refused")
    func versionTwo() throws {
        let key = SymmetricKey.random()
        let personal = SpaceID.random(), couple = SpaceID.random()
        let heads = [personal: IdentityBundle.LogHead(records: 7, last: Hash.digest([7])), couple: IdentityBundle.LogHead(records: 12, last: Hash.digest([12]))]
        let bundle = IdentityBundle(identity: .generate(), name: "Alex", personalSpace: personal, personalKeys: [1: .random()], couple: nil,
                                    generation: 41, logHeads: heads)
        let opened = try IdentityBundle.open(try bundle.seal(using: key, purpose: "recovery"), using: key, purpose: "recovery")
        #expect(opened.generation == 41)
        #expect(opened.logHeads == heads)
        let three = IdentityBundle(identity: .generate(), name: "Alex", personalSpace: personal, personalKeys: [1: .random()], couple: nil,
                                   logHeads: heads.merging([SpaceID.random(): heads[personal]!]) { a, _ in a })
        #expect(throws: WireError.self) { try three.seal(using: key, purpose: "recovery") }
    }

    @Test("A version-1 blob (no generation, no heads) still opens, as generation 0")
    func versionOne() throws {
        let key = SymmetricKey.random()
        let identity = SigningKey.generate()
        let space = SpaceID.random()
        let contentKey = SymmetricKey.random()
        // version 1 ‖ seed ‖ name ‖ space ‖ one key of epoch 1 ‖ no couple ‖ no recovery slot
        var plain: [UInt8] = [1] + identity.seed.withUnsafeBytes { Array($0) } + [4] + Array("Alex".utf8) + space.bytes
        plain += [1] + [0, 0, 0, 0, 0, 0, 0, 1] + contentKey.bytes.withUnsafeBytes { Array($0) } + [0, 0]
        let sealed = AEAD.seal(plain, using: key, associatedData: Array("duet identity bundle v1 recovery".utf8))
        let opened = try IdentityBundle.open(sealed, using: key, purpose: "recovery")
        #expect(opened.generation == 0 && opened.logHeads.isEmpty && opened.name == "Alex" && opened.personalSpace == space)
        // Version 1 with the version-2 fields appended is refused (nothing may follow its end).
        let padded = AEAD.seal(plain + [0, 0, 0, 0, 0, 0, 0, 0, 0], using: key, associatedData: Array("duet identity bundle v1 recovery".utf8))
        #expect(throws: WireError.self) { try IdentityBundle.open(padded, using: key, purpose: "recovery") }
    }

    @Test("A log head is held only by a log at least as long with the same record at its end")
    func logHeadHeld() throws {
        let alex = SigningKey.generate()
        var log = MembershipLog(space: .random())
        try log.append(log.nextRecord(.create(identity: alex.verifyingKey), by: alex))
        let head = IdentityBundle.LogHead(records: 1, last: log.records[0].hash)
        #expect(head.isHeld(by: log.records))
        #expect(!head.isHeld(by: []))
        #expect(!IdentityBundle.LogHead(records: 1, last: Hash.digest([0])).isHeld(by: log.records))
        #expect(!IdentityBundle.LogHead(records: 2, last: log.records[0].hash).isHeld(by: log.records))
        #expect(IdentityBundle.LogHead(records: 0, last: Hash.digest([])).isHeld(by: []))
    }
}
