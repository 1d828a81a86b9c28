import DuetCrypto
import DuetWire
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// Group commit per space, as the SQLite backend groups its whole store: appends to one space
/// that arrive while its transaction commits are judged, in arrival order, in the next one. The
/// space's row lock is held for a commit's fsync whatever it carries, so a busy space's devices
/// share that wait instead of queueing one fsync each. Spaces commit independently, at most
/// ``maximumInFlight`` at once (a lock held elsewhere holds a turn for at most the connection's
/// `lock_timeout`, 4 s): a space waiting for its turn gathers a larger group meanwhile, so
/// under load the cost per envelope falls instead of every envelope paying a transaction of its
/// own (measured: 1.15 envelopes a transaction without the bound), and alone nothing waits.
actor AppendGroups {
    typealias Commit = @Sendable (SpaceID, [[Envelope]]) async throws -> [[AppendOutcome]]

    private let commit: Commit
    private var waiting: [SpaceID: [(envelopes: [Envelope], continuation: CheckedContinuation<[AppendOutcome], any Error>)]] = [:]
    private var draining: Set<SpaceID> = []
    /// The most envelopes one transaction takes: a backlog drains in several.
    static let maximumGroup = 1024

    private let maximumInFlight: Int
    private var inFlight = 0
    private var turns: [CheckedContinuation<Void, Never>] = []

    init(maximumInFlight: Int = 4, commit: @escaping Commit) {
        self.maximumInFlight = max(1, maximumInFlight)
        self.commit = commit
    }

    private func takeTurn() async {
        if inFlight < maximumInFlight {
            inFlight += 1
            return
        }
        await withCheckedContinuation { turns.append($0) }
    }

    private func endTurn() {
        if turns.isEmpty { inFlight -= 1 } else { turns.removeFirst().resume() }
    }

    func submit(space: SpaceID, _ envelopes: [Envelope]) async throws -> [AppendOutcome] {
        try await withCheckedThrowingContinuation { continuation in
            waiting[space, default: []].append((envelopes, continuation))
            if draining.insert(space).inserted {
                Task { await self.drain(space) }
            }
        }
    }

    private func drain(_ space: SpaceID) async {
        while waiting[space]?.isEmpty == false {
            await takeTurn()
            defer { endTurn() }
            guard var queue = waiting[space], !queue.isEmpty else { break }
            var group: [(envelopes: [Envelope], continuation: CheckedContinuation<[AppendOutcome], any Error>)] = []
            var count = 0
            while let next = queue.first, group.isEmpty || count + next.envelopes.count <= Self.maximumGroup {
                group.append(queue.removeFirst())
                count += next.envelopes.count
            }
            waiting[space] = queue.isEmpty ? nil : queue
            do {
                let outcomes = try await commit(space, group.map(\.envelopes))
                for (item, outcome) in zip(group, outcomes) { item.continuation.resume(returning: outcome) }
            } catch {
                for item in group { item.continuation.resume(throwing: error) }
            }
        }
        draining.remove(space)
    }
}

extension PostgresRelayStorage {
    /// A device's head as a group is judged against it (read, then moved by what the group stores).
    struct DeviceHead {
        var seq: Int64
        var hash: [UInt8]
        var forked: Bool
        var changed = false
    }

    /// One group's commit. First without holding anything across round trips: read the heads
    /// and counters, judge, and hand everything to `duet_append`, which takes the space's row
    /// lock, checks that the heads of the devices it moves are still the ones judged against
    /// and that the quota still holds, writes, notifies and commits: the lock is held for one
    /// statement's execution and its commit, not for round trips (two relays appending to one
    /// space waited on each other's round trips). Anything that is not plain — a fork to keep
    /// evidence of, a quota reached, a head moved meanwhile by another process — is judged
    /// again in ``lockedCommit``, under the lock from the start. Two round trips a group, one
    /// more when it resends what is held.
    static func commit(space: SpaceID, _ batches: [[Envelope]], quota: Int64, instance: String,
                       client: PostgresClient, statistics: AppendStatistics, logger: Logger) async throws -> [[AppendOutcome]] {
        let envelopes = batches.reduce(0) { $0 + $1.count }
        if let outcomes = try await optimisticCommit(space: space, batches, quota: quota, instance: instance, client: client,
                                                     statistics: statistics, logger: logger) {
            return outcomes
        }
        var roundTrips = 0
        defer { statistics.count(envelopes: envelopes, roundTrips: roundTrips, locked: true) }
        return try await lockedCommit(space: space, batches, quota: quota, instance: instance, client: client, roundTrips: &roundTrips, logger: logger)
    }

