import DuetCrypto
import Foundation
import Testing
@testable import DuetCore

/// `Protocol/vectors/snapshots.json`, written by `Protocol/tools/snapshot_vectors.py` from SPEC
/// §§ 3 and 4 alone: changes as bytes, and the canonical snapshot of the entry they make.
@Suite("Snapshot vectors")
struct SnapshotVectorTests {
    @Test("snapshots.json: the listed changes, applied in order, give exactly the listed snapshot bytes")
    func snapshots() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Protocol/vectors/snapshots.json")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        #expect(Set(root.keys) == ["kind", "format", "source", "notes", "tests"])
        let cases = try #require(root["tests"] as? [[String: Any]])
        #expect(cases.count >= 5)
        for test in cases {
            let id = test["id"] as? Int ?? -1
            #expect(Set(test.keys) == ["id", "comment", "entry", "changes", "snapshot", "title", "text", "result"], "case \(id): keys")
            #expect(test["result"] as? String == "success", "case \(id)")
            let entry = try #require(Hex.decode(test["entry"] as? String ?? "x").flatMap { EntryID(bytes: $0) }, "case \(id): entry")
            let expected = try #require(Hex.decode(test["snapshot"] as? String ?? "x"), "case \(id): snapshot")
            var journal = Journal()
            for (position, text) in (test["changes"] as? [String] ?? []).enumerated() {
                let bytes = try #require(Hex.decode(text), "case \(id): change \(position)")
                let change = try ChangeCodec.decode(bytes)
                #expect(ChangeCodec.encode(change) == bytes, "case \(id): change \(position) is canonical")
                #expect(journal.receive(change).outcome == .applied, "case \(id): change \(position) applies")
            }
            let made = try #require(journal.entries[entry], "case \(id): the changes make the entry")
            let encoded = EntrySnapshot.encode(made)
            #expect(Hex.encode(encoded) == Hex.encode(expected), "case \(id): snapshot bytes")
            let decoded = try EntrySnapshot.decode(expected)
            #expect(EntrySnapshot.encode(decoded) == expected, "case \(id): decode then encode")
            #expect((decoded.title.value ?? "") == test["title"] as? String, "case \(id): title")
            #expect(decoded.body.string == test["text"] as? String, "case \(id): text")
        }
    }
}
