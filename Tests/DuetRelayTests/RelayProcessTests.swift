import DuetCrypto
import DuetTesting
import DuetWire
import Foundation
import Testing

/// The relay as a real process on loopback, driven over HTTP.
@Suite("duet-relay process")
struct RelayProcessTests {
    static let now = UInt64(Date().timeIntervalSince1970 * 1000)

    struct Member {
        let identity: SigningKey
        let device: SigningKey
        var seq: UInt64 = 0

        init(identity: SigningKey = .generate(), device: SigningKey = .generate()) {
            self.identity = identity
            self.device = device
        }

        var previous = Digest.zero
        var id: WireDeviceID { WireDeviceID(verifyingKey: device.verifyingKey) }

        mutating func envelope(_ space: SpaceID, _ key: SymmetricKey, _ text: String = "sealed") -> Envelope {
            seq += 1
            let envelope = Envelope.seal(Array(text.utf8), header: .init(space: space, epoch: 1, device: id, seq: seq, previous: previous),
                                         contentKey: key, signingKey: device)
            previous = envelope.hash
            return envelope
        }
    }

    /// Authenticates `member` and creates a personal space for them.
    static func personalSpace(_ relay: RelayProcess, _ member: Member) async throws -> (RelayClient, SpaceID) {
        var client = RelayClient(base: relay.base, device: member.device)
        try await client.authenticate()
        let space = SpaceID.random()
        let create = MembershipRecord.sign(space: space, index: 1, previous: .zero, action: .create(identity: member.identity.verifyingKey), signer: member.identity)
        let certificate = DeviceCertificate.issue(identity: member.identity, device: member.device.verifyingKey, created: now)
        let add = MembershipRecord.sign(space: space, index: 2, previous: create.hash, action: .addDevice(certificate), signer: member.identity)
        for record in [create, add] {
            let reply = try await client.request("POST", "/v1/spaces/\(RelayClient.hex(space))/membership", body: record.encoded)
            guard reply.status == 200 else { throw RelayTestFailure("membership: \(reply.status) \(reply.text)") }
        }
        return (client, space)
    }

    @Test("Health on both listeners, metrics only on the admin one, and graceful shutdown on SIGTERM", arguments: RelayBackendKind.allCases)
    func lifecycle(backend: RelayBackendKind) async throws {
        let relay = try await RelayProcess(backend: backend)
        let client = RelayClient(base: relay.base, device: .generate())
        let admin = RelayClient(base: relay.adminBase, device: .generate())
        let health = try await client.request("GET", "/healthz", authorised: false)
        #expect(health.status == 200 && health.text == "ok\n")
        #expect(try await admin.request("GET", "/healthz", authorised: false).status == 200)
        let metrics = try await admin.request("GET", "/metrics", authorised: false)
        #expect(metrics.text.contains("duet_relay_requests_total") && metrics.text.contains("duet_relay_request_seconds_bucket"))
        // Issue #12: a partner polling the public /metrics saw when and how much the other wrote.
        let onPublicPort = try await client.request("GET", "/metrics", authorised: false)
        #expect(onPublicPort.status == 404 && !onPublicPort.text.contains("duet_relay"), "no metrics on the public port")
        #expect(await relay.terminate() == 0, "exits cleanly on SIGTERM")
    }

