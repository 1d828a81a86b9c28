import DuetCrypto
import DuetTesting
import Foundation
import PostgresNIO
import Testing
@testable import DuetRelay

/// The running totals the shared access store keeps instead of counting every row under a lock
/// (issue #17, review finding 5): they must stay exactly the rows' count and size whatever two
/// processes do at once, or a cap drifts until it refuses everyone or no one.
@Suite("PostgreSQL access store: running totals")
struct PostgresRunningTotalsTests {
    /// (sessions, mailboxes, mailbox bytes) as the counters say, and as the rows are.
    static func totals(_ storage: PostgresRelayStorage) async throws -> (counted: [Int64], held: [Int64]) {
        let logger = storage.logger
        return try await storage.read { connection in
            var counted: [String: Int64] = [:], held: [Int64] = []
            for try await (name, value) in try await connection.query("SELECT name, value FROM relay_counters", logger: logger).decode((String, Int64).self) {
                counted[name] = value
            }
            for try await (sessions, mailboxes, bytes) in try await connection.query("""
                SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM mailboxes), (SELECT coalesce(sum(length(blob)), 0)::bigint FROM mailboxes)
                """, logger: logger).decode((Int64, Int64, Int64).self) { held = [sessions, mailboxes, bytes] }
            return ([counted["sessions"] ?? -1, counted["mailboxes"] ?? -1, counted["mailbox_bytes"] ?? -1], held)
        }
    }

