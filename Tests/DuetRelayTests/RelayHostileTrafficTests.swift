import DuetCrypto
import DuetTesting
import DuetWire
import Foundation
import Testing

/// Issue #12, item 9: hostile traffic against the real relay process — random and crafted
/// bodies on every route, broken WebSocket frames, slow clients, too many connections — with
/// 0 crashes, 0 5xx, `/healthz` answering and the relay's memory within a stated bound.
/// `DUET_SOAK=1` runs the long variant (a hundred times the traffic); CI runs the short one.
@Suite("duet-relay hostile traffic")
struct RelayHostileTrafficTests {
    static let soak = ProcessInfo.processInfo.environment["DUET_SOAK"] == "1"
    /// The relay's resident memory after the suite's traffic stays under this (a fresh debug
    /// relay holds about 40 MiB; the caps bound what strangers can add).
    static let memoryBound = 256 << 20

    /// A deterministic byte source, so a failure can be replayed.
    struct Noise {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 11
        }
        mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
        mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
    }

    /// Crafted bodies: structures that parse partway, lengths and counts at their extremes.
    static func crafted(_ noise: inout Noise, space: SpaceID, member: RelayProcessTests.Member) -> [[UInt8]] {
        let maxVarint: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
        let overlong: [UInt8] = [0x80, 0x80, 0x80, 0x00]
        var member = member
        let envelope = member.envelope(space, .random()).bytes
        let record = MembershipRecord.sign(space: space, index: 3, previous: .zero, action: .rotateKey(epoch: 2), signer: member.identity).encoded
        return [
            maxVarint, maxVarint + maxVarint, overlong, [0x01] + maxVarint, [0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F],
            RelayMessages.encode(batch: [envelope]) + [0], Array(RelayMessages.encode(batch: [envelope]).dropLast(7)),
            [0x01] + maxVarint + envelope, Array(envelope.dropLast(1)), envelope, record, Array(record.prefix(90)),
            [0x01] + space.bytes + maxVarint, [0x01] + noise.bytes(16) + maxVarint + noise.bytes(32),
            member.device.verifyingKey.bytes + noise.bytes(96), member.device.verifyingKey.bytes + noise.bytes(224),
            [UInt8](repeating: 0xFF, count: 4096), [],
        ]
    }

    @Test("Random and crafted bodies, methods and paths on every route: never a 5xx, never a dropped answer; the relay stays up and small", arguments: RelayBackendKind.allCases)
    func everyRoute(backend: RelayBackendKind) async throws {
        let relay = try await RelayProcess(backend: backend)
        let alex = RelayProcessTests.Member()
        let (client, space) = try await RelayProcessTests.personalSpace(relay, alex)
        let hexSpace = RelayClient.hex(space)
        let mailbox = Hex.encode(RandomBytes.make(count: 16))
        let routes = ["/v1/auth/challenge", "/v1/auth/session", "/v1/spaces/\(hexSpace)/membership", "/v1/spaces/\(hexSpace)/envelopes",
                      "/v1/spaces/\(hexSpace)/heads", "/v1/spaces/\(hexSpace)/live", "/v1/recovery/\(mailbox)", "/v1/mailboxes/\(mailbox)",
                      "/v1/spaces/\(hexSpace.uppercased())/heads", "/v1/spaces/zz/heads", "/v1/spaces/\(String(repeating: "a", count: 4000))/heads",
                      "/v1/spaces//envelopes", "/v1/mailboxes/../../etc/passwd", "/v1/spaces/\(hexSpace)/envelopes?vector=%FF%FE&limit=1",
                      "/healthz", "/metrics", "/"]
        let methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
        var noise = Noise(state: 12)
        let bodies = Self.crafted(&noise, space: space, member: alex)
        var requests = 0
        let rounds = Self.soak ? 100 : 1
        for _ in 0..<rounds {
            for route in routes {
                for method in methods {
                    let body = noise.next() % 3 == 0 ? noise.bytes(Int(noise.next() % 3000)) : noise.pick(bodies)
                    for authorised in [true, false] {
                        let reply = try await client.request(method, route, body: body.isEmpty && method == "GET" ? nil : body, authorised: authorised)
                        requests += 1
                        #expect(reply.status >= 200 && reply.status < 500, "\(method) \(route) → \(reply.status) \(reply.text.prefix(200))")
                    }
                }
            }
            // Headers: garbage tokens and certificates.
            for header in [("Authorization", "Bearer " + String(repeating: "f", count: 64)), ("Authorization", "Bearer zz"),
                           ("Authorization", String(repeating: "A", count: 8000)), ("Duet-Certificate", Hex.encode(noise.bytes(150))),
                           ("Duet-Certificate", String(repeating: "0", count: 7000))] {
                let reply = try await client.request("GET", "/v1/spaces/\(hexSpace)/membership", authorised: false, headers: [header])
                requests += 1
                #expect(reply.status >= 400 && reply.status < 500, "\(header.0) → \(reply.status)")
            }
        }
        #expect(try await RelayLimitsProcessTests.alive(relay), "alive after \(requests) hostile requests")
        let memory = residentBytes(of: relay.processIdentifier)
        print("hostile-traffic: relay resident memory after \(requests) requests: \(memory >> 20) MiB")
        #expect(memory < Self.memoryBound, "\(memory >> 20) MiB")
    }

    @Test("Broken WebSocket traffic — an oversized frame header, a thousand fragments, unmasked and garbage frames — closes that socket only")
    func brokenFrames() async throws {
        let relay = try await RelayProcess()
        var alex = RelayProcessTests.Member()
        let (client, space) = try await RelayProcessTests.personalSpace(relay, alex)
        let path = "/v1/spaces/\(RelayClient.hex(space))/live"
        let healthy = try #require(MinimalWebSocket(port: relay.port, path: path, token: client.token))
        let attacks: [(String, (MinimalWebSocket) -> Void)] = [
            ("a frame claiming 2^62 bytes", { $0.sendRaw([0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]) }),
            ("a frame of 1 MiB", { $0.sendFrame(opcode: 0x2, payload: [UInt8](repeating: 7, count: 1 << 20)) }),
            ("a thousand fragments", { socket in
                socket.sendFrame(opcode: 0x2, payload: [1], final: false)
                for _ in 0..<1000 { socket.sendFrame(opcode: 0x0, payload: [UInt8](repeating: 2, count: 1000), final: false) }
            }),
            ("an unmasked frame", { $0.sendRaw([0x82, 0x03, 1, 2, 3]) }),
            ("garbage", { $0.sendRaw((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }) }),
            ("a ping flood", { socket in for _ in 0..<2000 { socket.sendFrame(opcode: 0x9, payload: [1, 2, 3]) } }),
            ("a control frame longer than 125 bytes", { $0.sendFrame(opcode: 0x9, payload: [UInt8](repeating: 1, count: 300)) }),
        ]
        for (name, attack) in attacks {
            let socket = try #require(MinimalWebSocket(port: relay.port, path: path, token: client.token, timeout: 3), "\(name): upgrade")
            attack(socket)
            _ = socket.waitForClose()
            #expect(try await RelayLimitsProcessTests.alive(relay), "alive after \(name)")
        }
        // The well-behaved socket still receives what is stored.
        let envelope = alex.envelope(space, .random())
        #expect(try await client.request("POST", "/v1/spaces/\(RelayClient.hex(space))/envelopes",
                                         body: RelayMessages.encode(batch: [envelope.bytes])).status == 200)
        #expect(healthy.nextBinary() == envelope.bytes, "the honest socket was untouched")
    }

    @Test("Slow clients: a request head trickled a byte at a time is cut off; too many connections are refused at once, and room comes back")
    func slowClients() async throws {
        let relay = try await RelayProcess(options: ["--max-connections", "40", "--request-head-timeout", "2", "--request-body-timeout", "2", "--idle-timeout", "3"])
        // Slowloris: a head that never completes, one byte at a time.
        let slow = try #require(RawConnection(port: relay.port, timeout: 1))
        let start = ContinuousClock.now
        var closed = false
        for byte in Array("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8) + [UInt8](repeating: 0x61, count: 200) {
            if !slow.send([byte]) { closed = true; break }
            if slow.read(limit: 1).closed { closed = true; break }
        }
        #expect(closed, "the trickled head was cut off")
        #expect(ContinuousClock.now - start < .seconds(10), "within the head timeout, not the client's patience")
        // Blank lines first (parsers skip them) and then a byte: still no head, still cut off.
        let blank = try #require(RawConnection(port: relay.port, timeout: 6))
        blank.send(Array("\r\n\r\nG".utf8))
        #expect(blank.read().closed, "blank lines are not a request head")
        // A body trickled a byte a second after its head: 408 at the 2 s body deadline
        // (the idle timeout never fires while bytes keep coming).
        let body = try #require(RawConnection(port: relay.port, timeout: 1))
        body.send(Array("POST /v1/auth/challenge HTTP/1.1\r\nHost: x\r\nContent-Length: 32\r\n\r\n".utf8))
        var answer: [UInt8] = []
        let bodyStart = ContinuousClock.now
        for _ in 0..<31 {
            guard body.send([0x61]) else { break }
            let (bytes, closed) = body.read(limit: 4096)  // waits up to the 1 s read timeout: the pace
            answer += bytes
            if !bytes.isEmpty || closed { break }
        }
        #expect(String(decoding: answer, as: UTF8.self).hasPrefix("HTTP/1.1 408"), "a trickled body gets 408: \(answer.count) bytes")
        #expect(ContinuousClock.now - bodyStart < .seconds(8), "at the body deadline, not when the 32-byte body would have ended (31 s)")
        // A body that stops arriving altogether is closed by the idle timeout (3 s here).
        let stalled = try #require(RawConnection(port: relay.port, timeout: 6))
        stalled.send(Array("POST /v1/auth/challenge HTTP/1.1\r\nHost: x\r\nContent-Length: 32\r\n\r\nab".utf8))
        #expect(stalled.read().closed, "a stalled body is cut off by the idle timeout")
        // Fill the connection cap with half-open requests; the next is closed before it is read.
        var holders: [RawConnection] = []
        for _ in 0..<40 {
            if let connection = RawConnection(port: relay.port, timeout: 1) {
                connection.send(Array("GET /healthz HTTP/1.1\r\n".utf8))
                holders.append(connection)
            }
        }
        // Every holder is counted (accepts are spread over event loops: wait for the count).
        let admin = RelayClient(base: relay.adminBase, device: .generate())
        let counted = try await RelayLimitsProcessTests.eventually(within: 5) {
            try await admin.request("GET", "/metrics", authorised: false).text.contains("duet_relay_connections 40\n")
        }
        #expect(counted, "the relay counts the 40 held connections")
        let over = try #require(RawConnection(port: relay.port, timeout: 2))
        over.send(Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(over.read().closed, "a connection over the cap is closed")
        // The held connections time out (their heads never finished), and the relay serves again.
        let recovered = try await RelayLimitsProcessTests.eventually(within: 15) {
            (try? await RelayLimitsProcessTests.alive(relay)) ?? false
        }
        #expect(recovered, "room came back once the slow connections were cut off")
        withExtendedLifetime(holders) {}
    }
}

extension RelayLimitsProcessTests {
    /// Polls `condition` every 100 ms for at most `seconds`.
    static func eventually(within seconds: Int, _ condition: () async throws -> Bool) async throws -> Bool {
        try await Poll.until(timeout: .seconds(seconds), every: .milliseconds(100), condition)
    }
}