    /// The group judged on what was read without a lock, and stored by `duet_append` if it is
    /// still so when the lock is held; nil when it must be judged under the lock.
    static func optimisticCommit(space: SpaceID, _ batches: [[Envelope]], quota: Int64, instance: String,
                                 client: PostgresClient, statistics: AppendStatistics, logger: Logger) async throws -> [[AppendOutcome]]? {
        let id = ByteBuffer(bytes: space.bytes)
        return try await read(client: client) { connection -> [[AppendOutcome]]? in
            var roundTrips = 1
            var judged = false
            defer { if judged { statistics.count(envelopes: batches.reduce(0) { $0 + $1.count }, roundTrips: roundTrips, locked: false) } }
            let (heads, state) = try await readHeads(space, batches, locking: false, connection, logger)
            var judge = GroupJudge(heads: heads, state: state, quota: quota)
            if try await judge.readResent(batches, space: id, connection, logger) { roundTrips += 1 }
            var outcomes: [[AppendOutcome]] = []
            for batch in batches {
                var batchOutcomes: [AppendOutcome] = []
                for envelope in batch {
                    switch judge.judge(envelope) {
                    case .decided(.refused(.quotaExceeded)), .fork: return nil
                    case .decided(let outcome): batchOutcomes.append(outcome)
                    }
                }
                outcomes.append(batchOutcomes)
            }
            judged = true
            guard !judge.rows.seqs.isEmpty else { return outcomes }
            let moving = judge.moving
            roundTrips += 1
            var first: Int64 = -1
            for try await value in try await connection.query("""
                SELECT duet_append(\(id), \(moving.map { ByteBuffer(bytes: $0.device.bytes) })::bytea[], \(moving.map { $0.expected })::int8[],
                                   \(judge.rows.devices)::bytea[], \(judge.rows.seqs)::int8[], \(judge.rows.hashes)::bytea[], \(judge.rows.bytes)::bytea[],
                                   \(judge.added), \(quota), \(channel), \(instance))
                """, logger: logger).decode(Int64.self) { first = value }
            // -1: a head moved since it was read; -2: the quota no longer holds.
            guard first >= 1 else {
                judged = false
                return nil
            }
            // Positions were given from what was read; the lock gave them from `first`.
            let shift = first - (state.position + 1)
            return outcomes.map { batch in
                batch.map { outcome in
                    guard case .stored(let position) = outcome, let relative = Int64(exactly: position) else { return outcome }
                    return .stored(position: UInt64(clamping: relative + shift))
                }
            }
        }
    }

    /// The heads of the devices `batches` name and the space's counters: under the space's row
    /// lock, taken first (`duet_lock_space`), or as things are (`duet_space_heads`).
    static func readHeads(_ space: SpaceID, _ batches: [[Envelope]], locking: Bool, _ connection: PostgresConnection,
                          _ logger: Logger) async throws -> ([WireDeviceID: DeviceHead], SpaceState) {
        let devices = Set(batches.joined().map(\.header.device)).map { ByteBuffer(bytes: $0.bytes) }
        var heads: [WireDeviceID: DeviceHead] = [:]
        var counters: SpaceState?
        let id = ByteBuffer(bytes: space.bytes)
        let query: PostgresQuery = locking ? "SELECT * FROM duet_lock_space(\(id), \(devices))" : "SELECT * FROM duet_space_heads(\(id), \(devices))"
        for try await (device, seq, hash, forked, position, bytes) in try await connection.query(query, logger: logger)
            .decode((ByteBuffer?, Int64?, ByteBuffer?, Bool?, Int64?, Int64?).self) {
            if let position, let bytes {
                // A damaged negative counter counts as none.
                counters = SpaceState(position: max(0, position), bytes: max(0, bytes))
            } else if let device, let seq, let hash, let forked, let id = try? WireDeviceID(bytes: Array(device.readableBytesView)) {
                heads[id] = DeviceHead(seq: seq, hash: Array(hash.readableBytesView), forked: forked)
            }
        }
        guard let counters else { throw PostgresRelayError("the space's row could not be read") }
        return (heads, counters)
    }

