import Foundation
import Synchronization

/// A relay that lies, for attack tests: an HTTP/1.1 proxy on 127.0.0.1 in front of a real
/// `duet-relay` that hands each request and each reply to a rewrite of the test's (the real
/// relay does the rest, so every other rule is still the real one's). Start the relay with
/// `--public-url` naming the proxy: clients sign the proxy's origin.
public final class TamperingProxy: Sendable {
    public struct Request: Sendable {
        public var method: String
        public var target: String
        public var body: [UInt8]
        /// As the client sent them (read only: the proxy forwards the client's own).
        public let headers: [String: String]
    }

    public struct Reply: Sendable {
        public var status: Int
        public var body: [UInt8]
    }

    public typealias RewriteRequest = @Sendable (inout Request) -> Void
    /// Given the request as the relay received it.
    public typealias RewriteReply = @Sendable (Request, inout Reply) -> Void

    public let port: Int
    public var base: String { "http://127.0.0.1:\(port)" }
    private let upstream = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let rules: Mutex<(request: RewriteRequest, reply: RewriteReply)>

    public init() throws {
        rules = Mutex(({ _ in }, { _, _ in }))
        let socket = Portable.streamSocket()
        guard socket >= 0 else { throw RelayTestFailure("no socket") }
        guard withLoopbackAddress(port: 0, { bind(socket, $0, $1) }) == 0, listen(socket, 64) == 0 else {
            close(socket)
            throw RelayTestFailure("the proxy cannot listen")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        port = Int(UInt16(bigEndian: actual.sin_port))
        // accept() wakes every 100 ms to notice `stop()`.
        var interval = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        Thread.detachNewThread { [self] in serve(listener: socket) }
    }

    /// Where the real relay listens now (it may be restarted on another port).
    public func forward(to port: Int) { upstream.store(port, ordering: .relaxed) }

    /// Replaces the rewrites (the default passes everything on unchanged).
    public func tamper(request: @escaping RewriteRequest = { _ in }, reply: @escaping RewriteReply = { _, _ in }) {
        rules.withLock { $0 = (request, reply) }
    }

    public func stop() { stopped.store(true, ordering: .relaxed) }

    deinit { stopped.store(true, ordering: .relaxed) }

    private func serve(listener: Int32) {
        while !stopped.load(ordering: .relaxed) {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            Thread.detachNewThread { [self] in
                relay(connection)
                close(connection)
            }
        }
        close(listener)
    }

    /// One client connection, request after request (keep-alive), each over a fresh upstream one.
    private func relay(_ client: Int32) {
        var interval = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        var pending: [UInt8] = []
        while !stopped.load(ordering: .relaxed), let message = HTTPMessage.read(client, buffered: &pending) {
            let parts = message.start.split(separator: " ", maxSplits: 2).map(String.init)
            guard parts.count == 3 else { return }
            var request = Request(method: parts[0], target: parts[1], body: message.body,
                                  headers: Dictionary(message.headers.map { ($0.name.lowercased(), $0.value) }) { first, _ in first })
            let (rewriteRequest, rewriteReply) = rules.withLock { $0 }
            rewriteRequest(&request)
            guard let server = connectLoopback(port: upstream.load(ordering: .relaxed), timeout: 60) else { return }
            defer { close(server) }
            var headers = message.headers.filter { !["content-length", "transfer-encoding", "connection"].contains($0.name.lowercased()) }
            headers.append(("Content-Length", String(request.body.count)))
            headers.append(("Connection", "close"))
            guard HTTPMessage.write(server, start: "\(request.method) \(request.target) HTTP/1.1", headers: headers, body: request.body) else { return }
            var upstreamBuffer: [UInt8] = []
            guard let answer = HTTPMessage.read(server, buffered: &upstreamBuffer, isReply: true, method: request.method) else { return }
            let status = Int(answer.start.split(separator: " ").dropFirst().first ?? "") ?? 502
            var reply = Reply(status: status, body: answer.body)
            rewriteReply(request, &reply)
            var replyHeaders = answer.headers.filter { !["content-length", "transfer-encoding", "connection"].contains($0.name.lowercased()) }
            replyHeaders.append(("Content-Length", String(reply.body.count)))
            let reason = answer.start.split(separator: " ", maxSplits: 2).dropFirst(2).first.map(String.init) ?? ""
            guard HTTPMessage.write(client, start: "HTTP/1.1 \(reply.status) \(reason)", headers: replyHeaders, body: reply.body) else { return }
        }
    }
}

/// Just enough HTTP/1.1 for the proxy: a start line, headers, and a body by Content-Length or
/// chunked transfer coding.
enum HTTPMessage {
    struct Parsed {
        var start: String
        var headers: [(name: String, value: String)]
        var body: [UInt8]
    }

    static func read(_ socket: Int32, buffered: inout [UInt8], isReply: Bool = false, method: String = "") -> Parsed? {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            headEnd = find(separator, in: buffered)
            if headEnd == nil { guard receive(socket, into: &buffered) else { return nil } }
        }
        guard let end = headEnd else { return nil }
        let lines = String(decoding: buffered[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        buffered.removeSubrange(..<(end + 4))
        guard let start = lines.first else { return nil }
        let headers = lines.dropFirst().compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name }?.value }
        var body: [UInt8] = []
        let status = Int(start.split(separator: " ").dropFirst().first ?? "") ?? 0
        if isReply, method == "HEAD" || status == 204 || status == 304 || (100..<200).contains(status) { return Parsed(start: start, headers: headers, body: []) }
        if header("transfer-encoding")?.lowercased().contains("chunked") == true {
            while true {
                var lineEnd = find([13, 10], in: buffered)
                while lineEnd == nil {
                    guard receive(socket, into: &buffered) else { return nil }
                    lineEnd = find([13, 10], in: buffered)
                }
                guard let sizeEnd = lineEnd else { return nil }
                let sizeText = String(decoding: buffered[..<sizeEnd], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else { return nil }
                buffered.removeSubrange(..<(sizeEnd + 2))
                while buffered.count < size + 2 { guard receive(socket, into: &buffered) else { return nil } }
                body += buffered[..<size]
                buffered.removeSubrange(..<(size + 2))
                if size == 0 { break }
            }
        } else if let length = header("content-length").flatMap({ Int($0) }), length >= 0 {
            while buffered.count < length { guard receive(socket, into: &buffered) else { return nil } }
            body = Array(buffered[..<length])
            buffered.removeSubrange(..<length)
        } else if isReply {
            // No length: the body runs to the end of the connection.
            while receive(socket, into: &buffered) {}
            body = buffered
            buffered = []
        }
        return Parsed(start: start, headers: headers, body: body)
    }

    static func write(_ socket: Int32, start: String, headers: [(name: String, value: String)], body: [UInt8]) -> Bool {
        var head = start + "\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let bytes = Array((head + "\r\n").utf8) + body
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Portable.sendFlags) }
            guard count > 0 else { return false }
            sent += count
        }
        return true
    }

    private static func receive(_ socket: Int32, into buffer: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        buffer += chunk[..<count]
        return true
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where haystack[index] == needle[0] && Array(haystack[index..<index + needle.count]) == needle {
            return index
        }
        return nil
    }
}
