import DuetCrypto
import DuetWire
import Foundation
import GRDB
import Testing
import DuetTesting
@testable import DuetRelay

/// The relay's append rules, on both real backends: SQLite in a temporary folder, PostgreSQL in a
/// fresh database on the test server (issue #17).
@Suite("Relay storage")
struct RelayStorageTests {
    static let key = SymmetricKey.random()

    /// A device that makes a correct chain of envelopes in one space.
    struct Device {
        let key = SigningKey.generate()
        var seq: UInt64 = 0
        var previous = Digest.zero
        var id: WireDeviceID { WireDeviceID(verifyingKey: key.verifyingKey) }

        mutating func next(_ space: SpaceID, _ text: String = "change") -> Envelope {
            seq += 1
            let envelope = Envelope.seal(Array(text.utf8), header: .init(space: space, epoch: 1, device: id, seq: seq, previous: previous),
                                         contentKey: RelayStorageTests.key, signingKey: key)
            previous = envelope.hash
            return envelope
        }

        func forged(_ space: SpaceID, seq: UInt64, previous: Digest, _ text: String) -> Envelope {
            Envelope.seal(Array(text.utf8), header: .init(space: space, epoch: 1, device: id, seq: seq, previous: previous),
                          contentKey: RelayStorageTests.key, signingKey: key)
        }
    }

    /// Runs `body` on a fresh store of `kind`, closed afterwards.
    static func withStorage(_ kind: RelayBackendKind, _ body: (any RelayStorage) async throws -> Void) async throws {
        let backend = try await TestRelayBackend.make(kind)
        do { try await body(backend.storage) } catch {
            await backend.close()
            throw error
        }
        await backend.close()
    }

    @Test("Stored in order, duplicates acknowledged once, gaps and broken chains refused", arguments: RelayBackendKind.allCases)
    func appendRules(backend kind: RelayBackendKind) async throws {
        try await Self.withStorage(kind) { (storage: any RelayStorage) async throws in
            let space = SpaceID.random()
            var device = Device()
            let first = device.next(space), second = device.next(space)
            #expect(try await storage.append([first]) == [.stored(position: 1)])
            #expect(try await storage.append([first]) == [.duplicate])
            let third = device.next(space)
            #expect(try await storage.append([third]) == [.refused(.gap)], "seq 3 before seq 2")
            #expect(try await storage.append([second, third]) == [.stored(position: 2), .stored(position: 3)])
            let unchained = device.forged(space, seq: 4, previous: first.hash, "skips a link")
            #expect(try await storage.append([unchained]) == [.refused(.brokenChain)])
            #expect(try await storage.heads(space: space) == [device.id: 3])
        }
    }

    @Test("A second, different envelope for a held seq is refused and kept as evidence", arguments: RelayBackendKind.allCases)
    func forks(backend kind: RelayBackendKind) async throws {
        try await Self.withStorage(kind) { (storage: any RelayStorage) async throws in
            let space = SpaceID.random()
            var device = Device()
            let original = device.next(space, "what I wrote")
            _ = try await storage.append([original])
            let fork = device.forged(space, seq: 1, previous: .zero, "what I claim I wrote")
            #expect(try await storage.append([fork]) == [.refused(.fork)])
            let evidence = try await storage.forks(space: space)
            #expect(evidence == [ForkEvidence(device: device.id, seq: 1, held: original.bytes, offered: fork.bytes)])
            #expect(try await storage.heads(space: space) == [device.id: 1], "the fork changed nothing")
        }
    }

