import DuetDevice
import Foundation
import Synchronization

/// The unlock agent (issue #16), like ssh-agent: a process of its own that holds this journal's
/// keystore key in locked, zeroed memory (``LockedKey``) and hands it to this user's `duet`
/// commands over a Unix socket in the home (`agent.socket`, 0600), so that they skip Argon2id.
///
/// It forgets the key and removes its socket when its time is up, on `duet lock`, and on
/// SIGTERM, SIGINT or SIGHUP. Killed with SIGKILL, the kernel takes its memory; the socket it
/// leaves answers nobody, and a command then asks for the passphrase as if there were none.
/// It serves one connection at a time with one-second limits: its only clients are this user's
/// short commands.
struct UnlockAgent {
    static let socketName = "agent.socket"
    /// The longest an agent may hold the key.
    static let maximumSeconds = 24 * 3600
    private static let checkMilliseconds: Int32 = 5000

    let home: String
    let key: LockedKey
    let until: UInt64
    let deadline: ContinuousClock.Instant

    /// Binds the socket, says "ready" (or why not) on `report`, then serves until it is told or
    /// its time is up. Returns when the key is wiped and the socket gone.
    func serve(report: Int32) {
        // First: a signal from here on wipes the key and removes the socket.
        let signals = AgentSignals.start()
        var listener: Int32 = -1
        do {
            listener = try bind()
        } catch {
            Self.say("error: \(error.message)\n", to: report)
            Self.closeToNull(report)
            key.wipe()
            return
        }
        let path = AgentClient.socketPath(home: home)
        let identity = Self.inode(path)
        Self.say("ready\n", to: report)
        Self.closeToNull(report)
        defer {
            key.wipe()
            // Only its own socket: a newer agent's, bound after this one was stopped, stays.
            if let identity, Self.inode(path) == identity { unlink(path) }
            close(listener)
        }
        let state = AgentProtocol.State(until: until, pid: UInt32(truncatingIfNeeded: getpid()))
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { return }
            // Awake every few seconds to check the socket is still its own: an agent whose
            // socket was removed (its home deleted) can serve nobody, and ends.
            // Bounded before it is converted: at most the check interval, so the sum cannot overflow.
            let wait = min(left, .milliseconds(Self.checkMilliseconds))
            let milliseconds = Int32(clamping: wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000 + 1)
            var watched = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: signals, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&watched, 2, milliseconds)
            if ready < 0 && errno == EINTR { continue }
            guard ready >= 0 else { return }
            if watched[1].revents != 0 { return }
            if ready == 0, Self.inode(path) != identity { return }
            if watched[0].revents & Int16(POLLIN) != 0, case .stop = answer(listener, state: state, path: path, identity: identity) {
                return
            }
        }
    }

    private enum Next { case goOn, stop }

    /// Serves one connection.
    private func answer(_ listener: Int32, state: AgentProtocol.State, path: String, identity: ino_t?) -> Next {
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { return .goOn }
        defer { close(connection) }
        // Another user's process (the home's folder mode aside) gets nothing, not even an answer.
        guard UnixSocket.peerUser(connection) == getuid() else { return .goOn }
        UnixSocket.setTimeout(connection, seconds: 1)
        var frame = [UInt8](repeating: 0, count: 2)
        let length = frame.withUnsafeMutableBytes { UnixSocket.read(connection, into: $0) }
        guard length == 2, let request = AgentProtocol.Request(frame: frame) else {
            _ = AgentProtocol.refused().withUnsafeBytes { UnixSocket.write(connection, $0) }
            return .goOn
        }
        switch request {
        case .status:
            _ = AgentProtocol.stateReply(state).withUnsafeBytes { UnixSocket.write(connection, $0) }
        case .key:
            _ = AgentProtocol.keyReply(state, key: key).withUnsafeBytes { UnixSocket.write(connection, $0) }
        case .lock:
            // Gone before the answer: the command that asked finds no agent afterwards.
            key.wipe()
            if let identity, Self.inode(path) == identity { unlink(path) }
            _ = AgentProtocol.done().withUnsafeBytes { UnixSocket.write(connection, $0) }
            return .stop
        }
        return .goOn
    }

    /// The listening socket, 0600 from its creation (the umask is narrowed around bind). A
    /// socket left by a killed agent is replaced; a live agent's is not.
    private func bind() throws(UnixSocket.Failure) -> Int32 {
        let path = AgentClient.socketPath(home: home)
        if AgentClient.state(home: home) != nil { throw UnixSocket.Failure("another unlock agent is running for this home; `duet lock` first") }
        if FileManager.default.fileExists(atPath: path) || (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) != nil {
            guard unlink(path) == 0 else { throw UnixSocket.Failure("cannot remove the stale \(path)", errno: errno) }
        }
        let descriptor = try UnixSocket.make()
        let previous = umask(0o177)
        let bound = try UnixSocket.withAddress(path) { address, length in Foundation.bind(descriptor, address, length) == 0 }
        let bindError = errno
        umask(previous)
        guard bound else {
            close(descriptor)
            throw UnixSocket.Failure("cannot listen on \(path)", errno: bindError)
        }
        chmod(path, 0o600)
        guard listen(descriptor, 16) == 0 else {
            let listenError = errno
            close(descriptor)
            unlink(path)
            throw UnixSocket.Failure("cannot listen on \(path)", errno: listenError)
        }
        return descriptor
    }

    /// Ends the report (the starter reads to its end) with /dev/null put in its place.
    private static func closeToNull(_ descriptor: Int32) {
        let null = SystemCall.open("/dev/null", O_RDWR)
        if null >= 0 { dup2(null, descriptor); close(null) } else { close(descriptor) }
    }

    private static func inode(_ path: String) -> ino_t? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return info.st_ino
    }

    private static func say(_ text: String, to descriptor: Int32) {
        _ = Array(text.utf8).withUnsafeBytes { Descriptors.writeAll(descriptor, $0) }
    }
}

/// SIGTERM, SIGINT and SIGHUP, as a descriptor the agent's poll watches: the handler only writes
/// a byte to a pipe (async-signal-safe); the agent then wipes the key and removes its socket
/// on its own thread.
enum AgentSignals {
    fileprivate static let pipeEnd = Atomic<Int32>(-1)

    /// The read end; a signal makes it readable.
    static func start() -> Int32 {
        guard let ends = Descriptors.pipe() else { return -1 }
        _ = fcntl(ends.write, F_SETFL, O_NONBLOCK)
        pipeEnd.store(ends.write, ordering: .sequentiallyConsistent)
        signal(SIGPIPE, SIG_IGN)
        for number in [SIGTERM, SIGINT, SIGHUP] {
            var action = sigaction()
            #if canImport(Glibc)
            action.__sigaction_handler.sa_handler = agentSignalHandler
            #else
            action.__sigaction_u.__sa_handler = agentSignalHandler
            #endif
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, nil)
        }
        return ends.read
    }
}

private func agentSignalHandler(_ number: Int32) {
    var byte = UInt8(truncatingIfNeeded: number)
    _ = write(AgentSignals.pipeEnd.load(ordering: .sequentiallyConsistent), &byte, 1)
}
