import NIOCore
import NIOPosix

/// A load generator light enough not to steal the relay's cores: one keep-alive HTTP/1.1
/// connection per device over SwiftNIO, requests pre-encoded, responses parsed just enough to
/// read the status and skip the body. One request in flight per device, as a device would.
struct RawHTTPDevice {
    static let group = MultiThreadedEventLoopGroup.singleton

    /// Sends each request in order on one connection; returns each acknowledgement's latency in
    /// milliseconds. Throws on any status other than 200.
    ///
    /// With `schedule`, request i is sent at `schedule.start + offset + i × interval` (or at once
    /// when the device is behind), and its latency counts from that planned moment, so a relay
    /// that falls behind is not excused by the sender waiting for it (coordinated omission).
    static func run(port: Int, requests: [ByteBuffer],
                    schedule: (start: ContinuousClock.Instant, offset: Duration, interval: Duration)? = nil) async throws -> [Double] {
        let channel = try await ClientBootstrap(group: group)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var iterator = inbound.makeAsyncIterator()
            var pending = ByteBuffer()
            var latencies: [Double] = []
            latencies.reserveCapacity(requests.count)
            let clock = ContinuousClock()
            for (index, request) in requests.enumerated() {
                var sent = clock.now
                if let schedule {
                    let planned = schedule.start + schedule.offset + schedule.interval * index
                    if planned > sent { try await clock.sleep(until: planned) }
                    sent = planned
                }
                try await outbound.write(request)
                // Read one response: head up to CRLFCRLF, then Content-Length bytes.
                var status = 0
                while true {
                    if let headEnd = pending.readableBytesView.firstRange(of: [13, 10, 13, 10]) {
                        let headLength = headEnd.upperBound - pending.readerIndex
                        let head = pending.readString(length: headLength) ?? ""
                        status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
                        let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                        while pending.readableBytes < length {
                            guard var more = try await iterator.next() else { throw RelayBenchFailure("connection closed") }
                            pending.writeBuffer(&more)
                        }
                        pending.moveReaderIndex(forwardBy: length)
                        break
                    }
                    guard var more = try await iterator.next() else { throw RelayBenchFailure("connection closed") }
                    pending.writeBuffer(&more)
                }
                guard status == 200 else { throw RelayBenchFailure("status \(status)") }
                let elapsed = clock.now - sent
                latencies.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
                pending.discardReadBytes()
            }
            return latencies
        }
    }

    /// A complete HTTP/1.1 POST with a binary body.
    static func post(path: String, port: Int, token: String, body: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAuthorization: Bearer \(token)\r\n"
            + "Content-Type: application/octet-stream\r\nContent-Length: \(body.count)\r\n\r\n")
        buffer.writeBytes(body)
        return buffer
    }
}

struct RelayBenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
