public import DuetRelay
import DuetCrypto
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The two relay backends, for tests that run once per backend (issue #17).
public enum RelayBackendKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres
    public var description: String { rawValue }
}

/// The PostgreSQL server the tests use: `DUET_TEST_POSTGRES_URL` (`.ci/run` starts a throwaway
/// cluster and sets it), or else a throwaway cluster this test process starts itself with
/// `.ci/postgres-cluster` and stops at exit, so the README's test command needs nothing more
/// than the server's binaries. Each test gets a database of its own.
public enum TestPostgres {
    private static let started = Mutex<String?>(nil)
    private static let startedFolder = Mutex<String?>(nil)

    /// The server's URL (its `postgres` database), starting a cluster the first time if needed.
    public static func serverURL() throws -> String {
        if let url = ProcessInfo.processInfo.environment["DUET_TEST_POSTGRES_URL"], !url.isEmpty { return url }
        return try started.withLock { url in
            if let url { return url }
            let folder = NSTemporaryDirectory() + "duet-test-postgres-" + UUID().uuidString
            let script = PrivatePostgresCluster.scriptPath
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = [script, "start", folder]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let bytes = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard process.terminationStatus == 0, text.hasPrefix("postgres://") else {
                throw RelayTestFailure("the PostgreSQL tests need a server: set DUET_TEST_POSTGRES_URL, or install PostgreSQL's server (apt-get install postgresql) for .ci/postgres-cluster")
            }
            startedFolder.withLock { $0 = folder }
            atexit {
                guard let folder = TestPostgres.startedFolder.withLock({ $0 }) else { return }
                let stop = Process()
                stop.executableURL = URL(fileURLWithPath: "/bin/bash")
                stop.arguments = [PrivatePostgresCluster.scriptPath, "stop", folder]
                try? stop.run()
                stop.waitUntilExit()
            }
            url = text
            return text
        }
    }

    /// A new, empty database on the server (the test server unless `server` names another); its URL.
    public static func freshDatabase(server given: String? = nil) async throws -> String {
        let server = try given ?? serverURL()
        let location = try PostgresLocation(url: server)
        let name = "duet_test_" + Hex.encode(RandomBytes.make(count: 8))
        let logger = Logger(label: "duet-test-postgres")
        let connection = try await PostgresConnection.connect(configuration: location.connectionConfiguration, id: 0, logger: logger)
        do {
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        } catch {
            try? await connection.close()
            throw RelayTestFailure("could not create a test database: \(String(reflecting: error))")
        }
        try? await connection.close()
        guard let base = server.range(of: "/", options: .backwards) else { throw RelayTestFailure("a server URL without a database: \(server)") }
        return String(server[..<base.lowerBound]) + "/" + name + String(server[base.upperBound...].drop { $0 != "?" })
    }
}

/// A PostgreSQL server of one test's own, which the test may stop and start again (a fault
/// test's outage): `.ci/postgres-cluster` in a temporary folder, removed by ``remove()``.
public final class PrivatePostgresCluster: Sendable {
    public let url: String
    private let folder: String

    /// - Parameter fsync: durable commits, as in production (benchmarks); tests run without.
    public init(fsync: Bool = false) async throws {
        folder = NSTemporaryDirectory() + "duet-test-cluster-" + UUID().uuidString
        let run = try await ProcessRun.run("/bin/bash", [Self.scriptPath, "start", folder], environment: ["POSTGRES_CLUSTER_FSYNC": fsync ? "on" : "off"],
                                           timeout: .seconds(120))
        guard run.status == 0, run.stdout.hasPrefix("postgres://") else {
            throw RelayTestFailure("could not start a PostgreSQL cluster: \(run.stderr)")
        }
        url = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Stops the server (fast shutdown: sessions are cut), keeping its data.
    public func down() async throws { try await Self.require(Self.script("down", folder)) }

    /// Starts it again on the same port.
    public func up() async throws { try await Self.require(Self.script("up", folder)) }

    /// Stops it and removes its folder.
    public func remove() async { _ = try? await Self.script("stop", folder) }

    static var scriptPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".ci/postgres-cluster").path
    }

    private static func script(_ command: String, _ folder: String) async throws -> ProcessRun {
        try await ProcessRun.run("/bin/bash", [scriptPath, command, folder], timeout: .seconds(120))
    }

    private static func require(_ run: ProcessRun) throws {
        guard run.status == 0 else { throw RelayTestFailure("postgres-cluster: \(run.stderr)") }
    }
}

/// A relay storage and access store of either backend, in a fresh folder or database.
public struct TestRelayBackend: Sendable {
    public let kind: RelayBackendKind
    public let storage: any RelayStorage
    /// Nil for the memory store RelayService makes by default.
    public let access: (any RelayAccessStore)?
    /// The PostgreSQL database's URL (another process can share it).
    public let postgresURL: String?
    private let folder: String?
    private let postgres: PostgresRelayStorage?

    public static func make(_ kind: RelayBackendKind, spaceQuotaBytes: Int = 1 << 30, postgresURL: String? = nil) async throws -> TestRelayBackend {
        switch kind {
        case .sqlite:
            let folder = NSTemporaryDirectory() + "duet-relay-test-" + UUID().uuidString
            return TestRelayBackend(kind: kind, storage: try SQLiteRelayStorage(directory: folder, spaceQuotaBytes: spaceQuotaBytes), access: nil,
                                    postgresURL: nil, folder: folder, postgres: nil)
        case .postgres:
            let url: String
            if let postgresURL { url = postgresURL } else { url = try await TestPostgres.freshDatabase() }
            let storage = try await PostgresRelayStorage.connect(try PostgresLocation(url: url), spaceQuotaBytes: spaceQuotaBytes, poolSize: 8)
            return TestRelayBackend(kind: kind, storage: storage, access: PostgresAccessStore(storage: storage), postgresURL: url,
                                    folder: nil, postgres: storage)
        }
    }

    /// Closes the pool and removes the folder (the throwaway cluster keeps the database).
    public func close() async {
        await postgres?.close()
        if let folder { try? FileManager.default.removeItem(atPath: folder) }
    }
}
