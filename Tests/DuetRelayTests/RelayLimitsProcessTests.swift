import DuetCrypto
import DuetTesting
import DuetWire
import Foundation
import Testing

/// Issue #12, as an attacker with nothing but freshly generated keys would try it, against the
/// real relay process on loopback. Each test names the attack it repeats.
@Suite("duet-relay under attack: numbers, caps, forks, pages")
struct RelayLimitsProcessTests {
    typealias Member = RelayProcessTests.Member

    /// The relay is alive and answers its health check on both listeners.
    static func alive(_ relay: RelayProcess) async throws -> Bool {
        let health = try await RelayClient(base: relay.base, device: .generate()).request("GET", "/healthz", authorised: false)
        let admin = try await RelayClient(base: relay.adminBase, device: .generate()).request("GET", "/healthz", authorised: false)
        return health.status == 200 && admin.status == 200 && kill(relay.processIdentifier, 0) == 0
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// A vector naming one device with `seq`, encoded by hand (the encoder would not refuse).
    static func vector(_ device: WireDeviceID, seq: UInt64) -> [UInt8] {
        var bytes: [UInt8] = [1] + device.bytes
        var value = seq
        while value >= 0x80 { bytes.append(UInt8(truncatingIfNeeded: value) | 0x80); value >>= 7 }
        bytes.append(UInt8(value))
        return bytes
    }

    @Test("Every numeric query parameter with max UInt64, max Int64, negative, empty and non-numeric values: 400 or 200, never 5xx, and the relay lives", arguments: RelayBackendKind.allCases)
    func hostileNumbers(backend: RelayBackendKind) async throws {
        // Attack: GET …/membership?after=18446744073709551615 overflowed `after + 1` and killed
        // the relay; after=9223372036854775807 trapped in storage at Int64(index).
        let relay = try await RelayProcess(backend: backend)
        var alex = Member()
        let (client, space) = try await RelayProcessTests.personalSpace(relay, alex)
        let path = "/v1/spaces/\(RelayClient.hex(space))"
        let key = SymmetricKey.random()
        let stored = try await client.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [alex.envelope(space, key).bytes]))
        #expect(stored.status == 200)
        let values = ["18446744073709551615", "18446744073709551616", "9223372036854775807", "9223372036854775808",
                      "9223372036854775806", "-1", "-9223372036854775808", "", "abc", "1e3", "0x10", "+1", " 1", "1 ", "%00",
                      "00000000000000000000001", "4294967296", "0"]
        var statuses: [String: Int] = [:]
        for value in values {
            let escaped = value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value
            for route in ["membership?after=", "envelopes?limit=", "envelopes?vector="] {
                let query = route + escaped
                let reply = try await client.request("GET", path + "/" + query)
                statuses[route + value] = reply.status
                #expect(reply.status < 500, "\(query) → \(reply.status) \(reply.text)")
                #expect([200, 400].contains(reply.status), "\(query) → \(reply.status) \(reply.text)")
            }
        }
        #expect(statuses["membership?after=18446744073709551615"] == 400)
        #expect(statuses["membership?after=9223372036854775807"] == 400, "after + 1 would not fit a stored index")
        #expect(statuses["membership?after=9223372036854775806"] == 200)
        #expect(statuses["envelopes?limit=-1"] == 400 && statuses["envelopes?limit=abc"] == 400 && statuses["envelopes?limit=0"] == 400)
        // Seqs inside a vector, the other numeric field of a fetch.
        for seq in [UInt64.max, UInt64.max - 1, UInt64(Int64.max) + 1, UInt64(Int64.max), UInt64(Int64.max) - 1, 0] {
            let reply = try await client.request("GET", path + "/envelopes?vector=" + Self.base64URL(Self.vector(alex.id, seq: seq)))
            #expect(reply.status == (seq > UInt64(Int64.max) ? 400 : 200), "vector seq \(seq) → \(reply.status) \(reply.text)")
        }
        // An envelope whose signed header carries seq 2^64 − 1 (the storage trapped at Int64(seq)).
        for seq in [UInt64.max, UInt64(Int64.max) + 1] {
            let huge = Envelope.seal([1], header: .init(space: space, epoch: 1, device: alex.id, seq: seq, previous: alex.previous),
                                     contentKey: key, signingKey: alex.device)
            let reply = try await client.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [huge.bytes]))
            #expect(reply.status == 400, "seq \(seq) → \(reply.status) \(reply.text)")
        }
        // A membership record whose index is the largest varint.
        for index in [UInt64.max, UInt64(Int64.max), UInt64(Int64.max) + 1] {
            let record = MembershipRecord.sign(space: space, index: index, previous: .zero, action: .rotateKey(epoch: UInt64.max), signer: alex.identity)
            let reply = try await client.request("POST", path + "/membership", body: record.encoded)
            #expect(reply.status == 409, "index \(index) → \(reply.status) \(reply.text)")
        }
        #expect(try await Self.alive(relay), "the relay is still up")
    }

    @Test("A device that forks is stopped after its first fork; evidence counts against the quota and the disk stays bounded", arguments: RelayBackendKind.allCases)
    func forkFlood(backend: RelayBackendKind) async throws {
        // Attack: 20 forks of 2 MiB on a space with a 1 MB quota wrote 84 MB in under a second.
        let relay = try await RelayProcess(options: ["--space-quota-bytes", "1000000"], backend: backend)
        var alex = Member()
        let (client, space) = try await RelayProcessTests.personalSpace(relay, alex)
        let path = "/v1/spaces/\(RelayClient.hex(space))/envelopes"
        let key = SymmetricKey.random()
        let first = alex.envelope(space, key, "first")
        #expect(try await client.request("POST", path, body: RelayMessages.encode(batch: [first.bytes])).status == 200)
        var codes: [String?] = []
        for round in 0..<20 {
            let big = [UInt8](repeating: UInt8(round), count: 1_900_000)  // padded (Padmé) under the 2 MiB limit
            let fork = Envelope.seal(big, header: .init(space: space, epoch: 1, device: alex.id, seq: 1, previous: .zero),
                                     contentKey: key, signingKey: alex.device)
            let reply = try await client.request("POST", path, body: RelayMessages.encode(batch: [fork.bytes]))
            if round == 0 { #expect(reply.code == "fork", "\(reply.text)") }
            codes.append(reply.code)
        }
        #expect(codes.first == "fork", "the first different envelope for seq 1 is a fork")
        #expect(codes.dropFirst().allSatisfy { $0 == "device-forked" }, "then the device is refused: \(codes)")
        // Not even its honest next envelope is taken any more: its key is in two places.
        let next = alex.envelope(space, key)
        #expect(try await client.request("POST", path, body: RelayMessages.encode(batch: [next.bytes])).code == "device-forked")
        var bytes = 0
        for suffix in ["", "-wal", "-shm"] {
            let attributes = try? FileManager.default.attributesOfItem(atPath: relay.data + "/relay.sqlite" + suffix)
            bytes += (attributes?[.size] as? NSNumber)?.intValue ?? 0
        }
        #expect(bytes < 6 << 20, "the relay's files hold \(bytes) bytes")
        #expect(try await Self.alive(relay))
    }

    @Test("Mailboxes are capped per device and in all, with 429 and Retry-After; taking one frees its room", arguments: RelayBackendKind.allCases)
    func mailboxCaps(backend: RelayBackendKind) async throws {
        // Attack: 100,000 × 64 KiB mailboxes were 6.4 GiB of the relay's memory for anyone.
        let relay = try await RelayProcess(options: ["--mailbox-bytes", String(512 << 10), "--mailbox-bytes-per-device", String(192 << 10)], backend: backend)
        var mallory = RelayClient(base: relay.base, device: .generate())
        try await mallory.authenticate()
        let blob = [UInt8](repeating: 1, count: 64 << 10)
        var statuses: [Int] = []
        var ids: [String] = []
        for _ in 0..<4 {
            let id = Hex.encode(RandomBytes.make(count: 16))
            ids.append(id)
            let reply = try await mallory.request("PUT", "/v1/mailboxes/\(id)", body: blob)
            statuses.append(reply.status)
            if reply.status == 429 {
                #expect(reply.code == "mailboxes-full" && reply.headers["retry-after"] != nil, "\(reply.text)")
            }
        }
        #expect(statuses == [200, 200, 200, 429], "three 64 KiB blobs fit the device's 192 KiB: \(statuses)")
        #expect(try await mallory.request("GET", "/v1/mailboxes/\(ids[0])").status == 200)
        #expect(try await mallory.request("PUT", "/v1/mailboxes/\(ids[3])", body: blob).status == 200, "reading one freed its room")
        // Fresh keys each get their own share, but never more than the relay's total.
        var accepted = 3
        for _ in 0..<6 {
            var stranger = RelayClient(base: relay.base, device: .generate())
            try await stranger.authenticate()
            let reply = try await stranger.request("PUT", "/v1/mailboxes/\(Hex.encode(RandomBytes.make(count: 16)))", body: blob)
            if reply.status == 200 { accepted += 1 } else { #expect(reply.status == 429 && reply.code == "mailboxes-full") }
        }
        #expect(accepted == 8, "512 KiB in all is eight 64 KiB blobs: \(accepted)")
        #expect(try await Self.alive(relay))
    }

    @Test("Challenges hold nothing: naming someone's key a thousand times locks nobody out; sessions are capped per device and in all, oldest ending first", arguments: RelayBackendKind.allCases)
    func challengeAndSessionCaps(backend: RelayBackendKind) async throws {
        // Attack: challenges were kept per claimed key; eight requests naming a victim's public
        // key (which the partner sees in the membership log) kept that device from signing in.
        let relay = try await RelayProcess(options: ["--sessions-per-device", "2", "--max-sessions", "5"], backend: backend)
        let victim = RelayProcessTests.Member()
        let (_, space) = try await RelayProcessTests.personalSpace(relay, victim)
        let attacker = RelayClient(base: relay.base, device: .generate())
        for _ in 0..<1000 {
            #expect(try await attacker.request("POST", "/v1/auth/challenge", body: victim.device.verifyingKey.bytes, authorised: false).status == 200)
        }
        var sessions: [RelayClient] = []
        for _ in 0..<3 {
            var next = RelayClient(base: relay.base, device: victim.device)
            try await next.authenticate()
            sessions.append(next)
        }
        let heads = "/v1/spaces/\(RelayClient.hex(space))/heads"
        #expect(try await sessions[2].request("GET", heads).status == 200, "the victim signs in as always")
        #expect(try await sessions[0].request("GET", heads).status == 401, "the oldest of three sessions of one device was ended")
        #expect(try await sessions[1].request("GET", heads).status == 200)
        // Strangers' sessions fill the relay-wide cap: the oldest end first, and anyone can
        // still sign in (no lockout), at the cost of signing in again.
        for _ in 0..<10 {
            var stranger = RelayClient(base: relay.base, device: .generate())
            try await stranger.authenticate()
        }
        #expect(try await sessions[2].request("GET", heads).status == 401, "evicted by the relay-wide cap")
        var again = RelayClient(base: relay.base, device: victim.device)
        try await again.authenticate()
        #expect(try await again.request("GET", heads).status == 200)
        // A challenge is good once, and only for the key it was issued to.
        let challenge = try await attacker.request("POST", "/v1/auth/challenge", body: victim.device.verifyingKey.bytes, authorised: false).body
        let message = RelayMessages.authenticationMessage(origin: relay.base, challenge: challenge)
        let signature = victim.device.signature(for: message)
        let body = victim.device.verifyingKey.bytes + challenge + signature.bytes
        #expect(try await attacker.request("POST", "/v1/auth/session", body: body, authorised: false).status == 200)
        #expect(try await attacker.request("POST", "/v1/auth/session", body: body, authorised: false).status == 401, "answered once only")
        let other = SigningKey.generate()
        let foreign = other.verifyingKey.bytes + challenge + other.signature(for: message).bytes
        #expect(try await attacker.request("POST", "/v1/auth/session", body: foreign, authorised: false).status == 401, "bound to its key")
    }

    @Test("Spaces per identity, recovery slots per identity and membership bursts are capped", arguments: RelayBackendKind.allCases)
    func creationCaps(backend: RelayBackendKind) async throws {
        let relay = try await RelayProcess(options: ["--spaces-per-identity", "2", "--recovery-slots-per-identity", "2", "--membership-burst", "8"], backend: backend)
        let identity = SigningKey.generate()
        var client = RelayClient(base: relay.base, device: .generate())
        try await client.authenticate()
        var codes: [String] = []
        for _ in 0..<3 {
            let space = SpaceID.random()
            let create = MembershipRecord.sign(space: space, index: 1, previous: .zero, action: .create(identity: identity.verifyingKey), signer: identity)
            let reply = try await client.request("POST", "/v1/spaces/\(RelayClient.hex(space))/membership", body: create.encoded)
            codes.append(reply.code ?? "\(reply.status)")
        }
        #expect(codes == ["200", "200", "too-many-spaces"], "\(codes)")
        var slots: [String] = []
        for _ in 0..<3 {
            let slot = RandomBytes.make(count: 16)
            let reply = try await client.request("PUT", "/v1/recovery/\(Hex.encode(slot))",
                                                 body: Recovery.putBody(slot: slot, blob: [1, 2, 3], identity: identity))
            slots.append(reply.code ?? "\(reply.status)")
        }
        #expect(slots == ["200", "200", "too-many-recovery-slots"], "\(slots)")
        // The device has spent 3 + 3 of its 8; a burst of records past that waits for the refill.
        var limited: BoundedReply?
        for _ in 0..<6 {
            let space = SpaceID.random()
            let other = SigningKey.generate()
            let create = MembershipRecord.sign(space: space, index: 1, previous: .zero, action: .create(identity: other.verifyingKey), signer: other)
            let reply = try await client.request("POST", "/v1/spaces/\(RelayClient.hex(space))/membership", body: create.encoded)
            if reply.status == 429 { limited = BoundedReply(reply); break }
        }
        let refusal = try #require(limited, "a burst of membership posts is rate-limited")
        #expect(refusal.code == "rate-limited" && refusal.retryAfter != nil && refusal.text.contains("retryAfterMilliseconds"))
        #expect(try await Self.alive(relay))
    }

    struct BoundedReply {
        let code: String?, retryAfter: String?, text: String
        init(_ reply: RelayClient.Reply) { code = reply.code; retryAfter = reply.headers["retry-after"]; text = reply.text }
    }

    @Test("Appends past the rate get 429 with Retry-After; a batch larger than the burst is 413 batch-too-large", arguments: RelayBackendKind.allCases)
    func appendRate(backend: RelayBackendKind) async throws {
        let relay = try await RelayProcess(options: ["--appends-per-second", "10", "--append-burst", "20"], backend: backend)
        var alex = Member()
        let (client, space) = try await RelayProcessTests.personalSpace(relay, alex)
        let path = "/v1/spaces/\(RelayClient.hex(space))/envelopes"
        let key = SymmetricKey.random()
        let envelopes = (0..<40).map { _ in alex.envelope(space, key).bytes }
        let tooMany = try await client.request("POST", path, body: RelayMessages.encode(batch: Array(envelopes[0..<21])))
        #expect(tooMany.status == 413 && tooMany.code == "batch-too-large" && tooMany.text.contains("at most 20"), "\(tooMany.text)")
        #expect(try await client.request("POST", path, body: RelayMessages.encode(batch: Array(envelopes[0..<20]))).status == 200)
        let limited = try await client.request("POST", path, body: RelayMessages.encode(batch: Array(envelopes[20..<30])))
        #expect(limited.status == 429 && limited.code == "rate-limited")
        let seconds = try #require(limited.headers["retry-after"].flatMap { Int($0) })
        #expect((1...2).contains(seconds), "ten envelopes at ten a second: about a second (\(seconds))")
    }

    @Test("Fetch pages are bounded in bytes and always carry one envelope; the client reads on to completion", arguments: RelayBackendKind.allCases)
    func pagesBoundedInBytes(backend: RelayBackendKind) async throws {
        let relay = try await RelayProcess(options: ["--max-page-bytes", "65536"], backend: backend)
        var alex = Member()
        let (client, space) = try await RelayProcessTests.personalSpace(relay, alex)
        let path = "/v1/spaces/\(RelayClient.hex(space))"
        let key = SymmetricKey.random()
        let text = String(repeating: "x", count: 30_000)
        let envelopes = (0..<6).map { _ in alex.envelope(space, key, text).bytes } + [alex.envelope(space, key, String(repeating: "y", count: 100_000)).bytes]
        #expect(try await client.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: envelopes)).status == 200)
        var vector: [WireDeviceID: UInt64] = [:]
        var received: [[UInt8]] = []
        var pages = 0
        while true {
            let reply = try await client.request("GET", path + "/envelopes?vector=" + Self.base64URL(RelayMessages.encode(vector: vector)))
            #expect(reply.status == 200)
            let page = try RelayMessages.decodeBatch(Array(reply.body.dropFirst()), maximumCount: 10_000, maximumItemBytes: 3 << 20)
            #expect(!page.isEmpty)
            #expect(page.count == 1 || page.reduce(0) { $0 + $1.count } <= 65_536, "a page of \(page.count) holds \(page.reduce(0) { $0 + $1.count }) bytes")
            received += page
            pages += 1
            vector[alex.id] = UInt64(received.count)
            if reply.body.first == 1 || pages > 20 { break }
        }
        #expect(received == envelopes, "every envelope once, in order, the 100 KB one alone on its page")
        #expect(pages >= 4)
    }

    @Test("The relay's files are readable by its user alone")
    func privateFiles() async throws {
        let relay = try await RelayProcess()
        var alex = Member()
        let (client, space) = try await RelayProcessTests.personalSpace(relay, alex)
        _ = try await client.request("POST", "/v1/spaces/\(RelayClient.hex(space))/envelopes",
                                     body: RelayMessages.encode(batch: [alex.envelope(space, .random()).bytes]))
        let folder = try FileManager.default.attributesOfItem(atPath: relay.data)
        #expect((folder[.posixPermissions] as? NSNumber)?.intValue == 0o700)
        for name in try FileManager.default.contentsOfDirectory(atPath: relay.data) {
            let attributes = try FileManager.default.attributesOfItem(atPath: relay.data + "/" + name)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600, "\(name) is not 0600")
        }
    }

    @Test("One relay per data folder: a second is refused with a clear line, and the first is untouched")
    func oneRelayPerFolder() async throws {
        let relay = try await RelayProcess()
        let second = try await ProcessRun.run("duet-relay", ["--port", "0", "--admin-port", "0", "--data", relay.data])
        #expect(second.status == 1 && second.stderr.contains("another duet-relay is already serving"), "\(second.stderr)")
        #expect(try await Self.alive(relay))
    }

    @Test("Bad options are one clear line and a non-zero exit")
    func badOptions() async throws {
        for (options, words) in [(["--port", "8479", "--admin-port", "8479"], "must differ"), (["--max-request-bytes", "100"], "at least one envelope"),
                                 (["--log-level", "chatty"], "--log-level is one of"), (["--public-url", "notaurl"], "--public-url must be"),
                                 (["--max-page-bytes", "5"], "--max-page-bytes must be"), (["--idle-timeout", "99999999999"], "at most 86400")] {
            let run = try await ProcessRun.run("duet-relay", ["--data", NSTemporaryDirectory() + "duet-never-" + UUID().uuidString] + options)
            #expect(run.status != 0 && run.stderr.contains(words), "\(options): \(run.stderr)")
        }
    }

    @Test("Behind a proxy: clients sign --public-url; the listening address is refused as an origin", arguments: RelayBackendKind.allCases)
    func publicURL(backend: RelayBackendKind) async throws {
        let relay = try await RelayProcess(options: ["--public-url", "https://relay.example.test/"], backend: backend)
        var behindProxy = RelayClient(base: relay.base, device: .generate(), origin: "https://relay.example.test")
        try await behindProxy.authenticate()
        #expect(behindProxy.token.count == 32, "the public URL (trailing slash dropped) is the origin")
        var direct = RelayClient(base: relay.base, device: .generate())
        await #expect(throws: RelayTestFailure.self) { try await direct.authenticate() }
    }
}

