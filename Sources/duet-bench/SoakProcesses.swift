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
