import Dispatch
import Foundation
import Synchronization

/// Every process the soak started and has not yet reaped, so that every way out — the end, an
/// error, SIGINT/SIGTERM/SIGHUP, the soak's own hard deadline — kills them all. (A SIGKILL of the
/// soak itself cannot be caught: its children then live on in its temporary folder.)
enum SoakChildren {
    private static let live = Mutex<[Int32: String]>([:])
    private static let cleanups = Mutex<[@Sendable () -> Void]>([])
    /// Kept alive for the run; written once, by the soak's thread, before any signal is handled.
    nonisolated(unsafe) private static var signalSources: [any DispatchSourceSignal] = []

    static func started(_ pid: Int32, _ what: String) { live.withLock { $0[pid] = what } }
    static func reaped(_ pid: Int32) { _ = live.withLock { $0.removeValue(forKey: pid) } }

    /// Run at the end, after the children are killed (removing the temporary folder).
    static func onCleanup(_ body: @escaping @Sendable () -> Void) { cleanups.withLock { $0.append(body) } }

    /// SIGKILLs every child still registered (a stopped one dies too), then runs the clean-ups.
    static func killAll() {
        let pids = live.withLock { state in defer { state = [:] }; return Array(state.keys) }
        for pid in pids { kill(pid, SIGKILL) }
        let bodies = cleanups.withLock { state in defer { state = [] }; return state }
        for body in bodies { body() }
    }

    /// On SIGINT, SIGTERM or SIGHUP, and at `deadline` (a guard: the soak plans its own end and
    /// never needs it), kill everything and exit non-zero.
    static func installGuards(deadline: Duration) {
        let queue = DispatchQueue(label: "duet-bench.soak.guard")
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                FileHandle.standardError.write(Data("soak: signal \(number); killing every process it started\n".utf8))
                killAll()
                exit(128 + number)
            }
            source.resume()
            sources.append(source)
        }
        signalSources = sources
        let seconds = Double(deadline.components.seconds)
        queue.asyncAfter(deadline: .now() + seconds) {
            FileHandle.standardError.write(Data("soak: past its hard deadline (\(Int(seconds)) s); killing every process it started\n".utf8))
            killAll()
            exit(3)
        }
    }
}

/// A finished command: its status (or nil if it outlived its timeout and was killed) and output.
struct SoakCommandResult: Sendable {
    let status: Int32?
    let stdout: String
    let stderr: String
    let seconds: Double

    var succeeded: Bool { status == 0 }
    /// The last line of stderr, for reports (the CLI's failures are one `error: …` line).
    var errorLine: String {
        let line = stderr.split(separator: "\n").last.map(String.init) ?? ""
        return status == nil ? "timed out after \(Int(seconds)) s and was killed; \(line)" : line
    }
}

/// Runs a built executable to its end, or kills it at `timeout`: no command of the soak can hang it.
func runCommand(_ executable: String, _ arguments: [String], environment: [String: String], timeout: Double) throws -> SoakCommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = environment
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    let start = ContinuousClock.now
    try process.run()
    let pid = process.processIdentifier
    SoakChildren.started(pid, executable)
    let timedOut = SoakBox(false)
    let killer = DispatchWorkItem {
        timedOut.set(true)
        kill(pid, SIGKILL)
    }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
    // Both pipes to the end before waiting, so a chatty command cannot block on a full pipe.
    let errData = SoakBox(Data())
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData.set(err.fileHandleForReading.readDataToEndOfFile())
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    killer.cancel()
    SoakChildren.reaped(pid)
    let elapsed = ContinuousClock.now - start
    return SoakCommandResult(status: timedOut.value ? nil : process.terminationStatus,
                             stdout: String(decoding: outData, as: UTF8.self),
                             stderr: String(decoding: errData.value, as: UTF8.self),
                             seconds: soakSeconds(elapsed))
}

/// A value shared between the soak's thread and a dispatch queue.
final class SoakBox<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    var value: Value { mutex.withLock { $0 } }
    func set(_ value: Value) { mutex.withLock { $0 = value } }
}

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
