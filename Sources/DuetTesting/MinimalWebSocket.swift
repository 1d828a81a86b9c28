import DuetCrypto
import Foundation

/// A minimal WebSocket client (RFC 6455) over a blocking loopback socket: enough to subscribe to
/// the relay's live push and read binary frames, for tests and benchmarks. Written from the RFC so
/// they do not depend on the server library's own client (which would pull in TLS).
public final class MinimalWebSocket {
    private let socket: Int32
    private var buffer: [UInt8] = []

    /// Connects and performs the upgrade; nil when the relay refuses it. Reads time out after
    /// `timeout` seconds so a missing push fails the test instead of hanging it.
    public init?(port: Int, path: String, token: [UInt8], timeout: Int = 10) {
        guard let socket = connectLoopback(port: port, timeout: timeout) else { return nil }
        self.socket = socket
        let tokenHex = Hex.encode(token)
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer \(tokenHex)\r\n\r\n"
        guard send(Array(request.utf8)) else { close(socket); return nil }
        // The response head ends with an empty line; anything after it is frames.
        while true {
            if let end = buffer.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = String(decoding: buffer[..<end.lowerBound], as: UTF8.self)
                buffer.removeSubrange(..<end.upperBound)
                guard head.hasPrefix("HTTP/1.1 101") else { close(socket); return nil }
                return
            }
            guard receive() else { close(socket); return nil }
        }
    }

    deinit { close(socket) }

    /// Sends raw bytes on the connection (crafted frames for the hostile-traffic tests).
    @discardableResult
    public func sendRaw(_ bytes: [UInt8]) -> Bool { send(bytes) }

    /// Sends one client frame (masked, as RFC 6455 requires of clients).
    @discardableResult
    public func sendFrame(opcode: UInt8, payload: [UInt8], final: Bool = true) -> Bool {
        var frame: [UInt8] = [(final ? 0x80 : 0) | (opcode & 0x0F)]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(0x80 | 127)
            frame += (0..<8).map { UInt8(truncatingIfNeeded: UInt64(payload.count) >> (56 - 8 * UInt64($0))) }
        }
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return send(frame)
    }

    private func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Foundation.send(socket, $0.baseAddress, $0.count, 0) } == bytes.count
    }

    private var lastReadTimedOut = false

    private func receive() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        lastReadTimedOut = count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    private func take(_ count: Int) -> [UInt8]? {
        while buffer.count < count { guard receive() else { return nil } }
        defer { buffer.removeFirst(count) }
        return Array(buffer[0..<count])
    }

    /// What the connection did next.
    public enum Event: Equatable {
        case binary([UInt8])
        /// A close frame, or the connection ended.
        case closed
        /// Nothing within the read timeout.
        case timedOut
    }

    /// The next binary message's payload, or nil on close, error or timeout.
    public func nextBinary() -> [UInt8]? {
        if case .binary(let payload) = next() { return payload }
        return nil
    }

    /// Waits for the relay to close this socket; true if it did within the read timeout.
    public func waitForClose() -> Bool {
        while true {
            switch next() {
            case .binary: continue
            case .closed: return true
            case .timedOut: return false
            }
        }
    }

    /// The next binary message, a close, or a timeout. Pings are answered (the relay closes
    /// sockets that stop answering them).
    public func next() -> Event {
        while true {
            guard let head = take(2) else { return lastReadTimedOut ? .timedOut : .closed }
            let opcode = head[0] & 0x0F
            var length = Int(head[1] & 0x7F)
            if length == 126 { guard let bytes = take(2) else { return .closed }; length = Int(bytes[0]) << 8 | Int(bytes[1]) }
            else if length == 127 { guard let bytes = take(8) else { return .closed }; length = bytes.reduce(0) { $0 << 8 | Int($1) } }
            guard length <= 64 << 20, let payload = take(length) else { return .closed }
            switch opcode {
            case 0x2: return .binary(payload)
            case 0x8: return .closed
            case 0x9: sendFrame(opcode: 0xA, payload: payload)
            default: continue  // pong, text, continuation: not what the relay sends for envelopes
            }
        }
    }
}
