public import DuetCrypto
public import DuetWire
import DuetHTTP
import Foundation
import Synchronization

/// A real `duet-relay` process on 127.0.0.1 with a free port and a temporary data folder.
public final class RelayProcess: @unchecked Sendable {
    public let data: String
    private var process: Process
    private var exit: ProcessExit
    private var output: PipeDrain?
    /// Where the relay's log (stderr) goes, for tests that read it.
    public let logPath: String
    public private(set) var port = 0
    /// The operator's listener (`/metrics`), on a port of its own.
    public private(set) var adminPort = 0
    public var base: String { "http://127.0.0.1:\(port)" }
    public var adminBase: String { "http://127.0.0.1:\(adminPort)" }

    /// Extra command-line options (limits) for every start.
    public let options: [String]

    /// The database a relay on PostgreSQL keeps everything in (another process can share it).
    public let postgresURL: String?

    /// - Parameters:
    ///   - backend: `.postgres` gives the relay a fresh database on the test server (TestPostgres).
    ///   - postgresURL: a database another relay uses already (two processes, one database).
    public init(data: String? = nil, options: [String] = [], backend: RelayBackendKind = .sqlite, postgresURL: String? = nil) async throws {
        self.data = data ?? NSTemporaryDirectory() + "duet-relay-process-" + UUID().uuidString
        var url = postgresURL
        if url == nil, backend == .postgres { url = try await TestPostgres.freshDatabase() }
        self.postgresURL = url
        self.options = options + (url.map { ["--postgres", $0] } ?? [])
        logPath = self.data + ".log"
        process = Process()
        exit = ProcessExit(process)
        try await start()
    }

    /// The relay's process id (benchmarks read its memory).
    public var processIdentifier: Int32 { process.processIdentifier }

    /// Whether the relay's process has not exited (a soak checks it did not die by itself).
    public var isRunning: Bool { process.processIdentifier != 0 && !exit.hasExited }

    /// Starts the relay and waits for its `listening on` and `admin listening on` lines (not a
    /// sleep: the lines are the readiness signal; 30 s is only a guard against a relay that
    /// never starts, which is then killed).
    /// `port` 0 picks a free one; a restart can ask for the port it had, so that clients that
    /// remember the relay's URL find it again.
    public func start(port requested: Int = 0) async throws {
        let process = Process()
        // `DUET_RELAY_BINARY` runs the tests against another build (an older relay, to check
        // that a test of a fix fails without it); `DUET_RELAY_LEGACY=1` for one from before the
        // admin listener, which prints one `listening on` line and serves /metrics publicly.
        let environment = ProcessInfo.processInfo.environment
        let legacy = environment["DUET_RELAY_LEGACY"] == "1"
        process.executableURL = environment["DUET_RELAY_BINARY"].map { URL(fileURLWithPath: $0) }
            ?? BuildProducts.folder(holding: "duet-relay").appendingPathComponent("duet-relay")
        process.arguments = ["--port", String(requested)] + (legacy ? [] : ["--admin-port", "0"])
            + ["--data", data, "--log-level", "warning"] + options
        let pipe = Pipe()
        process.standardOutput = pipe
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: logPath) ?? FileHandle.nullDevice
        let exit = ProcessExit(process)
        try process.run()
        let output = PipeDrain(pipe.fileHandleForReading)
        (self.process, self.exit, self.output) = (process, exit, output)
        let pid = process.processIdentifier
        let ready = Ready()
        DispatchQueue.global().asyncAfter(deadline: .now() + 30) {
            if !ready.flag.load(ordering: .acquiring) { Foundation.kill(pid, SIGKILL) }
        }
        defer { ready.flag.store(true, ordering: .releasing) }
        var lines: [String] = []
        func reported(after prefix: String) -> Int? {
            lines.first(where: { $0.hasPrefix(prefix) })?.split(separator: ":").last.flatMap { Int($0) }
        }
        while let line = await output.nextLine() {
            lines.append(line)
            if legacy, let relay = reported(after: "listening on ") {
                self.port = relay
                adminPort = relay
                return
            }
            if let relay = reported(after: "listening on "), let admin = reported(after: "admin listening on ") {
                self.port = relay
                adminPort = admin
                return
            }
        }
        throw RelayTestFailure("duet-relay did not report a port")
    }

    /// SIGTERM, then suspends until the relay exited; its status.
    public func terminate() async -> Int32 {
        process.terminate()
        return await exit.status
    }

    /// Sends `signal` (SIGSTOP and SIGCONT pause and resume the relay).
    public func signal(_ signal: Int32) { Foundation.kill(process.processIdentifier, signal) }

    /// SIGKILL, then suspends until the relay is gone (its port free again).
    public func kill() async {
        Foundation.kill(process.processIdentifier, SIGKILL)
        _ = await exit.status
    }

    deinit {
        // Nothing waits here: the termination handler reaps the child.
        if isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: data)
        try? FileManager.default.removeItem(atPath: logPath)
    }
}

