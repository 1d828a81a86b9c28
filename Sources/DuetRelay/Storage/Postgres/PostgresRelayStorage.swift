public import DuetWire
import DuetCrypto
public import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The shared backend (issue #17): several relay processes on one PostgreSQL database.
///
/// Every rule is the SQLite backend's, decided in one transaction per request. Concurrent
/// appends from several processes are ordered by a **row lock on the space** (`SELECT … FOR
/// UPDATE` on `spaces`), taken first, at READ COMMITTED: the arrival position is a counter per
/// space, so appends to one space are serial by nature, and a lock makes the second wait for
/// the first to commit instead of failing and retrying the way SERIALIZABLE would on this hot
/// row (each retry a wasted round of work on exactly the busiest spaces). Appends to different
/// spaces never wait on each other, and no transaction takes two spaces' locks (a batch naming
/// several is judged envelope by envelope), so none waits on another in a cycle.
///
/// A commit is acknowledged only once PostgreSQL reports it durable (every connection sets
/// `synchronous_commit = on`); PostgreSQL groups the WAL flushes of concurrent commits itself.
///
/// Every stored batch sends a notification in its transaction (delivered at commit, in commit
/// order), which the other relay processes turn into live pushes: ``PostgresClusterFeed``.
public final class PostgresRelayStorage: RelayStorage {
    let client: PostgresClient
    let logger: Logger
    private let spaceQuotaBytes: Int64
    /// This process in the notifications it sends, so that it skips its own.
    public let instance: String
    private let runner: Task<Void, Never>
    /// Appends to one space that arrive while its transaction commits go in the next one.
    private let groups: AppendGroups
    /// Commits in flight at once (AppendGroups). Measured with `duet-bench relay-backends`
    /// (BENCHMARKS.md): one and two are alike (one 1–5 % ahead, within the runs' spread), four
    /// is 15–30 % behind (smaller commits); two, so that one commit waiting on a lock held by
    /// another process does not stop every append of this one.
    static let commitsInFlight = 2
    /// Appends waiting for a commit.
    var appendsWaiting: Int { get async { await groups.waitingAppends } }
    /// What those transactions did (their count, envelopes and round trips).
    let statistics: AppendStatistics

    /// The notification channel every relay process of one database listens on.
    static let channel = "duet_relay"

    /// Connects (one clear error when the database cannot be reached or is not Duet's), brings
    /// the schema up to date, and starts the connection pool.
    /// - Parameter migrate: false to read a database as it is (`duet-relay inspect`): one no
    ///   relay has migrated is refused, and nothing is written.
    /// - Parameter refuseUnfinishedImport: false only for `duet-relay migrate` itself, which
    ///   names what it finds; a relay must not serve part of a store.
    public static func connect(_ location: PostgresLocation, spaceQuotaBytes: Int = 1 << 30, poolSize: Int = 16, migrate: Bool = true,
                               refuseUnfinishedImport: Bool = true,
                               logger: Logger = Logger(label: "duet-relay.postgres")) async throws -> PostgresRelayStorage {
        do {
            let connection = try await PostgresConnection.connect(configuration: location.connectionConfiguration, id: 0, logger: logger)
            do {
                if migrate {
                    try await PostgresMigrations.migrate(connection, logger: logger)
                } else {
                    try await PostgresMigrations.requireMigrated(connection, logger: logger)
                }
                if refuseUnfinishedImport, let started = try await PostgresMigrations.unfinishedImport(connection, logger: logger) {
                    throw PostgresRelayError("this database holds a `duet-relay migrate` that did not finish (\(started)); "
                                             + "a relay serves no part of a store: migrate again into a fresh database")
                }
            } catch {
                try? await connection.close()
                throw error
            }
            try? await connection.close()
        } catch let error as PostgresRelayError {
            throw RelayBackendUnavailable(description: "PostgreSQL at \(location): \(error.description)")
        } catch {
            throw RelayBackendUnavailable(description: "cannot use PostgreSQL at \(location): \(PostgresRelayStorage.reason(error))")
        }
        return PostgresRelayStorage(location: location, spaceQuotaBytes: spaceQuotaBytes, poolSize: poolSize, logger: logger)
    }

    private init(location: PostgresLocation, spaceQuotaBytes: Int, poolSize: Int, logger: Logger) {
        var configuration = location.clientConfiguration
        configuration.options.maximumConnections = max(2, poolSize)
        configuration.options.minimumConnections = 0
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.spaceQuotaBytes = Int64(spaceQuotaBytes)
        let instance = Hex.encode(RandomBytes.make(count: 8))
        self.instance = instance
        runner = Task { await client.run() }
        let quota = Int64(spaceQuotaBytes)
        let statistics = AppendStatistics()
        self.statistics = statistics
        groups = AppendGroups(maximumInFlight: Self.commitsInFlight) { [client, logger] groups in
            await Self.commit(groups, quota: quota, instance: instance, client: client, statistics: statistics, logger: logger)
        }
    }

    /// Closes the pool (the relay is stopping, or a test is done with it).
    public func close() async {
        runner.cancel()
        await runner.value
    }

    /// What PostgreSQL said, in one line: the server's message, or the connection's failure.
    /// PSQLError's own description hides everything (it may carry a query's values).
    static func reason(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            if let underlying = error.underlying {
                let text = "\(underlying)"
                if text.contains("Connection refused") { return "connection refused (is PostgreSQL running there, on that port?)" }
                if text.lowercased().contains("timeout") || text.contains("timed out") { return "no answer within 5 seconds" }
                return "cannot connect (\(text.prefix(200)))"
            }
            if error.code == .serverClosedConnection || error.code == .clientClosedConnection { return "the connection closed" }
            if error.code == .authMechanismRequiresPassword { return "the server asks for a password: set PGPASSWORD in the relay's environment (or put it in the URL)" }
            if error.code == .unsupportedAuthMechanism { return "the server asks for a sign-in method this relay does not speak (use scram-sha-256 or md5 in pg_hba.conf)" }
            if error.code == .sslUnsupported { return "the server does not take TLS (sslmode=require); on one machine use sslmode=disable" }
            if error.code == .failedToAddSSLHandler || error.code == .receivedUnencryptedDataAfterSSLRequest { return "TLS could not be set up with the server" }
            return "\(error.code)"
        }
        if let error = error as? PostgresTransactionError {
            for inner in [error.beginError, error.closureError, error.commitError].compactMap({ $0 }) { return reason(inner) }
        }
        return "\(error)"
    }

    /// The SQLSTATE of a server error, looking inside a transaction's error.
    static func sqlState(_ error: any Error) -> String? {
        if let error = error as? PSQLError { return error.serverInfo?[.sqlState] }
        if let error = error as? PostgresTransactionError {
            return [error.closureError, error.commitError].compactMap { $0 }.lazy.compactMap(sqlState).first
        }
        return nil
    }

    /// A failure of the database (unreachable, restarting, full) is the relay's condition: the
    /// client is told to come back later, and nothing was acknowledged.
    static func unavailable(_ error: any Error) -> any Error {
        if error is RelayError || error is PostgresRelayError || error is RelayMigration.Mismatch { return error }
        // What the transaction's own body decided (a refusal) passes as it was thrown.
        if let failed = error as? PostgresTransactionError, let inner = failed.closureError,
           inner is RelayError || inner is PostgresRelayError || inner is RelayMigration.Mismatch { return inner }
        if sqlState(error).map({ $0.hasPrefix("53") }) == true {
            return RelayError(code: "storage-full", status: 429, message: "the relay's database is full; its operator must make room",
                              retryAfterSeconds: 3600)
        }
        let lost: Set<PSQLError.Code> = [.connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .uncleanShutdown]
        let code = (error as? PSQLError)?.code
            ?? ((error as? PostgresTransactionError).flatMap { [$0.beginError, $0.closureError, $0.commitError].compactMap { $0 }.first } as? PSQLError)?.code
        // 57P01–57P03: the server is shutting down or starting up; 55P03 lock_timeout and 57014
        // statement_timeout: the server gave up on this transaction (rolled back).
        let state = sqlState(error)
        if code.map(lost.contains) == true || state.map({ $0.hasPrefix("57P") || $0.hasPrefix("08") || $0 == "55P03" || $0 == "57014" }) == true {
            return databaseUnavailable
        }
        return error
    }

    /// What a client is told while the database cannot be reached: nothing it sent was kept
    /// unless it was acknowledged before; it sends again shortly.
    static let databaseUnavailable = RelayError(code: "unavailable", status: 503,
                                                message: "the relay cannot reach its database just now; retry shortly (sending the same again is safe)",
                                                retryAfterSeconds: 5)

    /// How long one request may wait for the database: a pool waiting for a server that is
    /// restarting must not hold requests (and their clients) for ever.
    static let deadline: Duration = .seconds(10)

    /// `operation`, or ``databaseUnavailable`` once ``deadline`` has passed. A query PostgresNIO
    /// has sent does not end when its task is cancelled, so the server's own timeouts
    /// (PostgresLocation.sessionSettings: a lock wait 4 s, a statement 8 s) are what end a stuck
    /// one; this bounds the wait for a connection from the pool. Nothing is acknowledged that
    /// was not committed, but a commit may land after a 503 — which is why the answer says a
    /// retry is safe, not that nothing was kept.
    static func bounded<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        // Not a task group: a group waits for its children, and a pool lease or query that
        // ignores cancellation would hold the request past the deadline (seen in CI while the
        // database was down). The work runs in a task of its own; whichever of it and the timer
        // ends first answers, and the other is cancelled.
        let race = DeadlineRace<T>()
        return try await withCheckedThrowingContinuation { continuation in
            race.pending.withLock { $0 = continuation }
            let work = Task {
                let result: Result<T, any Error>
                do { result = .success(try await operation()) } catch { result = .failure(error) }
                race.timer.withLock { $0?.cancel() }
                race.answer(with: result)
            }
            let deadlineTask = Task {
                try? await Task.sleep(for: deadline)
                guard !Task.isCancelled else { return }
                if race.answer(with: .failure(databaseUnavailable)) { work.cancel() }
            }
            race.timer.withLock { $0 = deadlineTask }
            // The work may have ended before the timer was stored.
            if race.pending.withLock({ $0 == nil }) { deadlineTask.cancel() }
        }
    }

    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await Self.transaction(client: client, logger: logger, body)
    }

    static func transaction<T: Sendable>(client: PostgresClient, logger: Logger,
                                         _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await Self.bounded { try await client.withTransaction(logger: logger) { connection in try await body(connection) } }
        } catch { throw Self.unavailable(error) }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let client = client
        do {
            return try await Self.bounded { try await client.withConnection { connection in try await body(connection) } }
        } catch { throw Self.unavailable(error) }
    }

    // MARK: - Envelopes

    public func append(_ envelopes: [Envelope]) async throws -> [AppendOutcome] {
        guard let space = envelopes.first?.header.space else { return [] }
        // The service sends one space's envelopes a request; anything else is judged alone.
        guard envelopes.allSatisfy({ $0.header.space == space }) else {
            var outcomes: [AppendOutcome] = []
            for envelope in envelopes { outcomes += try await groups.submit(space: envelope.header.space, [envelope]) }
            return outcomes
        }
        return try await groups.submit(space: space, envelopes)
    }

    /// A space's counters as this transaction sees them, under its row lock.
    struct SpaceState: Sendable {
        var position: Int64
        var bytes: Int64
    }

    /// Locks `space`'s row (made when missing) and reads its counters. A damaged negative counter
    /// counts as none.
    static func lock(_ space: SpaceID, _ connection: PostgresConnection, _ logger: Logger) async throws -> SpaceState {
        let id = ByteBuffer(bytes: space.bytes)
        for _ in 0..<2 {
            for try await (position, bytes) in try await connection.query(
                "SELECT position, bytes FROM spaces WHERE space = \(id) FOR UPDATE", logger: logger).decode((Int64, Int64).self) {
                return SpaceState(position: max(0, position), bytes: max(0, bytes))
            }
            try await connection.query("INSERT INTO spaces (space) VALUES (\(id)) ON CONFLICT (space) DO NOTHING", logger: logger)
        }
        throw PostgresRelayError("the space's row could not be made")
    }

    public func fetch(space: SpaceID, after vector: [WireDeviceID: UInt64], limit: Int, maximumBytes: Int) async throws -> (envelopes: [[UInt8]], complete: Bool) {
        let logger = logger
        return try await read { connection in
            let heads = try await Self.heads(space, connection, logger)
            let id = ByteBuffer(bytes: space.bytes)
            var result: [[UInt8]] = []
            var bytes = 0
            for (device, head) in heads.sorted(by: { $0.key < $1.key }) {
                let have = min(vector[device] ?? 0, Envelope.maximumSeq)
                guard head > have else { continue }
                let remaining = limit - result.count
                if remaining <= 0 { return (result, false) }
                var taken: UInt64 = 0
                let rows = try await connection.query("""
                    SELECT bytes FROM envelopes WHERE space = \(id) AND device = \(ByteBuffer(bytes: device.bytes)) AND seq > \(Int64(clamping: have))
                    ORDER BY seq LIMIT \(remaining)
                    """, logger: logger)
                var cut = false
                for try await row in rows.decode(ByteBuffer.self) {
                    if cut { continue }
                    // A page carries at least one envelope, so a large one still moves.
                    if !result.isEmpty, bytes + row.readableBytes > maximumBytes { cut = true; continue }
                    bytes += row.readableBytes
                    result.append(Array(row.readableBytesView))
                    taken += 1
                }
                if cut || taken < head - have { return (result, false) }
            }
            return (result, true)
        }
    }

    /// The envelopes of `space` at arrival positions `first...last`, in that order (the live
    /// fan-out of another process's appends).
    func envelopes(space: SpaceID, positions first: Int64, _ last: Int64) async throws -> [[UInt8]] {
        let logger = logger
        return try await read { connection in
            var result: [[UInt8]] = []
            for try await bytes in try await connection.query("""
                SELECT bytes FROM envelopes WHERE space = \(ByteBuffer(bytes: space.bytes)) AND position BETWEEN \(first) AND \(last) ORDER BY position
                """, logger: logger).decode(ByteBuffer.self) {
                result.append(Array(bytes.readableBytesView))
            }
            return result
        }
    }

    public func heads(space: SpaceID) async throws -> [WireDeviceID: UInt64] {
        let logger = logger
        return try await read { connection in try await Self.heads(space, connection, logger) }
    }

    static func heads(_ space: SpaceID, _ connection: PostgresConnection, _ logger: Logger) async throws -> [WireDeviceID: UInt64] {
        var heads: [WireDeviceID: UInt64] = [:]
        for try await (device, seq) in try await connection.query(
            "SELECT device, seq FROM heads WHERE space = \(ByteBuffer(bytes: space.bytes))", logger: logger).decode((ByteBuffer, Int64).self) {
            if let id = try? WireDeviceID(bytes: Array(device.readableBytesView)), let seq = UInt64(exactly: seq) { heads[id] = seq }
        }
        return heads
    }

    public func forks(space: SpaceID) async throws -> [ForkEvidence] {
        let logger = logger
        return try await read { connection in
            var result: [ForkEvidence] = []
            for try await (device, seq, held, offered) in try await connection.query("""
                SELECT f.device, f.seq, e.bytes, f.offered FROM forks f
                JOIN envelopes e ON e.space = f.space AND e.device = f.device AND e.seq = f.seq
                WHERE f.space = \(ByteBuffer(bytes: space.bytes)) ORDER BY f.device, f.seq
                """, logger: logger).decode((ByteBuffer, Int64, ByteBuffer, ByteBuffer).self) {
                guard let id = try? WireDeviceID(bytes: Array(device.readableBytesView)), let seq = UInt64(exactly: seq) else { continue }
                result.append(ForkEvidence(device: id, seq: seq, held: Array(held.readableBytesView), offered: Array(offered.readableBytesView)))
            }
            return result
        }
    }

    // MARK: - Membership

    public func appendMembership(space: SpaceID, from index: UInt64, records: [[UInt8]], creator: [UInt8]?,
                                 maximumSpacesPerCreator: Int) async throws -> MembershipAppendOutcome {
        guard index >= 1, let first = Int64(exactly: index), let count = Int64(exactly: records.count),
              first <= Int64.max - count else { return .outOfOrder }
        let logger = logger, instance = instance
        let id = ByteBuffer(bytes: space.bytes)
        do {
            return try await transaction { connection -> MembershipAppendOutcome in
                // One writer of a space's log at a time, across processes: the same row lock appends take.
                _ = try await Self.lock(space, connection, logger)
                var held: Int64 = 0
                for try await value in try await connection.query("SELECT coalesce(max(idx), 0) FROM membership WHERE space = \(id)",
                                                                  logger: logger).decode(Int64.self) { held = value }
                guard let heldIndex = UInt64(exactly: held), index == heldIndex + 1 else { return .outOfOrder }
                if let creator {
                    let identity = ByteBuffer(bytes: creator)
                    // Spaces per identity are counted across processes: one creator at a time.
                    try await connection.query("SELECT pg_advisory_xact_lock(\(Self.creatorLock))", logger: logger)
                    var created = 0
                    for try await value in try await connection.query("SELECT count(*) FROM space_creators WHERE identity = \(identity)",
                                                                      logger: logger).decode(Int.self) { created = value }
                    guard created < maximumSpacesPerCreator else { return .creatorFull }
                    try await connection.query("INSERT INTO space_creators (space, identity) VALUES (\(id), \(identity)) ON CONFLICT DO NOTHING",
                                               logger: logger)
                }
                for (offset, record) in records.enumerated() {
                    try await connection.query("INSERT INTO membership (space, idx, record) VALUES (\(id), \(first + Int64(offset)), \(ByteBuffer(bytes: record)))",
                                               logger: logger)
                }
                let payload = "m:\(instance):\(Hex.encode(space.bytes))"
                try await connection.query("SELECT pg_notify(\(Self.channel), \(payload))", logger: logger)
                return .stored
            }
        } catch where Self.sqlState(error) == "23505" {
            // Another process stored that index first (a unique violation): the same answer.
            return .outOfOrder
        }
    }

    /// Advisory locks for the relay-wide caps (arbitrary constants, one per cap).
    static let creatorLock: Int64 = 0x6475_6574_0001
    static let recoveryLock: Int64 = 0x6475_6574_0002
    static let refusedLock: Int64 = 0x6475_6574_0003

    public func keepRefusedMembership(space: SpaceID, record: [UInt8], maximumPerSpace: Int) async throws {
        let logger = logger, id = ByteBuffer(bytes: space.bytes)
        try await transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.refusedLock))", logger: logger)
            var held = 0
            for try await value in try await connection.query("SELECT count(*) FROM membership_refused WHERE space = \(id)",
                                                              logger: logger).decode(Int.self) { held = value }
            guard held < maximumPerSpace else { return }
            try await connection.query("INSERT INTO membership_refused (space, record) VALUES (\(id), \(ByteBuffer(bytes: record)))", logger: logger)
        }
    }

    public func refusedMembership(space: SpaceID) async throws -> [[UInt8]] {
        try await records("SELECT record FROM membership_refused WHERE space = \(ByteBuffer(bytes: space.bytes)) ORDER BY id")
    }

    public func membership(space: SpaceID, from index: UInt64) async throws -> [[UInt8]] {
        try await records("SELECT record FROM membership WHERE space = \(ByteBuffer(bytes: space.bytes)) AND idx >= \(Int64(clamping: index)) ORDER BY idx")
    }

    private func records(_ query: PostgresQuery) async throws -> [[UInt8]] {
        let logger = logger
        return try await read { connection in
            var result: [[UInt8]] = []
            for try await bytes in try await connection.query(query, logger: logger).decode(ByteBuffer.self) {
                result.append(Array(bytes.readableBytesView))
            }
            return result
        }
    }

    // MARK: - Recovery

    public func recovery(slot: [UInt8]) async throws -> [UInt8]? {
        try await records("SELECT blob FROM recovery WHERE slot = \(ByteBuffer(bytes: slot))").first
    }

    public func putRecovery(slot: [UInt8], owner: [UInt8], blob: [UInt8], maximumSlotsPerOwner: Int, maximumSlots: Int) async throws -> RecoveryPutOutcome {
        let logger = logger, slotID = ByteBuffer(bytes: slot), ownerKey = ByteBuffer(bytes: owner)
        return try await transaction { connection -> RecoveryPutOutcome in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.recoveryLock))", logger: logger)
            var holder: [UInt8]?
            for try await bytes in try await connection.query("SELECT owner FROM recovery WHERE slot = \(slotID)", logger: logger).decode(ByteBuffer.self) {
                holder = Array(bytes.readableBytesView)
            }
            if let holder {
                guard holder == owner else { return .taken }
            } else {
                var owned = 0, all = 0
                for try await value in try await connection.query("SELECT count(*) FROM recovery WHERE owner = \(ownerKey)", logger: logger).decode(Int.self) {
                    owned = value
                }
                guard owned < maximumSlotsPerOwner else { return .ownerFull }
                for try await value in try await connection.query("SELECT count(*) FROM recovery", logger: logger).decode(Int.self) { all = value }
                guard all < maximumSlots else { return .relayFull }
            }
            try await connection.query("""
                INSERT INTO recovery (slot, owner, blob) VALUES (\(slotID), \(ownerKey), \(ByteBuffer(bytes: blob)))
                ON CONFLICT (slot) DO UPDATE SET blob = excluded.blob
                """, logger: logger)
            return .stored
        }
    }
}

/// The two sides of ``PostgresRelayStorage/bounded(_:)``: the one to answer first resumes the
/// caller; the other finds nothing left to answer.
final class DeadlineRace<T: Sendable>: Sendable {
    let pending = Mutex<CheckedContinuation<T, any Error>?>(nil)
    let timer = Mutex<Task<Void, Never>?>(nil)

    /// Resumes the caller with `result` unless it was answered already; whether it answered.
    @discardableResult
    func answer(with result: Result<T, any Error>) -> Bool {
        pending.withLock { waiting in
            guard let continuation = waiting else { return false }
            waiting = nil
            continuation.resume(with: result)
            return true
        }
    }
}
