import DuetCore
import DuetCrypto
import DuetEncoding
import Foundation
import GRDB
import Testing
@testable import DuetStore

@Suite("Stored snapshots (deflated at rest)")
struct StoredSnapshotTests {
    static let device = DeviceID(high: 7, low: 11)

    /// An entry edited the way people write: sentences typed, words taken back, a paragraph
    /// rewritten — so its history holds deleted text beside the visible text.
    static func longEditedEntry(sentences: Int) -> Entry {
        var journal = Journal()
        let id = EntryID(high: 3, low: 5)
        var length = 0
        for index in 0..<sentences {
            journal.commit(entry: id, by: device, at: HLC(milliseconds: UInt64(1_000 + index), counter: 0)) { editor in
                if index == 0 { editor.create() }
                let sentence = Array("Today I noticed how you listened, number \(index), and it felt safe. ".unicodeScalars)
                let at = index % 3 == 0 ? length : length / 2
                editor.insertText(sentence, at: at)
                length += sentence.count
                if index % 4 == 1 {
                    editor.deleteText(at: at + 6, count: 8)
                    length -= 8
                }
            }
        }
        return journal.entries[id] ?? Entry(id: id)
    }

    @Test("A small snapshot is stored as its canonical bytes")
    func smallStaysCanonical() throws {
        let canonical = EntrySnapshot.encode(Self.longEditedEntry(sentences: 2))
        #expect(canonical.count < StoredSnapshot.compressionThreshold)
        #expect(StoredSnapshot.pack(canonical) == canonical)
        #expect(try StoredSnapshot.unpack(canonical) == canonical)
    }

    @Test("A long-edited entry is deflated, and inflates to exactly its canonical bytes")
    func largeRoundTrips() throws {
        let entry = Self.longEditedEntry(sentences: 400)
        let canonical = EntrySnapshot.encode(entry)
        let stored = StoredSnapshot.pack(canonical)
        #expect(stored.first == 0)
        #expect(stored.count * 3 < canonical.count, "\(stored.count) stored for \(canonical.count) canonical")
        let back = try StoredSnapshot.unpack(stored)
        #expect(back == canonical)
        #expect(try EntrySnapshot.decode(back).body.string == entry.body.string)
    }

    @Test("A large snapshot stored before compression existed still reads, unchanged")
    func uncompressedLargeReads() throws {
        let canonical = EntrySnapshot.encode(Self.longEditedEntry(sentences: 400))
        #expect(canonical.first == 1, "an entry never starred or imported is a version-1 snapshot")
        #expect(try StoredSnapshot.unpack(canonical) == canonical)
    }

    @Test("Malformed stored bytes are refused with an error, never a trap")
    func malformedRefused() throws {
        let canonical = EntrySnapshot.encode(Self.longEditedEntry(sentences: 400))
        let stored = StoredSnapshot.pack(canonical)
        var lengthBytes = ByteWriter()
        lengthBytes.varint(canonical.count)
        let headerLength = 1 + lengthBytes.bytes.count
        let stream = Array(stored[headerLength...])
        func framed(length: Int, _ body: [UInt8]) -> [UInt8] {
            var writer = ByteWriter()
            writer.byte(0)
            writer.varint(length)
            writer.raw(body)
            return writer.bytes
        }
        var flipped = stream
        flipped[flipped.count / 2] ^= 0x10
        let cases: [(String, [UInt8])] = [
            ("marker alone", [0]),
            ("no stream", framed(length: canonical.count, [])),
            ("truncated stream", framed(length: canonical.count, Array(stream.dropLast(20)))),
            ("a bit flipped in the stream", framed(length: canonical.count, flipped)),
            ("declares more than it holds", framed(length: canonical.count + 1, stream)),
            ("declares less than it holds", framed(length: canonical.count - 1, stream)),
            ("bytes after the stream", framed(length: canonical.count, stream + [1, 2, 3])),
            ("small length stored compressed", framed(length: 10, stream)),
            ("length past the limit", framed(length: StoredSnapshot.maximumCanonicalBytes + 1, stream)),
        ]
        for (name, bytes) in cases {
            #expect(throws: DecodingError.self, "\(name)") { try StoredSnapshot.unpack(bytes) }
        }
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var bytes = framed(length: Int.random(in: 2048...70_000, using: &random), [])
            bytes += (0..<Int.random(in: 0...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            if Bool.random(using: &random) { bytes.replaceSubrange(bytes.count..., with: stream.prefix(Int.random(in: 0...64, using: &random))) }
            _ = try? StoredSnapshot.unpack(bytes)
        }
    }

    @Test("The store keeps a long entry deflated inside its seal and reads it back whole")
    func storeKeepsItDeflated() throws {
        let home = StoreTests.temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        let (store, unlocked) = try Store.create(
            home: home, name: "A", deviceName: "A's laptop", passphrase: SecretBytes(utf8: "a passphrase"),
            parameters: StoreTests.weakestAllowed, now: 1_700_000_000_000)
        let id = EntryID(high: 9, low: 9)
        let paragraph = Array(String(repeating: "We walked by the river and talked about the week. ", count: 80).unicodeScalars)
        try unlocked.commit(entry: id, now: 1_000) { $0.create(); $0.insertText(paragraph, at: 0) }
        try unlocked.commit(entry: id, now: 2_000) { $0.deleteText(at: 100, count: 500) }
        let entry = try #require(try unlocked.entry(id))
        #expect(entry.body.count == paragraph.count - 500)
        let canonical = EntrySnapshot.encode(entry)
        let sealed = try #require(try store.database.read { db in
            try Data.fetchOne(db, sql: "SELECT snapshot FROM entries WHERE id = ?", arguments: [Data(id.bytes)])
        })
        #expect(sealed.count < canonical.count / 4, "sealed \(sealed.count) bytes for \(canonical.count) canonical")
        // Reopened from disk: the same entry, byte for byte in canonical form.
        let reopened = try Store.open(home: home).unlock(passphrase: SecretBytes(utf8: "a passphrase"))
        #expect(EntrySnapshot.encode(try #require(try reopened.entry(id))) == canonical)
    }
}
