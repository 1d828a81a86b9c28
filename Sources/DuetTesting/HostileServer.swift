import Foundation

/// A TCP server on a loopback port that answers every connection with something a relay never
/// should: garbage bytes, a reply cut off mid-body, a WebSocket upgrade that breaks off mid-frame,
/// or silence. For the tests that prove `duetd` survives whatever sits at its relay's address.
public final class HostileServer: @unchecked Sendable {
    public let port: Int
    private let state = State()
    private let thread: Thread
    /// Connections answered so far (each gets the next of the answers in turn).
    public var connections: Int { state.lock.withLock { state.served } }

    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var isStopped = false
        var served = 0
        var closed = false
        var closing: [CheckedContinuation<Void, Never>] = []
    }

    /// What one connection gets: `bytes` sent at once, or a byte every `trickle`; then the
    /// connection is held open for `hold` before it is closed.
    public struct Answer: Sendable {
        public var bytes: [UInt8]
        public var trickle: Duration?
        public var hold: Duration
        public init(_ bytes: [UInt8], trickle: Duration? = nil, hold: Duration = .zero) {
            self.bytes = bytes
            self.trickle = trickle
            self.hold = hold
        }
    }

    /// Listens on 127.0.0.1:`port` (a port a relay just left: SO_REUSEADDR; 0 picks a free one)
    /// and gives each connection the next of `answers`, in turn.
    public init(port: Int = 0, answers: [Answer] = HostileServer.answers.map { Answer($0) }) throws {
        let answers = answers.isEmpty ? [Answer([])] : answers
        let socket = Portable.streamSocket()
        guard socket >= 0 else { throw RelayTestFailure("no socket") }
        var one: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withLoopbackAddress(port: port) { bind(socket, $0, $1) }
        guard bound == 0, listen(socket, 64) == 0 else {
            close(socket)
            throw RelayTestFailure("cannot listen on \(port)")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        self.port = Int(UInt16(bigEndian: actual.sin_port))
        // accept() wakes every 100 ms to notice `stop()`.
        var interval = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        let state = self.state
        thread = Thread { Self.serve(listener: socket, state: state, answers: answers) }
        thread.start()
    }

    public static let answers: [[UInt8]] = [
        Array("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nnot all of it".utf8),
        (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) },
        Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n\u{82}\u{7F}".utf8),
        Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n\u{01}\u{FF}\u{FF}\u{FF}\u{FF}".utf8),
        Array("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 99999999999999999999\r\nContent-Length: 2\r\n\r\n{}".utf8),
        [],  // accept, read, and close without a word
    ]

    private static func serve(listener: Int32, state: State, answers: [Answer]) {
        while !state.lock.withLock({ state.isStopped }) {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            let answer = state.lock.withLock { () -> Answer in
                defer { state.served += 1 }
                return answers[state.served % answers.count]
            }
            // Each connection on a thread of its own, so a trickled or held answer does not stop
            // the next connection from being served.
            Thread.detachNewThread {
                var buffer = [UInt8](repeating: 0, count: 4096)
                var interval = timeval(tv_sec: 0, tv_usec: 200_000)
                setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
                _ = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                if let trickle = answer.trickle {
                    for byte in answer.bytes {
                        guard [byte].withUnsafeBytes({ send(connection, $0.baseAddress, 1, Portable.sendFlags) }) == 1 else { break }
                        Thread.sleep(forTimeInterval: Double(trickle.components.attoseconds) / 1e18 + Double(trickle.components.seconds))
                    }
                } else {
                    _ = answer.bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Portable.sendFlags) }
                }
                let hold = Double(answer.hold.components.attoseconds) / 1e18 + Double(answer.hold.components.seconds)
                if hold > 0 { Thread.sleep(forTimeInterval: hold) }
                close(connection)
            }
        }
        close(listener)
        let waiting = state.lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            state.closed = true
            defer { state.closing = [] }
            return state.closing
        }
        for waiter in waiting { waiter.resume() }
    }

    /// Stops accepting and suspends until the port is closed (within 100 ms), so a relay can
    /// take it again.
    public func stop() async {
        let state = self.state
        await withCheckedContinuation { continuation in
            let closed = state.lock.withLock { () -> Bool in
                state.isStopped = true
                if !state.closed { state.closing.append(continuation) }
                return state.closed
            }
            if closed { continuation.resume() }
        }
    }

    deinit { state.lock.withLock { state.isStopped = true } }
}