    @Test("Append, heads, fetch by vector; duplicates, gaps, forks and strangers refused with codes", arguments: RelayBackendKind.allCases)
    func envelopes(backend: RelayBackendKind) async throws {
        let relay = try await RelayProcess(backend: backend)
        var alex = Member()
        let (client, space) = try await Self.personalSpace(relay, alex)
        let key = SymmetricKey.random()
        let path = "/v1/spaces/\(RelayClient.hex(space))"
        let envelopes = (0..<5).map { _ in alex.envelope(space, key) }
        let stored = try await client.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: envelopes.prefix(3).map(\.bytes)))
        #expect(stored.status == 200 && stored.text.contains("\"stored\",\"stored\",\"stored\""), "\(stored.text)")
        let duplicate = try await client.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [envelopes[2].bytes]))
        #expect(duplicate.status == 200 && duplicate.text.contains("duplicate"))
        let gap = try await client.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [envelopes[4].bytes]))
        #expect(gap.status == 409 && gap.code == "gap")
        var forker = alex
        forker.seq = 2
        forker.previous = envelopes[1].hash
        let fork = try await client.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [forker.envelope(space, key, "other").bytes]))
        #expect(fork.status == 409 && fork.code == "fork")
        let heads = try await client.request("GET", path + "/heads")
        #expect(try RelayMessages.decodeVector(heads.body) == [alex.id: 3])
        let vector = Data(RelayMessages.encode(vector: [alex.id: 1])).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let fetched = try await client.request("GET", path + "/envelopes?vector=\(vector)")
        #expect(fetched.status == 200 && fetched.body.first == 1)
        #expect(try RelayMessages.decodeBatch(Array(fetched.body.dropFirst()), maximumCount: 100, maximumItemBytes: 1 << 22)
                == envelopes[1...2].map(\.bytes))
        // A stranger's device: authenticated, but not a member.
        var stranger = RelayClient(base: relay.base, device: .generate())
        try await stranger.authenticate()
        #expect(try await stranger.request("GET", path + "/heads").code == "not-a-member")
        #expect(try await stranger.request("GET", path + "/envelopes").status == 403)
        // No session, a malformed space, an unknown space.
        #expect(try await client.request("GET", path + "/heads", authorised: false).status == 401)
        #expect(try await client.request("GET", "/v1/spaces/not-hex/heads").code == "malformed")
        #expect(try await client.request("GET", "/v1/spaces/\(RelayClient.hex(SpaceID.random()))/heads").code == "unknown-space")
    }

    @Test("Random and oversized bodies on every route get a 4xx, and the relay stays up", arguments: RelayBackendKind.allCases)
    func hostileBodies(backend: RelayBackendKind) async throws {
        let relay = try await RelayProcess(backend: backend)
        let alex = Member()
        let (client, space) = try await Self.personalSpace(relay, alex)
        let path = "/v1/spaces/\(RelayClient.hex(space))"
        let routes: [(String, String)] = [("POST", "/v1/auth/challenge"), ("POST", "/v1/auth/session"),
                                          ("POST", path + "/membership"), ("POST", path + "/envelopes")]
        var state: UInt64 = 7
        for (method, route) in routes {
            for size in [0, 1, 31, 33, 200, 5000] {
                let body = (0..<size).map { _ -> UInt8 in state = state &* 6364136223846793005 &+ 1; return UInt8(truncatingIfNeeded: state >> 33) }
                let reply = try await client.request(method, route, body: body)
                #expect((400..<500).contains(reply.status), "\(method) \(route) \(size) bytes → \(reply.status) \(reply.text)")
            }
        }
        let huge = [UInt8](repeating: 0xAB, count: 9 << 20)
        let tooLarge = try await client.request("POST", path + "/envelopes", body: huge)
        #expect(tooLarge.status == 413 && tooLarge.code == "too-large", "\(tooLarge.text)")
        #expect(try await client.request("GET", "/healthz").status == 200, "still up")
    }

    @Test("Killed with SIGKILL during appends and restarted: nothing acknowledged is missing", arguments: RelayBackendKind.allCases)
    func crashDuringAppends(backend: RelayBackendKind) async throws {
        let relay = try await RelayProcess(backend: backend)
        var alex = Member()
        let (client, space) = try await Self.personalSpace(relay, alex)
        let key = SymmetricKey.random()
        let path = "/v1/spaces/\(RelayClient.hex(space))"
        let envelopes = (0..<300).map { _ in alex.envelope(space, key) }
        let acknowledged = AcknowledgedCounter()
        let sender = Task {
            for envelope in envelopes {
                guard let reply = try? await client.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [envelope.bytes])),
                      reply.status == 200 else { return }
                await acknowledged.record(envelope.header.seq)
            }
        }
        // Kill once some appends have been acknowledged (a condition, polled, not a fixed sleep).
        while await acknowledged.highest < 20 { try await Task.sleep(for: .milliseconds(2)) }
        await relay.kill()
        await sender.value
        let highest = await acknowledged.highest
        try await relay.start()
        var again = RelayClient(base: relay.base, device: alex.device)
        try await again.authenticate()
        let heads = try RelayMessages.decodeVector(try await again.request("GET", path + "/heads").body)
        #expect((heads[alex.id] ?? 0) >= highest, "acknowledged up to \(highest), relay holds \(heads[alex.id] ?? 0)")
        #expect(highest < 300, "the kill landed during the appends")
    }
}