    @Test("Sessions and mailboxes opened, ended, taken and expired through two processes at once: the totals are the rows, and the caps hold")
    func totalsFollowRows() async throws {
        let first = try await TestRelayBackend.make(.postgres)
        let url = try #require(first.postgresURL)
        await first.close()
        let a = try await TestRelayBackend.make(.postgres, postgresURL: url)
        let b = try await TestRelayBackend.make(.postgres, postgresURL: url)
        let stores = [try #require(a.access), try #require(b.access)]
        let storage = try #require(a.storage as? PostgresRelayStorage)
        let now = RelayServiceTests.now
        let devices = (0..<6).map { _ in SigningKey.generate().verifyingKey }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, device) in devices.enumerated() {
                let store = stores[index % 2]
                group.addTask {
                    // Each device: five sessions (two kept per device, twelve in all), then six
                    // mailboxes, two of them taken, one put to expire.
                    for round in 0..<5 {
                        try await store.openSession(token: RandomBytes.make(count: 32), device: device, expires: now + 60_000 + UInt64(round),
                                                    now: now, perDevice: 2, maximum: 12)
                    }
                    var ids: [[UInt8]] = []
                    for size in 0..<6 {
                        let id = RandomBytes.make(count: 16)
                        ids.append(id)
                        try await store.putMailbox(id, [UInt8](repeating: 7, count: size * 100), owner: device, now: size == 5 ? now - Mailboxes.lifetime : now)
                    }
                    _ = try await stores[(index + 1) % 2].takeMailbox(ids[1], now: now + 1)
                    _ = try await store.takeMailbox(ids[3], now: now + 1)
                }
            }
            try await group.waitForAll()
        }
        try await stores[1].endSessions(of: devices[0])
        // A put after the ones that expired: they are removed, and counted out.
        try await stores[0].putMailbox(RandomBytes.make(count: 16), [1, 2, 3], owner: devices[0], now: now + 2)
        let (counted, held) = try await Self.totals(storage)
        #expect(counted == held, "relay_counters say \(counted) (sessions, mailboxes, bytes); the tables hold \(held)")
        // Two sessions each, five devices left (the sixth's ended): ten, under the cap of twelve.
        #expect(held[0] == 10)
        // Per device: six put, two taken, one expired; and the one put since.
        #expect(held[1] == Int64(devices.count * 3 + 1))
        await a.close()
        await b.close()
    }

    @Test("The relay-wide caps are decided on the totals: the oldest session anywhere ends first, and a mailbox past the count is refused")
    func capsOnTotals() async throws {
        let backend = try await TestRelayBackend.make(.postgres)
        let access = try #require(backend.access)
        let storage = try #require(backend.storage as? PostgresRelayStorage)
        let now = RelayServiceTests.now
        var tokens: [[UInt8]] = []
        for _ in 0..<5 {
            let token = RandomBytes.make(count: 32)
            tokens.append(token)
            try await access.openSession(token: token, device: SigningKey.generate().verifyingKey, expires: now + 60_000, now: now, perDevice: 2, maximum: 3)
        }
        var open: [Bool] = []
        for token in tokens { open.append(try await access.device(session: token, now: now) != nil) }
        #expect(open == [false, false, true, true, true], "three in all, the oldest ended first: \(open)")
        let owner = SigningKey.generate().verifyingKey
        for _ in 0..<MailboxCaps.countPerDevice { try await access.putMailbox(RandomBytes.make(count: 16), [], owner: owner, now: now) }
        await #expect { try await access.putMailbox(RandomBytes.make(count: 16), [], owner: owner, now: now) } throws: { error in
            (error as? RelayError)?.code == "mailboxes-full"
        }
        let (counted, held) = try await Self.totals(storage)
        #expect(counted == held && held[0] == 3 && held[1] == Int64(MailboxCaps.countPerDevice))
        await backend.close()
    }

    /// Moves a running total by `by` behind the store's back, as a writer that keeps none would.
    static func drift(_ storage: PostgresRelayStorage, _ name: String, by: Int64) async throws {
        let logger = storage.logger
        _ = try await storage.transaction { connection in
            try await connection.query("UPDATE relay_counters SET value = value + \(by) WHERE name = \(name)", logger: logger)
        }
    }

    @Test("A total left high by a writer that kept none (an older relay through the upgrade, an operator's DELETE) is counted anew before anyone is signed out or refused, not trusted for good")
    func driftedTotalsHeal() async throws {
        let backend = try await TestRelayBackend.make(.postgres)
        let access = try #require(backend.access)
        let storage = try #require(backend.storage as? PostgresRelayStorage)
        let now = RelayServiceTests.now
        var tokens: [[UInt8]] = []
        for _ in 0..<4 {
            let token = RandomBytes.make(count: 32)
            tokens.append(token)
            try await access.openSession(token: token, device: SigningKey.generate().verifyingKey, expires: now + 60_000, now: now, perDevice: 2, maximum: 12)
        }
        // Thirty more than the rows: taken at its word, the next sign-in ended all four.
        try await Self.drift(storage, "sessions", by: 30)
        let token = RandomBytes.make(count: 32)
        tokens.append(token)
        try await access.openSession(token: token, device: SigningKey.generate().verifyingKey, expires: now + 60_000, now: now, perDevice: 2, maximum: 12)
        var open: [Bool] = []
        for token in tokens { open.append(try await access.device(session: token, now: now) != nil) }
        #expect(open == Array(repeating: true, count: 5), "five sessions fit in twelve: \(open)")
        var (counted, held) = try await Self.totals(storage)
        #expect(counted == held && held[0] == 5, "\(counted) / \(held)")

        // Mailbox bytes left at the whole cap: counted anew at the cap, at most once a minute.
        let owner = SigningKey.generate().verifyingKey
        try await Self.drift(storage, "mailbox_bytes", by: 1 << 40)
        try await access.putMailbox(RandomBytes.make(count: 16), [1, 2, 3], owner: owner, now: now)
        (counted, held) = try await Self.totals(storage)
        #expect(counted == held && held[1] == 1 && held[2] == 3, "\(counted) / \(held)")
        try await Self.drift(storage, "mailbox_bytes", by: 1 << 40)
        await #expect { try await access.putMailbox(RandomBytes.make(count: 16), [4], owner: owner, now: now + 1) } throws: { error in
            (error as? RelayError)?.code == "mailboxes-full"
        }
        try await access.putMailbox(RandomBytes.make(count: 16), [4], owner: owner, now: now + 60_001)
        (counted, held) = try await Self.totals(storage)
        #expect(counted == held && held[1] == 2 && held[2] == 4, "\(counted) / \(held)")
        await backend.close()
    }
}
