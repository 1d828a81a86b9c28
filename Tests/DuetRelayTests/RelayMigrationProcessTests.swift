import DuetCrypto
import DuetTesting
import DuetWire
import Foundation
import GRDB
import Logging
import NIOCore
import PostgresNIO
import Testing
@testable import DuetRelay

/// `duet-relay migrate` and `duet-relay inspect` on both backends (issue #17).
@Suite("duet-relay migrate and inspect")
struct RelayMigrationProcessTests {
    @Test("A SQLite relay moved into PostgreSQL: everything arrives, inspect agrees, the relay serves it there; a busy folder or a non-empty database is refused")
    func migrate() async throws {
        let sqlite = try await RelayProcess()
        var alex = RelayProcessTests.Member()
        let (client, space) = try await RelayProcessTests.personalSpace(sqlite, alex)
        let path = "/v1/spaces/\(RelayClient.hex(space))"
        let key = SymmetricKey.random()
        let envelopes = (0..<50).map { _ in alex.envelope(space, key) }
        for chunk in stride(from: 0, to: envelopes.count, by: 10) {
            let reply = try await client.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: envelopes[chunk..<chunk + 10].map(\.bytes)))
            #expect(reply.status == 200)
        }
        // The device forks: the evidence moves too, and it stays stopped on PostgreSQL.
        let fork = Envelope.seal(Array("another first".utf8), header: .init(space: space, epoch: 1, device: alex.id, seq: 1, previous: .zero),
                                 contentKey: key, signingKey: alex.device)
        #expect(try await client.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [fork.bytes])).code == "fork")

        let url = try await TestPostgres.freshDatabase()
        let busy = try await ProcessRun.run("duet-relay", ["migrate", "--data", sqlite.data, "--postgres", url])
        #expect(busy.status == 1 && busy.stderr.contains("already serving"), "a running relay's folder is not migrated: \(busy.stderr)")
        let before = try await ProcessRun.run("duet-relay", ["inspect", "--data", sqlite.data])
        #expect(await sqlite.terminate() == 0)

        let moved = try await ProcessRun.run("duet-relay", ["migrate", "--data", sqlite.data, "--postgres", url])
        #expect(moved.status == 0, "\(moved.stderr)")
        #expect(moved.stdout.contains("migrated 1 space(s), 50 envelope(s)") && moved.stdout.contains("verified"), "\(moved.stdout)")
        let after = try await ProcessRun.run("duet-relay", ["inspect", "--postgres", url])
        #expect(after.status == 0 && before.status == 0)
        #expect(after.stdout == before.stdout && after.stdout.contains("50 sealed envelope(s)"), "inspect: \(before.stdout) / \(after.stdout)")
        let again = try await ProcessRun.run("duet-relay", ["migrate", "--data", sqlite.data, "--postgres", url])
        #expect(again.status == 1 && again.stderr == "error: the PostgreSQL database already holds relay data; migrate into an empty database\n",
                "one line, not the transaction's error: \(again.stderr)")

        let postgres = try await RelayProcess(postgresURL: url)
        var onPostgres = RelayClient(base: postgres.base, device: alex.device)
        try await onPostgres.authenticate()
        let fetched = try await onPostgres.request("GET", path + "/envelopes?limit=100")
        #expect(try RelayMessages.decodeBatch(Array(fetched.body.dropFirst()), maximumCount: 100, maximumItemBytes: 1 << 20) == envelopes.map(\.bytes))
        let next = alex.envelope(space, key)
        #expect(try await onPostgres.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [next.bytes])).code == "device-forked")
        _ = await postgres.terminate()
    }

    @Test("migrate from a folder with no relay store, and inspect or migrate with a URL that is not postgres://: one clear line, non-zero, nothing touched")
    func badArguments() async throws {
        let url = try await TestPostgres.freshDatabase()
        let empty = NSTemporaryDirectory() + "duet-relay-empty-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let missing = try await ProcessRun.run("duet-relay", ["migrate", "--data", empty, "--postgres", url])
        #expect(missing.status == 1 && missing.stderr == "error: no relay store in \(empty) (relay.sqlite)\n", "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: empty), "no folder made for a store that is not there")
        for command in [["inspect"], ["migrate", "--data", empty]] {
            let run = try await ProcessRun.run("duet-relay", command + ["--postgres", "mysql://x/y"])
            #expect(run.status != 0 && run.stderr.contains("--postgres is not a postgres:// URL"), "\(command): \(run.stderr)")
        }
        let untouched = try await ProcessRun.run("duet-relay", ["inspect", "--postgres", url])
        #expect(untouched.stderr.contains("holds no relay's data"), "the failed migrate created no tables")
    }

    @Test("inspect on a database no relay has used is one clear line and exit 1, and writes nothing")
    func inspectEmpty() async throws {
        let url = try await TestPostgres.freshDatabase()
        let run = try await ProcessRun.run("duet-relay", ["inspect", "--postgres", url])
        #expect(run.status == 1 && run.stderr.hasPrefix("error: PostgreSQL at ") && run.stderr.contains("holds no relay's data"), "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1)
        let twice = try await ProcessRun.run("duet-relay", ["inspect", "--postgres", url])
        #expect(twice.stderr.contains("holds no relay's data"), "the first inspect created nothing")
    }

    @Test("A migrate that stops part-way leaves the database marked: a relay refuses to serve it, and migrate again says why; both one line and exit 1")
    func unfinishedMigrate() async throws {
        let sqlite = try await RelayProcess()
        var alex = RelayProcessTests.Member()
        let (client, space) = try await RelayProcessTests.personalSpace(sqlite, alex)
        let key = SymmetricKey.random()
        let envelopes = (0..<5).map { _ in alex.envelope(space, key) }
        #expect(try await client.request("POST", "/v1/spaces/\(RelayClient.hex(space))/envelopes", body: RelayMessages.encode(batch: envelopes.map(\.bytes))).status == 200)
        #expect(await sqlite.terminate() == 0)
        // The target holds a stray row for the space's counters (nothing the emptiness check
        // counts): the copy fails on that table, part-way, with the envelopes already there.
        let url = try await TestPostgres.freshDatabase()
        let schema = try await RelayProcess(postgresURL: url)
        _ = await schema.terminate()
        let logger = Logger(label: "test")
        let connection = try await PostgresConnection.connect(configuration: try PostgresLocation(url: url).connectionConfiguration, id: 1, logger: logger)
        try await connection.query("INSERT INTO spaces (space) VALUES (\(ByteBuffer(bytes: space.bytes)))", logger: logger)
        let failed = try await ProcessRun.run("duet-relay", ["migrate", "--data", sqlite.data, "--postgres", url])
        #expect(failed.status == 1 && failed.stderr.hasSuffix("the database is left marked unfinished, and relays refuse it: drop it, create it anew and migrate again\n")
                && failed.stderr.contains("error: duplicate key"), "\(failed.stderr)")
        var copied = 0
        for try await count in try await connection.query("SELECT count(*) FROM envelopes", logger: logger).decode(Int.self) { copied = count }
        try await connection.close()
        #expect(copied == 5, "the envelopes went in before the copy failed")
        let serve = try await ProcessRun.run("duet-relay", ["--port", "0", "--admin-port", "0", "--postgres", url])
        let lines = serve.stderr.split(separator: "\n")
        #expect(serve.status == 1 && lines.count == 1 && lines[0].contains("holds a `duet-relay migrate` that did not finish (from \(sqlite.data), started "),
                "\(serve.stderr)")
        let again = try await ProcessRun.run("duet-relay", ["migrate", "--data", sqlite.data, "--postgres", url])
        #expect(again.status == 1 && again.stderr.hasPrefix("error: an earlier migrate into this PostgreSQL database did not finish")
                && again.stderr.split(separator: "\n").count == 1, "\(again.stderr)")
        // inspect still shows what part of a store it holds (here: no membership log had gone
        // in), and says what it is.
        let inspected = try await ProcessRun.run("duet-relay", ["inspect", "--postgres", url])
        #expect(inspected.status == 0 && inspected.stderr.hasPrefix("warning: this database holds a `duet-relay migrate` that did not finish (from \(sqlite.data)")
                && inspected.stdout.isEmpty, "\(inspected.stderr) / \(inspected.stdout)")
        // Into a fresh database it finishes, and a relay serves it.
        let fresh = try await TestPostgres.freshDatabase()
        let moved = try await ProcessRun.run("duet-relay", ["migrate", "--data", sqlite.data, "--postgres", fresh])
        #expect(moved.status == 0, "\(moved.stderr)")
        let postgres = try await RelayProcess(postgresURL: fresh)
        #expect(postgres.isRunning)
        _ = await postgres.terminate()
    }

    @Test("migrate into a database a relay serves is refused before a row goes in (the relay would take writes among the copied rows and serve a store part-way); once it stops, it goes in")
    func migrateIntoServedDatabase() async throws {
        let sqlite = try await RelayProcess()
        let alex = RelayProcessTests.Member()
        _ = try await RelayProcessTests.personalSpace(sqlite, alex)
        #expect(await sqlite.terminate() == 0)
        let url = try await TestPostgres.freshDatabase()
        let serving = try await RelayProcess(postgresURL: url)
        let logger = Logger(label: "test")
        let connection = try await PostgresConnection.connect(configuration: try PostgresLocation(url: url).connectionConfiguration, id: 1, logger: logger)
        // Until its listener is in: serving, for a client, begins there.
        var listening = 0
        for _ in 0..<200 where listening == 0 {
            for try await count in try await connection.query(
                "SELECT count(*)::int8 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'", logger: logger).decode(Int.self) {
                listening = count
            }
            if listening == 0 { try await Task.sleep(for: .milliseconds(25)) }
        }
        #expect(listening == 1)
        let refused = try await ProcessRun.run("duet-relay", ["migrate", "--data", sqlite.data, "--postgres", url])
        #expect(refused.status == 1 && refused.stderr == "error: 1 relay process(es) serve this PostgreSQL database now; stop them, then migrate (a migrate goes into a database no relay serves)\n",
                "\(refused.stderr)")
        var marked = -1
        for try await count in try await connection.query("SELECT (SELECT count(*) FROM relay_import) + (SELECT count(*) FROM membership)", logger: logger).decode(Int.self) {
            marked = count
        }
        #expect(marked == 0, "nothing went in and nothing was marked")
        #expect(serving.isRunning)
        #expect(await serving.terminate() == 0)
        try await connection.close()
        let moved = try await ProcessRun.run("duet-relay", ["migrate", "--data", sqlite.data, "--postgres", url])
        #expect(moved.status == 0, "\(moved.stderr)")
    }

    @Test("An envelope held with a hash that is not its bytes' is refused by migrate's check (resends are told from forks by the hash there), not reported verified")
    func migrateDamagedHash() async throws {
        let sqlite = try await RelayProcess()
        var alex = RelayProcessTests.Member()
        let (client, space) = try await RelayProcessTests.personalSpace(sqlite, alex)
        let key = SymmetricKey.random()
        let envelopes = (0..<3).map { _ in alex.envelope(space, key) }
        #expect(try await client.request("POST", "/v1/spaces/\(RelayClient.hex(space))/envelopes", body: RelayMessages.encode(batch: envelopes.map(\.bytes))).status == 200)
        #expect(await sqlite.terminate() == 0)
        let file = try DatabaseQueue(path: sqlite.data + "/relay.sqlite")
        try await file.write { db in try db.execute(sql: "UPDATE envelopes SET hash = zeroblob(32) WHERE seq = 1") }
        try file.close()
        let url = try await TestPostgres.freshDatabase()
        let moved = try await ProcessRun.run("duet-relay", ["migrate", "--data", sqlite.data, "--postgres", url])
        #expect(moved.status == 1 && moved.stderr.contains("error: space \(Hex.encode(space.bytes)): the envelope at position 1 is held with a hash that is not its bytes' (the SQLite file is damaged)")
                && !moved.stdout.contains("verified"), "\(moved.stderr) / \(moved.stdout)")
    }
}
