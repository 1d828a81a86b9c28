import DuetCrypto
import DuetTesting
import DuetWire
import Foundation
import Testing

actor SendProgress {
    private(set) var highest: UInt64 = 0
    private(set) var refusals: [String] = []
    func acknowledged(_ seq: UInt64) { highest = max(highest, seq) }
    func refused(_ what: String) { refusals.append(what) }
}

/// Two `duet-relay` processes on one PostgreSQL database (issue #17): live fan-out across
/// them, one killed while clients append, and a database that cannot be reached.
@Suite("duet-relay processes on one PostgreSQL")
struct RelayClusterProcessTests {
    @Test("A device live on relay A receives what is appended through relay B, and a removal through B closes its socket on A")
    func fanOutAcrossProcesses() async throws {
        let a = try await RelayProcess(backend: .postgres)
        let b = try await RelayProcess(postgresURL: a.postgresURL)
        var alex = RelayProcessTests.Member()
        let (onA, space) = try await RelayProcessTests.personalSpace(a, alex)
        let path = "/v1/spaces/\(RelayClient.hex(space))"
        // Alex's second device writes through B (the session is B's own).
        var laptop = RelayProcessTests.Member(identity: alex.identity)
        var onB = RelayClient(base: b.base, device: laptop.device)
        try await onB.authenticate()
        let records = try RelayMessages.decodeBatch(try await onA.request("GET", path + "/membership").body, maximumCount: 100, maximumItemBytes: 4096)
            .map { try MembershipRecord(bytes: $0) }
        let certificate = DeviceCertificate.issue(identity: alex.identity, device: laptop.device.verifyingKey, created: RelayProcessTests.now)
        let addLaptop = MembershipRecord.sign(space: space, index: 3, previous: records[1].hash, action: .addDevice(certificate), signer: alex.identity)
        #expect(try await onB.request("POST", path + "/membership", body: addLaptop.encoded).status == 200)

        let socket = try #require(MinimalWebSocket(port: a.port, path: path + "/live", token: onA.token))
        let key = SymmetricKey.random()
        for round in 0..<20 {
            let envelope = laptop.envelope(space, key, "round \(round)")
            let started = ContinuousClock.now
            let reply = try await onB.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [envelope.bytes]))
            #expect(reply.status == 200, "\(reply.text)")
            #expect(socket.nextBinary() == envelope.bytes, "pushed on A, round \(round)")
            // Not a timing assertion (the benchmark measures): a generous bound against a poll.
            #expect(ContinuousClock.now - started < .seconds(5))
        }
        // Alex's own appends through A reach A's socket once, not again through the notification.
        let own = alex.envelope(space, key, "through A")
        _ = try await onA.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [own.bytes]))
        #expect(socket.nextBinary() == own.bytes)
        let next = laptop.envelope(space, key, "after")
        _ = try await onB.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [next.bytes]))
        #expect(socket.nextBinary() == next.bytes, "no duplicate of A's own append came between")

        // The first device is removed through B: its socket on A closes, its session ends everywhere.
        let current = try RelayMessages.decodeBatch(try await onB.request("GET", path + "/membership").body, maximumCount: 100, maximumItemBytes: 4096)
            .map { try MembershipRecord(bytes: $0) }
        let remove = MembershipRecord.sign(space: space, index: UInt64(current.count + 1), previous: current[current.count - 1].hash,
                                           action: .removeDevice(alex.device.verifyingKey), signer: alex.identity)
        #expect(try await onB.request("POST", path + "/membership", body: remove.encoded).status == 200)
        #expect(socket.waitForClose(), "the removed device's socket on A closed")
        #expect(try await onA.request("GET", path + "/heads").status == 401, "its session ended on A too")
        _ = await a.terminate()
        _ = await b.terminate()
    }

    @Test("One of two relays is killed with SIGKILL during appends: the client goes on through the other and nothing acknowledged is missing")
    func killOneOfTwo() async throws {
        let a = try await RelayProcess(backend: .postgres)
        let b = try await RelayProcess(postgresURL: a.postgresURL)
        var alex = RelayProcessTests.Member()
        let (onA, space) = try await RelayProcessTests.personalSpace(a, alex)
        let path = "/v1/spaces/\(RelayClient.hex(space))"
        let key = SymmetricKey.random()
        let envelopes = (0..<300).map { _ in alex.envelope(space, key) }
        let acknowledged = AcknowledgedCounter()
        let sender = Task { () -> Int in
            for (index, envelope) in envelopes.enumerated() {
                guard let reply = try? await onA.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [envelope.bytes])),
                      reply.status == 200 else { return index }
                await acknowledged.record(envelope.header.seq)
            }
            return envelopes.count
        }
        while await acknowledged.highest < 20 { try await Task.sleep(for: .milliseconds(2)) }
        await a.kill()
        let stoppedAt = await sender.value
        let highest = await acknowledged.highest
        #expect(stoppedAt < envelopes.count, "the kill landed during the appends")
        // The same device signs in at B and finds everything A acknowledged.
        var onB = RelayClient(base: b.base, device: alex.device)
        try await onB.authenticate()
        let heads = try RelayMessages.decodeVector(try await onB.request("GET", path + "/heads").body)
        let held = heads[alex.id] ?? 0
        #expect(held >= highest, "acknowledged up to \(highest), the database holds \(held)")
        // It goes on from what the database holds (an append A took but never answered counts).
        for envelope in envelopes[Int(held)...] {
            let reply = try await onB.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [envelope.bytes]))
            #expect(reply.status == 200, "\(reply.text)")
        }
        let fetched = try await onB.request("GET", path + "/envelopes?limit=1000")
        let batch = try RelayMessages.decodeBatch(Array(fetched.body.dropFirst()), maximumCount: 1000, maximumItemBytes: 1 << 20)
        #expect(batch == envelopes.map(\.bytes), "every envelope once, in order")
        _ = await b.terminate()
    }

    @Test("The database restarted under load: the relays refuse while it is down (nothing acknowledged is lost), reconnect by themselves, and close live sockets so clients fetch")
    func databaseRestart() async throws {
        let cluster = try await PrivatePostgresCluster()
        let a = try await RelayProcess(postgresURL: cluster.url)
        let b = try await RelayProcess(postgresURL: cluster.url)
        var alex = RelayProcessTests.Member()
        let (onA, space) = try await RelayProcessTests.personalSpace(a, alex)
        let path = "/v1/spaces/\(RelayClient.hex(space))"
        var onB = RelayClient(base: b.base, device: alex.device)
        try await onB.authenticate()
        let socket = try #require(MinimalWebSocket(port: b.port, path: path + "/live", token: onB.token, timeout: 30))
        let key = SymmetricKey.random()
        let envelopes = (0..<200).map { _ in alex.envelope(space, key) }
        let progress = SendProgress()
        // Each envelope is sent until it is acknowledged, as a device's sync does.
        let sender = Task {
            for envelope in envelopes {
                while true {
                    let reply = try? await onA.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [envelope.bytes]), timeout: .seconds(30))
                    if reply?.status == 200 { break }
                    await progress.refused(reply.map { "\($0.status) \($0.code ?? "")" } ?? "no answer")
                    try await Task.sleep(for: .milliseconds(50))
                }
                await progress.acknowledged(envelope.header.seq)
            }
        }
        while await progress.highest < 20 { try await Task.sleep(for: .milliseconds(2)) }
        try await cluster.down()
        // Down until the relay has refused at least one append (a condition, not a fixed pause).
        while await progress.refusals.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        #expect(socket.waitForClose(), "B's live socket closed when its listener lost the database")
        try await cluster.up()
        try await sender.value
        let refusals = await progress.refusals
        #expect(refusals.allSatisfy { $0 == "503 unavailable" }, "while down, appends are refused as unavailable: \(Set(refusals))")
        // Every envelope is held once, in order, though some were sent many times.
        let fetched = try await onB.request("GET", path + "/envelopes?limit=1000")
        let held = try RelayMessages.decodeBatch(Array(fetched.body.dropFirst()), maximumCount: 1000, maximumItemBytes: 1 << 20)
        #expect(held == envelopes.map(\.bytes))
        // B's listener is back: a fresh socket on B hears an append through A.
        let again = try #require(MinimalWebSocket(port: b.port, path: path + "/live", token: onB.token))
        let after = alex.envelope(space, key, "after the restart")
        #expect(try await onA.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [after.bytes])).status == 200)
        #expect(again.nextBinary() == after.bytes)
        #expect(a.isRunning && b.isRunning)
        _ = await a.terminate()
        _ = await b.terminate()
        await cluster.remove()
    }

    @Test("PostgreSQL unreachable at start: one clear line naming it (without its password) and a non-zero exit")
    func unreachable() async throws {
        // Port 1: nothing listens there on this machine, so the connection is refused at once.
        let port = 1
        let run = try await ProcessRun.run("duet-relay", ["--port", "0", "--admin-port", "0", "--postgres", "postgres://duet:hunter2@127.0.0.1:\(port)/duet"])
        #expect(run.status == 1)
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("error: cannot use PostgreSQL at postgres://duet@127.0.0.1:\(port)/duet: connection refused"), "\(run.stderr)")
        #expect(!run.stderr.contains("hunter2"))
        let malformed = try await ProcessRun.run("duet-relay", ["--postgres", "mysql://x/y"])
        #expect(malformed.status != 0 && malformed.stderr.contains("--postgres is not a postgres:// URL"))
    }
}
