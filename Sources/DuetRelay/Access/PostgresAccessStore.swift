public import DuetCrypto
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The access store every relay process on one database shares (issue #17): a challenge issued
/// by one is answered at another, a session opened at one works at every one, a pairing started
/// through one completes through another. Session tokens are kept as hashes (BLAKE2b-256):
/// whoever reads the table cannot sign in with what is there.
///
/// Caps (sessions per device and in all, mailboxes and their bytes per device and in all) are
/// decided under an advisory lock per table, so processes do not overshoot them together, from
/// running totals (`relay_counters`) and the one device's own rows: never a count of the whole
/// table while others wait. Expired rows are deleted as they are met.
public final class PostgresAccessStore: RelayAccessStore {
    private let storage: PostgresRelayStorage
    private let caps: MailboxCaps
    private let cachedSecret = Mutex<[UInt8]?>(nil)
    /// Sessions this process found lately, for at most ``sessionCacheMilliseconds``: every
    /// request names its session, and asking the database each time was a round trip per
    /// append. A session ended by another process (its device removed, or its oldest session
    /// pushed out by a new one) is still taken here for that long; a removed device is refused
    /// all the same, by the membership its requests are checked against.
    /// Keyed by the token's hash, as the table is: an ended session is named by it.
    private let sessions = Mutex<[[UInt8]: (device: VerifyingKey, until: UInt64)]>([:])
    static let sessionCacheMilliseconds: UInt64 = 5_000
    static let maximumCachedSessions = 50_000

    static let sessionLock: Int64 = 0x6475_6574_0010
    static let mailboxLock: Int64 = 0x6475_6574_0011

    /// Shares `storage`'s pool.
    public init(storage: PostgresRelayStorage, mailboxBytes: Int = 64 << 20, mailboxBytesPerDevice: Int = 256 << 10) {
        self.storage = storage
        caps = MailboxCaps(totalBytes: mailboxBytes, bytesPerDevice: mailboxBytesPerDevice)
    }

    private var logger: Logger { storage.logger }

    public func challengeSecret() async throws -> [UInt8] {
        if let secret = cachedSecret.withLock({ $0 }) { return secret }
        let logger = logger
        // The first process to ask makes it; every other one reads that one.
        let secret = try await storage.transaction { connection -> [UInt8] in
            try await connection.query("INSERT INTO relay_secret (id, secret) VALUES (1, \(ByteBuffer(bytes: RandomBytes.make(count: 32)))) ON CONFLICT DO NOTHING",
                                       logger: logger)
            for try await bytes in try await connection.query("SELECT secret FROM relay_secret WHERE id = 1", logger: logger).decode(ByteBuffer.self)
            where bytes.readableBytes == 32 {
                return Array(bytes.readableBytesView)
            }
            throw PostgresRelayError("the relay's challenge secret in the database is damaged (relay_secret)")
        }
        cachedSecret.withLock { $0 = secret }
        return secret
    }

    public func answer(challenge: [UInt8], expires: UInt64, now: UInt64) async throws -> Bool {
        let logger = logger, expiry = Int64(clamping: expires), moment = Int64(clamping: now)
        return try await storage.transaction { connection -> Bool in
            try await connection.query("DELETE FROM answered_challenges WHERE expires <= \(moment)", logger: logger)
            var inserted = false
            for try await _ in try await connection.query(
                "INSERT INTO answered_challenges (challenge, expires) VALUES (\(ByteBuffer(bytes: challenge)), \(expiry)) ON CONFLICT DO NOTHING RETURNING 1",
                logger: logger) { inserted = true }
            return inserted
        }
    }

    static func tokenHash(_ token: [UInt8]) -> [UInt8] {
        Hash.blake2b([Array("duet relay session v1".utf8), token], byteCount: 32, key: nil)
    }

    public func openSession(token: [UInt8], device: VerifyingKey, expires: UInt64, now: UInt64, perDevice: Int, maximum: Int) async throws {
        let logger = logger, key = ByteBuffer(bytes: device.bytes), moment = Int64(clamping: now), instance = storage.instance
        let keepPerDevice = max(1, perDevice) - 1, keepInAll = max(1, maximum) - 1
        let ended = try await storage.transaction { connection -> [[UInt8]] in
            // Every writer of sessions takes this lock first, so the running count stays exact
            // and no two wait on each other's rows.
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.sessionLock))", logger: logger)
            var removed: Int64 = 0
            for try await _ in try await connection.query("DELETE FROM sessions WHERE expires <= \(moment) RETURNING 1", logger: logger) { removed += 1 }
            var ended: [[UInt8]] = []
            // A device's own sessions: at most `perDevice` rows, read by its index.
            for try await hash in try await connection.query("""
                DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE device = \(key) ORDER BY id DESC OFFSET \(keepPerDevice))
                RETURNING token_hash
                """, logger: logger).decode(ByteBuffer.self) { ended.append(Array(hash.readableBytesView)) }
            var held: Int64 = 0
            for try await value in try await connection.query("SELECT value FROM relay_counters WHERE name = 'sessions'", logger: logger).decode(Int64.self) {
                held = value
            }
            // The oldest anywhere, by the primary key from its start: as many as are over, not a
            // walk past every session kept (the count is this table's, kept below).
            var left = max(0, held - removed - Int64(ended.count))
            // Before ending anyone's session for room, the total counted anew: a writer that kept
            // no total (a relay of before it still running through the upgrade, an operator's
            // DELETE) leaves it high for good otherwise, and each sign-in then ends sessions that
            // fit (review of #17). Honest totals are never more than one over (each sign-in
            // makes room for itself), so more is drift, counted at once; one over is the cap's
            // steady state, counted at most once a minute (O(rows), bounded by the cap).
            let overBy = left - Int64(keepInAll)
            var recount = overBy > 1
            if overBy == 1 { recount = try await Self.mayRecount("sessions_recounted", now: moment, connection, logger) }
            if recount {
                for try await value in try await connection.query("SELECT count(*)::bigint FROM sessions", logger: logger).decode(Int64.self) {
                    left = value
                }
            }
            let over = left - Int64(keepInAll)
            var evicted: Int64 = 0
            if over > 0 {
                for try await hash in try await connection.query("""
                    DELETE FROM sessions WHERE id IN (SELECT id FROM sessions ORDER BY id LIMIT \(over)) RETURNING token_hash
                    """, logger: logger).decode(ByteBuffer.self) {
                    ended.append(Array(hash.readableBytesView))
                    evicted += 1
                }
            }
            try await connection.query("""
                INSERT INTO sessions (token_hash, device, expires) VALUES (\(ByteBuffer(bytes: Self.tokenHash(token))), \(key), \(Int64(clamping: expires)))
                """, logger: logger)
            let count = max(0, left - evicted) + 1
            try await connection.query("UPDATE relay_counters SET value = \(count) WHERE name = 'sessions'", logger: logger)
            if !ended.isEmpty {
                // The others forget what they cached of the ended ones when they hear this.
                let named = ended.count <= Self.maximumNamedSessions ? ended.map(Hex.encode).joined(separator: ",") : "*"
                try await connection.query("SELECT pg_notify(\(PostgresRelayStorage.channel), \("t:\(instance):\(named)"))", logger: logger)
            }
            return ended
        }
        forgetSessions(hashes: ended)
    }

    /// False while this process may not hear another end a session (its listener is down):
    /// every request then asks the database.
    private let cacheTrusted = Mutex(true)
    /// Counts every forgetting: a session read from the database is cached only if nothing was
    /// forgotten while the read was out (an ending heard meanwhile must not be undone by it).
    private let forgotten = Mutex<UInt64>(0)

    func trustCache(_ trusted: Bool) {
        cacheTrusted.withLock { $0 = trusted }
        if !trusted {
            forgotten.withLock { $0 &+= 1 }
            sessions.withLock { $0.removeAll() }
        }
    }

    /// Another process ended `device`'s sessions (the notification `s:INSTANCE:DEVICE`).
    func forgetSessions(of device: VerifyingKey) {
        forgotten.withLock { $0 &+= 1 }
        sessions.withLock { cache in cache = cache.filter { $0.value.device != device } }
    }

    /// Sessions a new one pushed out (`t:INSTANCE:HASH,HASH…`), or all when nil (`t:INSTANCE:*`).
    func forgetSessions(hashes: [[UInt8]]?) {
        forgotten.withLock { $0 &+= 1 }
        sessions.withLock { cache in
            guard let hashes else { return cache.removeAll() }
            for hash in hashes { cache[hash] = nil }
        }
    }

    /// The most ended sessions one notification names; more, and every process forgets all.
    static let maximumNamedSessions = 100

    public func device(session token: [UInt8], now: UInt64) async throws -> VerifyingKey? {
        let trusted = cacheTrusted.withLock { $0 }
        let before = forgotten.withLock { $0 }
        let hash = Self.tokenHash(token)
        if trusted, let hit = sessions.withLock({ $0[hash] }), hit.until > now { return hit.device }
        let logger = logger, moment = Int64(clamping: now)
        let found = try await storage.read { connection -> (VerifyingKey, Int64)? in
            for try await (bytes, expires) in try await connection.query(
                "SELECT device, expires FROM sessions WHERE token_hash = \(ByteBuffer(bytes: hash)) AND expires > \(moment)",
                logger: logger).decode((ByteBuffer, Int64).self) {
                guard let device = try? VerifyingKey(bytes: Array(bytes.readableBytesView)) else { return nil }
                return (device, expires)
            }
            return nil
        }
        guard let (device, expires) = found else { return nil }
        let until = min(UInt64(clamping: expires), now > UInt64.max - Self.sessionCacheMilliseconds ? UInt64.max : now + Self.sessionCacheMilliseconds)
        if trusted, forgotten.withLock({ $0 }) == before, cacheTrusted.withLock({ $0 }) {
            sessions.withLock { cache in
                if cache.count >= Self.maximumCachedSessions { cache.removeAll(keepingCapacity: true) }
                cache[hash] = (device, until)
            }
        }
        return device
    }

    /// Ends them here and in the database, and tells every other process (which forget what
    /// they cached of them when they hear it, within milliseconds).
    public func endSessions(of device: VerifyingKey) async throws {
        forgetSessions(of: device)
        let logger = logger, payload = "s:\(storage.instance):\(Hex.encode(device.bytes))"
        try await storage.transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.sessionLock))", logger: logger)
            try await connection.query("""
                WITH ended AS (DELETE FROM sessions WHERE device = \(ByteBuffer(bytes: device.bytes)) RETURNING 1)
                UPDATE relay_counters SET value = greatest(0, value - (SELECT count(*) FROM ended)) WHERE name = 'sessions'
                """, logger: logger)
            try await connection.query("SELECT pg_notify(\(PostgresRelayStorage.channel), \(payload))", logger: logger)
        }
    }

    public func putMailbox(_ id: [UInt8], _ blob: [UInt8], owner: VerifyingKey, now: UInt64) async throws {
        try MailboxCaps.check(id: id, blob: blob)
        let logger = logger, caps = caps, moment = Int64(clamping: now)
        let expires = Int64(clamping: now > UInt64.max - Mailboxes.lifetime ? UInt64.max : now + Mailboxes.lifetime)
        let key = ByteBuffer(bytes: owner.bytes), mailbox = ByteBuffer(bytes: id), size = Int64(blob.count)
        try await storage.transaction { connection in
            var (count, bytes) = try await Self.lockMailboxes(connection, now: moment, logger: logger)
            var taken = false
            for try await _ in try await connection.query("SELECT 1 FROM mailboxes WHERE id = \(mailbox)", logger: logger) { taken = true }
            guard !taken else { throw MailboxCaps.taken }
            if bytes > Int64(caps.totalBytes) - size || count >= Int64(caps.totalCount) {
                // Before refusing everyone, the totals counted anew: a writer that kept none (a
                // relay of before them still running through the upgrade, an operator's DELETE)
                // leaves them high for good otherwise (review of #17). At most once a minute, so
                // a flood at the cap does not pay O(rows) a request.
                guard try await Self.mayRecount("mailboxes_recounted", now: moment, connection, logger) else { throw caps.full() }
                (count, bytes) = try await Self.recountMailboxes(connection, logger: logger)
                guard bytes <= Int64(caps.totalBytes) - size, count < Int64(caps.totalCount) else { throw caps.full() }
            }
            // This device's own: at most countPerDevice rows, read by the owner index.
            var mine: Int64 = 0, mineBytes: Int64 = 0
            for try await (held, heldBytes) in try await connection.query("""
                SELECT count(*), coalesce(sum(length(blob)), 0)::bigint FROM mailboxes WHERE owner = \(key)
                """, logger: logger).decode((Int64, Int64).self) {
                mine = held
                mineBytes = heldBytes
            }
            guard mineBytes <= Int64(caps.bytesPerDevice) - size else { throw caps.deviceFull() }
            guard mine < Int64(MailboxCaps.countPerDevice) else { throw caps.deviceCountFull() }
            try await connection.query("""
                WITH put AS (INSERT INTO mailboxes (id, owner, blob, expires) VALUES (\(mailbox), \(key), \(ByteBuffer(bytes: blob)), \(expires)))
                UPDATE relay_counters SET value = CASE name WHEN 'mailboxes' THEN \(count + 1) ELSE \(bytes + size) END
                WHERE name IN ('mailboxes', 'mailbox_bytes')
                """, logger: logger)
        }
    }

    /// Takes the relay-wide mailbox lock (every writer of mailboxes takes it first, so the
    /// running totals stay exact and no two wait on each other's rows), removes what expired,
    /// and gives the totals after that: (mailboxes, bytes). O(expired), not O(held).
    static func lockMailboxes(_ connection: PostgresConnection, now: Int64, logger: Logger) async throws -> (Int64, Int64) {
        try await connection.query("SELECT pg_advisory_xact_lock(\(Self.mailboxLock))", logger: logger)
        for try await (count, bytes) in try await connection.query("""
            WITH gone AS (DELETE FROM mailboxes WHERE expires <= \(now) RETURNING length(blob) AS size),
                 totals AS (SELECT greatest(0, (SELECT value FROM relay_counters WHERE name = 'mailboxes') - (SELECT count(*) FROM gone)) AS held,
                                   greatest(0, (SELECT value FROM relay_counters WHERE name = 'mailbox_bytes') - (SELECT coalesce(sum(size), 0) FROM gone)) AS held_bytes),
                 kept AS (UPDATE relay_counters SET value = CASE name WHEN 'mailboxes' THEN (SELECT held FROM totals) ELSE (SELECT held_bytes FROM totals) END
                          WHERE name IN ('mailboxes', 'mailbox_bytes'))
            SELECT held::bigint, held_bytes::bigint FROM totals
            """, logger: logger).decode((Int64, Int64).self) {
            return (count, bytes)
        }
        throw PostgresRelayError("the relay's mailbox counters are missing (relay_counters)")
    }

    /// Whether a total may be counted anew now (at most once a minute; the moment is kept in
    /// `relay_counters` under `name`, and a moment far ahead of this clock does not block it).
    static func mayRecount(_ name: String, now: Int64, _ connection: PostgresConnection, _ logger: Logger) async throws -> Bool {
        let minute: Int64 = 60_000
        var may = false
        for try await _ in try await connection.query("""
            INSERT INTO relay_counters (name, value) VALUES (\(name), \(now)) ON CONFLICT (name) DO UPDATE SET value = excluded.value
            WHERE relay_counters.value <= \(now.subtractingReportingOverflow(minute).partialValue) OR relay_counters.value > \(now.addingReportingOverflow(minute).partialValue)
            RETURNING 1
            """, logger: logger) { may = true }
        return may
    }

    /// The mailbox totals counted from the rows and stored (under the mailbox lock).
    static func recountMailboxes(_ connection: PostgresConnection, logger: Logger) async throws -> (Int64, Int64) {
        for try await (count, bytes) in try await connection.query("""
            WITH totals AS (SELECT count(*)::bigint AS held, coalesce(sum(length(blob)), 0)::bigint AS held_bytes FROM mailboxes),
                 kept AS (UPDATE relay_counters SET value = CASE name WHEN 'mailboxes' THEN (SELECT held FROM totals) ELSE (SELECT held_bytes FROM totals) END
                          WHERE name IN ('mailboxes', 'mailbox_bytes'))
            SELECT held, held_bytes FROM totals
            """, logger: logger).decode((Int64, Int64).self) {
            return (count, bytes)
        }
        throw PostgresRelayError("the relay's mailboxes could not be counted")
    }

    public func takeMailbox(_ id: [UInt8], now: UInt64) async throws -> [UInt8] {
        let logger = logger, moment = Int64(clamping: now)
        let blob = try await storage.transaction { connection -> [UInt8]? in
            let (count, bytes) = try await Self.lockMailboxes(connection, now: moment, logger: logger)
            var blob: [UInt8]?
            for try await held in try await connection.query(
                "DELETE FROM mailboxes WHERE id = \(ByteBuffer(bytes: id)) RETURNING blob", logger: logger).decode(ByteBuffer.self) {
                blob = Array(held.readableBytesView)
            }
            guard let blob else { return nil }
            try await connection.query("""
                UPDATE relay_counters SET value = CASE name WHEN 'mailboxes' THEN \(max(0, count - 1)) ELSE \(max(0, bytes - Int64(blob.count))) END
                WHERE name IN ('mailboxes', 'mailbox_bytes')
                """, logger: logger)
            return blob
        }
        guard let blob else { throw MailboxCaps.unknown }
        return blob
    }

    public func held(now: UInt64) async throws -> AccessHeld {
        let logger = logger, moment = Int64(clamping: now)
        return try await storage.read { connection -> AccessHeld in
            for try await (challenges, sessions, mailboxes, bytes) in try await connection.query("""
                SELECT (SELECT count(*) FROM answered_challenges WHERE expires > \(moment)),
                       (SELECT count(*) FROM sessions WHERE expires > \(moment)),
                       (SELECT count(*) FROM mailboxes WHERE expires > \(moment)),
                       (SELECT coalesce(sum(length(blob)), 0)::bigint FROM mailboxes WHERE expires > \(moment))
                """, logger: logger).decode((Int, Int, Int, Int).self) {
                return AccessHeld(challenges: challenges, sessions: sessions, mailboxes: mailboxes, mailboxBytes: bytes)
            }
            return AccessHeld(challenges: 0, sessions: 0, mailboxes: 0, mailboxBytes: 0)
        }
    }
}
