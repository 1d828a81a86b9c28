import DuetCrypto
import DuetWire
import Logging
import NIOCore
import PostgresNIO
import Synchronization

extension PostgresRelayStorage {
    /// A device's head as a group is judged against it (read, then moved by what the group stores).
    struct DeviceHead {
        var seq: Int64
        var hash: [UInt8]
        var forked: Bool
        var changed = false
    }

    /// One commit of several spaces' groups. First without holding anything across round
    /// trips: read every group's heads and counters in one query, judge, and hand everything
    /// to `duet_append_many`, which takes the spaces' row locks in the order given (sorted by
    /// space: two processes' commits never wait on each other in a cycle), checks for each
    /// that the heads of the devices it moves are still the ones judged against and that the
    /// quota still holds, writes, notifies and commits: the locks are held for one statement's
    /// execution and its commit, not for round trips. A space that is not plain — a fork to
    /// keep evidence of, a quota reached, a head moved meanwhile by another process — is judged
    /// again alone in ``lockedCommit``, under its lock from the start. Two round trips a commit,
    /// one more when it resends what is held.
    static func commit(_ groups: [AppendGroups.Group], quota: Int64, instance: String,
                       client: PostgresClient, statistics: AppendStatistics, logger: Logger) async -> [Result<[[AppendOutcome]], any Error>] {
        let order = groups.indices.sorted { groups[$0].space.bytes.lexicographicallyPrecedes(groups[$1].space.bytes) }
        var results = [Result<[[AppendOutcome]], any Error>?](repeating: nil, count: groups.count)
        do {
            let judged = try await optimisticCommit(order.map { groups[$0] }, quota: quota, instance: instance, client: client,
                                                    statistics: statistics, logger: logger)
            for (index, outcomes) in zip(order, judged) { results[index] = outcomes.map { .success($0) } }
        } catch {
            return groups.map { _ in .failure(error) }
        }
        // Each alone, at once: a lock each, so no order to keep among them.
        await withTaskGroup(of: (Int, Result<[[AppendOutcome]], any Error>).self) { fallbacks in
            for index in groups.indices where results[index] == nil {
                let (space, batches) = groups[index]
                fallbacks.addTask {
                    var roundTrips = 0
                    let result: Result<[[AppendOutcome]], any Error>
                    do {
                        result = .success(try await lockedCommit(space: space, batches, quota: quota, instance: instance, client: client,
                                                                 roundTrips: &roundTrips, logger: logger))
                    } catch {
                        result = .failure(error)
                    }
                    statistics.count(envelopes: batches.reduce(0) { $0 + $1.count }, roundTrips: roundTrips, locked: true)
                    return (index, result)
                }
            }
            for await (index, result) in fallbacks { results[index] = result }
        }
        return results.map { $0 ?? .failure(PostgresRelayError("a space of a group commit was not judged")) }
    }

    /// The groups (sorted by space) judged on what was read without a lock, and stored by
    /// `duet_append_many` if each is still so under its lock: per group its outcomes, or nil
    /// when it must be judged under the lock.
    static func optimisticCommit(_ groups: [AppendGroups.Group], quota: Int64, instance: String,
                                 client: PostgresClient, statistics: AppendStatistics, logger: Logger) async throws -> [[[AppendOutcome]]?] {
        try await read(client: client) { connection -> [[[AppendOutcome]]?] in
            var roundTrips = 1
            let read = try await readHeads(groups, connection, logger)
            var judges = read.map { GroupJudge(heads: $0.heads, state: $0.state, quota: quota) }
            if try await GroupJudge.readResent(&judges, groups, connection, logger) { roundTrips += 1 }
            var results: [[[AppendOutcome]]?] = []
            for (index, group) in groups.enumerated() {
                results.append(judges[index].judgeAll(group.batches))
            }
            // What to store: the groups judged plain that store something.
            let storing = groups.indices.filter { results[$0] != nil && !judges[$0].rows.seqs.isEmpty }
            let plain = results.compactMap { $0 }
            defer {
                // Groups answered from what was read count here; the rest count as locked.
                statistics.count(envelopes: plain.joined().reduce(0) { $0 + $1.count }, roundTrips: roundTrips, locked: false, transactions: plain.isEmpty ? 0 : 1)
            }
            guard !storing.isEmpty else { return results }
            roundTrips += 1
            var arguments = ManyAppends()
            for index in storing { arguments.add(space: groups[index].space, judges[index]) }
            var firsts: [Int64] = []
            for try await value in try await connection.query("""
                SELECT duet_append_many(\(arguments.spaces)::bytea[], \(arguments.movingCounts)::int4[], \(arguments.moving)::bytea[], \(arguments.expected)::int8[],
                                        \(arguments.rowCounts)::int4[], \(arguments.devices)::bytea[], \(arguments.seqs)::int8[], \(arguments.hashes)::bytea[],
                                        \(arguments.bodies)::bytea[], \(arguments.added)::int8[], \(quota), \(channel), \(instance))
                """, logger: logger).decode([Int64].self) { firsts = value }
            guard firsts.count == storing.count else { throw PostgresRelayError("duet_append_many answered for \(firsts.count) of \(storing.count) spaces") }
            for (index, first) in zip(storing, firsts) {
                // -1: a head moved since it was read; -2: the quota no longer holds. Judged again.
                guard first >= 1, let outcomes = results[index] else {
                    results[index] = nil
                    continue
                }
                // Positions were given from what was read; the lock gave them from `first`.
                let shift = first - (read[index].state.position + 1)
                results[index] = outcomes.map { batch in
                    batch.map { outcome in
                        guard case .stored(let position) = outcome, let relative = Int64(exactly: position) else { return outcome }
                        return .stored(position: UInt64(clamping: relative + shift))
                    }
                }
            }
            return results
        }
    }