actor AcknowledgedCounter {
    private(set) var highest: UInt64 = 0
    func record(_ seq: UInt64) { highest = max(highest, seq) }
}

@Suite("duet-relay process, mailboxes and load")
struct RelayMailboxAndLoadTests {
    @Test("A mailbox holds one opaque message, read once; sizes and reuse are refused", arguments: RelayBackendKind.allCases)
    func mailboxes(backend: RelayBackendKind) async throws {
        let relay = try await RelayProcess(backend: backend)
        var inviter = RelayClient(base: relay.base, device: .generate())
        var invitee = RelayClient(base: relay.base, device: .generate())
        try await inviter.authenticate()
        try await invitee.authenticate()
        let id = Hex.encode(RandomBytes.make(count: 16))
        let message = RandomBytes.make(count: 500)
        #expect(try await inviter.request("PUT", "/v1/mailboxes/\(id)", body: message).status == 200)
        #expect(try await inviter.request("PUT", "/v1/mailboxes/\(id)", body: message).code == "mailbox-taken")
        let read = try await invitee.request("GET", "/v1/mailboxes/\(id)")
        #expect(read.status == 200 && read.body == message)
        #expect(try await invitee.request("GET", "/v1/mailboxes/\(id)").code == "unknown-mailbox", "read once")
        #expect(try await inviter.request("PUT", "/v1/mailboxes/\(id)", body: [UInt8](repeating: 1, count: 70_000)).status == 413)
        #expect(try await inviter.request("PUT", "/v1/mailboxes/xyz", body: message).code == "malformed")
        #expect(try await inviter.request("GET", "/v1/mailboxes/\(id)", authorised: false).status == 401)
    }