private final class Ready: Sendable {
    let flag = Atomic(false)
}

public struct RelayTestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A minimal HTTP client for the relay's surface, as a second implementation would write it
/// from SPEC § 6.5.
public struct RelayClient: Sendable {
    public let base: String
    public let device: SigningKey
    public var token: [UInt8] = []
    /// The origin signed during authentication: `base` unless the relay runs behind a proxy
    /// under another URL (`--public-url`).
    public var origin: String

    public init(base: String, device: SigningKey, origin: String? = nil) {
        self.base = base
        self.device = device
        self.origin = origin ?? base
    }

    public struct Reply: Sendable {
        public let status: Int
        public let body: [UInt8]
        /// Header names lower-cased.
        public let headers: [String: String]
        public var text: String { String(decoding: body, as: UTF8.self) }
        public var code: String? {
            (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["code"] as? String
        }
    }

    /// The same bounded client the devices use (AsyncHTTPClient): a test request ends within a
    /// minute whatever the relay does, instead of waiting in URLSession's `select` for ever.
    public func request(_ method: String, _ path: String, body: [UInt8]? = nil, authorised: Bool = true,
                        headers: [(String, String)] = [], timeout: Duration = .seconds(60)) async throws -> Reply {
        var fields = headers
        if authorised, !token.isEmpty { fields.append(("Authorization", "Bearer " + Hex.encode(token))) }
        let reply = try await BoundedHTTPClient.send(method, base + path, headers: fields, body: body,
                                                     limits: .init(request: timeout, maximumReplyBytes: 64 << 20))
        return Reply(status: reply.status, body: reply.body, headers: reply.headers)
    }

    /// Challenge, signature, session. A challenge that expired before it was answered — the
    /// whole test suite shares two cores, and a task can wait its turn for over a minute —
    /// earns a fresh one, up to three times; any other refusal fails at once.
    public mutating func authenticate() async throws {
        for attempt in 1...3 {
            let challenge = try await request("POST", "/v1/auth/challenge", body: device.verifyingKey.bytes, authorised: false)
            guard challenge.status == 200 else { throw RelayTestFailure("challenge: \(challenge.status) \(challenge.text)") }
            let message = RelayMessages.authenticationMessage(origin: origin, challenge: challenge.body)
            let signature = device.signature(for: message)
            let session = try await request("POST", "/v1/auth/session", body: device.verifyingKey.bytes + challenge.body + signature.bytes, authorised: false)
            if session.status == 401, session.text.contains("\"unauthenticated\""), attempt < 3 { continue }
            guard session.status == 200 else { throw RelayTestFailure("session: \(session.status) \(session.text)") }
            token = session.body
            return
        }
    }

    public static func hex(_ space: SpaceID) -> String { Hex.encode(space.bytes) }
}
