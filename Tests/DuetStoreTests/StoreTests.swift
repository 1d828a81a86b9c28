import DuetCore
import DuetWire
import DuetCrypto
import Foundation
import GRDB
import Testing
@testable import DuetStore

@Suite("Store")
struct StoreTests {
    static func temporaryHome() -> Home {
        Home(path: NSTemporaryDirectory() + "duet-store-test-" + UUID().uuidString)
    }

    static let weakestAllowed = try! PassphraseKDFParameters(
        opsLimit: PassphraseKDFParameters.minimumOpsLimit, memoryBytes: PassphraseKDFParameters.minimumMemoryBytes,
        salt: RandomBytes.make(count: PassphraseKDFParameters.saltByteCount))

    @Test("Every connection is WAL with synchronous=FULL (an acknowledged write survives power loss)")
    func durabilitySettings() throws {
        let home = Self.temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        _ = try Store.create(home: home, name: "A", deviceName: "A's laptop", passphrase: SecretBytes(utf8: "a passphrase"), parameters: Self.weakestAllowed, now: 1_700_000_000_000)
        let store = try Store.open(home: home)
        let (mode, synchronous) = try store.database.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA synchronous"))
        }
        #expect(mode == "wal")
        #expect(synchronous == 2, "2 is FULL")
    }

    @Test("Every change is stored as a signed envelope chained to the device's previous one")
    func envelopesChain() throws {
        let home = Self.temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        let (store, unlocked) = try Store.create(home: home, name: "A", deviceName: "A's laptop", passphrase: SecretBytes(utf8: "a passphrase"), parameters: Self.weakestAllowed, now: 1_700_000_000_000)
        let id = EntryID(high: 1, low: 2)
        try unlocked.commit(entry: id, now: 1_000) { $0.create(); $0.insertText(Array("one".unicodeScalars), at: 0) }
        try unlocked.commit(entry: id, now: 2_000) { $0.insertText(Array(" two".unicodeScalars), at: 3) }
        let rows = try store.database.read { db in try Data.fetchAll(db, sql: "SELECT bytes FROM envelopes ORDER BY seq") }
        #expect(rows.count == 2)
        let envelopes = try rows.map { try Envelope(bytes: [UInt8]($0)) }
        for envelope in envelopes {
            try envelope.verify(signer: unlocked.keystore.device.verifyingKey)
            let change = try ChangeCodec.decode(try envelope.open(contentKey: try #require(unlocked.keystore.personalKeys[1])))
            #expect(change.seq == envelope.header.seq)
            #expect(change.device == unlocked.device)
        }
        #expect(envelopes[0].header.previous == .zero)
        #expect(envelopes[1].header.previous == envelopes[0].hash)
    }

    @Test("An id prefix that matches several entries is refused, naming them")
    func ambiguousPrefix() throws {
        let home = Self.temporaryHome()
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        let (_, unlocked) = try Store.create(home: home, name: "A", deviceName: "A's laptop", passphrase: SecretBytes(utf8: "a passphrase"), parameters: Self.weakestAllowed, now: 1_700_000_000_000)
        // Two ids equal in their first 64 bits share a 12-character prefix.
        let first = EntryID(high: 0xABCD_EF01_2345_6789, low: 1), second = EntryID(high: 0xABCD_EF01_2345_6789, low: 2)
        for id in [first, second] { try unlocked.commit(entry: id, now: 1_000) { $0.create() } }
        let prefix = String(first.description.prefix(8))
        #expect(throws: StoreError.self) { try unlocked.resolve(prefix) }
        do { _ = try unlocked.resolve(prefix) } catch {
            #expect(error.code == .ambiguousEntry)
            #expect(error.message.contains(first.description) && error.message.contains(second.description))
        }
        #expect(try unlocked.resolve(first.description) == first)
        #expect(try unlocked.resolve(first.description.lowercased()) == first, "any case")
    }
}
