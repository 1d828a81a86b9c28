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
    /// A device's head as this transaction sees it (read under the space's lock, then moved by
    /// what the group stores).
    struct DeviceHead {
        var seq: Int64
        var hash: [UInt8]
        var forked: Bool
        var changed = false
    }

    /// One group's transaction: lock the space, read the heads of every device the group names,
    /// judge each envelope with DuetWire's EnvelopeChain (the SQLite backend's policy around it,
    /// line for line: a forked device is stopped, the first fork's evidence is kept while it fits,
    /// the quota is charged), then write everything in one statement with the notification.
    /// Four round trips whatever the group holds (BEGIN, lock and heads, the writes, COMMIT),
    /// one more when it resends what is held (the hashes of every resend, in one query), and
    /// one for each fork's evidence.
    static func commit(space: SpaceID, _ batches: [[Envelope]], quota: Int64, instance: String,
                       client: PostgresClient, statistics: AppendStatistics, logger: Logger) async throws -> [[AppendOutcome]] {
        try await transaction(client: client, logger: logger) { connection in
            var roundTrips = 3
            defer { statistics.count(envelopes: batches.reduce(0) { $0 + $1.count }, roundTrips: roundTrips) }
            let id = ByteBuffer(bytes: space.bytes)
            let devices = Set(batches.joined().map(\.header.device))
            var heads: [WireDeviceID: DeviceHead] = [:]
            var locked: SpaceState?
            for try await (device, seq, hash, forked, position, bytes) in try await connection.query(
                "SELECT * FROM duet_lock_space(\(id), \(devices.map { ByteBuffer(bytes: $0.bytes) }))",
                logger: logger).decode((ByteBuffer?, Int64?, ByteBuffer?, Bool?, Int64?, Int64?).self) {
                if let position, let bytes {
                    // A damaged negative counter counts as none.
                    locked = SpaceState(position: max(0, position), bytes: max(0, bytes))
                } else if let device, let seq, let hash, let forked, let id = try? WireDeviceID(bytes: Array(device.readableBytesView)) {
                    heads[id] = DeviceHead(seq: seq, hash: Array(hash.readableBytesView), forked: forked)
                }
            }
            guard var state = locked else { throw PostgresRelayError("the space's row could not be locked") }
            // The hashes held for every envelope at or below its device's head (a resend, or a
            // fork), in one query: read one at a time, a flood of resends held the space's lock
            // for a round trip each (review of #17).
            var resent: (devices: [ByteBuffer], seqs: [Int64]) = ([], [])
            for envelope in batches.joined() {
                let header = envelope.header
                if let head = heads[header.device], !head.forked, let seq = Int64(exactly: header.seq), seq <= head.seq {
                    resent.devices.append(ByteBuffer(bytes: header.device.bytes))
                    resent.seqs.append(seq)
                }
            }
            // What this group stores or finds held, by (device, seq): its hash.
            var stored: [WireDeviceID: [Int64: [UInt8]]] = [:]
            if !resent.seqs.isEmpty {
                roundTrips += 1
                for try await (device, seq, hash) in try await connection.query("""
                    SELECT e.device, e.seq, e.hash FROM envelopes e
                    JOIN unnest(\(resent.devices)::bytea[], \(resent.seqs)::int8[]) AS t(device, seq) ON e.device = t.device AND e.seq = t.seq
                    WHERE e.space = \(id)
                    """, logger: logger).decode((ByteBuffer, Int64, ByteBuffer).self) {
                    if let device = try? WireDeviceID(bytes: Array(device.readableBytesView)) {
                        stored[device, default: [:]][seq] = Array(hash.readableBytesView)
                    }
                }
            }
            var rows: (devices: [ByteBuffer], seqs: [Int64], positions: [Int64], hashes: [ByteBuffer], bytes: [ByteBuffer]) = ([], [], [], [], [])
            var firstPosition: Int64 = 0
            var changed = false
            var outcomes: [[AppendOutcome]] = []
            for batch in batches {
                var batchOutcomes: [AppendOutcome] = []
                for envelope in batch {
                    let header = envelope.header, device = header.device
                    var head = heads[device]
                    if head?.forked == true {
                        batchOutcomes.append(.refused(.deviceForked))
                        continue
                    }
                    // A negative or damaged head counts as none held past it: a gap or a fork, never a trap.
                    let chain = EnvelopeChain.Head(seq: UInt64(clamping: head?.seq ?? 0), hash: head?.hash ?? Digest.zero.bytes)
                    let held = Int64(exactly: header.seq).flatMap { stored[device]?[$0] }
                    switch EnvelopeChain.judgeByHash(envelope, head: chain, heldHash: { held }) {
                    case .duplicate: batchOutcomes.append(.duplicate)
                    case .gap: batchOutcomes.append(.refused(.gap))
                    case .brokenChain: batchOutcomes.append(.refused(.brokenChain))
                    case .fork:
                        // The device is stopped; its first offered envelope is kept as evidence
                        // while it fits in the quota (one per seq, and only one ever).
                        head?.forked = true
                        head?.changed = true
                        heads[device] = head
                        let size = Int64(envelope.bytes.count)
                        if size <= quota - min(quota, state.bytes) {
                            roundTrips += 1
                            var inserted = false
                            for try await _ in try await connection.query("""
                                INSERT INTO forks (space, device, seq, offered)
                                VALUES (\(id), \(ByteBuffer(bytes: device.bytes)), \(Int64(clamping: header.seq)), \(ByteBuffer(bytes: envelope.bytes)))
                                ON CONFLICT DO NOTHING RETURNING 1
                                """, logger: logger) { inserted = true }
                            if inserted {
                                state.bytes += size
                                changed = true
                            }
                        }
                        batchOutcomes.append(.refused(.fork))
                    case .extends:
                        // Compared without adding: a damaged byte count near Int64.max must not overflow.
                        guard Int64(envelope.bytes.count) <= quota - min(quota, state.bytes) else {
                            batchOutcomes.append(.refused(.quotaExceeded))
                            continue
                        }
                        let (position, overflow) = state.position.addingReportingOverflow(1)
                        guard !overflow, let seq = Int64(exactly: header.seq) else {
                            batchOutcomes.append(.refused(.quotaExceeded))
                            continue
                        }
                        rows.devices.append(ByteBuffer(bytes: device.bytes))
                        rows.seqs.append(seq)
                        rows.positions.append(position)
                        let hash = envelope.hash.bytes
                        rows.hashes.append(ByteBuffer(bytes: hash))
                        rows.bytes.append(ByteBuffer(bytes: envelope.bytes))
                        stored[device, default: [:]][seq] = hash
                        heads[device] = DeviceHead(seq: seq, hash: hash, forked: false, changed: true)
                        if firstPosition == 0 { firstPosition = position }
                        state.position = position
                        state.bytes += Int64(envelope.bytes.count)
                        changed = true
                        batchOutcomes.append(.stored(position: UInt64(clamping: position)))
                    }
                }
                outcomes.append(batchOutcomes)
            }
            let moved = Array(heads.filter(\.value.changed))
            guard changed || !moved.isEmpty else { return outcomes }
            roundTrips += 1
            let payload = firstPosition > 0 ? "e:\(instance):\(Hex.encode(space.bytes)):\(firstPosition):\(state.position)" : ""
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
                    UPDATE spaces SET position = \(state.position), bytes = \(state.bytes) WHERE space = \(id)
                )
                SELECT CASE WHEN \(payload)::text = '' THEN NULL ELSE pg_notify(\(channel), \(payload)::text) END
                """, logger: logger)
            return outcomes
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
    }

    private let totals = Mutex(Totals())

    func count(envelopes: Int, roundTrips: Int) {
        totals.withLock { totals in
            totals.transactions += 1
            totals.envelopes += envelopes
            totals.roundTrips += roundTrips
        }
    }

    var now: Totals { totals.withLock { $0 } }
}
