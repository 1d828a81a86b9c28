import Foundation
import Synchronization

/// A built executable running while the test does something else (an inviter waiting for its
/// partner, a daemon): its first stdout line can be awaited, then its whole run. Both are
/// awaited by suspending (``ChildProcess``): no thread is held while the child runs.
public final class BackgroundRun: Sendable {
    private let child: ChildProcess

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        child = try ChildProcess(executable, arguments, environment: environment)
    }

    public var processIdentifier: Int32 { child.processIdentifier }

    /// Whether the process has not exited yet.
    public var isRunning: Bool { child.isRunning }

    /// Suspends until the process prints its first line; nil if it closes stdout first, or if
    /// `timeout` seconds pass (then the process is killed, so a stuck child fails its test
    /// instead of hanging the whole run).
    public func firstLine(timeout: Double = 60) async -> String? {
        let answered = Answered()
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [weak child] in
            if !answered.flag.load(ordering: .acquiring), let child { child.signal(SIGKILL) }
        }
        let line = await child.nextLine()
        answered.flag.store(true, ordering: .releasing)
        return line
    }

    /// Suspends until the process exits; its status and what it printed after the lines
    /// already read.
    public func finish() async -> ProcessRun { await child.finish() }

    public func signal(_ signal: Int32) { child.signal(signal) }
}

private final class Answered: Sendable {
    let flag = Atomic(false)
}
