internal import CPseudoTerminal
import Foundation
import Synchronization

/// A built executable run on a pseudo-terminal of its own, as a person runs it in a terminal
/// window: it leads a new session whose controlling terminal (and standard input, output and
/// error) is the pseudo-terminal, so a terminal editor it starts behaves as on a real one
/// (issue #16). The test types with ``type(_:)`` and waits on what the screen shows with
/// ``waitFor(_:timeout:)``: conditions with deadlines, never fixed sleeps.
public final class TerminalSession: Sendable {
    public let processIdentifier: Int32
    private let controller: Int32
    private let screen: ScreenLog
    private let exit: RawChildExit

    /// Starts `executable` (a product name in the build folder, or an absolute path) with the
    /// environment of ``Process/duetProduct`` plus `environment`.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                rows: UInt16 = 24, columns: UInt16 = 80) throws {
        let path = executable.hasPrefix("/") ? executable : BuildProducts.folder.appendingPathComponent(executable).path
        var merged = Process.duetProduct(path, arguments, environment: environment).environment ?? [:]
        // A plain terminal unless the test names one: an xterm's programs ask it questions
        // (the cursor's position, its colours) that nobody here answers.
        merged["TERM"] = environment["TERM"] ?? "vt100"
        var slave = [CChar](repeating: 0, count: 256)
        let controller = duet_pty_open(rows, columns, &slave, slave.count)
        guard controller >= 0 else { throw TerminalSessionError("cannot open a pseudo-terminal: errno \(errno)") }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let result = duet_pty_spawn(&pid, path, argv, envp, slave)
        guard result == 0 else {
            close(controller)
            throw TerminalSessionError("cannot start \(path) on a pseudo-terminal: errno \(result)")
        }
        processIdentifier = pid
        self.controller = controller
        screen = ScreenLog(controller)
        exit = RawChildExit(pid)
    }

    deinit {
        // The whole process group: the program and the editor it started.
        // The screen's reader closes the terminal once the program's side is closed: closing it
        // here, under a blocked read(), could hand that read a descriptor reopened meanwhile.
        if !exit.hasExited { kill(-processIdentifier, SIGKILL) }
    }

    /// Types `text` as keystrokes (a carriage return is the Return key, "\u{1b}" Escape).
    public func type(_ text: String) { Self.type(text, to: controller) }

    private static func type(_ text: String, to controller: Int32) {
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Foundation.write(controller, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            written += count
        }
    }

    /// Answers every new appearance of `prompt` on the screen with `reply` (typed), for prompts
    /// that may or may not come. With `secret`, the reply waits until the terminal stops
    /// echoing: a no-echo prompt turns echo off with TCSAFLUSH, which throws away whatever was
    /// typed before, and the prompt is on the screen before that.
    public func answer(_ prompt: String, with reply: String, secret: Bool = false) {
        // The descriptor, not `self`: the screen keeps the responder, and the session the screen.
        screen.addResponder(prompt: Array(prompt.utf8)) { [controller] in
            guard secret else { return Self.type(reply, to: controller) }
            DispatchQueue.global().async {
                let deadline = ContinuousClock.now + .seconds(30)
                while Self.echoes(controller) && ContinuousClock.now < deadline { usleep(2_000) }
                Self.type(reply, to: controller)
            }
        }
    }

    /// Whether the terminal echoes what is typed (the two sides share their modes).
    private static func echoes(_ controller: Int32) -> Bool {
        var modes = termios()
        guard tcgetattr(controller, &modes) == 0 else { return false }
        return modes.c_lflag & tcflag_t(ECHO) != 0
    }

    /// Suspends until `text` appears on the screen after what earlier waits matched; throws with
    /// the screen so far if it has not after `timeout`, or if the program's side closed first.
    public func waitFor(_ text: String, timeout: Duration = .seconds(60)) async throws {
        guard await screen.waitFor(Array(text.utf8), timeout: timeout) else {
            throw TerminalSessionError("\"\(text)\" did not appear on the terminal; it showed:\n\(output)")
        }
    }

    /// Everything written to the terminal so far, escape sequences and all.
    public var output: String { screen.text }

    public func signal(_ signal: Int32) { kill(processIdentifier, signal) }

    /// Suspends until the program exits (killed after `timeout`): its status.
    public func finish(timeout: Duration = .seconds(120)) async -> Termination {
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        let pid = processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [exit] in
            if !exit.hasExited { kill(pid, SIGKILL) }
        }
        return await exit.termination
    }

    /// How a process ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)

        public var description: String {
            switch self {
            case .exited(let status): "exit status \(status)"
            case .signaled(let signal): "signal \(signal)"
            }
        }
    }
}