    /// `duet_append_many`'s arguments: per space, its slice of the flattened arrays.
    struct ManyAppends {
        var spaces: [ByteBuffer] = [], added: [Int64] = []
        var movingCounts: [Int32] = [], moving: [ByteBuffer] = [], expected: [Int64] = []
        var rowCounts: [Int32] = [], devices: [ByteBuffer] = [], seqs: [Int64] = [], hashes: [ByteBuffer] = [], bodies: [ByteBuffer] = []

        mutating func add(space: SpaceID, _ judge: GroupJudge) {
            spaces.append(ByteBuffer(bytes: space.bytes))
            added.append(judge.added)
            let moves = judge.moving
            movingCounts.append(Int32(clamping: moves.count))
            moving += moves.map { ByteBuffer(bytes: $0.device.bytes) }
            expected += moves.map(\.expected)
            rowCounts.append(Int32(clamping: judge.rows.seqs.count))
            devices += judge.rows.devices
            seqs += judge.rows.seqs
            hashes += judge.rows.hashes
            bodies += judge.rows.bytes
        }
    }

    /// Every group's heads (of the devices it names) and its space's counters as things are,
    /// in one query (a space with no row yet has counted nothing).
    static func readHeads(_ groups: [AppendGroups.Group], _ connection: PostgresConnection,
                          _ logger: Logger) async throws -> [(heads: [WireDeviceID: DeviceHead], state: SpaceState)] {
        var wanted: (spaces: [ByteBuffer], devices: [ByteBuffer]) = ([], [])
        for group in groups {
            for device in Set(group.batches.joined().map(\.header.device)) {
                wanted.spaces.append(ByteBuffer(bytes: group.space.bytes))
                wanted.devices.append(ByteBuffer(bytes: device.bytes))
            }
        }
        var heads: [SpaceID: [WireDeviceID: DeviceHead]] = [:]
        var counters: [SpaceID: SpaceState] = [:]
        for try await (space, device, seq, hash, forked, position, bytes) in try await connection.query("""
            SELECT t.space, NULL::bytea, NULL::int8, NULL::bytea, NULL::bool, coalesce(s.position, 0), coalesce(s.bytes, 0)
                FROM unnest(\(groups.map { ByteBuffer(bytes: $0.space.bytes) })::bytea[]) AS t(space) LEFT JOIN spaces s ON s.space = t.space
            UNION ALL
            SELECT h.space, h.device, h.seq, h.hash, h.forked, NULL::int8, NULL::int8
                FROM unnest(\(wanted.spaces)::bytea[], \(wanted.devices)::bytea[]) AS w(space, device)
                JOIN heads h ON h.space = w.space AND h.device = w.device
            """, logger: logger).decode((ByteBuffer, ByteBuffer?, Int64?, ByteBuffer?, Bool?, Int64?, Int64?).self) {
            guard let space = try? SpaceID(bytes: Array(space.readableBytesView)) else { continue }
            if let position, let bytes {
                // A damaged negative counter counts as none.
                counters[space] = SpaceState(position: max(0, position), bytes: max(0, bytes))
            } else if let device, let seq, let hash, let forked, let id = try? WireDeviceID(bytes: Array(device.readableBytesView)) {
                heads[space, default: [:]][id] = DeviceHead(seq: seq, hash: Array(hash.readableBytesView), forked: forked)
            }
        }
        return try groups.map { group in
            guard let state = counters[group.space] else { throw PostgresRelayError("the space's row could not be read") }
            return (heads[group.space] ?? [:], state)
        }
    }

