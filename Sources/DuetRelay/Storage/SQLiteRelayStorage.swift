public import DuetWire
import DuetCrypto
import Foundation
import GRDB

/// The embedded backend: one SQLite file (`DIR/relay.sqlite`), WAL, `synchronous=FULL`.
///
/// Durable acknowledgements cost an fsync each (about 2 ms here), so appends are group-committed:
/// whatever arrives while one transaction commits is written by the next, in one transaction and
/// one fsync, and every caller in the group is answered after that commit.
public final class SQLiteRelayStorage: RelayStorage {
    private let database: DatabaseQueue
    private let committer: GroupCommitter

    /// - Parameter spaceQuotaBytes: the most envelope bytes one space may hold (default 1 GiB).
    public init(directory: String, spaceQuotaBytes: Int = 1 << 30) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try Self.createPrivately(directory + "/relay.sqlite")
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            guard try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") == "wal" else {
                throw DatabaseError(message: "the relay store could not switch to WAL mode")
            }
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        database = try DatabaseQueue(path: directory + "/relay.sqlite", configuration: configuration)
        try Self.migrator.migrate(database)
        committer = GroupCommitter(database: database, spaceQuotaBytes: Int64(spaceQuotaBytes))
    }

    /// Creates the database file 0600 before SQLite opens it (and narrows an existing one):
    /// SQLite gives its `-wal` and `-shm` files the database file's permissions, so all three
    /// are readable by the relay's user alone, whatever the umask.
    static func createPrivately(_ path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw DatabaseError(message: "cannot create the relay store at \(path)")
            }
        }
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path + suffix)
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                -- Every envelope held, exactly as received. position: arrival order per space.
                CREATE TABLE envelopes (
                    space    BLOB NOT NULL,
                    device   BLOB NOT NULL,
                    seq      INTEGER NOT NULL CHECK (seq >= 1),
                    position INTEGER NOT NULL,
                    hash     BLOB NOT NULL,
                    bytes    BLOB NOT NULL,
                    UNIQUE (space, device, seq),
                    UNIQUE (space, position)
                ) STRICT;

                -- Per space and device, the highest seq held (what heads and fetch start from).
                CREATE TABLE heads (
                    space  BLOB NOT NULL,
                    device BLOB NOT NULL,
                    seq    INTEGER NOT NULL,
                    hash   BLOB NOT NULL,
                    PRIMARY KEY (space, device)
                ) STRICT, WITHOUT ROWID;

                -- Per space, the last arrival position given and the envelope bytes held (quota).
                CREATE TABLE spaces (
                    space    BLOB PRIMARY KEY NOT NULL,
                    position INTEGER NOT NULL,
                    bytes    INTEGER NOT NULL DEFAULT 0
                ) STRICT, WITHOUT ROWID;

                -- Each space's membership log (SPEC § 6.2), verified before it is stored.
                CREATE TABLE membership (
                    space  BLOB NOT NULL,
                    idx    INTEGER NOT NULL CHECK (idx >= 1),
                    record BLOB NOT NULL,
                    PRIMARY KEY (space, idx)
                ) STRICT, WITHOUT ROWID;

                -- A device that signed two different envelopes for one seq: both kept as evidence.
                CREATE TABLE forks (
                    space   BLOB NOT NULL,
                    device  BLOB NOT NULL,
                    seq     INTEGER NOT NULL,
                    offered BLOB NOT NULL,
                    UNIQUE (space, device, seq, offered)
                ) STRICT;
                """)
        }
        migrator.registerMigration("v2") { db in
            try db.execute(sql: """
                -- Recovery blobs (SPEC § 7.5): sealed under a key only the recovery code gives;
                -- owner: the identity key allowed to replace it.
                CREATE TABLE recovery (
                    slot  BLOB PRIMARY KEY NOT NULL,
                    owner BLOB NOT NULL,
                    blob  BLOB NOT NULL
                ) STRICT;
                """)
        }
        migrator.registerMigration("v3") { db in
            try db.execute(sql: """
                -- Issue #12: one fork's evidence per (space, device, seq), counted against the
                -- space quota, and a device that forked is refused every append after it.
                ALTER TABLE heads ADD COLUMN forked INTEGER NOT NULL DEFAULT 0;
                DELETE FROM forks WHERE rowid NOT IN (SELECT min(rowid) FROM forks GROUP BY space, device, seq);
                CREATE UNIQUE INDEX forks_one_per_seq ON forks (space, device, seq);
                UPDATE heads SET forked = 1 WHERE EXISTS
                    (SELECT 1 FROM forks f WHERE f.space = heads.space AND f.device = heads.device);
                UPDATE spaces SET bytes = bytes + coalesce(
                    (SELECT sum(length(offered)) FROM forks f WHERE f.space = spaces.space), 0);

                -- Who created each space, for the per-identity cap. A first record is
                -- version (1) ‖ space (16) ‖ index 1 (one byte) ‖ previous (32) ‖ action (1) ‖
                -- the creating identity (32): bytes 52 to 83.
                CREATE TABLE space_creators (
                    space    BLOB PRIMARY KEY NOT NULL,
                    identity BLOB NOT NULL
                ) STRICT, WITHOUT ROWID;
                CREATE INDEX space_creators_by_identity ON space_creators (identity);
                INSERT INTO space_creators (space, identity)
                    SELECT space, substr(record, 52, 32) FROM membership WHERE idx = 1 AND length(record) >= 83;

                CREATE INDEX recovery_by_owner ON recovery (owner);
                """)
        }
        migrator.registerMigration("v4") { db in
            try db.execute(sql: """
                -- Issue #13: membership records a member signed that the rules refused, kept as
                -- evidence for the other members (the partner sees what was attempted), a few per
                -- space. id: arrival order.
                CREATE TABLE membership_refused (
                    id     INTEGER PRIMARY KEY,
                    space  BLOB NOT NULL,
                    record BLOB NOT NULL
                ) STRICT;
                CREATE INDEX membership_refused_by_space ON membership_refused (space, id);
                """)
        }
        return migrator
    }

    /// A full disk is the relay's condition, not the client's fault: it is answered 429
    /// `storage-full` (never a 5xx, SPEC § 6.5). Every other database error passes unchanged.
    static func refusal(for error: any Error) -> any Error {
        guard let database = error as? DatabaseError, database.resultCode == .SQLITE_FULL else { return error }
        return RelayError(code: "storage-full", status: 429, message: "the relay's disk is full; its operator must make room",
                          retryAfterSeconds: 3600)
    }

    /// A write transaction, a full disk reported as ``refusal(for:)`` says.
    private func write<T: Sendable>(_ body: @escaping @Sendable (GRDB.Database) throws -> T) async throws -> T {
        do { return try await database.write(body) } catch { throw Self.refusal(for: error) }
    }

    public func append(_ envelopes: [Envelope]) async throws -> [AppendOutcome] {
        try await committer.submit(envelopes)
    }

    public func fetch(space: SpaceID, after vector: [WireDeviceID: UInt64], limit: Int, maximumBytes: Int) async throws -> (envelopes: [[UInt8]], complete: Bool) {
        try await database.read { db in
            let heads = try Self.heads(db, space: space)
            var result: [[UInt8]] = []
            var bytes = 0
            for (device, head) in heads.sorted(by: { $0.key < $1.key }) {
                // Seqs in a vector are at most Int64.max (RelayMessages.decodeVector refuses more).
                let have = min(vector[device] ?? 0, Envelope.maximumSeq)
                guard head > have else { continue }
                let remaining = limit - result.count
                if remaining <= 0 { return (result, false) }
                let rows = try Data.fetchCursor(db, sql: """
                    SELECT bytes FROM envelopes WHERE space = ? AND device = ? AND seq > ? ORDER BY seq LIMIT ?
                    """, arguments: [Data(space.bytes), Data(device.bytes), Int64(have), remaining])
                var taken: UInt64 = 0
                while let row = try rows.next() {
                    // A page carries at least one envelope, so a large one still moves.
                    if !result.isEmpty, bytes + row.count > maximumBytes { return (result, false) }
                    bytes += row.count
                    result.append([UInt8](row))
                    taken += 1
                }
                if taken < head - have { return (result, false) }
            }
            return (result, true)
        }
    }

    public func heads(space: SpaceID) async throws -> [WireDeviceID: UInt64] {
        try await database.read { db in try Self.heads(db, space: space) }
    }

    public func forks(space: SpaceID) async throws -> [ForkEvidence] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT f.device, f.seq, e.bytes AS held, f.offered FROM forks f
                JOIN envelopes e ON e.space = f.space AND e.device = f.device AND e.seq = f.seq
                WHERE f.space = ? ORDER BY f.device, f.seq
                """, arguments: [Data(space.bytes)]).compactMap { row in
                let device: Data = row["device"], held: Data = row["held"], offered: Data = row["offered"]
                guard let id = try? WireDeviceID(bytes: [UInt8](device)) else { return nil }
                // The relay's own file, but a file all the same: a negative seq is damage, skipped.
                guard let seq = UInt64(exactly: row["seq"] as Int64) else { return nil }
                return ForkEvidence(device: id, seq: seq, held: [UInt8](held), offered: [UInt8](offered))
            }
        }
    }

    public func appendMembership(space: SpaceID, from index: UInt64, records: [[UInt8]], creator: [UInt8]?,
                                 maximumSpacesPerCreator: Int) async throws -> MembershipAppendOutcome {
        // The first and last index are stored as SQLite integers: both must fit in Int64.
        guard index >= 1, let first = Int64(exactly: index), let count = Int64(exactly: records.count),
              first <= Int64.max - count else { return .outOfOrder }
        return try await write { db in
            let held = try Int64.fetchOne(db, sql: "SELECT max(idx) FROM membership WHERE space = ?", arguments: [Data(space.bytes)]) ?? 0
            guard let held = UInt64(exactly: held), index == held + 1 else { return .outOfOrder }
            if let creator {
                let created = try Int.fetchOne(db, sql: "SELECT count(*) FROM space_creators WHERE identity = ?", arguments: [Data(creator)]) ?? 0
                guard created < maximumSpacesPerCreator else { return .creatorFull }
                try db.execute(sql: "INSERT OR IGNORE INTO space_creators (space, identity) VALUES (?, ?)", arguments: [Data(space.bytes), Data(creator)])
            }
            for (offset, record) in records.enumerated() {
                try db.execute(sql: "INSERT INTO membership (space, idx, record) VALUES (?, ?, ?)",
                               arguments: [Data(space.bytes), first + Int64(offset), Data(record)])
            }
            return .stored
        }
    }

    public func recovery(slot: [UInt8]) async throws -> [UInt8]? {
        try await database.read { db in
            try Data.fetchOne(db, sql: "SELECT blob FROM recovery WHERE slot = ?", arguments: [Data(slot)]).map { [UInt8]($0) }
        }
    }

    public func putRecovery(slot: [UInt8], owner: [UInt8], blob: [UInt8], maximumSlotsPerOwner: Int, maximumSlots: Int) async throws -> RecoveryPutOutcome {
        try await write { db in
            if let held = try Data.fetchOne(db, sql: "SELECT owner FROM recovery WHERE slot = ?", arguments: [Data(slot)]) {
                guard [UInt8](held) == owner else { return .taken }
            } else {
                let owned = try Int.fetchOne(db, sql: "SELECT count(*) FROM recovery WHERE owner = ?", arguments: [Data(owner)]) ?? 0
                guard owned < maximumSlotsPerOwner else { return .ownerFull }
                let all = try Int.fetchOne(db, sql: "SELECT count(*) FROM recovery") ?? 0
                guard all < maximumSlots else { return .relayFull }
            }
            try db.execute(sql: "INSERT INTO recovery (slot, owner, blob) VALUES (?, ?, ?) ON CONFLICT (slot) DO UPDATE SET blob = excluded.blob",
                           arguments: [Data(slot), Data(owner), Data(blob)])
            return .stored
        }
    }

    public func keepRefusedMembership(space: SpaceID, record: [UInt8], maximumPerSpace: Int) async throws {
        try await write { db in
            let held = try Int.fetchOne(db, sql: "SELECT count(*) FROM membership_refused WHERE space = ?", arguments: [Data(space.bytes)]) ?? 0
            guard held < maximumPerSpace else { return }
            try db.execute(sql: "INSERT INTO membership_refused (space, record) VALUES (?, ?)", arguments: [Data(space.bytes), Data(record)])
        }
    }

    public func refusedMembership(space: SpaceID) async throws -> [[UInt8]] {
        try await database.read { db in
            try Data.fetchAll(db, sql: "SELECT record FROM membership_refused WHERE space = ? ORDER BY id", arguments: [Data(space.bytes)]).map { [UInt8]($0) }
        }
    }

    public func membership(space: SpaceID, from index: UInt64) async throws -> [[UInt8]] {
        let from = Int64(clamping: index)
        return try await database.read { db in
            try Data.fetchAll(db, sql: "SELECT record FROM membership WHERE space = ? AND idx >= ? ORDER BY idx",
                              arguments: [Data(space.bytes), from]).map { [UInt8]($0) }
        }
    }

    static func heads(_ db: GRDB.Database, space: SpaceID) throws -> [WireDeviceID: UInt64] {
        var heads: [WireDeviceID: UInt64] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT device, seq FROM heads WHERE space = ?", arguments: [Data(space.bytes)]) {
            let device: Data = row["device"]
            if let id = try? WireDeviceID(bytes: [UInt8](device)), let seq = UInt64(exactly: row["seq"] as Int64) { heads[id] = seq }
        }
        return heads
    }

    /// Judges and stores one envelope inside the caller's transaction. Statements are cached:
    /// this runs thousands of times a second and SQL compilation would dominate it.
    ///
    /// The chain rule is DuetWire's ``EnvelopeChain`` (the one every device applies too); what
    /// is decided here is the relay's own policy around it: a forked device is stopped, fork
    /// evidence is kept, and the space's quota is charged.
    static func append(_ envelope: Envelope, in db: GRDB.Database, quota: Int64) throws -> AppendOutcome {
        let header = envelope.header
        let space = Data(header.space.bytes), device = Data(header.device.bytes)
        let head = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT seq, hash, forked FROM heads WHERE space = ? AND device = ?"), arguments: [space, device])
        if (head?["forked"] as Int64?) ?? 0 != 0 { return .refused(.deviceForked) }
        // A negative or damaged head in the file counts as none held past it: the append is
        // then judged a gap or a fork, never a trap.
        let chain = EnvelopeChain.Head(seq: UInt64(clamping: (head?["seq"] as Int64?) ?? 0),
                                       hash: (head?["hash"] as Data?).map { [UInt8]($0) } ?? Digest.zero.bytes)
        let verdict = try EnvelopeChain.judge(envelope, head: chain) {
            try Data.fetchOne(db.cachedStatement(sql: "SELECT bytes FROM envelopes WHERE space = ? AND device = ? AND seq = ?"),
                              arguments: [space, device, Int64(clamping: header.seq)]).map { [UInt8]($0) }
        }
        let held = try Row.fetchOne(db.cachedStatement(sql: "SELECT position, bytes FROM spaces WHERE space = ?"), arguments: [space])
        let usedBytes = max(0, (held?["bytes"] as Int64?) ?? 0)
        switch verdict {
        case .extends: break
        case .duplicate: return .duplicate
        case .gap: return .refused(.gap)
        case .brokenChain: return .refused(.brokenChain)
        case .fork:
            // The device is stopped, and its first offered envelope is kept as evidence while it
            // fits in the space's quota (one per seq, and only one ever, since the device is
            // refused from now on).
            try db.cachedStatement(sql: "UPDATE heads SET forked = 1 WHERE space = ? AND device = ?").execute(arguments: [space, device])
            let size = Int64(envelope.bytes.count)
            if size <= quota - min(quota, usedBytes) {
                try db.cachedStatement(sql: "INSERT OR IGNORE INTO forks (space, device, seq, offered) VALUES (?, ?, ?, ?)")
                    .execute(arguments: [space, device, Int64(clamping: header.seq), Data(envelope.bytes)])
                if db.changesCount > 0 {
                    try db.cachedStatement(sql: "UPDATE spaces SET bytes = bytes + ? WHERE space = ?").execute(arguments: [size, space])
                }
            }
            return .refused(.fork)
        }
        // Compared without adding: a damaged byte count near Int64.max must not overflow.
        guard Int64(envelope.bytes.count) <= quota - min(quota, usedBytes) else { return .refused(.quotaExceeded) }
        let (position, overflow) = max(0, (held?["position"] as Int64?) ?? 0).addingReportingOverflow(1)
        guard !overflow else { return .refused(.quotaExceeded) }
        let hash = Data(envelope.hash.bytes)
        try db.cachedStatement(sql: "INSERT INTO envelopes (space, device, seq, position, hash, bytes) VALUES (?, ?, ?, ?, ?, ?)")
            .execute(arguments: [space, device, Int64(header.seq), position, hash, Data(envelope.bytes)])
        try db.cachedStatement(sql: """
            INSERT INTO heads (space, device, seq, hash) VALUES (?, ?, ?, ?)
            ON CONFLICT (space, device) DO UPDATE SET seq = excluded.seq, hash = excluded.hash
            """).execute(arguments: [space, device, Int64(header.seq), hash])
        try db.cachedStatement(sql: """
            INSERT INTO spaces (space, position, bytes) VALUES (?, ?, ?)
            ON CONFLICT (space) DO UPDATE SET position = excluded.position, bytes = excluded.bytes
            """).execute(arguments: [space, position, usedBytes + Int64(envelope.bytes.count)])
        return .stored(position: UInt64(clamping: position))
    }
}

