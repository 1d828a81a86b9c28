import Logging
import PostgresNIO

/// The shared backend's schema, as numbered migrations: each runs once, in order, in one
/// transaction with the others that are due, under an advisory lock, so relays started at once
/// on an empty database do not race to create it. Never edited once shipped: a change is a new
/// migration at the end.
///
/// The tables are the SQLite backend's (SQLiteRelayStorage.migrator, as of its v4) plus what one
/// process kept in memory there and every process must share here (issue #17): the challenge
/// secret, the challenges answered, sessions and mailboxes.
enum PostgresMigrations {
    /// Each migration: its statements as one text (split where a line ends with a semicolon),
    /// then functions, each one statement whole (their bodies hold semicolons).
    static let all: [(name: String, sql: String, functions: [String])] = [
        ("v1", """
            -- Every envelope held, exactly as received. position: arrival order per space.
            CREATE TABLE envelopes (
                space    bytea NOT NULL,
                device   bytea NOT NULL,
                seq      bigint NOT NULL CHECK (seq >= 1),
                position bigint NOT NULL,
                hash     bytea NOT NULL,
                bytes    bytea NOT NULL,
                PRIMARY KEY (space, device, seq),
                UNIQUE (space, position)
            );
            -- Per space and device, the highest seq held; forked: the device signed two envelopes
            -- for one seq and is refused from then on.
            CREATE TABLE heads (
                space  bytea NOT NULL,
                device bytea NOT NULL,
                seq    bigint NOT NULL,
                hash   bytea NOT NULL,
                forked boolean NOT NULL DEFAULT false,
                PRIMARY KEY (space, device)
            );
            -- Per space, the last arrival position given and the envelope bytes held (quota). Its
            -- row is what an append locks: appends to one space are decided one at a time.
            CREATE TABLE spaces (
                space    bytea PRIMARY KEY,
                position bigint NOT NULL DEFAULT 0,
                bytes    bigint NOT NULL DEFAULT 0
            );
            CREATE TABLE membership (
                space  bytea NOT NULL,
                idx    bigint NOT NULL CHECK (idx >= 1),
                record bytea NOT NULL,
                PRIMARY KEY (space, idx)
            );
            CREATE TABLE forks (
                space   bytea NOT NULL,
                device  bytea NOT NULL,
                seq     bigint NOT NULL,
                offered bytea NOT NULL,
                PRIMARY KEY (space, device, seq)
            );
            CREATE TABLE recovery (
                slot  bytea PRIMARY KEY,
                owner bytea NOT NULL,
                blob  bytea NOT NULL
            );
            CREATE INDEX recovery_by_owner ON recovery (owner);
            CREATE TABLE space_creators (
                space    bytea PRIMARY KEY,
                identity bytea NOT NULL
            );
            CREATE INDEX space_creators_by_identity ON space_creators (identity);
            CREATE TABLE membership_refused (
                id     bigserial PRIMARY KEY,
                space  bytea NOT NULL,
                record bytea NOT NULL
            );
            CREATE INDEX membership_refused_by_space ON membership_refused (space, id);

            -- The key challenges are MACed under, one for every relay process on this database.
            CREATE TABLE relay_secret (
                id     integer PRIMARY KEY CHECK (id = 1),
                secret bytea NOT NULL
            );
            -- Challenges answered, until they expire (ms since 1970): none is answered twice.
            CREATE TABLE answered_challenges (
                challenge bytea PRIMARY KEY,
                expires   bigint NOT NULL
            );
            CREATE INDEX answered_challenges_by_expiry ON answered_challenges (expires);
            -- Sessions by a hash of their token: whoever reads this table cannot sign in with it.
            -- id: creation order (the oldest is ended first).
            CREATE TABLE sessions (
                id         bigserial PRIMARY KEY,
                token_hash bytea NOT NULL UNIQUE,
                device     bytea NOT NULL,
                expires    bigint NOT NULL
            );
            CREATE INDEX sessions_by_device ON sessions (device, id);
            CREATE INDEX sessions_by_expiry ON sessions (expires);
            -- Pairing and linking mailboxes: read once, gone after ten minutes.
            CREATE TABLE mailboxes (
                id      bytea PRIMARY KEY,
                owner   bytea NOT NULL,
                blob    bytea NOT NULL,
                expires bigint NOT NULL
            );
            CREATE INDEX mailboxes_by_owner ON mailboxes (owner);
            CREATE INDEX mailboxes_by_expiry ON mailboxes (expires);
            """, [
            // An append's first round trip: lock the space's row (made when missing) and read
            // the heads of the devices it names. It decides nothing (the rules are Swift's,
            // DuetWire's EnvelopeChain): it saves a round trip while the lock is held. In a
            // VOLATILE function each statement takes a new snapshot, so the heads are read
            // after the lock is granted, as a transaction that waited for it must see them.
            """
            CREATE FUNCTION duet_lock_space(target bytea, wanted bytea[])
            RETURNS TABLE (device bytea, seq bigint, hash bytea, forked boolean, space_position bigint, space_bytes bigint)
            LANGUAGE plpgsql VOLATILE AS $$
            DECLARE
                held_position bigint;
                held_bytes bigint;
            BEGIN
                SELECT s.position, s.bytes INTO held_position, held_bytes FROM spaces s WHERE s.space = target FOR UPDATE;
                IF NOT FOUND THEN
                    INSERT INTO spaces (space) VALUES (target) ON CONFLICT (space) DO NOTHING;
                    SELECT s.position, s.bytes INTO held_position, held_bytes FROM spaces s WHERE s.space = target FOR UPDATE;
                END IF;
                RETURN QUERY SELECT NULL::bytea, NULL::bigint, NULL::bytea, NULL::boolean, held_position, held_bytes;
                RETURN QUERY SELECT h.device, h.seq, h.hash, h.forked, NULL::bigint, NULL::bigint
                    FROM heads h WHERE h.space = target AND h.device = ANY(wanted);
            END
            $$
            """,
        ]),
        ("v2", """
            -- Running totals (issue #17, review finding 5): the relay-wide caps on sessions and
            -- mailboxes were checked by counting or summing every row under a relay-wide lock, so
            -- each sign-in or pairing cost O(rows) while every other one waited. Kept by the
            -- transactions that add or remove rows, under the same advisory locks.
            CREATE TABLE relay_counters (
                name  text PRIMARY KEY,
                value bigint NOT NULL
            );
            INSERT INTO relay_counters (name, value) SELECT 'sessions', count(*) FROM sessions;
            INSERT INTO relay_counters (name, value) SELECT 'mailboxes', count(*) FROM mailboxes;
            INSERT INTO relay_counters (name, value) SELECT 'mailbox_bytes', coalesce(sum(length(blob)), 0) FROM mailboxes;
            -- `duet-relay migrate` (review finding 6): present from the moment an import starts
            -- until it is verified whole; a relay refuses to serve a database that holds one
            -- unfinished (its data is part of a store, and a device would see history vanish).
            CREATE TABLE relay_import (
                id      integer PRIMARY KEY CHECK (id = 1),
                source  text NOT NULL,
                started timestamptz NOT NULL DEFAULT now()
            );
            """, []),
        ("v3", """
            -- The running totals counted anew under the locks their writers take (review of #17):
            -- v2 counted them without, and a relay of before them still running through that
            -- upgrade changed rows without changing them.
            SELECT pg_advisory_xact_lock(\(PostgresAccessStore.sessionLock));
            SELECT pg_advisory_xact_lock(\(PostgresAccessStore.mailboxLock));
            UPDATE relay_counters SET value = (SELECT count(*) FROM sessions) WHERE name = 'sessions';
            UPDATE relay_counters SET value = (SELECT count(*) FROM mailboxes) WHERE name = 'mailboxes';
            UPDATE relay_counters SET value = (SELECT coalesce(sum(length(blob)), 0) FROM mailboxes) WHERE name = 'mailbox_bytes';
            -- The append fast path (issue #17): groups judged on heads read without a lock and
            -- stored by one statement that checks them under the spaces' locks (functions below).
            """, [
            // A group judged (in Swift, DuetWire's EnvelopeChain) on heads read without a lock,
            // stored in one statement: under the space's row lock it checks that every device
            // it moves still has the head it was judged against (`expected`, 0 for none; not
            // forked) and that the quota still holds, then writes the envelopes at the next
            // positions in order, the heads and the counters, and notifies. The first position
            // given, or -1 (a head moved) or -2 (the quota) when it wrote nothing: the caller
            // judges the group again under the lock. The lock is held for this statement and
            // its commit only. Statements in a VOLATILE function each take a new snapshot: the
            // checks see what committed before the lock was granted.
            """
            CREATE FUNCTION duet_append(target bytea, moving bytea[], expected bigint[], devices bytea[], seqs bigint[], hashes bytea[],
                                        bodies bytea[], added bigint, quota bigint, channel text, instance text)
            RETURNS bigint
            LANGUAGE plpgsql VOLATILE AS $$
            DECLARE
                held_position bigint;
                held_bytes bigint;
                stored bigint := coalesce(array_length(seqs, 1), 0);
            BEGIN
                SELECT s.position, s.bytes INTO held_position, held_bytes FROM spaces s WHERE s.space = target FOR UPDATE;
                IF NOT FOUND THEN
                    INSERT INTO spaces (space) VALUES (target) ON CONFLICT (space) DO NOTHING;
                    SELECT s.position, s.bytes INTO held_position, held_bytes FROM spaces s WHERE s.space = target FOR UPDATE;
                END IF;
                IF EXISTS (SELECT 1 FROM unnest(moving, expected) AS t(device, seq)
                           LEFT JOIN heads h ON h.space = target AND h.device = t.device
                           WHERE coalesce(h.seq, 0) <> t.seq OR coalesce(h.forked, false)) THEN
                    RETURN -1;
                END IF;
                IF held_position < 0 OR held_bytes < 0 OR added < 0 OR added > quota - least(quota, held_bytes)
                   OR held_position > 9223372036854775807 - stored THEN
                    RETURN -2;
                END IF;
                INSERT INTO envelopes (space, device, seq, position, hash, bytes)
                    SELECT target, t.device, t.seq, held_position + t.ordinal, t.hash, t.body
                    FROM unnest(devices, seqs, hashes, bodies) WITH ORDINALITY AS t(device, seq, hash, body, ordinal);
                INSERT INTO heads (space, device, seq, hash, forked)
                    SELECT DISTINCT ON (t.device) target, t.device, t.seq, t.hash, false
                    FROM unnest(devices, seqs, hashes) AS t(device, seq, hash) ORDER BY t.device, t.seq DESC
                    ON CONFLICT (space, device) DO UPDATE SET seq = excluded.seq, hash = excluded.hash;
                UPDATE spaces SET position = held_position + stored, bytes = held_bytes + added WHERE space = target;
                PERFORM pg_notify(channel, 'e:' || instance || ':' || encode(target, 'hex') || ':' || (held_position + 1) || ':' || (held_position + stored));
                RETURN held_position + 1;
            END
            $$
            """,
            // Several spaces' groups in one statement (one transaction, one commit): each space's
            // slice of the flattened arrays to duet_append, in the order given, which is the
            // order the row locks are taken (callers sort by space, so two commits never wait on
            // each other in a cycle). Each space's answer as duet_append gives it.
            """
            CREATE FUNCTION duet_append_many(targets bytea[], moving_counts integer[], moving bytea[], expected bigint[],
                                             row_counts integer[], devices bytea[], seqs bigint[], hashes bytea[], bodies bytea[],
                                             added bigint[], quota bigint, channel text, instance text)
            RETURNS bigint[]
            LANGUAGE plpgsql VOLATILE AS $$
            DECLARE
                firsts bigint[] := '{}';
                m integer := 1;
                r integer := 1;
            BEGIN
                FOR i IN 1 .. coalesce(array_length(targets, 1), 0) LOOP
                    firsts := firsts || duet_append(targets[i], moving[m : m + moving_counts[i] - 1], expected[m : m + moving_counts[i] - 1],
                                                    devices[r : r + row_counts[i] - 1], seqs[r : r + row_counts[i] - 1],
                                                    hashes[r : r + row_counts[i] - 1], bodies[r : r + row_counts[i] - 1],
                                                    added[i], quota, channel, instance);
                    m := m + moving_counts[i];
                    r := r + row_counts[i];
                END LOOP;
                RETURN firsts;
            END
            $$
            """,
            ]),
    ]

