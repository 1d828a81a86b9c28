import DuetCrypto
import DuetTesting
import DuetWire
import Foundation
import NIOCore
import PostgresNIO
import Testing
@testable import DuetRelay

/// Several relay processes on one PostgreSQL database (issue #17): each side here is its own
/// pool and access store on the same database, as two `duet-relay` processes are. The rules
/// must hold across them as they hold within one.
@Suite("Relay on PostgreSQL: several processes, one database")
struct PostgresSharingTests {
    /// Two stores on one fresh database.
    static func pair() async throws -> (TestRelayBackend, TestRelayBackend) {
        let first = try await TestRelayBackend.make(.postgres)
        return (first, try await TestRelayBackend.make(.postgres, postgresURL: first.postgresURL))
    }

    @Test("200 devices appending through two processes at once: every envelope once, each device in order, positions exact per space")
    func concurrentAcrossProcesses() async throws {
        let (a, b) = try await Self.pair()
        let spaces = (0..<4).map { _ in SpaceID.random() }
        let perDevice = 8
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask {
                    var device = RelayStorageTests.Device()
                    let space = spaces[index % spaces.count]
                    for round in 0..<perDevice {
                        let envelope = device.next(space)
                        // Alternating processes, and each envelope sent again through the other.
                        let (first, second) = (round + index) % 2 == 0 ? (a.storage, b.storage) : (b.storage, a.storage)
                        guard case .stored = try await first.append([envelope]).first, try await second.append([envelope]) == [.duplicate] else {
                            throw StorageTestFailure("not stored once")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        for space in spaces {
            let fetched = try await a.storage.fetch(space: space, after: [:], limit: 10_000, maximumBytes: 64 << 20)
            #expect(fetched.complete && fetched.envelopes.count == 50 * perDevice)
            let envelopes = try fetched.envelopes.map { try Envelope(bytes: $0) }
            for (_, chain) in Dictionary(grouping: envelopes, by: \.header.device) {
                #expect(chain.map(\.header.seq) == Array(1...UInt64(perDevice)))
            }
        }
        // Arrival positions: 1…N per space, none twice, none skipped.
        let postgres = try #require(a.storage as? PostgresRelayStorage)
        for space in spaces {
            let all = try await postgres.envelopes(space: space, positions: 1, Int64(50 * perDevice))
            #expect(all.count == 50 * perDevice && Set(all).count == all.count)
        }
        await a.close()
        await b.close()
    }

    @Test("One seq offered at once through two processes: one envelope stored; a different one is a fork, kept as evidence")
    func racingForks() async throws {
        let (a, b) = try await Self.pair()
        for _ in 0..<20 {
            let space = SpaceID.random()
            let device = RelayStorageTests.Device()
            let mine = device.forged(space, seq: 1, previous: .zero, "what I wrote")
            let other = device.forged(space, seq: 1, previous: .zero, "what I claim I wrote")
            async let first = a.storage.append([mine])
            async let second = b.storage.append([other])
            let outcomes = try await [first, second].flatMap { $0 }
            #expect(outcomes.filter { if case .stored = $0 { true } else { false } }.count == 1)
            #expect(outcomes.contains(.refused(.fork)))
            #expect(try await a.storage.forks(space: space).count == 1)
            #expect(try await b.storage.heads(space: space) == [device.id: 1])
        }
        await a.close()
        await b.close()
    }

    @Test("The same membership index written through two processes at once: one stored, the other told it is out of order")
    func racingMembership() async throws {
        let (a, b) = try await Self.pair()
        for _ in 0..<20 {
            let space = SpaceID.random()
            async let first = a.storage.appendMembership(space: space, from: 1, records: [[1, 2, 3]], creator: nil, maximumSpacesPerCreator: 8)
            async let second = b.storage.appendMembership(space: space, from: 1, records: [[4, 5, 6]], creator: nil, maximumSpacesPerCreator: 8)
            let outcomes = try await [first, second]
            #expect(outcomes.sorted { "\($0)" < "\($1)" } == [.outOfOrder, .stored])
            #expect(try await a.storage.membership(space: space, from: 1).count == 1)
        }
        // The spaces-per-identity cap holds across processes too.
        let creator = Array(repeating: UInt8(7), count: 32)
        let outcomes = try await withThrowingTaskGroup(of: MembershipAppendOutcome.self) { group in
            for index in 0..<10 {
                let storage = index % 2 == 0 ? a.storage : b.storage
                group.addTask { try await storage.appendMembership(space: .random(), from: 1, records: [[9]], creator: creator, maximumSpacesPerCreator: 3) }
            }
            return try await group.reduce(into: [MembershipAppendOutcome]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == .stored }.count == 3 && outcomes.filter { $0 == .creatorFull }.count == 7)
        await a.close()
        await b.close()
    }

    @Test("A challenge from one process is answered at the other, once; a session from one works at both and ends at both")
    func sharedSessions() async throws {
        let (a, b) = try await Self.pair()
        let origin = RelayServiceTests.origin, now = RelayServiceTests.now
        let relayA = RelayService(storage: a.storage, origin: origin, access: a.access)
        let relayB = RelayService(storage: b.storage, origin: origin, access: b.access)
        let device = SigningKey.generate()
        let challenge = try await relayA.challenge(for: device.verifyingKey, now: now)
        let signature = device.signature(for: RelayMessages.authenticationMessage(origin: origin, challenge: challenge))
        let token = try await relayB.session(device: device.verifyingKey, challenge: challenge, signature: signature, now: now + 1)
        await #expect(throws: RelayError.unauthenticated) {
            try await relayA.session(device: device.verifyingKey, challenge: challenge, signature: signature, now: now + 2)
        }
        #expect(try await relayA.device(for: token, now: now + 3) == device.verifyingKey)
        #expect(try await relayB.device(for: token, now: now + 3) == device.verifyingKey)
        try await a.access?.endSessions(of: device.verifyingKey)
        await #expect(throws: RelayError.unauthenticated) { try await relayA.device(for: token, now: now + 4) }
        // B cached the session a moment ago; with no listener here to tell it, it forgets by
        // itself within five seconds (a relay process hears the notification within milliseconds:
        // RelayClusterProcessTests).
        #expect(try await relayB.device(for: token, now: now + 4) == device.verifyingKey)
        await #expect(throws: RelayError.unauthenticated) { try await relayB.device(for: token, now: now + 3 + 5_001) }
        // The per-device cap counts the sessions opened at either process.
        var tokens: [[UInt8]] = []
        for index in 0..<4 {
            let relay = index % 2 == 0 ? relayA : relayB
            let fresh = try await relay.challenge(for: device.verifyingKey, now: now)
            let signed = device.signature(for: RelayMessages.authenticationMessage(origin: origin, challenge: fresh))
            tokens.append(try await relay.session(device: device.verifyingKey, challenge: fresh, signature: signed, now: now + 10))
        }
        let held = try #require(await a.access?.held(now: now + 11))
        #expect(held.sessions == 4)
        // Session tokens are not in the database, only their hashes.
        let postgres = try #require(a.storage as? PostgresRelayStorage)
        let stored = try await postgres.read { connection in
            var hashes: [[UInt8]] = []
            for try await bytes in try await connection.query("SELECT token_hash FROM sessions", logger: postgres.logger).decode(ByteBuffer.self) {
                hashes.append(Array(bytes.readableBytesView))
            }
            return hashes
        }
        #expect(stored.count == 4 && tokens.allSatisfy { !stored.contains($0) })
        await a.close()
        await b.close()
    }

    @Test("A pairing mailbox put through one process is taken through the other, once; its caps count both")
    func sharedMailboxes() async throws {
        let first = try await TestRelayBackend.make(.postgres)
        let url = try #require(first.postgresURL)
        await first.close()
        let a = try await TestRelayBackend.make(.postgres, postgresURL: url)
        let b = try await TestRelayBackend.make(.postgres, postgresURL: url)
        let now = RelayServiceTests.now
        let owner = SigningKey.generate().verifyingKey
        let id = RandomBytes.make(count: 16)
        try await a.access?.putMailbox(id, [1, 2, 3], owner: owner, now: now)
        await #expect(throws: RelayError.self) { try await b.access?.putMailbox(id, [4], owner: owner, now: now) }
        #expect(try await b.access?.takeMailbox(id, now: now + 1) == [1, 2, 3])
        await #expect(throws: RelayError.self) { try await a.access?.takeMailbox(id, now: now + 2) }
        // Ten minutes later an unread mailbox is gone.
        let later = RandomBytes.make(count: 16)
        try await a.access?.putMailbox(later, [5], owner: owner, now: now)
        await #expect(throws: RelayError.self) { try await b.access?.takeMailbox(later, now: now + 10 * 60_000) }
        // 256 KiB per device, counted across both processes.
        let blob = [UInt8](repeating: 9, count: 60 << 10)
        for index in 0..<4 { try await (index % 2 == 0 ? a : b).access?.putMailbox(RandomBytes.make(count: 16), blob, owner: owner, now: now) }
        await #expect { try await b.access?.putMailbox(RandomBytes.make(count: 16), blob, owner: owner, now: now) } throws: { error in
            (error as? RelayError)?.code == "mailboxes-full"
        }
        await a.close()
        await b.close()
    }
}
