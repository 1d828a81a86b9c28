import DuetCrypto
import DuetTesting
import Foundation
import GRDB
import Testing

/// A relay operator who edits the relay's database: every alteration is refused by the partner's
/// device, reported in `duet status`, and never shown as journal content.
@Suite("duet sync against a relay whose files were altered")
struct TamperedRelayTests {
    enum Tampering: String, CaseIterable, CustomTestStringConvertible {
        case flippedBit, envelopeFromAnotherSpace, replayedEnvelope
        var testDescription: String { rawValue }
    }

    @Test("Altered, moved and replayed envelopes are refused and reported, never shown; nothing is lost once the relay is honest",
          arguments: Tampering.allCases)
    func tampered(_ tampering: Tampering) async throws {
        let couple = try await Couple()
        let first = try await couple.alex.write("first shared", ["--shared"])
        let second = try await couple.alex.write("second shared", ["--shared"])
        _ = try await couple.alex.write("a private one", [])
        #expect(try await couple.alex.duet(["sync"]).status == 0)
        let spaces = try #require(try await couple.alex.status()["spaces"] as? [String: String])
        let shared = Data(try #require(spaces["shared"].flatMap(Hex.decode))), personal = Data(try #require(spaces["private"].flatMap(Hex.decode)))
        let device = Data(try #require((try await couple.alex.show(first)["authorDevice"] as? String).flatMap(Hex.decode)))

        #expect(await couple.relay.terminate() == 0)
        let database = try DatabaseQueue(path: couple.relay.data + "/relay.sqlite")
        let original = try await database.read { db in
            try Data.fetchOne(db, sql: "SELECT bytes FROM envelopes WHERE space = ? AND device = ? AND seq = 2", arguments: [shared, device])
        }
        let honest = try #require(original)
        try await database.write { db in
            let replacement: Data
            switch tampering {
            case .flippedBit:
                var bytes = honest
                bytes[bytes.count / 2] ^= 0x01
                replacement = bytes
            case .envelopeFromAnotherSpace:
                replacement = try #require(try Data.fetchOne(db, sql: "SELECT bytes FROM envelopes WHERE space = ? AND device = ? AND seq = 1",
                                                             arguments: [personal, device]))
            case .replayedEnvelope:
                replacement = try #require(try Data.fetchOne(db, sql: "SELECT bytes FROM envelopes WHERE space = ? AND device = ? AND seq = 1",
                                                             arguments: [shared, device]))
            }
            try db.execute(sql: "UPDATE envelopes SET bytes = ? WHERE space = ? AND device = ? AND seq = 2", arguments: [replacement, shared, device])
        }
        try database.close()
        try await couple.relay.start()

        // A restarted relay listens on a new port: say where it is now.
        let sync = try await couple.sam.duet(["sync", "--relay", couple.relay.base])
        #expect(sync.status == 0, "\(sync.stderr)")
        let warnings = try #require(try await couple.sam.status()["warnings"] as? [String])
        let expected: String = switch tampering {
        case .flippedBit: "bad signature"
        case .envelopeFromAnotherSpace: "another space"
        case .replayedEnvelope: "replay"
        }
        #expect(warnings.contains { $0.contains(expected) }, "\(warnings)")
        let shown = try await couple.sam.list().compactMap { $0["id"] as? String }
        #expect(shown == [first], "only what verified is shown: \(shown)")
        #expect(try await couple.sam.list().allSatisfy { ($0["body"] as? String)?.contains("private") != true })

        // The operator puts the honest bytes back: the partner catches up, nothing was lost.
        #expect(await couple.relay.terminate() == 0)
        let repaired = try DatabaseQueue(path: couple.relay.data + "/relay.sqlite")
        try await repaired.write { db in
            try db.execute(sql: "UPDATE envelopes SET bytes = ? WHERE space = ? AND device = ? AND seq = 2", arguments: [honest, shared, device])
        }
        try repaired.close()
        try await couple.relay.start()
        #expect(try await couple.sam.duet(["sync", "--relay", couple.relay.base]).status == 0)
        #expect(try await couple.sam.show(second)["body"] as? String == "second shared")
    }
}

@Suite("duet sync against a relay that withholds")
struct WithholdingRelayTests {
    @Test("A relay that drops a change another depends on is exposed by the dependent change's vector")
    func withheld() async throws {
        let couple = try await Couple()
        let phone = try await couple.linkAlexDevice(named: "Alex's phone")
        let id = try await couple.alex.write("the first words", ["--shared"])
        #expect(try await couple.alex.duet(["sync"]).status == 0)
        #expect(try await couple.sam.duet(["sync"]).status == 0)
        #expect(try await couple.sam.duet(["edit", id, "-m", "the first words, answered"]).status == 0)
        #expect(try await couple.sam.duet(["sync"]).status == 0)

        // The operator deletes Alex's envelope (and its head) from the couple space.
        let spaces = try #require(try await couple.alex.status()["spaces"] as? [String: String])
        let shared = Data(try #require(spaces["shared"].flatMap(Hex.decode)))
        let alexDevice = Data(try #require((try await couple.alex.show(id)["authorDevice"] as? String).flatMap(Hex.decode)))
        #expect(await couple.relay.terminate() == 0)
        let database = try DatabaseQueue(path: couple.relay.data + "/relay.sqlite")
        try await database.write { db in
            try db.execute(sql: "DELETE FROM envelopes WHERE space = ? AND device = ?", arguments: [shared, alexDevice])
            try db.execute(sql: "DELETE FROM heads WHERE space = ? AND device = ?", arguments: [shared, alexDevice])
        }
        try database.close()
        try await couple.relay.start()

        // Alex's phone never had either: it receives Sam's edit, which names Alex's change.
        let sync = try await phone.duet(["sync", "--relay", couple.relay.base])
        #expect(sync.status == 0, "\(sync.stderr)")
        let warnings = try #require(try await phone.status()["warnings"] as? [String])
        #expect(warnings.contains { $0.contains("withholding") }, "\(warnings)")
        #expect(try await phone.list(["--shared"]).isEmpty, "nothing half-applied is shown")
    }
}