    /// Refuses a database no relay has brought to this schema (inspect writes nothing).
    static func requireMigrated(_ connection: PostgresConnection, logger: Logger) async throws {
        var applied: Set<String> = []
        do {
            for try await name in try await connection.query("SELECT name FROM relay_migrations", logger: logger).decode(String.self) { applied.insert(name) }
        } catch where PostgresRelayStorage.sqlState(error) == "42P01" {
            throw PostgresRelayError("this database holds no relay's data (no relay_migrations table)")
        }
        guard applied == Set(all.map(\.name)) else {
            throw PostgresRelayError("this database's schema (\(applied.sorted().joined(separator: ", "))) is not this duet-relay's; run the matching version, or start this relay on it once to migrate")
        }
    }

    /// What an unfinished `duet-relay migrate` left in this database, in words; nil if none.
    static func unfinishedImport(_ connection: PostgresConnection, logger: Logger) async throws -> String? {
        for try await (source, started) in try await connection.query(
            "SELECT source, to_char(started AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM relay_import", logger: logger).decode((String, String).self) {
            return "from \(source.prefix(200)), started \(started) UTC"
        }
        return nil
    }

    /// A migration's statements: split where a line ends with a semicolon (no statement of
    /// theirs holds one inside a line's end), comment lines dropped.
    static func statements(_ sql: String) -> [String] {
        var statements: [String] = [], current: [Substring] = []
        for line in sql.split(separator: "\n") {
            let trimmed = line.trimmingPrefix(while: \.isWhitespace)
            if trimmed.hasPrefix("--") || trimmed.isEmpty { continue }
            current.append(line)
            if trimmed.hasSuffix(";") {
                statements.append(current.joined(separator: "\n"))
                current = []
            }
        }
        if !current.isEmpty { statements.append(current.joined(separator: "\n")) }
        return statements
    }

