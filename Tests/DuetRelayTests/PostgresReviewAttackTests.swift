import DuetCrypto
import DuetTesting
import DuetWire
import Foundation
import GRDB
import NIOCore
import PostgresNIO
import Testing
@testable import DuetRelay

/// The review's attacks on the PostgreSQL backend (issue #17, an attacking helper session):
/// each states what SPEC § 6.4 promises, and failed on the code before its fix.

/// A value shared with an escaping closure.
final class Shared<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func get() -> T { lock.withLock { value } }
    func set(_ new: T) { lock.withLock { value = new } }
}

@Suite("Attack #17: PostgreSQL backend")
struct PostgresAttackTests {
    /// Another session holding `spaces` row locks: a relay process cut off mid-transaction
    /// (its server-side backend keeps the lock until TCP keepalive notices), or any DB user.
    static func holdLocks(_ url: String, _ spaces: [SpaceID], _ storage: any RelayStorage) async throws -> PostgresConnection {
        let logger = (storage as! PostgresRelayStorage).logger
        let holder = try await PostgresConnection.connect(configuration: try PostgresLocation(url: url).connectionConfiguration, id: 77, logger: logger)
        try await holder.query("BEGIN", logger: logger)
        for space in spaces {
            try await holder.query("SELECT 1 FROM spaces WHERE space = \(ByteBuffer(bytes: space.bytes)) FOR UPDATE", logger: logger)
        }
        return holder
    }

    /// Whether `operation` finished within `limit`.
    static func finishes(within limit: Duration, _ operation: @escaping @Sendable () async -> Void) async -> (Bool, Task<Void, Never>) {
        let done = Shared(false)
        let task = Task { await operation(); done.set(true) }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if done.get() { return (true, task) }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return (done.get(), task)
    }

