import DuetCrypto
import DuetTesting
import DuetWire
import Logging
import NIOCore
import PostgresNIO
import Testing
@testable import DuetRelay

/// Group commit across spaces (issue #17): one transaction carries the waiting appends of many
/// spaces, and two processes committing the same spaces at once never deadlock.
@Suite("PostgreSQL backend: group commit across spaces")
struct PostgresGroupCommitTests {
    @Test("Appends to thirty spaces that wait while every commit is in flight go in one transaction, not thirty")
    func oneCommitManySpaces() async throws {
        let backend = try await TestRelayBackend.make(.postgres)
        let storage = try #require(backend.storage as? PostgresRelayStorage)
        let logger = storage.logger
        // Every turn taken by a commit that waits for a lock held here.
        var busy: [(SpaceID, RelayStorageTests.Device)] = []
        for _ in 0..<PostgresRelayStorage.commitsInFlight {
            let space = SpaceID.random()
            var device = RelayStorageTests.Device()
            _ = try await storage.append([device.next(space)])
            busy.append((space, device))
        }
        let holder = try await PostgresAttackTests.holdLocks(try #require(backend.postgresURL), busy.map(\.0), storage)
        let before = storage.statistics.now
        var tasks: [Task<[AppendOutcome], any Error>] = []
        for (space, device) in busy {
            var device = device
            let envelope = device.next(space)
            tasks.append(Task { try await storage.append([envelope]) })
        }
        var waiting = 0
        for _ in 0..<400 where waiting < busy.count {
            try await holder.query("SELECT pg_stat_clear_snapshot()", logger: logger)
            for try await count in try await holder.query("""
                SELECT count(*)::int8 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%duet_append_many%'
                """, logger: logger).decode(Int.self) { waiting = count }
            if waiting < busy.count { try await Task.sleep(for: .milliseconds(25)) }
        }
        #expect(waiting == busy.count, "every commit in flight waits for the lock")
        let spaces = (0..<30).map { _ in SpaceID.random() }
        for space in spaces {
            var device = RelayStorageTests.Device()
            let envelope = device.next(space)
            tasks.append(Task { try await storage.append([envelope]) })
        }
        while await storage.appendsWaiting < spaces.count { try await Task.sleep(for: .milliseconds(5)) }
        try await holder.query("COMMIT", logger: logger)
        try? await holder.close()
        for (index, task) in tasks.enumerated() {
            // The held spaces' second envelope, then each new space's first.
            let outcome = try await task.value
            #expect(outcome == [.stored(position: index < busy.count ? 2 : 1)])
        }
        let after = storage.statistics.now
        #expect(after.transactions - before.transactions == busy.count + 1, "\(busy.count) held, then one for thirty spaces: \(before) → \(after)")
        #expect(after.locked == before.locked)
        await backend.close()
    }

    @Test("Two processes committing appends to the same sixteen spaces at once, round after round: no deadlock, every envelope stored once, in order")
    func twoProcessesSameSpaces() async throws {
        let a = try await TestRelayBackend.make(.postgres)
        let b = try await TestRelayBackend.make(.postgres, postgresURL: a.postgresURL)
        let stores = [a.storage, b.storage]
        let spaces = (0..<16).map { _ in SpaceID.random() }
        // Two devices a space, one on each process.
        var devices = spaces.flatMap { space in [(space, 0, RelayStorageTests.Device()), (space, 1, RelayStorageTests.Device())] }
        for _ in 0..<10 {
            let round = devices.indices.map { index in (devices[index].0, devices[index].1, devices[index].2.next(devices[index].0)) }
            let outcomes = try await withThrowingTaskGroup(of: [AppendOutcome].self) { group in
                for (_, process, envelope) in round {
                    let store = stores[process]
                    group.addTask { try await store.append([envelope]) }
                }
                var all: [[AppendOutcome]] = []
                for try await outcome in group { all.append(outcome) }
                return all
            }
            #expect(outcomes.allSatisfy { $0.count == 1 && { if case .stored = $0[0] { true } else { false } }($0) }, "\(outcomes)")
        }
        for space in spaces {
            let (fetched, _) = try await a.storage.fetch(space: space, after: [:], limit: 100, maximumBytes: 1 << 20)
            #expect(fetched.count == 20)
        }
        await a.close()
        await b.close()
    }
}