    /// One group's transaction under the space's row lock from its start: lock the space, read
    /// the heads of every device the group names, judge each envelope with DuetWire's
    /// EnvelopeChain (the SQLite backend's policy around it, line for line: a forked device is
    /// stopped, the first fork's evidence is kept while it fits, the quota is charged), then
    /// write everything in one statement with the notification. Four round trips (BEGIN, lock
    /// and heads, the writes, COMMIT), one more when it resends what is held, and one for each
    /// fork's evidence.
    static func lockedCommit(space: SpaceID, _ batches: [[Envelope]], quota: Int64, instance: String,
                             client: PostgresClient, roundTrips: inout Int, logger: Logger) async throws -> [[AppendOutcome]] {
        let (outcomes, trips) = try await transaction(client: client, logger: logger) { connection -> ([[AppendOutcome]], Int) in
            var roundTrips = 3
            let id = ByteBuffer(bytes: space.bytes)
            let (heads, state) = try await readHeads(space, batches, locking: true, connection, logger)
            var judge = GroupJudge(heads: heads, state: state, quota: quota)
            if try await judge.readResent(batches, space: id, connection, logger) { roundTrips += 1 }
            var outcomes: [[AppendOutcome]] = []
            for batch in batches {
                var batchOutcomes: [AppendOutcome] = []
                for envelope in batch {
                    switch judge.judge(envelope) {
                    case .decided(let outcome): batchOutcomes.append(outcome)
                    case .fork:
                        // The device is stopped; its first offered envelope is kept as evidence
                        // while it fits in the quota (one per seq, and only one ever).
                        let size = Int64(envelope.bytes.count)
                        if size <= quota - min(quota, judge.state.bytes) {
                            roundTrips += 1
                            var inserted = false
                            for try await _ in try await connection.query("""
                                INSERT INTO forks (space, device, seq, offered)
                                VALUES (\(id), \(ByteBuffer(bytes: envelope.header.device.bytes)), \(Int64(clamping: envelope.header.seq)), \(ByteBuffer(bytes: envelope.bytes)))
                                ON CONFLICT DO NOTHING RETURNING 1
                                """, logger: logger) { inserted = true }
                            if inserted {
                                judge.state.bytes += size
                                judge.changed = true
                            }
                        }
                        batchOutcomes.append(.refused(.fork))
                    }
                }
                outcomes.append(batchOutcomes)
            }
            let moved = Array(judge.heads.filter(\.value.changed))
            guard judge.changed || !moved.isEmpty else { return (outcomes, roundTrips) }
            roundTrips += 1
            let rows = judge.rows, counters = judge.state
            let payload = judge.firstPosition > 0 ? "e:\(instance):\(Hex.encode(space.bytes)):\(judge.firstPosition):\(counters.position)" : ""
            try await connection.query("""
                WITH stored AS (
                    INSERT INTO envelopes (space, device, seq, position, hash, bytes)
                    SELECT \(id), t.device, t.seq, t.position, t.hash, t.bytes
                    FROM unnest(\(rows.devices)::bytea[], \(rows.seqs)::int8[], \(rows.positions)::int8[], \(rows.hashes)::bytea[], \(rows.bytes)::bytea[])
                        AS t(device, seq, position, hash, bytes)
                ), moved AS (
                    INSERT INTO heads (space, device, seq, hash, forked)
                    SELECT \(id), t.device, t.seq, t.hash, t.forked
                    FROM unnest(\(moved.map { ByteBuffer(bytes: $0.key.bytes) })::bytea[], \(moved.map(\.value.seq))::int8[],
                                \(moved.map { ByteBuffer(bytes: $0.value.hash) })::bytea[], \(moved.map(\.value.forked))::bool[]) AS t(device, seq, hash, forked)
                    ON CONFLICT (space, device) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, forked = heads.forked OR excluded.forked
                ), counted AS (
                    UPDATE spaces SET position = \(counters.position), bytes = \(counters.bytes) WHERE space = \(id)
                )
                SELECT CASE WHEN \(payload)::text = '' THEN NULL ELSE pg_notify(\(channel), \(payload)::text) END
                """, logger: logger)
            return (outcomes, roundTrips)
        }
        roundTrips = trips
        return outcomes
    }

    static func read<T: Sendable>(client: PostgresClient, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await Self.bounded { try await client.withConnection { connection in try await body(connection) } }
        } catch { throw Self.unavailable(error) }
    }
}

/// A group's envelopes judged one after another against the heads and counters read for it:
/// DuetWire's EnvelopeChain, and the SQLite backend's policy around it. Forks are the caller's
/// (evidence is written under the lock, or the group is judged again there).
struct GroupJudge {
    enum Step {
        case decided(AppendOutcome)
        /// A fork: the device is stopped from here on; the caller keeps evidence or gives up.
        case fork
    }

    var heads: [WireDeviceID: PostgresRelayStorage.DeviceHead]
    var state: PostgresRelayStorage.SpaceState
    let quota: Int64
    /// The hashes held or stored by this group, by (device, seq): what a resend is told by.
    var stored: [WireDeviceID: [Int64: [UInt8]]] = [:]
    var rows: (devices: [ByteBuffer], seqs: [Int64], positions: [Int64], hashes: [ByteBuffer], bytes: [ByteBuffer]) = ([], [], [], [], [])
    var firstPosition: Int64 = 0
    var changed = false
    /// The envelope bytes this group stores.
    var added: Int64 = 0
    /// Per device it moves, the seq it was judged against (0: none held).
    private var expected: [WireDeviceID: Int64] = [:]

