import DuetCrypto
// DuetWire reaches this target through DuetTesting: the envelope is opened as a receiver opens it.
import DuetWire
import Foundation
import Testing
@testable import DuetCore

/// `Protocol/vectors/envelope-changes.json`, written by `Protocol/tools/envelope_change_vectors.py`
/// from SPEC §§ 3.2 and 5 alone: a change's author and seq are its envelope's device and seq, and
/// seqs count per space.
@Suite("Envelope and change vectors")
struct EnvelopeChangeVectorTests {
    @Test("envelope-changes.json: every envelope opens to its change; a change that names another author or seq is consumed unapplied")
    func authorAndSeq() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Protocol/vectors/envelope-changes.json")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        #expect(Set(root.keys) == ["kind", "format", "source", "notes", "tests"])
        let cases = try #require(root["tests"] as? [[String: Any]])
        #expect(cases.count >= 6)
        var outcomes: Set<String> = []
        var journals: [[UInt8]: Journal] = [:]
        for test in cases {
            let id = test["id"] as? Int ?? -1
            #expect(Set(test.keys) == ["id", "comment", "envelope", "signer", "contentKey", "space", "seq", "plaintext", "result"], "case \(id)")
            func bytes(_ key: String) throws -> [UInt8] { try #require(Hex.decode(test[key] as? String ?? "x"), "case \(id): \(key)") }
            let envelope = try Envelope(bytes: try bytes("envelope"))
            try envelope.verify(signer: try VerifyingKey(bytes: try bytes("signer")))
            #expect(envelope.header.space.bytes == (try bytes("space")), "case \(id)")
            #expect(envelope.header.seq == UInt64(test["seq"] as? Int ?? -1), "case \(id)")
            let plaintext = try envelope.open(contentKey: try SymmetricKey(bytes: SecretBytes(copying: try bytes("contentKey"))))
            #expect(plaintext == (try bytes("plaintext")), "case \(id)")
            let change = try ChangeCodec.decode(plaintext)

            // SPEC § 3.2: the change must repeat its envelope's device (16 bytes) and seq.
            let matches = change.device.bytes == envelope.header.device.bytes && change.seq == envelope.header.seq
            let expected = try #require(test["result"] as? String, "case \(id)")
            outcomes.insert(expected)
            #expect((matches ? "applied" : "unreadable") == expected, "case \(id)")
            if matches {
                // One replica per space: each space's changes apply in its own seq order.
                #expect(journals[envelope.header.space.bytes, default: Journal()].receive(change).outcome == .applied, "case \(id)")
            }
        }
        #expect(outcomes == ["applied", "unreadable"])
    }
}
