import DuetCore
import DuetCrypto
import DuetWire
import Foundation
import GRDB
import Testing
@testable import DuetStore

/// The store remembers the membership logs it verified (``MembershipReplays``). These tests fill
/// that memo first, then change the file under it, the way another process or a hostile hand
/// would: what was appended must still be verified, what was changed must not be trusted.
@Suite("Membership replays")
struct MembershipReplayTests {
    /// A store with its personal log (create, this device, its directory) already replayed once.
    static func replayedStore() throws -> (home: Home, store: Store, unlocked: UnlockedStore, space: SpaceID) {
        let home = StoreTests.temporaryHome()
        let (store, unlocked) = try Store.create(home: home, name: "A", deviceName: "A's laptop", passphrase: IngestTests.passphrase,
                                                 parameters: StoreTests.weakestAllowed, now: 1_700_000_000_000)
        let space = unlocked.keystore.personalSpace
        #expect(try store.membershipLog(space: space).records.count == 3)
        return (home, store, unlocked, space)
    }

    static func storedRecord(_ store: Store, space: SpaceID, index: Int64) throws -> [UInt8] {
        try #require(try store.database.read { db in
            try Data.fetchOne(db, sql: "SELECT bytes FROM membership WHERE space = ? AND idx = ?", arguments: [Data(space.bytes), index])
        }).map { $0 }
    }

    static func overwrite(_ store: Store, space: SpaceID, index: Int64, with bytes: [UInt8]) throws {
        try store.database.write { db in
            try db.execute(sql: "UPDATE membership SET bytes = ? WHERE space = ? AND idx = ?", arguments: [Data(bytes), Data(space.bytes), index])
        }
    }

    static func isCorrupt(_ body: () throws -> Void) -> Bool {
        do { try body() } catch let error as StoreError { return error.code == .corrupt } catch { return false }
        return false
    }

    @Test("A record appended by another connection after the replay is verified: a valid one is taken, a forged one is damage")
    func appendedRecordsAreVerified() throws {
        let (home, store, unlocked, space) = try Self.replayedStore()
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        // Another process (a second Store on the same file) appends a valid record.
        let other = try Store.open(home: home)
        let phone = SigningKey.generate()
        let certificate = DeviceCertificate.issue(identity: unlocked.keystore.identity, device: phone.verifyingKey, created: 1)
        try other.appendMembership(try other.membershipLog(space: space).nextRecords([.addDevice(certificate)], by: unlocked.keystore.identity), space: space)
        let grown = try store.membershipLog(space: space)
        #expect(grown.records.count == 4)
        #expect(grown.devices[phone.verifyingKey] != nil)

        // A stranger's record, in order and chained, inserted behind the store's back.
        let stranger = SigningKey.generate()
        let forged = MembershipRecord.sign(space: space, index: 5, previous: try #require(grown.records.last).hash,
                                           action: .addIdentity(stranger.verifyingKey), signer: stranger)
        try store.database.write { db in
            try db.execute(sql: "INSERT INTO membership (space, idx, bytes) VALUES (?, 5, ?)", arguments: [Data(space.bytes), Data(forged.encoded)])
        }
        #expect(Self.isCorrupt { _ = try store.membershipLog(space: space) })
        #expect(Self.isCorrupt { _ = try other.membershipLog(space: space) })
    }

    @Test("A record changed on disk after the replay is not trusted, even where count and last hash stay the same")
    func changedRecordIsNotTrusted() throws {
        let (home, store, unlocked, space) = try Self.replayedStore()
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        // Record 2 (this device's certificate) with one signature byte flipped: the log keeps
        // its length and its last record, so only the bytes tell.
        var damaged = try Self.storedRecord(store, space: space, index: 2)
        damaged[damaged.count - 1] ^= 0x01
        try Self.overwrite(store, space: space, index: 2, with: damaged)
        #expect(Self.isCorrupt { _ = try store.membershipLog(space: space) })
        // Writing reads the log too, and writes nothing on a damaged one.
        let before = try store.counts().envelopes
        #expect(Self.isCorrupt { try unlocked.commit(entry: EntryID(high: 9, low: 9), now: 1_000) { $0.create() } })
        #expect(try store.counts().envelopes == before)
    }

    @Test("A last record replaced by another validly signed one is what the log then holds")
    func replacedRecordIsReplayed() throws {
        let (home, store, unlocked, space) = try Self.replayedStore()
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        let log = try store.membershipLog(space: space)
        let replacement = MembershipRecord.sign(space: space, index: 3, previous: log.records[1].hash,
                                                action: .directory(epoch: 1, sealed: [UInt8](repeating: 7, count: 40)), signer: unlocked.keystore.identity)
        #expect(replacement.hash != log.records[2].hash)
        try Self.overwrite(store, space: space, index: 3, with: replacement.encoded)
        let replayed = try store.membershipLog(space: space)
        #expect(replayed.records.count == 3)
        #expect(replayed.records.last?.hash == replacement.hash)
        #expect(replayed.directories[unlocked.keystore.identity.verifyingKey]?.sealed == [UInt8](repeating: 7, count: 40))
    }

    @Test("Records removed from disk after the replay are not remembered back")
    func removedRecordsAreNotRemembered() throws {
        let (home, store, _, space) = try Self.replayedStore()
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        try store.database.write { db in try db.execute(sql: "DELETE FROM membership WHERE space = ? AND idx = 3", arguments: [Data(space.bytes)]) }
        #expect(try store.membershipLog(space: space).records.count == 2)
    }

    @Test("A refused batch leaves the log as stored, and the next batch follows it")
    func refusedBatchChangesNothing() throws {
        let (home, store, unlocked, space) = try Self.replayedStore()
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        let identity = unlocked.keystore.identity
        let log = try store.membershipLog(space: space)
        let phone = DeviceCertificate.issue(identity: identity, device: SigningKey.generate().verifyingKey, created: 1)
        // The second record repeats the first one's index: the whole batch is refused.
        let first = log.nextRecord(.addDevice(phone), by: identity)
        let stale = log.nextRecord(.directory(epoch: 1, sealed: [UInt8](repeating: 1, count: 40)), by: identity)
        #expect(throws: StoreError.self) { try store.appendMembership([first, stale], space: space) }
        #expect(try store.membershipLog(space: space).records.count == 3)
        try store.appendMembership([first], space: space)
        #expect(try store.membershipLog(space: space).records.map(\.hash) == log.records.map(\.hash) + [first.hash])
    }

    @Test("An entry's space kind comes from its row")
    func spaceKindFromTheColumn() throws {
        let (home, _, unlocked, _) = try Self.replayedStore()
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        let id = EntryID(high: 4, low: 4)
        try unlocked.commit(entry: id, now: 1_000) { $0.create() }
        #expect(try unlocked.spaceKind(of: id) == .personal)
        #expect(try unlocked.spaceKind(of: EntryID(high: 5, low: 5)) == nil)
    }
}