    @Test("SPEC § 6.4: a request waits at most 10 s for the database, then 503 — even when the space's row lock is held elsewhere")
    func deadlineHoldsOnLockWait() async throws {
        let backend = try await TestRelayBackend.make(.postgres)
        let storage = backend.storage
        let space = SpaceID.random()
        var device = RelayStorageTests.Device()
        _ = try await storage.append([device.next(space)])
        let holder = try await Self.holdLocks(try #require(backend.postgresURL), [space], storage)
        let next = device.next(space)
        let answer = Shared("")
        let (finished, task) = await Self.finishes(within: .seconds(16)) {
            do { let outcome = try await storage.append([next]); answer.set("\(outcome)") } catch {
                answer.set((error as? RelayError)?.code ?? "\(error)")
            }
        }
        // Release and clean up whatever happened.
        try await holder.query("ROLLBACK", logger: (storage as! PostgresRelayStorage).logger)
        try? await holder.close()
        await task.value
        let held = try await storage.heads(space: space)[device.id]
        #expect(finished, "the append was still waiting after 16 s (the 10 s deadline did not fire)")
        let said = answer.get()
        #expect(!(said == "unavailable" && held == 2), "answered 503 'nothing was stored' for an envelope the database holds (head \(String(describing: held)))")
        await backend.close()
    }

    @Test("Two spaces whose row locks are held elsewhere must not stall appends to every other space of the process")
    func twoStuckSpacesStallTheProcess() async throws {
        let backend = try await TestRelayBackend.make(.postgres)
        let storage = backend.storage
        var one = RelayStorageTests.Device(), two = RelayStorageTests.Device(), three = RelayStorageTests.Device()
        let (x, y, z) = (SpaceID.random(), SpaceID.random(), SpaceID.random())
        _ = try await storage.append([one.next(x)])
        _ = try await storage.append([two.next(y)])
        let holder = try await Self.holdLocks(try #require(backend.postgresURL), [x, y], storage)
        let (ex, ey) = (one.next(x), two.next(y))
        let stuckX = Task { _ = try? await storage.append([ex]) }
        let stuckY = Task { _ = try? await storage.append([ey]) }
        try await Task.sleep(for: .milliseconds(500))
        // A third space no one locks, a fresh device: nothing to wait for but a free turn.
        let ez = three.next(z)
        let (finished, task) = await Self.finishes(within: .seconds(5)) { _ = try? await storage.append([ez]) }
        try await holder.query("ROLLBACK", logger: (storage as! PostgresRelayStorage).logger)
        try? await holder.close()
        await task.value
        await stuckX.value
        await stuckY.value
        #expect(finished, "an append to an unlocked space waited > 5 s behind two locked spaces (maximumInFlight = 2)")
        await backend.close()
    }

    /// Forwards to `inner`; while armed, a membership read returns its rows only after a pause
    /// (a slow response: the rows were read before the pause, as a query's snapshot is).
    final class SlowMembershipReads: RelayStorage, @unchecked Sendable {
        let inner: any RelayStorage
        let armed = Shared(false)
        init(_ inner: any RelayStorage) { self.inner = inner }
        func append(_ envelopes: [Envelope]) async throws -> [AppendOutcome] { try await inner.append(envelopes) }
        func fetch(space: SpaceID, after vector: [WireDeviceID: UInt64], limit: Int, maximumBytes: Int) async throws -> (envelopes: [[UInt8]], complete: Bool) {
            try await inner.fetch(space: space, after: vector, limit: limit, maximumBytes: maximumBytes)
        }
        func heads(space: SpaceID) async throws -> [WireDeviceID: UInt64] { try await inner.heads(space: space) }
        func forks(space: SpaceID) async throws -> [ForkEvidence] { try await inner.forks(space: space) }
        func appendMembership(space: SpaceID, from index: UInt64, records: [[UInt8]], creator: [UInt8]?, maximumSpacesPerCreator: Int) async throws -> MembershipAppendOutcome {
            try await inner.appendMembership(space: space, from: index, records: records, creator: creator, maximumSpacesPerCreator: maximumSpacesPerCreator)
        }
        func keepRefusedMembership(space: SpaceID, record: [UInt8], maximumPerSpace: Int) async throws {
            try await inner.keepRefusedMembership(space: space, record: record, maximumPerSpace: maximumPerSpace)
        }
        func refusedMembership(space: SpaceID) async throws -> [[UInt8]] { try await inner.refusedMembership(space: space) }
        func membership(space: SpaceID, from index: UInt64) async throws -> [[UInt8]] {
            let slowThis = armed.get()
            let rows = try await inner.membership(space: space, from: index)
            if slowThis { try await Task.sleep(for: .milliseconds(1500)) }
            return rows
        }
        func recovery(slot: [UInt8]) async throws -> [UInt8]? { try await inner.recovery(slot: slot) }
        func putRecovery(slot: [UInt8], owner: [UInt8], blob: [UInt8], maximumSlotsPerOwner: Int, maximumSlots: Int) async throws -> RecoveryPutOutcome {
            try await inner.putRecovery(slot: slot, owner: owner, blob: blob, maximumSlotsPerOwner: maximumSlotsPerOwner, maximumSlots: maximumSlots)
        }
    }

    @Test("A device removed through process A is refused at process B, whose membership read was in flight when A committed")
    func staleMembershipAfterRemoval() async throws {
        let a = try await TestRelayBackend.make(.postgres)
        let b = try await TestRelayBackend.make(.postgres, postgresURL: a.postgresURL)
        let origin = RelayServiceTests.origin, now = RelayServiceTests.now
        let relayA = RelayService(storage: a.storage, origin: origin, access: a.access)
        let slow = SlowMembershipReads(b.storage)
        let relayB = RelayService(storage: slow, origin: origin, access: b.access)
        let bStorage = try #require(b.storage as? PostgresRelayStorage), bAccess = try #require(b.access as? PostgresAccessStore)
        await relayB.trustMembershipCache(false)
        let live = LiveFanOut(maximumConnectionsPerDevice: 4)
        let feed = PostgresClusterFeed(location: try PostgresLocation(url: try #require(b.postgresURL)), storage: bStorage, access: bAccess,
                                       service: relayB, live: live, logger: bStorage.logger)
        let (listening, heard) = AsyncStream<Void>.makeStream()
        let feedTask = Task { await feed.run { heard.yield() } }
        for await _ in listening { break }

        let alex = RelayServiceTests.Person()
        let space = try await RelayServiceTests.createSpace(relayA, owner: alex)
        let laptop = SigningKey.generate()
        let records = try await relayA.membership(space: space, from: 1, device: alex.device.verifyingKey).map { try MembershipRecord(bytes: $0) }
        let certificate = DeviceCertificate.issue(identity: alex.identity, device: laptop.verifyingKey, created: now)
        let add = MembershipRecord.sign(space: space, index: 3, previous: records[1].hash, action: .addDevice(certificate), signer: alex.identity)
        _ = try await relayA.appendMembership(add.encoded, from: alex.device.verifyingKey)
        try await Task.sleep(for: .milliseconds(300))

        // B's cached log is gone (evicted past 4,096 spaces, or the listener just came back),
        // and a request reads it (laptop a member) ...
        await relayB.forgetMembership(of: space)
        slow.armed.set(true)
        let read = Task { try await relayB.heads(space: space, device: laptop.verifyingKey, now: now) }
        try await Task.sleep(for: .milliseconds(300))
        slow.armed.set(false)
        // ... while A removes the laptop; B hears `m:` before its read returns.
        let remove = MembershipRecord.sign(space: space, index: 4, previous: add.hash, action: .removeDevice(laptop.verifyingKey), signer: alex.identity)
        _ = try await relayA.appendMembership(remove.encoded, from: alex.device.verifyingKey)
        _ = try? await read.value
        try await Task.sleep(for: .milliseconds(500))

        await #expect(throws: RelayError.notAMember) { try await relayA.heads(space: space, device: laptop.verifyingKey, now: now) }
        // Seconds later, and for as long as nothing else changes the space's log:
        try await Task.sleep(for: .seconds(2))
        await #expect(throws: RelayError.notAMember, "B still takes the removed laptop as a member (stale cached log)") {
            try await relayB.heads(space: space, device: laptop.verifyingKey, now: now)
        }
        feedTask.cancel()
        await feedTask.value
        await a.close()
        await b.close()
    }

    @Test("migrate's verification notices a target that differs from the SQLite store (heads' seq and forked flag, quota counters)")
    func migrationVerificationCoverage() async throws {
        let folder = NSTemporaryDirectory() + "attack17-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let sqliteStorage = try SQLiteRelayStorage(directory: folder)
        let space = SpaceID.random()
        var device = RelayStorageTests.Device()
        _ = try await sqliteStorage.append([device.next(space), device.next(space)])
        let fork = device.forged(space, seq: 1, previous: .zero, "the other one")
        #expect(try await sqliteStorage.append([fork]) == [.refused(.fork)])
        let target = try await TestRelayBackend.make(.postgres)
        let postgres = try #require(target.storage as? PostgresRelayStorage)
        var configuration = GRDB.Configuration()
        configuration.readonly = true
        let source = try GRDB.DatabaseQueue(path: folder + "/relay.sqlite", configuration: configuration)
        _ = try await RelayMigration.copy(from: source, to: postgres) { _ in }
        // The copy is damaged after the fact, one way at a time, and mended again: the forked
        // device unstopped, its head moved back, the space's byte count zeroed (quota bypassed),
        // the fork's evidence dropped.
        let logger = postgres.logger
        let bytes = try await postgres.read { connection -> Int64 in
            for try await value in try await connection.query("SELECT bytes FROM spaces", logger: logger).decode(Int64.self) { return value }
            return -1
        }
        let offered = try #require(try await postgres.forks(space: space).first?.offered)
        let damages: [(what: String, damage: PostgresQuery, mend: PostgresQuery)] = [
            ("forked flag", "UPDATE heads SET forked = false", "UPDATE heads SET forked = true"),
            ("head's seq", "UPDATE heads SET seq = 1", "UPDATE heads SET seq = 2"),
            ("quota counter", "UPDATE spaces SET bytes = 0", "UPDATE spaces SET bytes = \(bytes)"),
            ("fork evidence", "DELETE FROM forks",
             "INSERT INTO forks (space, device, seq, offered) SELECT space, device, 1, \(ByteBuffer(bytes: offered)) FROM heads"),
        ]
        _ = try await RelayMigration.verify(source, postgres)
        for (what, damage, mend) in damages {
            _ = try await postgres.transaction { connection in try await connection.query(damage, logger: logger) }
            await #expect(throws: RelayMigration.Mismatch.self, "verification passed on a target whose \(what) differs") {
                _ = try await RelayMigration.verify(source, postgres)
            }
            _ = try await postgres.transaction { connection in try await connection.query(mend, logger: logger) }
            _ = try await RelayMigration.verify(source, postgres)
        }
        await target.close()
    }

    @Test("One session cannot make the shared mailbox table grow without bound: empty blobs count against a cap too")
    func emptyMailboxesUnbounded() async throws {
        let backend = try await TestRelayBackend.make(.postgres)
        // The one-process store keeps the same caps (its memory is no more boundless).
        for access in [try #require(backend.access), MemoryAccessStore()] {
            let owner = SigningKey.generate().verifyingKey
            let now = RelayServiceTests.now
            var accepted = 0
            for _ in 0..<3_000 {
                do { try await access.putMailbox(RandomBytes.make(count: 16), [], owner: owner, now: now); accepted += 1 } catch { break }
            }
            let held = try await access.held(now: now)
            #expect(accepted == MailboxCaps.countPerDevice && held.mailboxes == accepted,
                    "one device holds \(held.mailboxes) empty mailboxes; 256 KiB per device bounds bytes, not rows")
            // The cap is the device's: another still pairs.
            try await access.putMailbox(RandomBytes.make(count: 16), [], owner: SigningKey.generate().verifyingKey, now: now)
        }
        await backend.close()
    }