@Suite("duet-relay: revocation takes effect at once")
struct RelayRevocationProcessTests {
    @Test("Removing a device closes its live sockets, ends its sessions, and closes the recovery read path to it", arguments: RelayBackendKind.allCases)
    func revocation(backend: RelayBackendKind) async throws {
        // Attack: a revoked laptop's duetd kept receiving every new envelope on its socket.
        let relay = try await RelayProcess(backend: backend)
        var alex = RelayProcessTests.Member()
        let (client, space) = try await RelayProcessTests.personalSpace(relay, alex)
        let path = "/v1/spaces/\(RelayClient.hex(space))"
        let laptop = SigningKey.generate()
        let records = try RelayMessages.decodeBatch(try await client.request("GET", path + "/membership").body, maximumCount: 100, maximumItemBytes: 4096)
            .map { try MembershipRecord(bytes: $0) }
        let certificate = DeviceCertificate.issue(identity: alex.identity, device: laptop.verifyingKey, created: RelayProcessTests.now)
        let add = MembershipRecord.sign(space: space, index: 3, previous: records[1].hash, action: .addDevice(certificate), signer: alex.identity)
        #expect(try await client.request("POST", path + "/membership", body: add.encoded).status == 200)
        var stolen = RelayClient(base: relay.base, device: laptop)
        try await stolen.authenticate()
        let socket = try #require(MinimalWebSocket(port: relay.port, path: path + "/live", token: stolen.token, timeout: 10))
        let key = SymmetricKey.random()
        let before = alex.envelope(space, key)
        #expect(try await client.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [before.bytes])).status == 200)
        #expect(socket.nextBinary() == before.bytes, "a member's socket receives")

        let remove = MembershipRecord.sign(space: space, index: 4, previous: add.hash, action: .removeDevice(laptop.verifyingKey), signer: alex.identity)
        #expect(try await client.request("POST", path + "/membership", body: remove.encoded).status == 200)
        let after = alex.envelope(space, key, "written after the laptop was revoked")
        #expect(try await client.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [after.bytes])).status == 200)
        #expect(socket.waitForClose(), "the revoked device's socket is closed, and it received nothing more")
        #expect(try await stolen.request("GET", path + "/heads").status == 401, "its session is gone")
        try await stolen.authenticate()
        #expect(try await stolen.request("GET", path + "/heads").status == 403, "a fresh session is not a member")
        let withCertificate = try await stolen.request("GET", path + "/membership", headers: [("Duet-Certificate", Hex.encode(certificate.encoded))])
        #expect(withCertificate.status == 403, "its old certificate no longer opens the recovery read path")
        #expect(MinimalWebSocket(port: relay.port, path: path + "/live", token: stolen.token) == nil)
    }
}