    @Test("200 concurrent devices append over HTTP: every envelope stored once, each device in order, fetch exact", arguments: RelayBackendKind.allCases)
    func concurrentClients(backend: RelayBackendKind) async throws {
        let relay = try await RelayProcess(backend: backend)
        // Twenty spaces (an identity holds at most 16 devices at once): each created by its owner
        // identity; 10 devices join each, each certified.
        let owners = (0..<20).map { _ in SigningKey.generate() }
        let spaces = (0..<20).map { _ in SpaceID.random() }
        var setup = RelayClient(base: relay.base, device: .generate())
        try await setup.authenticate()
        for (space, owner) in zip(spaces, owners) {
            let create = MembershipRecord.sign(space: space, index: 1, previous: .zero, action: .create(identity: owner.verifyingKey), signer: owner)
            #expect(try await setup.request("POST", "/v1/spaces/\(RelayClient.hex(space))/membership", body: create.encoded).status == 200)
        }
        let devices = (0..<200).map { _ in SigningKey.generate() }
        var previous = [SpaceID: MembershipRecord]()
        // Joining is sequential per space (each record names the one before).
        for (index, device) in devices.enumerated() {
            let space = spaces[index % 20], owner = owners[index % 20]
            var client = RelayClient(base: relay.base, device: device)
            try await client.authenticate()
            let certificate = DeviceCertificate.issue(identity: owner, device: device.verifyingKey, created: RelayProcessTests.now)
            let last = previous[space]
            let createHash: Digest
            if let last { createHash = last.hash } else {
                createHash = MembershipRecord.sign(space: space, index: 1, previous: .zero, action: .create(identity: owner.verifyingKey), signer: owner).hash
            }
            let record = MembershipRecord.sign(space: space, index: (last?.index ?? 1) + 1, previous: createHash, action: .addDevice(certificate), signer: owner)
            let reply = try await client.request("POST", "/v1/spaces/\(RelayClient.hex(space))/membership", body: record.encoded)
            try #require(reply.status == 200, "join \(index): \(reply.text)")
            previous[space] = record
        }
        let key = SymmetricKey.random()
        let perDevice = 5
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, device) in devices.enumerated() {
                group.addTask {
                    var client = RelayClient(base: relay.base, device: device)
                    try await client.authenticate()
                    let space = spaces[index % 20]
                    var member = RelayProcessTests.Member(identity: owners[index % 20], device: device)
                    for _ in 0..<perDevice {
                        let envelope = member.envelope(space, key)
                        let reply = try await client.request("POST", "/v1/spaces/\(RelayClient.hex(space))/envelopes",
                                                             body: RelayMessages.encode(batch: [envelope.bytes, envelope.bytes]))
                        guard reply.status == 200, reply.text.contains("\"stored\",\"duplicate\"") else {
                            throw RelayTestFailure("append: \(reply.status) \(reply.text)")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        var reader = RelayClient(base: relay.base, device: devices[0])
        try await reader.authenticate()
        let fetched = try await reader.request("GET", "/v1/spaces/\(RelayClient.hex(spaces[0]))/envelopes?limit=10000")
        #expect(fetched.body.first == 1, "complete")
        let envelopes = try RelayMessages.decodeBatch(Array(fetched.body.dropFirst()), maximumCount: 10_000, maximumItemBytes: 1 << 22)
            .map { try Envelope(bytes: $0) }
        #expect(envelopes.count == 10 * perDevice)
        #expect(Set(envelopes.map(\.bytes)).count == envelopes.count)
        for (_, chain) in Dictionary(grouping: envelopes, by: \.header.device) {
            #expect(chain.map(\.header.seq) == Array(1...UInt64(perDevice)))
        }
        let heads = try RelayMessages.decodeVector(try await reader.request("GET", "/v1/spaces/\(RelayClient.hex(spaces[0]))/heads").body)
        #expect(heads.count == 10 && heads.values.allSatisfy { $0 == UInt64(perDevice) })
    }
}

@Suite("duet-relay process, live push")
struct RelayLiveTests {
    @Test("Every stored envelope is pushed at once to each connected member device; strangers cannot subscribe", arguments: RelayBackendKind.allCases)
    func livePush(backend: RelayBackendKind) async throws {
        let relay = try await RelayProcess(backend: backend)
        var alex = RelayProcessTests.Member()
        let (client, space) = try await RelayProcessTests.personalSpace(relay, alex)
        let path = "/v1/spaces/\(RelayClient.hex(space))"
        // The same device's second connection (another window) also receives everything.
        let first = try #require(MinimalWebSocket(port: relay.port, path: path + "/live", token: client.token))
        let second = try #require(MinimalWebSocket(port: relay.port, path: path + "/live", token: client.token))
        var stranger = RelayClient(base: relay.base, device: .generate())
        try await stranger.authenticate()
        #expect(MinimalWebSocket(port: relay.port, path: path + "/live", token: stranger.token) == nil, "not a member: no upgrade")
        #expect(MinimalWebSocket(port: relay.port, path: path + "/live", token: [UInt8](repeating: 7, count: 32)) == nil, "no session")
        let key = SymmetricKey.random()
        let envelopes = (0..<3).map { _ in alex.envelope(space, key) }
        let reply = try await client.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: envelopes.map(\.bytes)))
        #expect(reply.status == 200)
        // A duplicate is not pushed again.
        _ = try await client.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [envelopes[0].bytes]))
        for socket in [first, second] {
            for envelope in envelopes { #expect(socket.nextBinary() == envelope.bytes) }
        }
        let fourth = alex.envelope(space, key)
        _ = try await client.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [fourth.bytes]))
        #expect(first.nextBinary() == fourth.bytes, "the duplicate was skipped; the next push is the fourth")
        let metrics = try await RelayClient(base: relay.adminBase, device: .generate()).request("GET", "/metrics")
        #expect(metrics.text.contains("duet_relay_live_connections 2"))
    }
}