    @Test("A flood of resends holds the space's lock for one query, not one round trip a duplicate; a resend that differs is still a fork")
    func duplicateFloodHoldsTurns() async throws {
        // Was: each duplicate read its held bytes in a round trip of its own under the space's
        // row lock, so 8,192 resends in two spaces held every turn of the process. Counted, not
        // timed: a timing would pass or fail by the machine's load.
        let backend = try await TestRelayBackend.make(.postgres)
        let storage = try #require(backend.storage as? PostgresRelayStorage)
        let space = SpaceID.random()
        var device = RelayStorageTests.Device()
        let chain = (0..<256).map { _ in device.next(space) }
        for start in stride(from: 0, to: chain.count, by: 64) { _ = try await storage.append(Array(chain[start..<start + 64])) }
        let before = storage.statistics.now
        #expect(try await storage.append(chain) == Array(repeating: .duplicate, count: 256))
        let after = storage.statistics.now
        #expect(after.transactions - before.transactions == 1 && after.locked == before.locked, "resends take no lock: \(before) → \(after)")
        #expect(after.roundTrips - before.roundTrips == 2, "256 resends took \(after.roundTrips - before.roundTrips) round trips (the heads, then their hashes)")
        // The same query tells a resend from a different envelope for a seq held: a fork.
        let other = device.forged(space, seq: 100, previous: chain[98].hash, "the other hundredth")
        #expect(try await storage.append([chain[0], other, chain[200]]) == [.duplicate, .refused(.fork), .refused(.deviceForked)])
        #expect(try await storage.forks(space: space).map(\.seq) == [100])
        await backend.close()
    }

