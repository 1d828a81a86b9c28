import Foundation
import Synchronization

/// Waiting for child processes without holding a thread of Swift's cooperative pool (issue #15
/// item 6). That pool has one thread per core — two on CI — so a test that sat in
/// `waitUntilExit()` or `DispatchGroup.wait()` kept every other test off that core until its
/// child exited, and two of them stopped the whole run. Here the blocking reads happen on
/// Dispatch threads of their own (serial queues created here target the overcommitting root
/// queue: a blocked reader never starves the next), the exit arrives through
/// `Process.terminationHandler`, and a task waits for either by suspending.

/// A process's exit status, awaited. Made before `run()`: it installs the termination handler.
final class ProcessExit: Sendable {
    private struct State {
        var status: Int32?
        var waiters: [CheckedContinuation<Int32, Never>] = []
    }
    private let state = Mutex(State())

    init(_ process: Process) {
        precondition(!process.isRunning, "the termination handler goes in before the process runs")
        process.terminationHandler = { [self] finished in
            let status = finished.terminationStatus
            let waiters = state.withLock { state in
                state.status = status
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: status) }
        }
    }

    /// Whether the process has exited (its handler ran).
    var hasExited: Bool { state.withLock { $0.status != nil } }

    /// Suspends until the process exits; its termination status.
    var status: Int32 {
        get async {
            await withCheckedContinuation { continuation in
                let known = state.withLock { state -> Int32? in
                    if let status = state.status { return status }
                    state.waiters.append(continuation)
                    return nil
                }
                if let known { continuation.resume(returning: known) }
            }
        }
    }
}

/// Everything a pipe carries, read to its end on a Dispatch thread from the moment it is made;
/// a task can await the first line or the end.
final class PipeDrain: Sendable {
    private struct State {
        var data = Data()
        /// Bytes before this offset were handed out already (the first line).
        var consumed = 0
        var ended = false
        var waiters: [Waiter] = []
    }
    private struct Waiter {
        let wantsLine: Bool
        let continuation: CheckedContinuation<Void, Never>
    }
    private let state = Mutex(State())

    init(_ handle: FileHandle) {
        DispatchQueue(label: "duet.testing.pipe-drain").async { [self] in
            while true {
                let chunk = handle.availableData
                let ready = state.withLock { state -> [Waiter] in
                    if chunk.isEmpty { state.ended = true } else { state.data.append(chunk) }
                    let hasLine = state.data[state.consumed...].contains(UInt8(ascii: "\n"))
                    let ready = state.waiters.filter { state.ended || ($0.wantsLine && hasLine) }
                    state.waiters.removeAll { state.ended || ($0.wantsLine && hasLine) }
                    return ready
                }
                for waiter in ready { waiter.continuation.resume() }
                if chunk.isEmpty {
                    // Closed here, at the end: the Process keeps its Pipe (and so this
                    // descriptor) for as long as it lives, and a test run that leaked hundreds of
                    // them made Foundation's Process.run() crash reading /proc/self/fd
                    // (swift-corelibs-foundation#5472: an over-read once the listing fills
                    // glibc's buffer).
                    try? handle.close()
                    return
                }
            }
        }
    }

    private func wait(forLine: Bool) async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Bool in
                if state.ended || (forLine && state.data[state.consumed...].contains(UInt8(ascii: "\n"))) { return true }
                state.waiters.append(Waiter(wantsLine: forLine, continuation: continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// The next line not handed out yet, without its newline; nil if the pipe ended first.
    func nextLine() async -> String? {
        await wait(forLine: true)
        return state.withLock { state -> String? in
            guard let newline = state.data[state.consumed...].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
            defer { state.consumed = newline + 1 }
            return String(decoding: state.data[state.consumed..<newline], as: UTF8.self)
        }
    }

    /// Everything not handed out yet, once the writer closed the pipe.
    func rest() async -> Data {
        await wait(forLine: false)
        return state.withLock { Data($0.data[$0.consumed...]) }
    }

    /// Everything read so far (for a process that is still running).
    var readSoFar: Data { state.withLock { $0.data } }
}

extension Process {
    /// A process for a built product (a name in the build folder, or an absolute path), with a
    /// developer's own Duet settings left out of its environment and `environment` added.
    static func duetProduct(_ executable: String, _ arguments: [String], environment: [String: String]) -> Process {
        let process = Process()
        process.executableURL = executable.hasPrefix("/")
            ? URL(fileURLWithPath: executable) : BuildProducts.folder.appendingPathComponent(executable)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        // A developer's own settings must not leak into tests.
        for key in ["DUET_HOME", "DUET_PASSPHRASE", "VISUAL", "EDITOR", "DUET_KDF", "DUET_NEW_PASSPHRASE"] { merged[key] = nil }
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
        return process
    }
}

/// A process to run: awaited exit, drained output. For tests that need more control than
/// ``ProcessRun`` gives (killing it at a chosen moment).
public final class ChildProcess: Sendable {
    private let process: Process
    private let exit: ProcessExit
    private let out: PipeDrain
    private let err: PipeDrain

    /// Starts `executable` with no standard input.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                stdin: String? = nil) throws {
        let process = Process.duetProduct(executable, arguments, environment: environment)
        let outPipe = Pipe(), errPipe = Pipe()
        // A pipe for standard input only when there is something to write (an unused one was
        // two more descriptors a run).
        let input: Pipe? = stdin == nil ? nil : Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = input ?? FileHandle.nullDevice
        exit = ProcessExit(process)
        try process.run()
        self.process = process
        out = PipeDrain(outPipe.fileHandleForReading)
        err = PipeDrain(errPipe.fileHandleForReading)
        if let stdin, let input {
            // The child may exit without reading all of it (that is often the point of a test):
            // a broken pipe must be an error for this write, not a signal that kills the runner.
            // Written on a Dispatch thread: a full pipe blocks the writer until the child reads.
            Foundation.signal(SIGPIPE, SIG_IGN)
            let writer = input.fileHandleForWriting
            DispatchQueue(label: "duet.testing.stdin").async {
                try? writer.write(contentsOf: Data(stdin.utf8))
                try? writer.close()
            }
        }
    }

    public var processIdentifier: Int32 { process.processIdentifier }

    /// Whether the process has not exited yet.
    public var isRunning: Bool { !exit.hasExited }

    public func signal(_ signal: Int32) { Foundation.kill(process.processIdentifier, signal) }

    /// The next line of standard output not read yet; nil if the process closes it first.
    public func nextLine() async -> String? { await out.nextLine() }

    /// Suspends until the process exits and both pipes are closed: its status and what it
    /// printed beyond the lines already read.
    public func finish() async -> ProcessRun {
        let (status, stdout, stderr) = await finishBytes()
        return ProcessRun(status: status, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// ``finish()`` with the output as bytes.
    func finishBytes() async -> (status: Int32, stdout: Data, stderr: Data) {
        let status = await exit.status
        return (status, await out.rest(), await err.rest())
    }

    deinit {
        // Nothing waits here: the termination handler reaps the child.
        if !exit.hasExited { Foundation.kill(process.processIdentifier, SIGKILL) }
    }
}
