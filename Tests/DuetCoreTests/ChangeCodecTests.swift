import DuetCrypto
import DuetEncoding
import Foundation
import Testing
@testable import DuetCore
import DuetTesting

@Suite("Change encoding")
struct ChangeCodecTests {
    /// Changes of every kind, from random histories.
    static func sampleChanges(count: Int, seed: UInt64) -> [Change] {
        var random = SeededRandom(seed: seed)
        var network = TestNetwork(replicaCount: 3, seed: seed)
        var changes: [Change] = []
        for _ in 0..<count {
            changes.append(network.edit(random.below(3), entry: random.pick(RandomEdits.entries)) { RandomEdits.edit(&$0, &random) })
            if random.chance(50) { network.step() }
        }
        return changes
    }

    @Test("decode(encode(c)) == c and encode(decode(b)) == b for 2,000 generated changes")
    func roundTrip() throws {
        for change in Self.sampleChanges(count: 2_000, seed: 5) {
            let bytes = ChangeCodec.encode(change)
            let decoded = try ChangeCodec.decode(bytes)
            #expect(decoded == change)
            #expect(ChangeCodec.encode(decoded) == bytes)
        }
    }

    @Test("Every truncation and every appended byte is refused")
    func truncationsAndTrailing() throws {
        for change in Self.sampleChanges(count: 50, seed: 6) {
            let bytes = ChangeCodec.encode(change)
            for length in 0..<bytes.count {
                #expect(throws: DecodingError.self) { try ChangeCodec.decode(Array(bytes.prefix(length))) }
            }
            #expect(throws: DecodingError.trailingBytes) { try ChangeCodec.decode(bytes + [0]) }
        }
    }

    @Test("Mutated bytes never trap, and whatever decodes is canonical (200,000 mutations)")
    func mutationFuzz() {
        var random = SeededRandom(seed: 7)
        let samples = Self.sampleChanges(count: 200, seed: 8).map(ChangeCodec.encode)
        var accepted = 0
        for _ in 0..<200_000 {
            var bytes = random.pick(samples)
            for _ in 0..<(1 + random.below(3)) {
                switch random.below(3) {
                case 0: bytes[random.below(bytes.count)] ^= UInt8(1 << random.below(8))
                case 1: bytes[random.below(bytes.count)] = UInt8(random.below(256))
                default: if bytes.count > 1 { bytes.remove(at: random.below(bytes.count)) }
                }
            }
            if let decoded = try? ChangeCodec.decode(bytes) {
                accepted += 1
                #expect(ChangeCodec.encode(decoded) == bytes, "a second encoding of one change was accepted")
            }
        }
        #expect(accepted > 0, "some mutations are valid changes (e.g. a different letter)")
    }

    @Test("Random bytes never trap the decoder")
    func randomBytes() {
        var random = SeededRandom(seed: 9)
        for _ in 0..<50_000 {
            let bytes = (0..<random.below(80)).map { _ in UInt8(random.below(256)) }
            _ = try? ChangeCodec.decode(bytes)
        }
    }

    @Test("Protocol/vectors/operations.json: every case has its expected outcome")
    func vectors() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Protocol/vectors/operations.json")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        #expect(Set(root.keys) == ["kind", "format", "source", "notes", "tests"])
        let cases = try #require(root["tests"] as? [[String: Any]])
        #expect(cases.count >= 20)
        for test in cases {
            let known: Set<String> = ["id", "comment", "hex", "seq", "hlc", "operations", "result", "applied"]
            #expect(Set(test.keys).isSubset(of: known), "unknown keys in \(test["id"] ?? "?")")
            let id = test["id"] as? Int ?? -1
            let bytes = try #require(Hex.decode(test["hex"] as? String ?? "x"), "case \(id): hex")
            let expected = try #require(test["result"] as? String)
            do {
                let change = try ChangeCodec.decode(bytes)
                #expect(expected == "success", "case \(id) decoded but expected \(expected)")
                #expect(change.seq == UInt64(test["seq"] as? Int ?? -1), "case \(id)")
                #expect(change.hlc.raw == UInt64(test["hlc"] as? Int ?? -1), "case \(id)")
                #expect(change.operations.map(\.kindName) == test["operations"] as? [String], "case \(id)")
                #expect(ChangeCodec.encode(change) == bytes, "case \(id): canonical")
                if let applied = test["applied"] as? String {
                    var replica = Journal()
                    let outcome: String = switch replica.receive(change).outcome {
                    case .applied: "applied"
                    case .refused(let reason): reason.vectorName
                    case .duplicate: "duplicate"
                    case .pending: "pending"
                    }
                    #expect(outcome == applied, "case \(id): applying")
                }
            } catch {
                #expect(error.name == expected, "case \(id): \(error)")
            }
        }
    }
}

