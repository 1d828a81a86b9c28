import DuetCrypto
import DuetWire
import Foundation
import Testing

@Suite("Wire vectors")
struct WireVectorTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Protocol/vectors")

    static func load(_ name: String) throws -> [[String: Any]] {
        let root = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent(name))) as? [String: Any])
        #expect(Set(root.keys) == ["kind", "format", "source", "notes", "tests"], "\(name): top-level keys")
        return try #require(root["tests"] as? [[String: Any]])
    }

    static func bytes(_ text: Any?) -> [UInt8]? { (text as? String).flatMap(Hex.decode) }

    @Test("wire-membership.json: replays give the listed members, or fail with the named refusal")
    func membership() throws {
        let cases = try Self.load("wire-membership.json")
        #expect(cases.count >= 9)
        for test in cases {
            let id = test["id"] as? Int ?? -1
            #expect(Set(test.keys).isSubset(of: ["id", "comment", "records", "identities", "devices", "epoch", "result"]), "case \(id)")
            let records = try #require((test["records"] as? [String])?.compactMap { Self.bytes($0) }, "case \(id)")
            let expected = try #require(test["result"] as? String)
            var outcome = "success"
            var log: MembershipLog?
            do {
                for bytes in records {
                    let record = try MembershipRecord(bytes: bytes)
                    if log == nil { log = MembershipLog(space: record.space) }
                    try log?.append(record)
                    #expect(record.encoded == bytes, "case \(id): canonical")
                }
            } catch let error as WireError {
                outcome = error.name
            } catch let refusal as MembershipLog.Refusal {
                outcome = refusal.rawValue
            }
            #expect(outcome == expected, "case \(id)")
            if expected == "success", let log {
                #expect(Set(log.identities.map(\.bytes)) == Set((test["identities"] as? [String] ?? []).compactMap { Self.bytes($0) }), "case \(id)")
                #expect(Set(log.devices.keys.map(\.bytes)) == Set((test["devices"] as? [String] ?? []).compactMap { Self.bytes($0) }), "case \(id)")
                #expect(log.epoch == UInt64(test["epoch"] as? Int ?? -1), "case \(id)")
            }
        }
    }

    @Test("wire-relay.json: vectors and batches decode to the listed values, or fail as named")
    func relayMessages() throws {
        let cases = try Self.load("wire-relay.json")
        #expect(cases.count >= 8)
        for test in cases {
            let id = test["id"] as? Int ?? -1
            #expect(Set(test.keys).isSubset(of: ["id", "comment", "kind", "hex", "entries", "items", "result"]), "case \(id)")
            let input = try #require(Self.bytes(test["hex"]), "case \(id)")
            let expected = try #require(test["result"] as? String)
            var outcome = "success"
            do {
                if test["kind"] as? String == "vector" {
                    let vector = try RelayMessages.decodeVector(input)
                    let listed = (test["entries"] as? [String: Int]) ?? [:]
                    #expect(vector.count == listed.count, "case \(id)")
                    for (device, seq) in listed {
                        #expect(vector[try WireDeviceID(bytes: Self.bytes(device) ?? [])] == UInt64(seq), "case \(id)")
                    }
                    #expect(RelayMessages.encode(vector: vector) == input, "case \(id): canonical")
                } else {
                    let items = try RelayMessages.decodeBatch(input, maximumCount: 256, maximumItemBytes: 4 << 20)
                    #expect(items == (test["items"] as? [String] ?? []).compactMap { Self.bytes($0) }, "case \(id)")
                    #expect(RelayMessages.encode(batch: items) == input, "case \(id): canonical")
                }
            } catch {
                outcome = error.name
            }
            #expect(outcome == expected, "case \(id)")
        }
    }

    @Test("Every file in Protocol/vectors is one a test reads")
    func everyVectorFileIsRead() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter { $0.hasSuffix(".json") }.sorted()
        let read: Set<String> = [
            "crypto-aead.json", "crypto-argon2id.json", "crypto-blake2b.json", "crypto-ed25519.json", "crypto-kdf.json",
            "crypto-padding.json", "crypto-sealedbox.json",  // CryptoVectorTests
            "operations.json",                               // ChangeCodecTests
            "snapshots.json",                                // SnapshotVectorTests
            "wire-envelope.json",                            // EnvelopeTests
            "envelope-changes.json",                         // EnvelopeChangeVectorTests (DuetCoreTests)
            "wire-membership.json", "wire-relay.json",       // WireVectorTests
            "wire-codes.json",                               // CodeVectorTests
            "wire-auth.json",                                // AuthVectorTests
            "wire-pairing.json",                             // PairingVectorTests
            "wire-certificates.json",                        // CertificateVectorTests
            "relay-http.json",                               // RelayHTTPVectorTests (DuetRelayTests)
        ]
        #expect(Set(files) == read, "vector files and their readers: \(files)")
    }
}
