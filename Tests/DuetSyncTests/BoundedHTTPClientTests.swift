import DuetHTTP
import DuetTesting
import Foundation
import Testing

/// Issue #12, item 1: the one HTTP client bounds everything a hostile relay controls: how long a
/// call takes (connect, head, body), how much of a reply is read, and where it goes (no
/// redirects). Each server below is a real socket on loopback.
@Suite("Bounded HTTP client")
struct BoundedHTTPClientTests {
    static func url(_ server: HostileServer) -> String { "http://127.0.0.1:\(server.port)/v1/anything" }

    @Test("A reply larger than the cap is refused, with or without a Content-Length")
    func replyCap() async throws {
        let big = [UInt8](repeating: 0x61, count: 1 << 20)
        let declared = try HostileServer(answers: [.init(Array("HTTP/1.1 200 OK\r\nContent-Length: \(big.count)\r\n\r\n".utf8) + big)])
        let undeclared = try HostileServer(answers: [.init(Array("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".utf8) + big)])
        for server in [declared, undeclared] {
            await #expect(throws: BoundedHTTPClient.Failure.replyTooLarge(limit: 64 << 10)) {
                try await BoundedHTTPClient.send("GET", Self.url(server), limits: .init(maximumReplyBytes: 64 << 10))
            }
        }
        let fits = try await BoundedHTTPClient.send("GET", Self.url(declared), limits: .init(maximumReplyBytes: 2 << 20))
        #expect(fits.status == 200 && fits.body.count == big.count, "the same reply under a larger cap is read whole")
        await declared.stop(); await undeclared.stop()
    }

    @Test("A server that never answers, or trickles its reply, is given up on at the deadline")
    func deadlines() async throws {
        let silent = try HostileServer(answers: [.init([], hold: .seconds(20))])
        let trickling = try HostileServer(answers: [.init(Array("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".utf8) + [UInt8](repeating: 0x62, count: 100),
                                                          trickle: .milliseconds(100))])
        for server in [silent, trickling] {
            let start = ContinuousClock.now
            await #expect(throws: BoundedHTTPClient.Failure.timedOut) {
                try await BoundedHTTPClient.send("GET", Self.url(server), limits: .init(connect: .seconds(1), request: .seconds(1), maximumReplyBytes: 1 << 20))
            }
            #expect(ContinuousClock.now - start < .seconds(8), "gave up near the 1 s deadline, not the server's 20 s")
        }
        await silent.stop(); await trickling.stop()
    }

    @Test("Redirects are not followed: the reply is the redirect itself")
    func noRedirects() async throws {
        let target = try HostileServer(answers: [.init(Array("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nstolen".utf8))])
        let redirecting = try HostileServer(answers: [.init(Array("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:\(target.port)/\r\nContent-Length: 0\r\n\r\n".utf8))])
        let reply = try await BoundedHTTPClient.send("POST", Self.url(redirecting), headers: [("Authorization", "Bearer secret")], body: [1],
                                                     limits: .init(maximumReplyBytes: 1024))
        #expect(reply.status == 302)
        #expect(target.connections == 0, "the token never went to the other host")
        await target.stop(); await redirecting.stop()
    }

    @Test("A refused connection and a malformed reply are failures, not traps")
    func failures() async throws {
        let closed = try HostileServer()
        let port = closed.port
        await closed.stop()
        await #expect(throws: BoundedHTTPClient.Failure.self) {
            try await BoundedHTTPClient.send("GET", "http://127.0.0.1:\(port)/", limits: .init(maximumReplyBytes: 1024))
        }
        let garbage = try HostileServer()  // garbage, cut-off replies, broken upgrades, silence
        var returned = 0
        for _ in 0..<HostileServer.answers.count {
            _ = try? await BoundedHTTPClient.send("GET", Self.url(garbage), limits: .init(request: .seconds(2), maximumReplyBytes: 1024))
            returned += 1
        }
        #expect(returned == HostileServer.answers.count && garbage.connections >= 1, "every call came back")
        await #expect(throws: BoundedHTTPClient.Failure.badURL) {
            try await BoundedHTTPClient.send("GET", "ftp://127.0.0.1/", limits: .init(maximumReplyBytes: 1024))
        }
        await garbage.stop()
    }

    @Test("withAbandoningDeadline returns at its deadline, and at once when cancelled, even if the work ignores cancellation")
    func abandoning() async throws {
        // Work that ignores cancellation for 5 s (bounded, so the test leaks nothing for long),
        // without spinning or holding a thread: a continuation only a timer resumes.
        @Sendable func stubborn() async -> Int {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().asyncAfter(deadline: .now() + 5) { continuation.resume(returning: 1) }
            }
        }
        let start = ContinuousClock.now
        await #expect(throws: DeadlineExceeded.self) { try await withAbandoningDeadline(.milliseconds(200)) { await stubborn() } }
        #expect(ContinuousClock.now - start < .seconds(3), "returned at the deadline, not when the work gave up")

        let caller = Task { try await withAbandoningDeadline(.seconds(60)) { await stubborn() } }
        try await Task.sleep(for: .milliseconds(100))
        let cancelledAt = ContinuousClock.now
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
        #expect(ContinuousClock.now - cancelledAt < .seconds(3))
        #expect(try await withAbandoningDeadline(.seconds(5)) { 7 } == 7, "a quick result passes through")
    }
}
