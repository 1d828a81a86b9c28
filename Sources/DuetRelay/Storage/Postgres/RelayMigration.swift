import DuetCrypto
import DuetWire
import Foundation
import GRDB
import Logging
import NIOCore
import PostgresNIO

/// `duet-relay migrate`: a SQLite relay's data moved into an empty PostgreSQL database, then
/// checked envelope by envelope (issue #17).
///
/// What moves: envelopes with their arrival positions, heads (a forked device stays stopped),
/// space counters (quota), membership logs, fork evidence, refused records kept as evidence,
/// recovery blobs, space creators. What does not: sessions and mailboxes (a relay keeps them
/// ten minutes to an hour; clients sign in again, and a pairing code is made anew).
///
/// The SQLite file is only read. The database must hold no relay data yet: merging two relays'
/// histories is not a migration. Rows go in batches, one transaction each, so a large relay does
/// not hold one transaction for hours; a failure part-way leaves a database the check refuses
/// (run again on a fresh one).
public enum RelayMigration {
    public struct Report: Sendable {
        public let spaces: Int
        public let envelopes: Int
        public let envelopeBytes: Int
        public let membershipRecords: Int
        public let recoveryBlobs: Int
    }

    public struct Mismatch: Error, CustomStringConvertible {
        public let description: String
    }

    /// Rows per INSERT (PostgreSQL takes at most 65,535 parameters a statement).
    static let batch = 500

    public static func sqliteToPostgres(directory: String, location: PostgresLocation,
                                        progress: @Sendable (String) -> Void = { _ in }) async throws -> Report {
        var configuration = Configuration()
        configuration.readonly = true
        let source = try DatabaseQueue(path: directory + "/relay.sqlite", configuration: configuration)
        let target = try await PostgresRelayStorage.connect(location, poolSize: 4, refuseUnfinishedImport: false)
        do {
            let report = try await copy(from: source, to: target, sourceName: directory, progress: progress)
            await target.close()
            return report
        } catch {
            await target.close()
            throw error
        }
    }

