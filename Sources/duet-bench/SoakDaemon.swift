import Foundation

/// A `duetd` for one home, restarted as often as the schedule says; its stdout and stderr go to
/// one log file across restarts (read for its `connected to` lines and for reports).
final class SoakDaemon {
    enum State: String { case running, stopped, paused }

    let executable: String
    let home: String
    let logPath: String
    let environment: [String: String]
    private var process: Process?
    private(set) var state = State.stopped
    private(set) var starts = 0

    init(executable: String, home: String, logPath: String, environment: [String: String]) {
        self.executable = executable
        self.home = home
        self.logPath = logPath
        self.environment = environment
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
    }

    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--home", home, "--maximum-backoff", "0.5", "--log-level", "warning"]
        process.environment = environment
        guard let log = FileHandle(forWritingAtPath: logPath) else { throw BenchFailure("cannot open \(logPath)") }
        _ = try log.seekToEnd()
        try log.write(contentsOf: Data("--- start \(starts + 1)\n".utf8))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? log.close()
        SoakChildren.started(process.processIdentifier, "duetd \(home)")
        self.process = process
        state = .running
        starts += 1
    }

    /// Whether it exited without being asked to, and how: nil while it runs as it should.
    var unexpectedExit: Int32? {
        guard state != .stopped, let process, !process.isRunning else { return nil }
        return process.terminationStatus
    }

    /// Forgets a process that exited by itself (after ``unexpectedExit`` reported it).
    func forgetExited() {
        if let process { SoakChildren.reaped(process.processIdentifier) }
        process = nil
        state = .stopped
    }

    func kill() {
        guard let process else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        SoakChildren.reaped(process.processIdentifier)
        self.process = nil
        state = .stopped
    }

    /// SIGTERM (SIGCONT first if paused); returns the exit status, or nil if it did not exit
    /// within `timeout` seconds (then it is killed).
    func terminate(timeout: Double = 20) -> Int32? {
        guard let process else { return 0 }
        if state == .paused { Foundation.kill(process.processIdentifier, SIGCONT) }
        Foundation.kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        while process.isRunning, ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.02) }
        let status: Int32? = process.isRunning ? nil : process.terminationStatus
        if status == nil { kill() } else {
            SoakChildren.reaped(process.processIdentifier)
            self.process = nil
            state = .stopped
        }
        return status
    }

    func pause() {
        guard let process, state == .running else { return }
        Foundation.kill(process.processIdentifier, SIGSTOP)
        state = .paused
    }

    func resume() {
        guard let process, state == .paused else { return }
        Foundation.kill(process.processIdentifier, SIGCONT)
        state = .running
    }

    /// The log's last `count` lines, for reports.
    func logTail(_ count: Int = 12) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(count).joined(separator: "\n")
    }

    /// Lines of the log at warning level or above (swift-log's `warning`/`error`/`critical`).
    func loggedProblems() -> [String] {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init).filter {
            $0.contains(" warning ") || $0.contains(" error ") || $0.contains(" critical ") || $0.hasPrefix("error:")
        }
    }
}