    @Test("Fetch returns exactly what a vector lacks, per device in seq order, and pages with a limit", arguments: RelayBackendKind.allCases)
    func fetchByVector(backend kind: RelayBackendKind) async throws {
        try await Self.withStorage(kind) { (storage: any RelayStorage) async throws in
            let space = SpaceID.random(), other = SpaceID.random()
            var a = Device(), b = Device()
            var made: [WireDeviceID: [Envelope]] = [:]
            for round in 0..<10 {
                let envelope = round % 3 == 0 ? b.next(space) : a.next(space)
                made[envelope.header.device, default: []].append(envelope)
                _ = try await storage.append([envelope])
            }
            var c = Device()
            _ = try await storage.append([c.next(other)])
            let all = try await storage.fetch(space: space, after: [:], limit: 100, maximumBytes: 8 << 20)
            #expect(all.complete && all.envelopes.count == 10)
            let lacking = try await storage.fetch(space: space, after: [a.id: 4, b.id: 4], limit: 100, maximumBytes: 8 << 20)
            let expected = Set(made[a.id, default: []].dropFirst(4).map(\.bytes))
            #expect(Set(lacking.envelopes) == expected, "b is complete at 4, a lacks 5 and 6")
            let parsed = try lacking.envelopes.map { try Envelope(bytes: $0) }
            #expect(parsed.map(\.header.seq) == [5, 6])
            let paged = try await storage.fetch(space: space, after: [:], limit: 3, maximumBytes: 8 << 20)
            #expect(!paged.complete && paged.envelopes.count == 3)
            #expect(try await storage.fetch(space: space, after: [a.id: 6, b.id: 4], limit: 10, maximumBytes: 8 << 20).envelopes.isEmpty)
        }
    }

    @Test("200 concurrent devices appending: every envelope stored exactly once, each device in order", arguments: RelayBackendKind.allCases)
    func concurrentAppends(backend kind: RelayBackendKind) async throws {
        try await Self.withStorage(kind) { (storage: any RelayStorage) async throws in
            let spaces = (0..<4).map { _ in SpaceID.random() }
            let perDevice = 10
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        var device = Device()
                        let space = spaces[index % spaces.count]
                        for _ in 0..<perDevice {
                            let envelope = device.next(space)
                            // Each is sent twice: the duplicate must not be stored again.
                            let outcomes = try await storage.append([envelope, envelope])
                            guard case .stored = outcomes[0], outcomes[1] == .duplicate else {
                                throw StorageTestFailure("unexpected outcomes \(outcomes)")
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            var total = 0
            for space in spaces {
                let heads = try await storage.heads(space: space)
                #expect(heads.count == 50 && heads.values.allSatisfy { $0 == UInt64(perDevice) })
                let fetched = try await storage.fetch(space: space, after: [:], limit: 10_000, maximumBytes: 8 << 20)
                #expect(fetched.complete)
                let envelopes = try fetched.envelopes.map { try Envelope(bytes: $0) }
                #expect(Set(envelopes.map(\.bytes)).count == envelopes.count, "no envelope twice")
                for (_, chain) in Dictionary(grouping: envelopes, by: \.header.device) {
                    #expect(chain.map(\.header.seq) == Array(1...UInt64(perDevice)))
                }
                total += envelopes.count
            }
            #expect(total == 200 * perDevice)
        }
    }

    @Test("A full disk is refused as 429 storage-full, never passed on as a 5xx; other database errors pass unchanged")
    func fullDisk() {
        let full = SQLiteRelayStorage.refusal(for: DatabaseError(resultCode: .SQLITE_FULL))
        #expect((full as? RelayError)?.code == "storage-full" && (full as? RelayError)?.status == 429 && (full as? RelayError)?.retryAfterSeconds != nil)
        let other = SQLiteRelayStorage.refusal(for: DatabaseError(resultCode: .SQLITE_BUSY))
        #expect(other is DatabaseError)
    }

    @Test("What was acknowledged survives closing and reopening the store", arguments: RelayBackendKind.allCases)
    func reopen(backend kind: RelayBackendKind) async throws {
        let folder = NSTemporaryDirectory() + "duet-relay-test-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let url = kind == .postgres ? try await TestPostgres.freshDatabase() : nil
        func open() async throws -> (storage: any RelayStorage, close: () async -> Void) {
            guard let url else { return (try SQLiteRelayStorage(directory: folder), {}) }
            let storage = try await PostgresRelayStorage.connect(try PostgresLocation(url: url))
            return (storage, { await storage.close() })
        }
        let space = SpaceID.random()
        var device = Device()
        let envelopes = (0..<5).map { _ in device.next(space) }
        let first = try await open()
        _ = try await first.storage.append(envelopes)
        await first.close()
        let reopened = try await open()
        #expect(try await reopened.storage.fetch(space: space, after: [:], limit: 10, maximumBytes: 8 << 20).envelopes == envelopes.map(\.bytes))
        #expect(try await reopened.storage.append([device.next(space)]) == [.stored(position: 6)])
        await reopened.close()
    }
}

struct StorageTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