    static func copy(from source: DatabaseQueue, to target: PostgresRelayStorage, sourceName: String = "a SQLite relay",
                     progress: @Sendable (String) -> Void) async throws -> Report {
        let logger = target.logger
        // The target is marked before the first row goes in and unmarked only once verified: a
        // relay refuses to serve a database a migrate left part-way (PostgresRelayStorage.connect).
        try await target.transaction { connection in
            try await connection.query("LOCK TABLE relay_import IN EXCLUSIVE MODE", logger: logger)
            var unfinished = false
            for try await _ in try await connection.query("SELECT 1 FROM relay_import", logger: logger) { unfinished = true }
            guard !unfinished else {
                throw Mismatch(description: "an earlier migrate into this PostgreSQL database did not finish; drop the database, create it anew, and migrate again")
            }
            var held = 0
            for try await value in try await connection.query("""
                SELECT (SELECT count(*) FROM envelopes) + (SELECT count(*) FROM membership) + (SELECT count(*) FROM recovery)
                """, logger: logger).decode(Int.self) { held = value }
            guard held == 0 else {
                throw Mismatch(description: "the PostgreSQL database already holds relay data; migrate into an empty database")
            }
            // A relay serving this database would take writes among the rows copied, and keep
            // serving a store part-way (it reads the mark when it starts): each one listens on
            // the relays' channel while it serves, so its connection shows as such (to a role
            // that may see it: the relays' own, as the deployment note has it).
            var serving = 0
            for try await value in try await connection.query("""
                SELECT count(*)::int8 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'
                """, logger: logger).decode(Int.self) { serving = value }
            guard serving == 0 else {
                throw Mismatch(description: "\(serving) relay process(es) serve this PostgreSQL database now; stop them, then migrate (a migrate goes into a database no relay serves)")
            }
            try await connection.query("INSERT INTO relay_import (id, source) VALUES (1, \(sourceName))", logger: logger)
        }
        do {
            // Each table: its columns as SQLite holds them, the PostgreSQL INSERT they go to. Tables
            // with a rowid are read in rowid order from where the last batch ended (no OFFSET: the
            // envelopes table is the relay's size); the WITHOUT ROWID ones by their key.
            let tables: [(name: String, columns: String, order: String?, insert: String, types: [Column])] = [
                ("envelopes", "space, device, seq, position, hash, bytes", nil,
                 "INSERT INTO envelopes (space, device, seq, position, hash, bytes) VALUES ", [.bytes, .bytes, .integer, .integer, .bytes, .bytes]),
                ("heads", "space, device, seq, hash, forked", "space, device",
                 "INSERT INTO heads (space, device, seq, hash, forked) VALUES ", [.bytes, .bytes, .integer, .bytes, .boolean]),
                ("spaces", "space, position, bytes", "space", "INSERT INTO spaces (space, position, bytes) VALUES ", [.bytes, .integer, .integer]),
                ("membership", "space, idx, record", "space, idx", "INSERT INTO membership (space, idx, record) VALUES ", [.bytes, .integer, .bytes]),
                ("forks", "space, device, seq, offered", nil, "INSERT INTO forks (space, device, seq, offered) VALUES ", [.bytes, .bytes, .integer, .bytes]),
                ("membership_refused", "space, record", nil, "INSERT INTO membership_refused (space, record) VALUES ", [.bytes, .bytes]),
                ("recovery", "slot, owner, blob", nil, "INSERT INTO recovery (slot, owner, blob) VALUES ", [.bytes, .bytes, .bytes]),
                ("space_creators", "space, identity", "space", "INSERT INTO space_creators (space, identity) VALUES ", [.bytes, .bytes]),
            ]
            for table in tables {
                var copied = 0
                var lastRowID: Int64 = 0
                while true {
                    let (offset, after) = (copied, lastRowID)
                    let (rows, last) = try await source.read { db -> ([[DatabaseValue]], Int64) in
                        let sql = table.order.map { "SELECT 0, \(table.columns) FROM \(table.name) ORDER BY \($0) LIMIT \(batch) OFFSET \(offset)" }
                            ?? "SELECT rowid, \(table.columns) FROM \(table.name) WHERE rowid > \(after) ORDER BY rowid LIMIT \(batch)"
                        var rows: [[DatabaseValue]] = [], size = 0, last = after
                        let cursor = try Row.fetchCursor(db, sql: sql)
                        // At most 32 MiB a batch: envelopes may be 2 MiB each.
                        while size < 32 << 20, let row = try cursor.next() {
                            last = row[0]
                            let values = (1...table.types.count).map { row[$0] as DatabaseValue }
                            size += values.reduce(0) { total, value in
                                if case .blob(let data) = value.storage { return total + data.count }
                                return total + 8
                            }
                            rows.append(values)
                        }
                        return (rows, last)
                    }
                    if rows.isEmpty { break }
                    var bindings = PostgresBindings()
                    var tuples: [String] = []
                    for row in rows {
                        var placeholders: [String] = []
                        for (value, column) in zip(row, table.types) {
                            try column.bind(value, into: &bindings, table: table.name)
                            placeholders.append("$\(bindings.count)")
                        }
                        tuples.append("(" + placeholders.joined(separator: ", ") + ")")
                    }
                    let statement = PostgresQuery(unsafeSQL: table.insert + tuples.joined(separator: ", "), binds: bindings)
                    _ = try await target.transaction { connection in try await connection.query(statement, logger: logger) }
                    copied += rows.count
                    lastRowID = last
                }
                progress("\(table.name): \(copied) row(s)")
            }
            let report = try await verify(source, target)
            _ = try await target.transaction { connection in try await connection.query("DELETE FROM relay_import", logger: logger) }
            return report
        } catch {
            // Left marked: no relay serves part of a store (and it says so).
            let reason = (error as? Mismatch)?.description ?? PostgresRelayStorage.reason(error)
            throw Mismatch(description: "\(reason); the database is left marked unfinished, and relays refuse it: drop it, create it anew and migrate again")
        }
    }