extension Entry.InvalidOperation {
    /// The refusal's name as SPEC § 3.3.2 and the vectors spell it.
    var vectorName: String {
        switch self {
        case .text: "text"
        case .moodOutOfRange: "moodOutOfRange"
        case .tooLong: "tooLong"
        case .emptyTag: "emptyTag"
        case .foreignAuthor: "foreignAuthor"
        case .invalidSnapshot: "invalidSnapshot"
        case .unreadable: "unreadable"
        case .expiredCertificate: "expiredCertificate"
        }
    }
}

extension EntryOperation {
    var kindName: String {
        switch self {
        case .create: "create"
        case .setTitle: "setTitle"
        case .setMood: "setMood"
        case .setDeleted: "setDeleted"
        case .setKind: "setKind"
        case .setReplyTo: "setReplyTo"
        case .addFactor: "addFactor"
        case .removeFactor: "removeFactor"
        case .addTag: "addTag"
        case .removeTag: "removeTag"
        case .acknowledge: "acknowledge"
        case .insertText: "insertText"
        case .deleteText: "deleteText"
        case .setDate: "setDate"
        case .setStarred: "setStarred"
        case .setOriginalAuthor: "setOriginalAuthor"
        case .adoptSnapshot: "adoptSnapshot"
        }
    }
}

@Suite("Entry snapshot decoding")
struct SnapshotDecodingTests {
    @Test("Mutated and truncated snapshots never trap the decoder (a partner's adopted snapshot is untrusted)")
    func mutations() throws {
        var random = SeededRandom(seed: 77)
        var network = TestNetwork(replicaCount: 2, seed: 77)
        for _ in 0..<300 {
            network.edit(random.below(2), entry: RandomEdits.entries[0]) { RandomEdits.edit(&$0, &random) }
            network.step()
        }
        network.flush()
        let entry = try #require(network.replicas[0].journal.entries[RandomEdits.entries[0]])
        let bytes = EntrySnapshot.encode(entry)
        #expect(EntrySnapshot.encode(try EntrySnapshot.decode(bytes)) == bytes)
        for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 400)) {
            _ = try? EntrySnapshot.decode(Array(bytes.prefix(length)))
        }
        var decodedSome = 0
        for _ in 0..<20_000 {
            var mutated = bytes
            for _ in 0..<(1 + random.below(3)) { mutated[random.below(mutated.count)] ^= UInt8(1 << random.below(8)) }
            if let decoded = try? EntrySnapshot.decode(mutated) {
                decodedSome += 1
                #expect(decoded.body.invariantViolation == nil)
            }
        }
        #expect(decodedSome > 0, "some mutations (e.g. of text) still decode")
    }

    @Test("A snapshot whose spans leave typed text unplaced, or place it past what was typed, is refused")
    func snapshotSpansMustTileTheText() throws {
        var journal = Journal()
        let id = EntryID(high: 1, low: 1)
        journal.commit(entry: id, by: DeviceID(high: 2, low: 2), at: HLC(milliseconds: 1, counter: 0)) {
            $0.insertText(Array("abc".unicodeScalars), at: 0)
        }
        let bytes = EntrySnapshot.encode(try #require(journal.entries[id]))
        // The body ends with its one span: packed (length 3, both origins implied), the device
        // index, the counter.
        let packed = bytes.count - 3
        #expect(bytes[packed] == 3 << 5 | 6)
        #expect(try EntrySnapshot.decode(bytes).body.string == "abc")
        var gap = bytes
        gap[packed] = 2 << 5 | 6
        #expect(throws: DecodingError.self, "\"c\" typed but placed nowhere") { try EntrySnapshot.decode(gap) }
        var past = bytes
        past[packed] = 4 << 5 | 6
        #expect(throws: DecodingError.self, "a span past the typed text") { try EntrySnapshot.decode(past) }
    }
}
