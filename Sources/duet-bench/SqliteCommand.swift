import ArgumentParser
import DuetCrypto
import DuetStore
import DuetWire
import Foundation
import GRDBSQLite

/// `duet-bench sqlite` (G9): DuetStore's append of verified envelopes — the storage step of every
/// sync, one transaction and one fsync per batch (group commit), each envelope checked against
/// its device's chain — against raw SQLite inserts of the same bytes through the C API, in the
/// same process, on the same disk, with the same durability (WAL, `synchronous=FULL`).
///
/// Signatures are verified, and each envelope's chain hash computed, before this step (on every
/// core; `duet-bench crypto` measures them): G9 is about what the store adds to SQLite, so the
/// envelopes come in as the verification step hands them over.
struct SqliteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sqlite",
        abstract: "DuetStore's append of verified changes against raw SQLite inserts of the same bytes.")

    @Option(help: "Changes appended per run.") var changes = 100_000
    @Option(help: "Changes per transaction (group commit).") var batch = 1_000
    @Option(help: "Plaintext bytes per change (a keystroke's change is under 100).") var bytes = 100
    @Option(help: "Fresh runs to take the median of.") var runs = 5
    @Option(help: "Where to put the databases (removed afterwards); a real disk, so fsync costs what it costs.")
    var folder: String = NSTemporaryDirectory()
    @Flag(help: "Print one JSON object instead of text.") var json = false

    func validate() throws {
        guard changes >= 1, batch >= 1, runs >= 1, bytes >= 1 else { throw ValidationError("every count must be at least 1") }
    }

    struct Report: Encodable {
        let changes: Int
        let batch: Int
        let envelopeBytes: Int
        let duetChangesPerSecond: Summary
        let rawSameTableChangesPerSecond: Summary
        let rawBareTableChangesPerSecond: Summary
        /// Duet's rate as a share of raw inserts into the same table.
        let ratioToRawSameTable: Double
        let ratioToRawBareTable: Double
    }

    func run() throws {
        let root = folder + "/duet-bench-sqlite-\(getpid())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }

        // One device's chain of envelopes, sealed and signed before any clock starts.
        let signer = SigningKey.generate(), key = SymmetricKey.random()
        let space = SpaceID.random(), device = WireDeviceID(verifyingKey: signer.verifyingKey)
        let plaintext = [UInt8](repeating: 0x61, count: bytes)
        var previous = Digest.zero
        var envelopes: [Envelope] = []
        envelopes.reserveCapacity(changes)
        for index in 0..<changes {
            let envelope = Envelope.seal(plaintext, header: Envelope.Header(space: space, epoch: 1, device: device, seq: UInt64(index + 1), previous: previous),
                                         contentKey: key, signingKey: signer)
            previous = envelope.hash
            envelopes.append(envelope)
        }
        // What the parallel verification step hands the storage step: each envelope with its hash.
        let verified = envelopes.map(Store.Verified.init)
        let rows = envelopes.map { RawRow(space: space.bytes, device: device.bytes, seq: Int64($0.header.seq), hash: $0.hash.bytes, bytes: $0.bytes) }
        let batches = stride(from: 0, to: changes, by: batch).map { $0..<min($0 + batch, changes) }

        var duet: [Double] = [], rawSame: [Double] = [], rawBare: [Double] = []
        let parameters = try PassphraseKDFParameters(opsLimit: PassphraseKDFParameters.minimumOpsLimit,
                                                     memoryBytes: PassphraseKDFParameters.minimumMemoryBytes, salt: PassphraseKDFParameters.makeDefault().salt)
        for run in 0..<runs {
            let home = Home(path: root + "/duet-\(run)")
            let (store, _) = try Store.create(home: home, name: "Bench", deviceName: "bench", passphrase: SecretBytes(utf8: "bench passphrase"),
                                              parameters: parameters, now: 1)
            let same = try RawSQLite(path: root + "/raw-same-\(run).sqlite", schema: Self.sameSchema, insert: Self.sameInsert)
            let bare = try RawSQLite(path: root + "/raw-bare-\(run).sqlite", schema: Self.bareSchema, insert: Self.bareInsert)
            func timeDuet() throws {
                var stored = 0
                duet.append(try Measure.milliseconds {
                    for range in batches {
                        stored += try store.append(verified[range].map { .success($0) }, space: space).stored
                    }
                })
                guard stored == changes else { throw ValidationError("Duet stored \(stored) of \(changes)") }
            }
            func timeRaw() throws {
                rawSame.append(try Measure.milliseconds { for range in batches { try same.insert(rows[range], bare: false) } })
                rawBare.append(try Measure.milliseconds { for range in batches { try bare.insert(rows[range], bare: true) } })
            }
            // Alternate the order, so a drift on this shared machine does not favour one side.
            if run % 2 == 0 { try timeDuet(); try timeRaw() } else { try timeRaw(); try timeDuet() }
            guard try same.count() == changes, try bare.count() == changes else { throw ValidationError("raw inserts lost rows") }
        }
        func rates(_ milliseconds: [Double]) -> Summary { Summary(milliseconds.map { Double(changes) / ($0 / 1000) }) }
        let report = Report(
            changes: changes, batch: batch, envelopeBytes: envelopes.first?.bytes.count ?? 0,
            duetChangesPerSecond: rates(duet), rawSameTableChangesPerSecond: rates(rawSame), rawBareTableChangesPerSecond: rates(rawBare),
            ratioToRawSameTable: rates(duet).median / rates(rawSame).median, ratioToRawBareTable: rates(duet).median / rates(rawBare).median)
        if json { return try printJSON(report) }
        print("\(changes) changes of \(report.envelopeBytes) envelope bytes, \(batch) per transaction (WAL, synchronous=FULL), medians of \(runs):")
        print(String(format: "  DuetStore append (chain checked, group commit): %.0f changes/s", report.duetChangesPerSecond.median))
        print(String(format: "  raw SQLite, same table and index:               %.0f changes/s (Duet at %.0f%%)", report.rawSameTableChangesPerSecond.median, report.ratioToRawSameTable * 100))
        print(String(format: "  raw SQLite, bare rowid table:                   %.0f changes/s (Duet at %.0f%%)", report.rawBareTableChangesPerSecond.median, report.ratioToRawBareTable * 100))
    }

    /// The store's envelope table as DuetStore creates it (Migrations), with its unique index.
    static let sameSchema = """
        CREATE TABLE envelopes (
            space BLOB NOT NULL, device BLOB NOT NULL, seq INTEGER NOT NULL CHECK (seq >= 1), hash BLOB NOT NULL,
            bytes BLOB NOT NULL, pushed INTEGER NOT NULL DEFAULT 0, UNIQUE (space, device, seq)) STRICT
        """
    static let sameInsert = "INSERT INTO envelopes (space, device, seq, hash, bytes, pushed) VALUES (?, ?, ?, ?, ?, 1)"
    /// The least SQLite can do to keep the bytes: a rowid table of blobs.
    static let bareSchema = "CREATE TABLE envelopes (id INTEGER PRIMARY KEY, bytes BLOB NOT NULL) STRICT"
    static let bareInsert = "INSERT INTO envelopes (bytes) VALUES (?)"
}

