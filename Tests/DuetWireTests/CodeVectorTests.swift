import DuetCrypto
@testable import DuetWire
import Foundation
import Testing

/// `Protocol/vectors/wire-codes.json`, written by `Protocol/tools/code_vectors.py` from SPEC
/// §§ 7.2, 7.3 and 7.5 alone: the shown form of a code, the canonical text that is hashed, every
/// id and key derived from it, and the safety number.
@Suite("Code vectors")
struct CodeVectorTests {
    static func key(_ bytes: [UInt8]) throws -> SymmetricKey { try SymmetricKey(bytes: SecretBytes(copying: bytes)) }

    @Test("wire-codes.json: codes show, normalise and derive as listed; malformed ones derive nothing")
    func codes() throws {
        let cases = try WireVectorTests.load("wire-codes.json")
        #expect(cases.count >= 25)
        var kinds: Set<String> = []
        for test in cases {
            let id = test["id"] as? Int ?? -1
            let kind = try #require(test["kind"] as? String, "case \(id)")
            kinds.insert(kind)
            let expected = try #require(test["result"] as? String, "case \(id)")
            func bytes(_ key: String) throws -> [UInt8] { try #require(WireVectorTests.bytes(test[key]), "case \(id): \(key)") }
            func text(_ key: String) throws -> String { try #require(test[key] as? String, "case \(id): \(key)") }
            let common: Set<String> = ["id", "comment", "kind", "result"]
            switch kind {
            case "encode":
                #expect(Set(test.keys) == common.union(["bytes", "code"]), "case \(id)")
                #expect(Pairing.group(Pairing.crockford(try bytes("bytes"))) == (try text("code")), "case \(id)")
            case "pairing":
                let derived = Pairing.derive(code: try text("code"))
                if expected == "malformed" {
                    #expect(Set(test.keys) == common.union(["code"]), "case \(id)")
                    #expect(derived == nil, "case \(id): a malformed code derives nothing")
                    continue
                }
                #expect(expected == "success", "case \(id)")
                #expect(Set(test.keys) == common.union(["code", "canonical", "seed", "inviteMailbox", "replyMailbox", "mailboxKey"]), "case \(id)")
                let canonical = try text("canonical")
                #expect(Pairing.normalise(try text("code")) == canonical, "case \(id)")
                #expect(Hash.digest(Array("duet pairing v1".utf8), Array(canonical.utf8)).bytes == (try bytes("seed")), "case \(id)")
                let pairing = try #require(derived, "case \(id)")
                #expect(pairing.inviteMailbox == (try bytes("inviteMailbox")), "case \(id)")
                #expect(pairing.replyMailbox == (try bytes("replyMailbox")), "case \(id)")
                #expect(pairing.key == (try Self.key(try bytes("mailboxKey"))), "case \(id)")
            case "recovery":
                let derived = Recovery.derive(code: try text("code"))
                if expected == "malformed" {
                    #expect(Set(test.keys) == common.union(["code"]), "case \(id)")
                    #expect(derived == nil, "case \(id): a malformed code derives nothing")
                    continue
                }
                #expect(expected == "success", "case \(id)")
                #expect(Set(test.keys) == common.union(["code", "canonical", "seed", "slot", "key"]), "case \(id)")
                let canonical = try text("canonical")
                #expect(Pairing.normalise(try text("code")) == canonical, "case \(id)")
                #expect(Hash.digest(Array("duet recovery v1".utf8), Array(canonical.utf8)).bytes == (try bytes("seed")), "case \(id)")
                let slot = try #require(derived, "case \(id)")
                #expect(slot.slot == (try bytes("slot")), "case \(id)")
                #expect(slot.key == (try Self.key(try bytes("key"))), "case \(id)")
            case "safetyNumber":
                #expect(Set(test.keys) == common.union(["keyA", "keyB", "safetyNumber"]), "case \(id)")
                let a = try VerifyingKey(bytes: try bytes("keyA")), b = try VerifyingKey(bytes: try bytes("keyB"))
                #expect(Pairing.safetyNumber(a, b) == (try text("safetyNumber")), "case \(id)")
            default:
                Issue.record("case \(id): unknown kind \(kind)")
            }
        }
        #expect(kinds == ["encode", "pairing", "recovery", "safetyNumber"])
    }
}
