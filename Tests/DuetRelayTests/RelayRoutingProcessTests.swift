import DuetCrypto
import DuetTesting
import DuetWire
import Foundation
import Testing

/// The HTTP seam (issue #15: every route in `RelayAPI`, catch-all routes in `RelayServer`) as a
/// hostile client sees it, over raw sockets so that nothing between the test and the relay
/// tidies the request: targets no URL library would send, methods no route takes, bodies whose
/// declared length is past the route's limit.
@Suite("duet-relay routing seam")
struct RelayRoutingProcessTests {
    struct Answer {
        let status: Int
        let head: String
        let body: String
        var code: String? {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["code"] as? String
        }
    }

    /// Sends `head` (a request line and header lines, without the blank line) and whatever
    /// `body` holds, with `Connection: close`, and reads the answer until the relay closes or
    /// `timeout` seconds pass without a byte (status 0 then).
    static func send(_ relay: RelayProcess, _ head: String, token: [UInt8]? = nil, body: [UInt8] = [], timeout: Int = 10) throws -> Answer {
        let connection = try #require(RawConnection(port: relay.port, timeout: timeout))
        var lines = head + "\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if let token { lines += "Authorization: Bearer \(Hex.encode(token))\r\n" }
        connection.send(Array((lines + "\r\n").utf8) + body)
        let text = String(decoding: connection.read(limit: 1 << 20).bytes, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        let status = text.hasPrefix("HTTP/1.1 ") ? Int(text.dropFirst(9).prefix(3)) ?? 0 : 0
        return Answer(status: status, head: parts.first ?? "", body: parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    @Test("A query value with a malformed or non-UTF-8 escape is malformed (400), never taken as absent")
    func malformedQueryEscapes() async throws {
        // Seen at the seam: RelayRequest.query answered nil for `limit=%zz`, so the relay served
        // the default page (200) for a limit SPEC § 6.5 calls malformed, and `vector=%FF` as the
        // empty vector: the whole space.
        let relay = try await RelayProcess()
        var alex = RelayProcessTests.Member()
        let (client, space) = try await RelayProcessTests.personalSpace(relay, alex)
        let path = "/v1/spaces/\(RelayClient.hex(space))"
        let stored = try await client.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [alex.envelope(space, .random()).bytes]))
        #expect(stored.status == 200)
        // The same requests well-formed are answered: the refusals below are the escapes'.
        for query in ["envelopes?limit=%31", "envelopes?vector=", "membership?after=%30", "envelopes?limit=1&limit=%zz"] {
            let answer = try Self.send(relay, "GET \(path)/\(query) HTTP/1.1", token: client.token)
            #expect(answer.status == 200, "\(query) → \(answer.status) \(answer.body)")
        }
        for escape in ["%zz", "%", "1%", "%3", "%FF", "%C0%80", "%ED%A0%80"] {
            for query in ["envelopes?limit=\(escape)", "envelopes?vector=\(escape)", "membership?after=\(escape)",
                          "envelopes?limit=\(escape)&limit=5"] {
                let answer = try Self.send(relay, "GET \(path)/\(query) HTTP/1.1", token: client.token)
                #expect(answer.status == 400 && answer.code == "malformed", "\(query) → \(answer.status) \(answer.body)")
            }
        }
        #expect(try await RelayLimitsProcessTests.alive(relay))
    }

    @Test("Every request no route takes — other methods, the root, paths under /healthz — is 404 not-found in JSON; /healthz and the routes answer as before")
    func unknownRoutes() async throws {
        let relay = try await RelayProcess()
        let alex = RelayProcessTests.Member()
        let (client, space) = try await RelayProcessTests.personalSpace(relay, alex)
        let hexSpace = RelayClient.hex(space)
        var targets: [(String, String)] = [("GET", "/"), ("GET", "/nope"), ("GET", "/metrics"), ("GET", "/healthz/x"), ("POST", "/healthz"),
                                           ("PUT", "/v1/spaces/\(hexSpace)/heads"), ("GET", "/v1/auth/challenge"), ("GET", "/%761/spaces/\(hexSpace)/heads")]
        for method in ["DELETE", "PATCH", "OPTIONS"] {
            for route in ["/v1/spaces/\(hexSpace)/envelopes", "/v1/mailboxes/\(hexSpace)", "/healthz", "/"] { targets.append((method, route)) }
        }
        for (method, target) in targets {
            for token in [client.token, nil] {
                let answer = try Self.send(relay, "\(method) \(target) HTTP/1.1", token: token)
                #expect(answer.status == 404 && answer.code == "not-found" && answer.head.lowercased().contains("content-type: application/json"),
                        "\(method) \(target) → \(answer.status) \(answer.body)")
            }
        }
        // HEAD: the status and headers of a not-found, no body.
        for target in ["/v1/spaces/\(hexSpace)/heads", "/healthz", "/"] {
            let answer = try Self.send(relay, "HEAD \(target) HTTP/1.1", token: client.token)
            #expect(answer.status == 404 && answer.body.isEmpty && answer.head.lowercased().contains("content-type: application/json"),
                    "HEAD \(target) → \(answer.status) \(answer.body)")
        }
        // What did answer before the seam still does: health, and a route spelled with extra
        // slashes or upper-case hex.
        let health = try Self.send(relay, "GET /healthz HTTP/1.1")
        #expect(health.status == 200 && health.body == "ok\n")
        for target in ["/v1/spaces/\(hexSpace)/heads", "/v1/spaces/\(hexSpace)/heads/", "//v1//spaces//\(hexSpace)//heads",
                       "/v1/spaces/\(hexSpace.uppercased())/heads"] {
            let answer = try Self.send(relay, "GET \(target) HTTP/1.1", token: client.token)
            #expect(answer.status == 200, "GET \(target) → \(answer.status) \(answer.body)")
        }
        // Every one of them is counted as a refusal by code, and only on the admin port.
        let admin = RelayClient(base: relay.adminBase, device: .generate())
        let metrics = try await admin.request("GET", "/metrics", authorised: false).text
        let counted = metrics.split(separator: "\n").first { $0.hasPrefix("duet_relay_refusals_total{code=\"not-found\"}") }
            .flatMap { $0.split(separator: " ").last.flatMap { Int($0) } } ?? 0
        #expect(counted >= targets.count * 2 + 3, "not-found refusals counted: \(counted)")
        #expect(try await RelayLimitsProcessTests.alive(relay))
    }

    @Test("A body declared longer than the route takes is 413 at once, before any of it is read")
    func declaredTooLarge() async throws {
        // Seen at the seam: the reader clamped the declared length to the limit before comparing,
        // so `Content-Length: 9 MiB` on an 8 MiB route reserved 8 MiB of the relay-wide budget and
        // waited for the bytes (until the idle timeout when they never came) instead of refusing.
        let relay = try await RelayProcess()
        var client = RelayClient(base: relay.base, device: .generate())
        try await client.authenticate()
        let space = Hex.encode(RandomBytes.make(count: 16))
        let cases: [(String, Int, [UInt8]?)] = [
            ("POST /v1/auth/challenge", 1025, nil), ("POST /v1/auth/session", 1 << 30, client.token),
            ("POST /v1/spaces/\(space)/envelopes", (8 << 20) + 1, client.token), ("POST /v1/spaces/\(space)/membership", 4097, client.token),
            ("PUT /v1/mailboxes/\(space)", (64 << 10) + 1, client.token), ("PUT /v1/recovery/\(space)", (64 << 10) + 97, client.token),
        ]
        for (line, length, token) in cases {
            // Only the head is sent: an answer can come only from the declared length.
            let answer = try Self.send(relay, "\(line) HTTP/1.1\r\nContent-Length: \(length)", token: token, timeout: 10)
            #expect(answer.status == 413 && answer.code == "too-large", "\(line) with Content-Length \(length) → \(answer.status) \(answer.body)")
        }
        // A body of exactly the limit is still read and judged by the route.
        let exact = try Self.send(relay, "POST /v1/auth/challenge HTTP/1.1\r\nContent-Length: 1024", body: [UInt8](repeating: 1, count: 1024))
        #expect(exact.status == 400 && exact.code == "malformed", "\(exact.status) \(exact.body)")
        // Chunked bodies declare nothing: past the limit they are 413 as they arrive.
        let chunk = Array("400\r\n".utf8) + [UInt8](repeating: 2, count: 1024) + Array("\r\n".utf8)
        let chunked = try Self.send(relay, "POST /v1/spaces/\(space)/membership HTTP/1.1\r\nTransfer-Encoding: chunked", token: client.token,
                                    body: chunk + chunk + chunk + chunk + chunk + Array("0\r\n\r\n".utf8))
        #expect(chunked.status == 413 && chunked.code == "too-large", "\(chunked.status) \(chunked.body)")
        #expect(try await RelayLimitsProcessTests.alive(relay))
    }
}
