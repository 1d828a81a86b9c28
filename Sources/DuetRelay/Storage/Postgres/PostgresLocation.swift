import Foundation
import NIOCore
import NIOSSL
public import PostgresNIO

/// Where the shared backend's database is, read from `--postgres URL`
/// (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|require|verify-full][&host=/socket/folder]`).
///
/// The password is never part of `description` (errors and logs print it): a URL without one
/// takes `PGPASSWORD`, as libpq does, so that it need not stand in the process list.
public struct PostgresLocation: Sendable, CustomStringConvertible {
    private enum Endpoint: Sendable {
        case tcp(host: String, port: Int)
        case socket(path: String)
    }

    private let endpoint: Endpoint
    private let user: String
    private let password: String?
    public let database: String
    /// Verified TLS when the URL asks for it (the default off this machine).
    private let tls: NIOSSLContext?
    private let tlsSettings: TLSConfiguration?
    /// The URL without its password.
    public let description: String

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// `PGPASSWORD` is read from this process's environment.
    public init(url text: String) throws(Invalid) {
        try self.init(url: text, environment: ProcessInfo.processInfo.environment)
    }

    public init(url text: String, environment: [String: String]) throws(Invalid) {
        func invalid(_ why: String) -> Invalid {
            Invalid(description: "--postgres \(why): it is postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, e.g. postgres://duet@127.0.0.1:5432/duet")
        }
        guard text.utf8.count <= 4096, let url = URLComponents(string: text), let scheme = url.scheme,
              scheme == "postgres" || scheme == "postgresql" else { throw invalid("is not a postgres:// URL") }
        guard let user = url.user, !user.isEmpty else { throw invalid("names no user") }
        let database = String(url.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else { throw invalid("names no database") }
        var query: [String: String] = [:]
        for item in url.queryItems ?? [] { query[item.name] = item.value ?? "" }
        for name in query.keys where name != "sslmode" && name != "host" {
            throw invalid("has an option this relay does not know (\(name))")
        }
        let port = url.port ?? 5432
        guard (1...65_535).contains(port) else { throw invalid("has a port outside 1–65535") }
        if let folder = query["host"] {
            guard folder.hasPrefix("/") else { throw invalid("host= must be a socket folder (an absolute path)") }
            endpoint = .socket(path: folder + "/.s.PGSQL.\(port)")
            tls = nil
            tlsSettings = nil
        } else {
            guard let host = url.host, !host.isEmpty else { throw invalid("names no host") }
            let loopback = ["127.0.0.1", "localhost", "::1"].contains(host)
            // A database across a network is reached over verified TLS unless told otherwise;
            // on this machine there is nobody in between to protect against.
            switch query["sslmode"] ?? (loopback ? "disable" : "require") {
            case "disable":
                tls = nil
                tlsSettings = nil
            case "require", "verify-full":
                // Both verify the server's certificate and its name (libpq's `require` checks
                // neither; this relay never takes TLS it has not verified).
                let settings = TLSConfiguration.makeClientConfiguration()
                do { tls = try NIOSSLContext(configuration: settings) } catch { throw invalid("asks for TLS, which cannot be set up here (\(error))") }
                tlsSettings = settings
            case let mode:
                throw Invalid(description: "--postgres sslmode=\(mode.prefix(40)) is not one this relay takes: disable, or require (the same as verify-full: the server's certificate and name are verified)")
            }
            endpoint = .tcp(host: host, port: port)
        }
        self.user = user
        self.password = url.password ?? environment["PGPASSWORD"]
        self.database = database
        var shown = url
        shown.password = nil
        description = shown.string ?? "postgres://\(user)@…/\(database)"
    }

    private init(copying other: PostgresLocation, database: String) {
        endpoint = other.endpoint
        user = other.user
        password = other.password
        tls = other.tls
        tlsSettings = other.tlsSettings
        self.database = database
        description = other.description.replacingOccurrences(of: "/\(other.database)", with: "/\(database)")
    }

    /// The same server's database `name` (tests make one per test).
    public func database(_ name: String) -> PostgresLocation { PostgresLocation(copying: self, database: name) }

    /// The pool's settings.
    var clientConfiguration: PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        switch endpoint {
        case .socket(let path):
            configuration = .init(unixSocketPath: path, username: user, password: password, database: database)
        case .tcp(let host, let port):
            configuration = .init(host: host, port: port, username: user, password: password, database: database,
                                  tls: tlsSettings.map { .require($0) } ?? .disable)
        }
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.additionalStartupParameters = Self.sessionSettings
        return configuration
    }

    /// What every pooled connection runs with, whatever the server's defaults (review of #17):
    /// a request must not wait on the database past RelayStorage's 10 s deadline — a Swift task
    /// cannot cancel a query PostgresNIO has sent, so the server must end it — and the rules
    /// assume READ COMMITTED (row locks wait; REPEATABLE READ would fail them) and acknowledge
    /// only durable commits.
    static let sessionSettings: [(String, String)] = [
        ("lock_timeout", "4s"),
        ("statement_timeout", "8s"),
        ("idle_in_transaction_session_timeout", "10s"),
        ("default_transaction_isolation", "read committed"),
        ("synchronous_commit", "on"),
        ("application_name", "duet-relay"),
    ]

    /// One connection of its own (the listener for notifications, the first check at start).
    public var connectionConfiguration: PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        switch endpoint {
        case .socket(let path):
            configuration = .init(unixSocketPath: path, username: user, password: password, database: database)
        case .tcp(let host, let port):
            configuration = .init(host: host, port: port, username: user, password: password, database: database,
                                  tls: tls.map { .require($0) } ?? .disable)
        }
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }
}