    /// The heads of the devices `batches` name and the space's counters, under the space's row
    /// lock, taken first (`duet_lock_space`).
    static func lockHeads(_ space: SpaceID, _ batches: [[Envelope]], _ connection: PostgresConnection,
                          _ logger: Logger) async throws -> ([WireDeviceID: DeviceHead], SpaceState) {
        let devices = Set(batches.joined().map(\.header.device)).map { ByteBuffer(bytes: $0.bytes) }
        var heads: [WireDeviceID: DeviceHead] = [:]
        var counters: SpaceState?
        for try await (device, seq, hash, forked, position, bytes) in try await connection.query(
            "SELECT * FROM duet_lock_space(\(ByteBuffer(bytes: space.bytes)), \(devices))", logger: logger)
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
            let (heads, state) = try await lockHeads(space, batches, connection, logger)
            var judges = [GroupJudge(heads: heads, state: state, quota: quota)]
            if try await GroupJudge.readResent(&judges, [(space, batches)], connection, logger) { roundTrips += 1 }
            var judge = judges[0]
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
    /// for every group in one query: read one at a time, a flood of resends held the space's
    /// lock for a round trip each (review of #17). Whether it asked.
    static func readResent(_ judges: inout [GroupJudge], _ groups: [AppendGroups.Group], _ connection: PostgresConnection,
                           _ logger: Logger) async throws -> Bool {
        var resent: (spaces: [ByteBuffer], devices: [ByteBuffer], seqs: [Int64]) = ([], [], [])
        var index: [SpaceID: Int] = [:]
        for (number, group) in groups.enumerated() {
            index[group.space] = number
            for envelope in group.batches.joined() {
                let header = envelope.header
                if let head = judges[number].heads[header.device], !head.forked, let seq = Int64(exactly: header.seq), seq <= head.seq {
                    resent.spaces.append(ByteBuffer(bytes: group.space.bytes))
                    resent.devices.append(ByteBuffer(bytes: header.device.bytes))
                    resent.seqs.append(seq)
                }
            }
        }
        guard !resent.seqs.isEmpty else { return false }
        for try await (space, device, seq, hash) in try await connection.query("""
            SELECT e.space, e.device, e.seq, e.hash FROM envelopes e
            JOIN unnest(\(resent.spaces)::bytea[], \(resent.devices)::bytea[], \(resent.seqs)::int8[]) AS t(space, device, seq)
                ON e.space = t.space AND e.device = t.device AND e.seq = t.seq
            """, logger: logger).decode((ByteBuffer, ByteBuffer, Int64, ByteBuffer).self) {
            if let space = try? SpaceID(bytes: Array(space.readableBytesView)), let number = index[space],
               let device = try? WireDeviceID(bytes: Array(device.readableBytesView)) {
                judges[number].stored[device, default: [:]][seq] = Array(hash.readableBytesView)
            }
        }
        return true
    }

    /// A whole group judged from what was read without a lock; nil if it holds a fork (its
    /// evidence is written under the lock) or reaches the quota (judged again there, where
    /// the counters are exact).
    mutating func judgeAll(_ batches: [[Envelope]]) -> [[AppendOutcome]]? {
        var outcomes: [[AppendOutcome]] = []
        for batch in batches {
            var batchOutcomes: [AppendOutcome] = []
            for envelope in batch {
                switch judge(envelope) {
                case .decided(.refused(.quotaExceeded)), .fork: return nil
                case .decided(let outcome): batchOutcomes.append(outcome)
                }
            }
            outcomes.append(batchOutcomes)
        }
        return outcomes
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

    func count(envelopes: Int, roundTrips: Int, locked: Bool, transactions: Int = 1) {
        totals.withLock { totals in
            totals.transactions += transactions
            if locked { totals.locked += 1 }
            totals.envelopes += envelopes
            totals.roundTrips += roundTrips
        }
    }

    var now: Totals { totals.withLock { $0 } }
}