struct RawRow {
    let space: [UInt8], device: [UInt8], seq: Int64, hash: [UInt8], bytes: [UInt8]
}

/// SQLite through its C API and nothing else: one connection, one prepared insert.
final class RawSQLite {
    private var db: OpaquePointer?
    private var statement: OpaquePointer?

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(path: String, schema: String, insert: String) throws {
        guard sqlite3_open(path, &db) == SQLITE_OK else { throw Failure(description: "cannot open \(path)") }
        try execute("PRAGMA journal_mode = WAL")
        try execute("PRAGMA synchronous = FULL")
        try execute(schema)
        guard sqlite3_prepare_v2(db, insert, -1, &statement, nil) == SQLITE_OK else { throw Failure(description: "cannot prepare the insert") }
    }

    deinit {
        sqlite3_finalize(statement)
        sqlite3_close(db)
    }

    func execute(_ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
            throw Failure(description: "\(sql): \(String(cString: sqlite3_errmsg(db)))")
        }
    }

    /// One transaction for the batch: one fsync of the WAL at COMMIT.
    func insert(_ rows: ArraySlice<RawRow>, bare: Bool) throws {
        try execute("BEGIN IMMEDIATE")
        for row in rows {
            // Bound without a copy (SQLITE_STATIC), so the step runs while the buffers are pinned.
            if bare {
                try row.bytes.withUnsafeBytes { bytes in
                    bind(1, bytes)
                    try step()
                }
            } else {
                try row.space.withUnsafeBytes { space in
                    try row.device.withUnsafeBytes { device in
                        try row.hash.withUnsafeBytes { hash in
                            try row.bytes.withUnsafeBytes { bytes in
                                bind(1, space); bind(2, device)
                                sqlite3_bind_int64(statement, 3, row.seq)
                                bind(4, hash); bind(5, bytes)
                                try step()
                            }
                        }
                    }
                }
            }
        }
        try execute("COMMIT")
    }

    func count() throws -> Int {
        var query: OpaquePointer?
        guard sqlite3_prepare_v2(db, "SELECT count(*) FROM envelopes", -1, &query, nil) == SQLITE_OK, sqlite3_step(query) == SQLITE_ROW else {
            throw Failure(description: "cannot count")
        }
        defer { sqlite3_finalize(query) }
        return Int(sqlite3_column_int64(query, 0))
    }

    private func bind(_ index: Int32, _ buffer: UnsafeRawBufferPointer) {
        _ = sqlite3_bind_blob(statement, index, buffer.baseAddress, Int32(buffer.count), nil)
    }

    private func step() throws {
        guard sqlite3_step(statement) == SQLITE_DONE else { throw Failure(description: String(cString: sqlite3_errmsg(db))) }
        sqlite3_reset(statement)
    }
}
