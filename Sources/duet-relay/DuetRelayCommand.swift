import ArgumentParser
import DuetRelay
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// `duet-relay`: the untrusted relay (CLI.md). Runs until SIGTERM or SIGINT, then shuts down
/// gracefully. Prints `listening on HOST:PORT` once ready (port 0 picks a free one).
@main
struct DuetRelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duet-relay",
        abstract: "Store and forward Duet envelopes it cannot read.",
        subcommands: [ServeCommand.self, InspectCommand.self, MigrateCommand.self],
        defaultSubcommand: ServeCommand.self)
}

/// Prints what a relay's store holds, as its operator sees it.
struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what the relay holds: spaces, member devices, sealed envelopes (it has no key to open them).")

    @Option(help: "The relay's data folder.") var data = "./duet-relay-data"
    @Option(help: ArgumentHelp("Inspect this PostgreSQL database instead (the relay's --postgres).", valueName: "url")) var postgres: String?

    func validate() throws {
        if let postgres {
            do { _ = try PostgresLocation(url: postgres) } catch { throw ValidationError(error.description) }
        }
    }

    func run() async throws {
        let inspection: RelayInspection
        if let postgres {
            inspection = try await ServeCommand.exitingOnBackendFailure { try await RelayInspection(postgres: try PostgresLocation(url: postgres)) }
        } else {
            do { inspection = try RelayInspection(directory: data) } catch {
                FileHandle.standardError.write(Data("error: cannot read the relay store in \(data): \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
        if let unfinished = inspection.unfinishedImport {
            FileHandle.standardError.write(Data("warning: this database holds a `duet-relay migrate` that did not finish (\(unfinished)); relays refuse to serve it, and what follows is part of a store\n".utf8))
        }
        for space in inspection.spaces {
            print("space \(space.id): \(space.identities) identit\(space.identities == 1 ? "y" : "ies"), devices \(space.devices.joined(separator: ", ")), "
                  + "\(space.wrappedKeys) wrapped key(s), \(space.envelopes) sealed envelope(s), \(space.envelopeBytes) bytes")
        }
    }
}

/// Moves a SQLite relay into PostgreSQL (issue #17) and checks every envelope arrived.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Move a stopped SQLite relay's data into an empty PostgreSQL database, then check that every envelope arrived.",
        discussion: "The SQLite store is only read, and the relay must be stopped (its folder is locked meanwhile). Sessions and pairing mailboxes are not moved: clients sign in again. Then serve with --postgres URL.")

    @Option(help: "The SQLite relay's data folder.") var data = "./duet-relay-data"
    @Option(help: ArgumentHelp("The empty PostgreSQL database to move it into.", valueName: "url")) var postgres: String

    func validate() throws {
        do { _ = try PostgresLocation(url: postgres) } catch { throw ValidationError(error.description) }
    }

    func run() async throws {
        func fail(_ message: String) -> ExitCode {
            FileHandle.standardError.write(Data("error: \(message)\n".utf8))
            return ExitCode(1)
        }
        guard FileManager.default.fileExists(atPath: data + "/relay.sqlite") else { throw fail("no relay store in \(data) (relay.sqlite)") }
        // A relay still serving the folder would take appends the copy misses.
        let lock: DataFolderLock
        do { lock = try DataFolderLock(folder: data) } catch { throw fail("\(error)") }
        let location = try PostgresLocation(url: postgres)
        let report: RelayMigration.Report
        do {
            report = try await ServeCommand.exitingOnBackendFailure {
                try await RelayMigration.sqliteToPostgres(directory: data, location: location) { line in
                    FileHandle.standardError.write(Data("migrate: \(line)\n".utf8))
                }
            }
        } catch let error as RelayMigration.Mismatch {
            throw fail(error.description)
        } catch let error as ExitCode {
            throw error
        } catch {
            // The SQLite file unreadable, or anything else: one line, never a dump of the error.
            throw fail("the migrate stopped: \(String("\(error)".prefix(300)).replacingOccurrences(of: "\n", with: " "))")
        }
        withExtendedLifetime(lock) {}
        print("migrated \(report.spaces) space(s), \(report.envelopes) envelope(s) (\(report.envelopeBytes) bytes), "
              + "\(report.membershipRecords) membership record(s), \(report.recoveryBlobs) recovery blob(s) into \(location)")
        print("verified: every envelope, membership record and recovery blob, every head, space counter, fork evidence and space creator is in PostgreSQL as in SQLite; serve with --postgres")
    }
}

struct ServeCommand: AsyncParsableCommand {
    /// A store that cannot be used (PostgreSQL unreachable, refusing the user, migrated by a
    /// newer relay) is one line on standard error and exit status 1, not a stack of errors.
    static func exitingOnBackendFailure<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as RelayBackendUnavailable {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(1)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the sync protocol (the default).",
        discussion: "Every cap below bounds what a stranger with a freshly generated key can make the relay hold or do; SPEC § 6.6 argues each default.")

    @Option(help: "Address to listen on (0.0.0.0 for every interface).") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one).") var port = 8479
    @Option(help: ArgumentHelp("The URL clients use to reach this relay, e.g. https://relay.example.org behind a TLS proxy.",
                               discussion: "Clients sign it when they authenticate, so it must be exactly what they are configured with. Default: http://HOST:PORT."))
    var publicURL: String?
    @Option(help: "Address of the operator's listener (/metrics, /healthz); keep it private.") var adminHost = "127.0.0.1"
    @Option(help: "Port of the operator's listener (0 picks a free one).") var adminPort = 8480
    @Option(help: "Folder for the embedded SQLite store (relay.sqlite).") var data = "./duet-relay-data"
    @Option(help: ArgumentHelp("Keep everything in this PostgreSQL database instead, shared with other relay processes: postgres://USER@HOST[:PORT]/DATABASE.",
                               discussion: "Several duet-relay processes given one database serve the same couples: appends through one reach live devices on the others. A password is taken from PGPASSWORD (a URL's password would stand in the process list). Off this machine the connection uses verified TLS (?sslmode=disable turns it off).",
                               valueName: "url"))
    var postgres: String?
    @Option(help: "Connections to PostgreSQL this process keeps at most.") var postgresPoolSize = 16
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @Option(help: "Largest request body in bytes.") var maxRequestBytes = 8 << 20
    @Option(help: "Largest envelope in bytes (at most the protocol's 2 MiB of sealed content).") var maxEnvelopeBytes = (2 << 20) + 256
    @Option(help: "Most envelope bytes one space may hold (fork evidence included).") var spaceQuotaBytes = 1 << 30
    @Option(help: "Appends per second a device may make on average.") var appendsPerSecond = 100.0
    @Option(help: "Appends a device may burst above that rate (also the largest batch it may send).") var appendBurst = 200.0
    @Option(help: "Live (WebSocket) connections one device may hold at once.") var liveConnectionsPerDevice = 4
    @Option(help: "Sessions one device may hold at once (a new one ends the oldest).") var sessionsPerDevice = 16
    @Option(help: "Sessions held in all (a new one ends the oldest anywhere).") var maxSessions = 200_000
    @Option(help: "Pairing and linking mailbox bytes held in all (in memory; in the database with --postgres).") var mailboxBytes = 64 << 20
    @Option(help: "Mailbox bytes one device may have waiting.") var mailboxBytesPerDevice = 256 << 10
    @Option(help: "Recovery slots one identity may own.") var recoverySlotsPerIdentity = 4
    @Option(help: "Recovery slots the relay holds in all.") var maxRecoverySlots = 100_000
    @Option(help: "Spaces one identity may create.") var spacesPerIdentity = 8
    @Option(help: "Membership records one space may hold.") var membershipRecordsPerSpace = 10_000
    @Option(help: "Membership records (and recovery puts) per second a device may post on average.") var membershipPerSecond = 2.0
    @Option(help: "Membership records a device may burst above that rate.") var membershipBurst = 64.0
    @Option(help: "New spaces per second over the whole relay.") var spacesPerSecond = 5.0
    @Option(help: "New spaces the relay may accept in a burst above that rate.") var spacesBurst = 100.0
    @Option(help: "Most envelope bytes in one fetch reply (one envelope always fits).") var maxPageBytes = 8 << 20
    @Option(help: "TCP connections the public port holds at once; more are closed unread.") var maxConnections = 10_000
    @Option(help: "Seconds a new connection has to send its first request head (slow clients).") var requestHeadTimeout = 10
    @Option(help: "Seconds an HTTP connection may sit idle before it is closed.") var idleTimeout = 60
    @Option(help: "Seconds a request body may take to arrive whole.") var requestBodyTimeout = 30
    @Option(help: "Request body bytes the relay reads at once, over all connections.") var bodyBytesInFlight = 256 << 20
    @Option(help: "Network event-loop threads (default: one per core).") var eventLoopThreads: Int?

    func validate() throws {
        if let publicURL {
            guard publicURL.hasPrefix("http://") || publicURL.hasPrefix("https://"), !publicURL.contains(" "),
                  URL(string: publicURL)?.host != nil else {
                throw ValidationError("--public-url must be an http:// or https:// URL, e.g. https://relay.example.org")
            }
        }
        let counts = [("--max-sessions", maxSessions), ("--sessions-per-device", sessionsPerDevice), ("--mailbox-bytes", mailboxBytes),
                      ("--mailbox-bytes-per-device", mailboxBytesPerDevice), ("--recovery-slots-per-identity", recoverySlotsPerIdentity), ("--max-recovery-slots", maxRecoverySlots),
                      ("--spaces-per-identity", spacesPerIdentity), ("--membership-records-per-space", membershipRecordsPerSpace),
                      ("--live-connections-per-device", liveConnectionsPerDevice), ("--max-request-bytes", maxRequestBytes),
                      ("--space-quota-bytes", spaceQuotaBytes), ("--max-envelope-bytes", maxEnvelopeBytes),
                      ("--max-connections", maxConnections), ("--request-head-timeout", requestHeadTimeout), ("--idle-timeout", idleTimeout),
                      ("--request-body-timeout", requestBodyTimeout), ("--body-bytes-in-flight", bodyBytesInFlight)]
        for (name, value) in counts where value < 1 { throw ValidationError("\(name) must be at least 1") }
        let rates = [("--appends-per-second", appendsPerSecond), ("--append-burst", appendBurst), ("--membership-per-second", membershipPerSecond),
                     ("--membership-burst", membershipBurst), ("--spaces-per-second", spacesPerSecond), ("--spaces-burst", spacesBurst)]
        for (name, value) in rates where !(value > 0 && value.isFinite) { throw ValidationError("\(name) must be a positive number") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level is one of trace, debug, info, notice, warning, error, critical")
        }
        guard maxRequestBytes >= min(maxEnvelopeBytes, (2 << 20) + 256) + 16 else {
            throw ValidationError("--max-request-bytes must hold at least one envelope: at least --max-envelope-bytes + 16 (\(min(maxEnvelopeBytes, (2 << 20) + 256) + 16))")
        }
        guard port == 0 || port != adminPort else { throw ValidationError("--port and --admin-port must differ") }
        for (name, seconds) in [("--request-head-timeout", requestHeadTimeout), ("--idle-timeout", idleTimeout), ("--request-body-timeout", requestBodyTimeout)]
        where seconds > 86_400 {
            throw ValidationError("\(name) is at most 86400 seconds")
        }
        guard membershipRecordsPerSpace <= 10_000 else { throw ValidationError("--membership-records-per-space is at most 10000 (what clients read)") }
        guard (64 << 10)...(16 << 20) ~= maxPageBytes else { throw ValidationError("--max-page-bytes must be from 65536 to 16777216 (clients refuse larger replies)") }
        for (name, value) in [("--port", port), ("--admin-port", adminPort)] where !(0...65_535).contains(value) {
            throw ValidationError("\(name) must be from 0 to 65535")
        }
        if let eventLoopThreads, !(1...256).contains(eventLoopThreads) { throw ValidationError("--event-loop-threads must be from 1 to 256") }
        guard (2...1000).contains(postgresPoolSize) else { throw ValidationError("--postgres-pool-size must be from 2 to 1000") }
        if let postgres {
            do { _ = try PostgresLocation(url: postgres) } catch { throw ValidationError(error.description) }
        }
    }

    func run() async throws {
        var logger = Logger(label: "duet-relay")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        var configuration = RelayServer.Configuration()
        configuration.host = host
        configuration.port = port
        configuration.publicURL = publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        configuration.adminHost = adminHost
        configuration.adminPort = adminPort
        configuration.dataDirectory = data
        if let postgres { configuration.postgres = try PostgresLocation(url: postgres) }
        configuration.postgresPoolSize = postgresPoolSize
        configuration.maximumRequestBytes = maxRequestBytes
        configuration.limits.maximumEnvelopeBytes = min(maxEnvelopeBytes, (2 << 20) + 256)
        configuration.spaceQuotaBytes = spaceQuotaBytes
        configuration.limits.appendsPerSecond = appendsPerSecond
        configuration.limits.appendBurst = appendBurst
        configuration.limits.maximumSessions = maxSessions
        configuration.limits.sessionsPerDevice = sessionsPerDevice
        configuration.limits.mailboxBytes = mailboxBytes
        configuration.limits.mailboxBytesPerDevice = mailboxBytesPerDevice
        configuration.limits.recoverySlotsPerIdentity = recoverySlotsPerIdentity
        configuration.limits.maximumRecoverySlots = maxRecoverySlots
        configuration.limits.spacesPerIdentity = spacesPerIdentity
        configuration.limits.membershipRecordsPerSpace = membershipRecordsPerSpace
        configuration.limits.membershipPerSecond = membershipPerSecond
        configuration.limits.membershipBurst = membershipBurst
        configuration.limits.spacesPerSecond = spacesPerSecond
        configuration.limits.spacesBurst = spacesBurst
        configuration.limits.maximumPageBytes = maxPageBytes
        configuration.liveConnectionsPerDevice = liveConnectionsPerDevice
        configuration.maximumConnections = maxConnections
        configuration.requestHeadTimeoutSeconds = requestHeadTimeout
        configuration.idleTimeoutSeconds = idleTimeout
        configuration.requestBodyTimeoutSeconds = requestBodyTimeout
        configuration.bodyBytesInFlight = max(bodyBytesInFlight, maxRequestBytes)
        configuration.eventLoopThreads = eventLoopThreads
        let loopback: Set<String> = ["127.0.0.1", "localhost", "::1"]
        if publicURL == nil, !loopback.contains(host) {
            // Clients sign the origin they use; on 0.0.0.0 or behind a proxy that is not this.
            FileHandle.standardError.write(Data("warning: without --public-url no client can sign in unless it uses exactly http://\(host):\(port); set --public-url to the URL clients use\n".utf8))
        }
        if !loopback.contains(adminHost) {
            FileHandle.standardError.write(Data("warning: --admin-host \(adminHost) serves /metrics beyond this machine; metrics tell when and how much people write: keep it private\n".utf8))
        }
        // One relay per data folder: two would judge appends against each other's heads. On
        // PostgreSQL any number share the database (its transactions decide, not a folder).
        var lock: DataFolderLock?
        if postgres == nil {
            do { lock = try DataFolderLock(folder: data) } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
        let host = self.host, adminHost = self.adminHost
        let ready = ReadyLines()
        let (relay, admin, backend) = try await Self.exitingOnBackendFailure {
            try await RelayServer.applications(configuration: configuration, logger: logger, onListening: { port in
                await ready.listening("listening on \(host):\(port)")
            }, onAdminListening: { port in
                await ready.admin("admin listening on \(adminHost):\(port)")
            })
        }
        // Graceful shutdown waits for requests in flight, then gives up on stragglers (a client
        // that never finishes its request must not hold the relay's exit).
        var groupConfiguration = ServiceGroupConfiguration(services: [relay, admin], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(5)
        groupConfiguration.maximumCancellationDuration = .seconds(5)
        do {
            try await ServiceGroup(configuration: groupConfiguration).run()
        } catch let error where "\(error)".contains("Address already in use") {
            FileHandle.standardError.write(Data("error: cannot listen: \(host):\(port) or \(adminHost):\(adminPort) is already in use (another relay or program holds it; --port and --admin-port choose others)\n".utf8))
            await backend.close()
            throw ExitCode(1)
        }
        await backend.close()
        withExtendedLifetime(lock) {}
    }
}

/// Prints the readiness lines only once both listeners are up, public first: a script that
/// waits for `listening on` must not be told the relay is ready when its admin port then
/// fails to bind. Written straight to the descriptor (unbuffered): tests and scripts wait for them.
actor ReadyLines {
    private var public_: String?
    private var admin_: String?

    func listening(_ line: String) { public_ = line; flush() }
    func admin(_ line: String) { admin_ = line; flush() }

    private func flush() {
        guard let publicLine = public_, let adminLine = admin_ else { return }
        FileHandle.standardOutput.write(Data("\(publicLine)\n\(adminLine)\n".utf8))
    }
}

/// An exclusive lock on `DIR/relay.lock`, held while the relay serves the folder.
final class DataFolderLock: Sendable {
    private let descriptor: Int32

    init(folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let path = folder + "/relay.lock"
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw LockFailure(description: "cannot open \(path)") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw LockFailure(description: "another duet-relay is already serving \(folder); stop it first, or give this one another --data folder")
        }
    }

    deinit { close(descriptor) }

    struct LockFailure: Error, CustomStringConvertible { let description: String }
}