    @Test("A head another process moves between an append's read and its lock: the group is judged again under the lock (a fork with evidence, never a second seq 2)")
    func headMovedBeforeTheLock() async throws {
        let backend = try await TestRelayBackend.make(.postgres)
        let storage = try #require(backend.storage as? PostgresRelayStorage)
        let logger = storage.logger
        let space = SpaceID.random()
        var device = RelayStorageTests.Device()
        let first = device.next(space)
        _ = try await storage.append([first])
        // Process B (played by this connection) holds the space's row lock while it stores a
        // seq 2 of its own for the same device.
        let holder = try await Self.holdLocks(try #require(backend.postgresURL), [space], storage)
        let theirs = device.forged(space, seq: 2, previous: first.hash, "stored through the other process")
        let ours = device.next(space)
        let before = storage.statistics.now
        let append = Task { try await storage.append([ours]) }
        // Until this process's duet_append waits for the lock: it has read head 1 and judged seq 2 as extending it.
        var waiting = false
        for _ in 0..<200 where !waiting {
            // The holder is inside a transaction, where pg_stat_activity is read once and then
            // served from that snapshot: without clearing it, the first look was every look.
            try await holder.query("SELECT pg_stat_clear_snapshot()", logger: logger)
            for try await count in try await holder.query("""
                SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%duet_append%'
                """, logger: logger).decode(Int.self) { waiting = count > 0 }
            if !waiting { try await Task.sleep(for: .milliseconds(25)) }
        }
        #expect(waiting, "the append never reached duet_append")
        let id = ByteBuffer(bytes: space.bytes), key = ByteBuffer(bytes: device.id.bytes)
        try await holder.query("""
            INSERT INTO envelopes (space, device, seq, position, hash, bytes)
            VALUES (\(id), \(key), 2, 2, \(ByteBuffer(bytes: theirs.hash.bytes)), \(ByteBuffer(bytes: theirs.bytes)))
            """, logger: logger)
        try await holder.query("UPDATE heads SET seq = 2, hash = \(ByteBuffer(bytes: theirs.hash.bytes)) WHERE space = \(id)", logger: logger)
        try await holder.query("UPDATE spaces SET position = 2, bytes = bytes + \(theirs.bytes.count) WHERE space = \(id)", logger: logger)
        try await holder.query("COMMIT", logger: logger)
        try? await holder.close()
        #expect(try await append.value == [.refused(.fork)])
        let after = storage.statistics.now
        #expect(after.locked == before.locked + 1, "judged again under the lock: \(before) → \(after)")
        #expect(try await storage.forks(space: space).map(\.offered) == [ours.bytes])
        let (fetched, _) = try await storage.fetch(space: space, after: [:], limit: 10, maximumBytes: 1 << 20)
        #expect(fetched == [first.bytes, theirs.bytes])
        await backend.close()
    }

    @Test("A socket opened while the listener is down is closed or caught up once it is back: nothing committed meanwhile is silently missed")
    func listenerGapMissesPushes() async throws {
        let a = try await TestRelayBackend.make(.postgres)
        let b = try await TestRelayBackend.make(.postgres, postgresURL: a.postgresURL)
        let origin = RelayServiceTests.origin
        let relayA = RelayService(storage: a.storage, origin: origin, access: a.access)
        let relayB = RelayService(storage: b.storage, origin: origin, access: b.access)
        let bStorage = try #require(b.storage as? PostgresRelayStorage), bAccess = try #require(b.access as? PostgresAccessStore)
        let url = try #require(b.postgresURL)
        let live = LiveFanOut(maximumConnectionsPerDevice: 4)
        let feed = PostgresClusterFeed(location: try PostgresLocation(url: url), storage: bStorage, access: bAccess, service: relayB, live: live, logger: bStorage.logger)
        let (listening, heard) = AsyncStream<Void>.makeStream()
        let feedTask = Task { await feed.run { heard.yield() } }
        for await _ in listening { break }
        let alex = RelayServiceTests.Person()
        let space = try await RelayServiceTests.createSpace(relayA, owner: alex)
        let member = WireDeviceID(verifyingKey: alex.device.verifyingKey)
        let first = try #require(await live.subscribe(space: space, device: member))
        // The listener's connection is cut (a pooler's idle timeout, pg_terminate_backend, a failover).
        let killer = try await PostgresConnection.connect(configuration: try PostgresLocation(url: url).connectionConfiguration, id: 78, logger: bStorage.logger)
        try await killer.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE 'LISTEN%'", logger: bStorage.logger)
        for await _ in first.stream {}
        // The client reconnects at once (as it is told to) while B's listener is still pausing.
        let second = try #require(await live.subscribe(space: space, device: member))
        let received = Shared(0), ended = Shared(false)
        let reader = Task { for await _ in second.stream { received.set(received.get() + 1) }; ended.set(true) }
        var device = RelayStorageTests.Device()
        _ = try await a.storage.append([device.next(space)])
        for await _ in listening { break }
        try await Task.sleep(for: .seconds(2))
        #expect(received.get() > 0 || ended.get(), "the socket opened during the gap neither received the envelope stored meanwhile nor was closed")
        await live.closeAll()
        await reader.value
        try? await killer.close()
        feedTask.cancel()
        await feedTask.value
        await a.close()
        await b.close()
    }
}