    init(heads: [WireDeviceID: PostgresRelayStorage.DeviceHead], state: PostgresRelayStorage.SpaceState, quota: Int64) {
        self.heads = heads
        self.state = state
        self.quota = quota
    }

    var moving: [(device: WireDeviceID, expected: Int64)] { expected.map { ($0.key, $0.value) } }

    /// The hashes held for every envelope at or below its device's head (a resend, or a fork),
    /// in one query: read one at a time, a flood of resends held the space's lock for a round
    /// trip each (review of #17). Whether it asked.
    mutating func readResent(_ batches: [[Envelope]], space id: ByteBuffer, _ connection: PostgresConnection, _ logger: Logger) async throws -> Bool {
        var resent: (devices: [ByteBuffer], seqs: [Int64]) = ([], [])
        for envelope in batches.joined() {
            let header = envelope.header
            if let head = heads[header.device], !head.forked, let seq = Int64(exactly: header.seq), seq <= head.seq {
                resent.devices.append(ByteBuffer(bytes: header.device.bytes))
                resent.seqs.append(seq)
            }
        }
        guard !resent.seqs.isEmpty else { return false }
        for try await (device, seq, hash) in try await connection.query("""
            SELECT e.device, e.seq, e.hash FROM envelopes e
            JOIN unnest(\(resent.devices)::bytea[], \(resent.seqs)::int8[]) AS t(device, seq) ON e.device = t.device AND e.seq = t.seq
            WHERE e.space = \(id)
            """, logger: logger).decode((ByteBuffer, Int64, ByteBuffer).self) {
            if let device = try? WireDeviceID(bytes: Array(device.readableBytesView)) {
                stored[device, default: [:]][seq] = Array(hash.readableBytesView)
            }
        }
        return true
    }

    mutating func judge(_ envelope: Envelope) -> Step {
        let header = envelope.header, device = header.device
        var head = heads[device]
        if head?.forked == true { return .decided(.refused(.deviceForked)) }
        // A negative or damaged head counts as none held past it: a gap or a fork, never a trap.
        let chain = EnvelopeChain.Head(seq: UInt64(clamping: head?.seq ?? 0), hash: head?.hash ?? Digest.zero.bytes)
        let held = Int64(exactly: header.seq).flatMap { stored[device]?[$0] }
        switch EnvelopeChain.judgeByHash(envelope, head: chain, heldHash: { held }) {
        case .duplicate: return .decided(.duplicate)
        case .gap: return .decided(.refused(.gap))
        case .brokenChain: return .decided(.refused(.brokenChain))
        case .fork:
            head?.forked = true
            head?.changed = true
            heads[device] = head
            return .fork
        case .extends:
            // Compared without adding: a damaged byte count near Int64.max must not overflow.
            let size = Int64(envelope.bytes.count)
            guard size <= quota - min(quota, state.bytes) else { return .decided(.refused(.quotaExceeded)) }
            let (position, overflow) = state.position.addingReportingOverflow(1)
            guard !overflow, let seq = Int64(exactly: header.seq) else { return .decided(.refused(.quotaExceeded)) }
            if expected[device] == nil { expected[device] = head?.seq ?? 0 }
            let hash = envelope.hash.bytes
            rows.devices.append(ByteBuffer(bytes: device.bytes))
            rows.seqs.append(seq)
            rows.positions.append(position)
            rows.hashes.append(ByteBuffer(bytes: hash))
            rows.bytes.append(ByteBuffer(bytes: envelope.bytes))
            stored[device, default: [:]][seq] = hash
            heads[device] = PostgresRelayStorage.DeviceHead(seq: seq, hash: hash, forked: false, changed: true)
            if firstPosition == 0 { firstPosition = position }
            state.position = position
            state.bytes += size
            added += size
            changed = true
            return .decided(.stored(position: UInt64(clamping: position)))
        }
    }
}

/// What the append transactions of one process did, for the tests that bound their cost and
/// the benchmark's envelopes-a-transaction figure.
final class AppendStatistics: Sendable {
    struct Totals: Sendable, Equatable {
        var transactions = 0
        var envelopes = 0
        var roundTrips = 0
        /// Of the transactions, those judged under the space's lock from their start.
        var locked = 0
    }

    private let totals = Mutex(Totals())

    func count(envelopes: Int, roundTrips: Int, locked: Bool) {
        totals.withLock { totals in
            totals.transactions += 1
            if locked { totals.locked += 1 }
            totals.envelopes += envelopes
            totals.roundTrips += roundTrips
        }
    }

    var now: Totals { totals.withLock { $0 } }
}
