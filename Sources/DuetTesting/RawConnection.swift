import Foundation

/// A plain TCP connection to a loopback port, for the hostile-traffic tests: send any bytes
/// (half a request, a request trickled a byte at a time, garbage), read what comes back with a
/// timeout, and tell whether the other side closed.
public final class RawConnection {
    private let socket: Int32

    /// Connects to 127.0.0.1:`port`; nil when nothing accepts. Reads time out after `timeout`.
    public init?(port: Int, timeout: Int = 5) {
        guard let socket = connectLoopback(port: port, timeout: timeout) else { return nil }
        self.socket = socket
        var one: Int32 = 1
        setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(socket) }

    /// Sends `bytes`; false when the connection is gone.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty else { return true }
        return bytes.withUnsafeBytes { Foundation.send(socket, $0.baseAddress, $0.count, Portable.sendFlags) } == bytes.count
    }

    /// What arrives until the other side closes, `limit` bytes are read, or a read times out.
    public func read(limit: Int = 1 << 20) -> (bytes: [UInt8], closed: Bool) {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while result.count < limit {
            let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count == 0 { return (result, true) }
            if count < 0 { return (result, errno != EAGAIN && errno != EWOULDBLOCK) }
            result += chunk[0..<count]
        }
        return (result, false)
    }

    /// The HTTP status of the reply read from here (0 when there is none).
    public func status() -> Int {
        let text = String(decoding: read(limit: 16 << 10).bytes, as: UTF8.self)
        guard text.hasPrefix("HTTP/1.1 "), let code = Int(text.dropFirst(9).prefix(3)) else { return 0 }
        return code
    }
}

/// The resident memory of process `pid` in bytes, from /proc (0 where there is no /proc).
public func residentBytes(of pid: Int32) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return 0 }
    return kilobytes * 1024
}