public struct TerminalSessionError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The bytes the program writes to its terminal, read on a thread of their own from the start
/// (a terminal whose output is not read blocks its writer), with waits on what they contain.
private final class ScreenLog: Sendable {
    private struct Waiter {
        let needle: [UInt8]
        let continuation: CheckedContinuation<Bool, Never>
        let id: Int
    }
    private struct Responder {
        let prompt: [UInt8]
        var searchedFrom: Int
        let reply: @Sendable () -> Void
    }
    private struct State {
        var bytes: [UInt8] = []
        /// Where the next wait starts looking: past what the previous wait matched.
        var cursor = 0
        var ended = false
        var waiters: [Waiter] = []
        var responders: [Responder] = []
        var nextID = 0
    }
    private let state = Mutex(State())
    private let descriptor: Int32

    init(_ descriptor: Int32) {
        self.descriptor = descriptor
        DispatchQueue(label: "duet.testing.terminal").async { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                // EIO once every descriptor of the program's side is closed: the program ended.
                received(count > 0 ? Array(buffer[0..<count]) : nil)
                if count <= 0 {
                    close(descriptor)
                    return
                }
            }
        }
    }

    var text: String { state.withLock { String(decoding: $0.bytes, as: UTF8.self) } }

    func addResponder(prompt: [UInt8], reply: @escaping @Sendable () -> Void) {
        let due = state.withLock { state -> [@Sendable () -> Void] in
            state.responders.append(Responder(prompt: prompt, searchedFrom: 0, reply: reply))
            return Self.dueReplies(&state)
        }
        for reply in due { reply() }
    }

    func waitFor(_ needle: [UInt8], timeout: Duration) async -> Bool {
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        return await withCheckedContinuation { continuation in
            let outcome = state.withLock { state -> Bool? in
                if let end = Self.find(needle, in: state.bytes, from: state.cursor) {
                    state.cursor = end
                    return true
                }
                if state.ended { return false }
                state.nextID += 1
                let id = state.nextID
                state.waiters.append(Waiter(needle: needle, continuation: continuation, id: id))
                DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
                    let expired = self.state.withLock { state -> Waiter? in
                        guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                        return state.waiters.remove(at: index)
                    }
                    expired?.continuation.resume(returning: false)
                }
                return nil
            }
            if let outcome { continuation.resume(returning: outcome) }
        }
    }

    private func received(_ chunk: [UInt8]?) {
        let (finished, due) = state.withLock { state -> ([(CheckedContinuation<Bool, Never>, Bool)], [@Sendable () -> Void]) in
            if let chunk { state.bytes.append(contentsOf: chunk) } else { state.ended = true }
            var finished: [(CheckedContinuation<Bool, Never>, Bool)] = []
            var waiting: [Waiter] = []
            for waiter in state.waiters {
                if let end = Self.find(waiter.needle, in: state.bytes, from: state.cursor) {
                    state.cursor = max(state.cursor, end)
                    finished.append((waiter.continuation, true))
                } else if state.ended {
                    finished.append((waiter.continuation, false))
                } else {
                    waiting.append(waiter)
                }
            }
            state.waiters = waiting
            return (finished, Self.dueReplies(&state))
        }
        for reply in due { reply() }
        for (continuation, found) in finished { continuation.resume(returning: found) }
    }

    private static func dueReplies(_ state: inout State) -> [@Sendable () -> Void] {
        var due: [@Sendable () -> Void] = []
        for index in state.responders.indices {
            while let end = find(state.responders[index].prompt, in: state.bytes, from: state.responders[index].searchedFrom) {
                state.responders[index].searchedFrom = end
                due.append(state.responders[index].reply)
            }
        }
        return due
    }

    /// The offset just past the first `needle` in `bytes` at or after `start`.
    private static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, bytes.count - start >= needle.count else { return nil }
        var index = start
        while index + needle.count <= bytes.count {
            if bytes[index] == needle[0] && bytes[index..<(index + needle.count)].elementsEqual(needle) {
                return index + needle.count
            }
            index += 1
        }
        return nil
    }
}

/// The exit of a child started without `Process`, reaped on a Dispatch thread of its own so that
/// no thread of Swift's cooperative pool waits in waitpid.
private final class RawChildExit: Sendable {
    private struct State {
        var termination: TerminalSession.Termination?
        var waiters: [CheckedContinuation<TerminalSession.Termination, Never>] = []
    }
    private let state = Mutex(State())

    init(_ pid: pid_t) {
        DispatchQueue(label: "duet.testing.terminal-exit").async { [self] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            // The wait status's layout (the WIFEXITED macros do not reach Swift): the low seven
            // bits are the signal that ended it, zero for a normal exit with its status above.
            let termination: TerminalSession.Termination = status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
            let waiters = state.withLock { state in
                state.termination = termination
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: termination) }
        }
    }

    var hasExited: Bool { state.withLock { $0.termination != nil } }

    var termination: TerminalSession.Termination {
        get async {
            await withCheckedContinuation { continuation in
                let known = state.withLock { state -> TerminalSession.Termination? in
                    if let termination = state.termination { return termination }
                    state.waiters.append(continuation)
                    return nil
                }
                if let known { continuation.resume(returning: known) }
            }
        }
    }
}