    /// SQLite's column types, as the relay wrote them.
    enum Column {
        case bytes, integer, boolean

        /// The relay's own file, but a file: a value of the wrong type is damage, named, not a trap.
        func bind(_ value: DatabaseValue, into bindings: inout PostgresBindings, table: String) throws {
            switch (self, value.storage) {
            case (.bytes, .blob(let data)): bindings.append(ByteBuffer(bytes: data))
            case (.integer, .int64(let number)): bindings.append(number)
            case (.boolean, .int64(let number)): bindings.append(number != 0)
            default: throw Mismatch(description: "a \(table) row holds a value of the wrong type; the SQLite file is damaged")
            }
        }
    }

    /// Every envelope of every space, compared byte for byte: per space, the count and a
    /// BLAKE2b-256 over (position, device, seq, bytes) in arrival order on both sides; then the
    /// membership logs and recovery blobs the same way.
    static func verify(_ source: DatabaseQueue, _ target: PostgresRelayStorage) async throws -> Report {
        let logger = target.logger
        let spaces = try await source.read { db in try Data.fetchAll(db, sql: "SELECT space FROM spaces ORDER BY space").map { [UInt8]($0) } }
        var envelopes = 0, bytes = 0
        for space in spaces {
            let (sourceDigest, count, size) = try await source.read { db -> (Digester, Int, Int) in
                var digest = Digester(), count = 0, size = 0
                let rows = try Row.fetchCursor(db, sql: "SELECT position, device, seq, bytes FROM envelopes WHERE space = ? ORDER BY position",
                                               arguments: [Data(space)])
                while let row = try rows.next() {
                    let envelope: Data = row["bytes"]
                    digest.add(position: row["position"], device: [UInt8](row["device"] as Data), seq: row["seq"], bytes: [UInt8](envelope))
                    count += 1
                    size += envelope.count
                }
                return (digest, count, size)
            }
            bytes += size
            let targetDigest = try await target.read { connection -> (Digester, Int) in
                var digest = Digester(), count = 0
                for try await (position, device, seq, hash, envelope) in try await connection.query("""
                    SELECT position, device, seq, hash, bytes FROM envelopes WHERE space = \(ByteBuffer(bytes: space)) ORDER BY position
                    """, logger: logger).decode((Int64, ByteBuffer, Int64, ByteBuffer, ByteBuffer).self) {
                    let bytes = Array(envelope.readableBytesView)
                    // Resends are told from forks by the held hash (EnvelopeChain.judgeByHash): a
                    // hash that is not its envelope's would stop an honest device as forked.
                    guard Array(hash.readableBytesView) == Hash.digest(bytes).bytes else {
                        throw Mismatch(description: "space \(Hex.encode(space)): the envelope at position \(position) is held with a hash that is not its bytes' (the SQLite file is damaged)")
                    }
                    digest.add(position: position, device: Array(device.readableBytesView), seq: seq, bytes: bytes)
                    count += 1
                }
                return (digest, count)
            }
            guard targetDigest.1 == count, targetDigest.0.finish() == sourceDigest.finish() else {
                throw Mismatch(description: "space \(Hex.encode(space)): \(count) envelope(s) in SQLite, \(targetDigest.1) in PostgreSQL, or their bytes differ")
            }
            envelopes += count
        }
        // Every other table whole, every column (seq, forked and the counters as much as the
        // bytes: a head moved back or a forked device unstopped is as much a loss as a missing
        // envelope, and zeroed counters bypass the quota).
        let membership = try await compareRows(source, target, "SELECT space, idx, record FROM membership ORDER BY space, idx", what: "membership records")
        let recovery = try await compareRows(source, target, "SELECT slot, owner, blob FROM recovery ORDER BY slot", what: "recovery blobs")
        _ = try await compareRows(source, target, "SELECT space, device, seq, hash, forked FROM heads ORDER BY space, device", what: "heads")
        _ = try await compareRows(source, target, "SELECT space, position, bytes FROM spaces ORDER BY space", what: "space counters")
        _ = try await compareRows(source, target, "SELECT space, device, seq, offered FROM forks ORDER BY space, device, seq", what: "fork evidence")
        _ = try await compareRows(source, target, "SELECT space, record FROM membership_refused ORDER BY space, record", what: "refused membership records")
        _ = try await compareRows(source, target, "SELECT space, identity FROM space_creators ORDER BY space", what: "space creators")
        // Spaces as inspect counts them too: those with a membership log or envelopes (a space
        // with a log and nothing sealed yet has no counters row).
        let counted = try await source.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM (SELECT space FROM membership UNION SELECT space FROM spaces)") ?? 0
        }
        return Report(spaces: counted, envelopes: envelopes, envelopeBytes: bytes, membershipRecords: membership, recoveryBlobs: recovery)
    }

    /// Compares the rows `sql` gives on both sides, in order, every column by value (an integer
    /// or boolean as a number, bytes as bytes, each tagged with its kind); their count.
    static func compareRows(_ source: DatabaseQueue, _ target: PostgresRelayStorage, _ sql: String, what: String) async throws -> Int {
        let logger = target.logger
        let (sourceDigest, sourceCount) = try await source.read { db -> ([UInt8], Int) in
            var digest = Digester(), count = 0
            let rows = try Row.fetchCursor(db, sql: sql)
            while let row = try rows.next() {
                digest.add(columns: row.databaseValues.map(Self.canonical))
                count += 1
            }
            return (digest.finish(), count)
        }
        let (targetDigest, targetCount) = try await target.read { connection -> ([UInt8], Int) in
            var digest = Digester(), count = 0
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger) {
                digest.add(columns: row.map(Self.canonical))
                count += 1
            }
            return (digest.finish(), count)
        }
        guard sourceCount == targetCount, sourceDigest == targetDigest else {
            throw Mismatch(description: "\(what): \(sourceCount) in SQLite, \(targetCount) in PostgreSQL, or their values differ")
        }
        return sourceCount
    }

    /// A SQLite value as verification compares it: a kind, then the value.
    static func canonical(_ value: DatabaseValue) -> [UInt8] {
        switch value.storage {
        case .null: return [0]
        case .int64(let number): return [1] + Digester.integer(number)
        case .blob(let data): return [2] + [UInt8](data)
        case .double(let number): return [3] + Array("\(number)".utf8)
        case .string(let text): return [4] + Array(text.utf8)
        }
    }

    /// A PostgreSQL cell as verification compares it, in ``canonical(_:)-(DatabaseValue)``'s terms.
    static func canonical(_ cell: PostgresCell) -> [UInt8] {
        guard let bytes = cell.bytes else { return [0] }
        switch cell.dataType {
        case .int2, .int4, .int8:
            if let number = try? cell.decode(Int64.self) { return [1] + Digester.integer(number) }
        case .bool:
            if let flag = try? cell.decode(Bool.self) { return [1] + Digester.integer(flag ? 1 : 0) }
        case .bytea:
            return [2] + Array(bytes.readableBytesView)
        default: break
        }
        return [5] + Array(bytes.readableBytesView)
    }

    /// A running BLAKE2b-256 over length-prefixed parts (so no two lists hash alike by moving a
    /// boundary). Kept as a list of per-row digests folded at the end: DuetCrypto's hash is one call.
    struct Digester {
        private var rows: [[UInt8]] = []

        mutating func add(position: Int64, device: [UInt8], seq: Int64, bytes: [UInt8]) {
            add(blob: Self.integer(position) + Self.integer(Int64(device.count)) + device + Self.integer(seq) + bytes)
        }

        mutating func add(columns: [[UInt8]]) {
            add(blob: columns.flatMap { Self.integer(Int64($0.count)) + $0 })
        }

        mutating func add(blob: [UInt8]) {
            rows.append(Hash.blake2b([Self.integer(Int64(blob.count)), blob], byteCount: 32, key: nil))
        }

        func finish() -> [UInt8] { Hash.blake2b(rows, byteCount: 32, key: nil) }

        static func integer(_ value: Int64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * Int64($0))) } }
    }
}
