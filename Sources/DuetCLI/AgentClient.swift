import DuetDevice
import Foundation

/// `duet`'s side of the unlock agent (``UnlockAgent``): asks it for the key, its state, or to
/// lock. Whatever is at the socket is only trusted this far: it must belong to this user and
/// answer a well-formed frame within two seconds; anything else counts as no agent, and the
/// command asks for the passphrase as it would without one.
enum AgentClient {
    static func socketPath(home: String) -> String { home + "/" + UnlockAgent.socketName }

    /// How long a reply may take: a stopped (SIGSTOP) agent must not hang every command.
    static let replySeconds = 2

    /// The agent's state, nil when none answers.
    static func state(home: String) -> AgentProtocol.State? {
        exchange(.status, home: home, replyBytes: AgentProtocol.stateReplyBytes) { AgentProtocol.state(from: $0) }
    }

    /// The key the agent holds, with its state; nil when none answers.
    static func key(home: String) -> UnlockKey? {
        exchange(.key, home: home, replyBytes: AgentProtocol.keyReplyBytes) { reply -> UnlockKey? in
            guard AgentProtocol.state(from: reply) != nil else { return nil }
            return UnlockKey(copying: UnsafeRawBufferPointer(rebasing: reply[AgentProtocol.stateReplyBytes...]))
        }
    }

    /// Asks the agent to forget the key and stop; true when one did. It removes its socket
    /// before it answers, so the next command finds none.
    @discardableResult
    static func lock(home: String) -> Bool {
        exchange(.lock, home: home, replyBytes: 2) { reply in reply[0] == AgentProtocol.version && reply[1] == 0 ? true : nil } ?? false
    }

    /// Connects, sends `request`, and hands `decode` a reply of exactly `replyBytes` bytes (read
    /// into zeroing storage: a key reply holds the key). Any failure on the way is nil.
    private static func exchange<Value>(_ request: AgentProtocol.Request, home: String, replyBytes: Int,
                                        decode: (UnsafeRawBufferPointer) -> Value?) -> Value? {
        guard let descriptor = connect(home: home) else { return nil }
        defer { close(descriptor) }
        let sent = request.encoded.withUnsafeBytes { UnixSocket.write(descriptor, $0) }
        guard sent else { return nil }
        var length = 0
        // One byte more than expected: a longer reply is not this protocol.
        let reply = ZeroingBuffer(count: replyBytes + 1) { buffer in length = UnixSocket.read(descriptor, into: buffer) }
        guard length == replyBytes else { return nil }
        return reply.withUnsafeBytes { bytes in decode(UnsafeRawBufferPointer(rebasing: bytes[0..<replyBytes])) }
    }

    /// A connection to the agent of `home`, nil when none listens there (no socket, a stale one a
    /// killed agent left) or when the listener is not this user's.
    private static func connect(home: String) -> Int32? {
        let path = socketPath(home: home)
        // A socket of this user's, not a link to another (a link planted in one home would hand
        // its commands another journal's agent).
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK, info.st_uid == getuid(),
              let descriptor = try? UnixSocket.make() else { return nil }
        // Before connecting: a listener whose queue is full would otherwise keep connect waiting.
        UnixSocket.setTimeout(descriptor, seconds: replySeconds)
        let connected = (try? UnixSocket.withAddress(path) { address, length in Foundation.connect(descriptor, address, length) == 0 }) ?? false
        guard connected, UnixSocket.peerUser(descriptor) == getuid() else {
            close(descriptor)
            return nil
        }
        return descriptor
    }
}