    /// The advisory lock migrations hold (an arbitrary constant: "duet" in ASCII).
    static let lock: Int64 = 0x6475_6574

    /// Brings the database to the newest schema; refuses one a newer relay migrated further.
    static func migrate(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lock))", logger: logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS relay_migrations (name text PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())",
                                       logger: logger)
            var applied: Set<String> = []
            for try await name in try await connection.query("SELECT name FROM relay_migrations", logger: logger).decode(String.self) {
                applied.insert(name)
            }
            let known = Set(all.map(\.name))
            if let unknown = applied.subtracting(known).sorted().first {
                throw PostgresRelayError("the database was migrated by a newer duet-relay (migration \(unknown)); run that version")
            }
            for migration in all where !applied.contains(migration.name) {
                // One statement a message (the extended protocol PostgresNIO speaks takes no
                // more); a migration's statements each end a line with a semicolon.
                for statement in statements(migration.sql) + migration.functions {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO relay_migrations (name) VALUES (\(migration.name))", logger: logger)
            }
        }
    }
}

/// A condition of the shared backend worth one clear line (never a password: see PostgresLocation).
struct PostgresRelayError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The relay's store cannot be used at start: one line for its operator.
public struct RelayBackendUnavailable: Error, CustomStringConvertible {
    public let description: String
}