/// Collects appends that arrive while a commit is in flight and writes them in the next
/// transaction: one fsync for the whole group, every caller answered after it.
actor GroupCommitter {
    private let database: DatabaseQueue
    private let spaceQuotaBytes: Int64
    private var waiting: [(envelopes: [Envelope], continuation: CheckedContinuation<[AppendOutcome], any Error>)] = []
    private var committing = false

    init(database: DatabaseQueue, spaceQuotaBytes: Int64) {
        self.database = database
        self.spaceQuotaBytes = spaceQuotaBytes
    }

    func submit(_ envelopes: [Envelope]) async throws -> [AppendOutcome] {
        try await withCheckedThrowingContinuation { continuation in
            waiting.append((envelopes, continuation))
            if !committing {
                committing = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !waiting.isEmpty {
            let group = waiting
            waiting = []
            do {
                // Judged in arrival order inside one transaction, so two appends for the same
                // device in one group see each other.
                let quota = spaceQuotaBytes
                let outcomes = try await database.write { db in
                    try group.map { item in try item.envelopes.map { try SQLiteRelayStorage.append($0, in: db, quota: quota) } }
                }
                for (item, outcome) in zip(group, outcomes) { item.continuation.resume(returning: outcome) }
            } catch {
                let refusal = SQLiteRelayStorage.refusal(for: error)
                for item in group { item.continuation.resume(throwing: refusal) }
            }
        }
        committing = false
    }
}