@Suite("duet-relay logs")
struct RelayLogTests {
    @Test("At trace level the log holds no token, key, id or byte of ciphertext", arguments: RelayBackendKind.allCases)
    func logsHoldNoSecrets(backend: RelayBackendKind) async throws {
        let relay = try await RelayProcess(options: ["--log-level", "trace"], backend: backend)
        var alex = RelayProcessTests.Member()
        let (client, space) = try await RelayProcessTests.personalSpace(relay, alex)
        let key = SymmetricKey.random()
        let envelope = alex.envelope(space, key, "a secret sentence")
        let path = "/v1/spaces/\(RelayClient.hex(space))"
        #expect(try await client.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [envelope.bytes])).status == 200)
        #expect(try await client.request("POST", path + "/envelopes", body: [1, 2, 3]).status == 400)
        _ = try await client.request("GET", path + "/heads")
        #expect(await relay.terminate() == 0)
        let log = try String(contentsOfFile: relay.logPath, encoding: .utf8)
        #expect(log.contains("refused"), "refusals are logged (by code)")
        let hex = Hex.encode
        for secret in [hex(client.token), hex(Array(envelope.sealed.prefix(24))), hex(alex.device.verifyingKey.bytes),
                       RelayClient.hex(space), Data(envelope.sealed.prefix(24)).base64EncodedString()] {
            #expect(!log.contains(secret), "the log contains \(secret.prefix(12))…")
        }
    }
}

@Suite("duet-relay process, connection limit")
struct RelayConnectionLimitTests {
    @Test("A device gets at most the configured number of live connections", arguments: RelayBackendKind.allCases)
    func connectionLimit(backend: RelayBackendKind) async throws {
        let relay = try await RelayProcess(options: ["--live-connections-per-device", "2"], backend: backend)
        let alex = RelayProcessTests.Member()
        let (client, space) = try await RelayProcessTests.personalSpace(relay, alex)
        let path = "/v1/spaces/\(RelayClient.hex(space))/live"
        let first = MinimalWebSocket(port: relay.port, path: path, token: client.token)
        let second = MinimalWebSocket(port: relay.port, path: path, token: client.token)
        #expect(first != nil && second != nil)
        #expect(MinimalWebSocket(port: relay.port, path: path, token: client.token) == nil, "the third is refused")
        let records = try await client.request("GET", "/v1/spaces/\(RelayClient.hex(space))/membership?after=1")
        #expect(try RelayMessages.decodeBatch(records.body, maximumCount: 10, maximumItemBytes: 4096).count == 1, "records after index 1")
        withExtendedLifetime((first, second)) {}
    }
}

@Suite("duet-relay process, more refusals")
struct RelayRefusalTests {
    @Test("A session with a wrong signature is 401; a membership record that does not follow the log is 409", arguments: RelayBackendKind.allCases)
    func refusals(backend: RelayBackendKind) async throws {
        let relay = try await RelayProcess(backend: backend)
        let alex = RelayProcessTests.Member()
        let (client, space) = try await RelayProcessTests.personalSpace(relay, alex)
        let challenge = try await client.request("POST", "/v1/auth/challenge", body: alex.device.verifyingKey.bytes, authorised: false)
        let wrong = SigningKey.generate().signature(for: challenge.body)
        let session = try await client.request("POST", "/v1/auth/session", body: alex.device.verifyingKey.bytes + challenge.body + wrong.bytes, authorised: false)
        #expect(session.status == 401 && session.code == "unauthenticated")
        let replayed = MembershipRecord.sign(space: space, index: 2, previous: .zero, action: .rotateKey(epoch: 2), signer: alex.identity)
        let reply = try await client.request("POST", "/v1/spaces/\(RelayClient.hex(space))/membership", body: replayed.encoded)
        #expect(reply.status == 409 && (reply.code ?? "").hasPrefix("membership-"), "\(reply.text)")
        let garbage = try await client.request("POST", "/v1/spaces/\(RelayClient.hex(space))/membership", body: [1, 2, 3])
        #expect(garbage.status == 400 && garbage.code == "malformed")
    }
}
