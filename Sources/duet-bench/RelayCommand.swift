import ArgumentParser
import DuetCrypto
import DuetTesting
import DuetWire
import Foundation

/// `duet-bench relay`: a real `duet-relay` process (release build beside this one) on loopback,
/// driven over HTTP like devices would drive it.
struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Append throughput and latency with 1, 10 and 100 devices; live fan-out latency; idle WebSocket memory.")

    @Option(help: "Appends each device makes per round.") var appendsPerDevice = 100
    @Option(help: "Idle WebSocket connections to hold.") var idleConnections = 1_000
    @Flag(help: "Print one JSON object instead of text.") var json = false
    @Option(help: "Extra options passed to duet-relay (repeatable), e.g. --relay-option=--event-loop-threads=1.") var relayOption: [String] = []

    struct Round: Encodable {
        let devices: Int
        let appends: Int
        let appendsPerSecond: Double
        let p50Milliseconds: Double
        let p99Milliseconds: Double
    }

    struct Report: Encodable {
        let rounds: [Round]
        let fanOutP50Milliseconds: Double
        let fanOutP99Milliseconds: Double
        let idleConnections: Int
        let bytesPerIdleConnection: Int
    }

    func run() async throws {
        // No rate limit: the benchmark measures the relay's own capacity.
        let relay = try await RelayProcess(options: ["--appends-per-second", "1000000000", "--append-burst", "1000000000", "--max-connections", "20000"] + relayOption)
        let key = SymmetricKey.random()
        var rounds: [Round] = []
        for deviceCount in [1, 10, 100] {
            let members = try await Self.spaces(relay, devices: deviceCount)
            let payload = [UInt8](repeating: 0x5A, count: 1024 - 160)  // ~1 KiB envelopes once sealed
            // Devices seal and sign before the clock starts: the figure is the relay's, not the
            // load generator's, which shares these two cores.
            var prepared: [(Member, [Envelope])] = []
            for var member in members {
                let envelopes = (0..<appendsPerDevice).map { _ in member.next(key, payload) }
                prepared.append((member, envelopes))
            }
            let port = relay.port
            let requests = prepared.map { member, envelopes in
                let token = Hex.encode(member.client.token)
                let path = "/v1/spaces/\(RelayClient.hex(member.space))/envelopes"
                return envelopes.map { RawHTTPDevice.post(path: path, port: port, token: token, body: RelayMessages.encode(batch: [$0.bytes])) }
            }
            let start = Date()
            let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
                for deviceRequests in requests {
                    group.addTask { try await RawHTTPDevice.run(port: port, requests: deviceRequests) }
                }
                var all: [Double] = []
                for try await part in group { all += part }
                return all.sorted()
            }
            let seconds = Date().timeIntervalSince(start)
            rounds.append(Round(devices: deviceCount, appends: latencies.count, appendsPerSecond: Double(latencies.count) / seconds,
                                p50Milliseconds: Self.percentile(latencies, 0.5), p99Milliseconds: Self.percentile(latencies, 0.99)))
        }
        let fanOut = try await Self.fanOut(relay, key: key)
        let idle = try await Self.idleMemory(relay, connections: idleConnections)
        let report = Report(rounds: rounds, fanOutP50Milliseconds: Self.percentile(fanOut, 0.5), fanOutP99Milliseconds: Self.percentile(fanOut, 0.99),
                            idleConnections: idleConnections, bytesPerIdleConnection: idle)
        _ = await relay.terminate()
        if json { return try printJSON(report) }
        for round in rounds {
            print(String(format: "relay: %3d devices, %5d appends of ~1 KiB: %.0f appends/s, acknowledgement p50 %.2f ms, p99 %.2f ms",
                         round.devices, round.appends, round.appendsPerSecond, round.p50Milliseconds, round.p99Milliseconds))
        }
        print(String(format: "relay: live fan-out from append to a subscribed device: p50 %.2f ms, p99 %.2f ms", report.fanOutP50Milliseconds, report.fanOutP99Milliseconds))
        print("relay: \(idleConnections) idle WebSocket connections: \(idle) bytes of relay memory each")
    }

    struct Member: Sendable {
        var client: RelayClient
        let space: SpaceID
        var seq: UInt64 = 0
        var previous = Digest.zero

        mutating func next(_ key: SymmetricKey, _ payload: [UInt8]) -> Envelope {
            seq += 1
            let id = WireDeviceID(verifyingKey: client.device.verifyingKey)
            let envelope = Envelope.seal(payload, header: .init(space: space, epoch: 1, device: id, seq: seq, previous: previous),
                                         contentKey: key, signingKey: client.device)
            previous = envelope.hash
            return envelope
        }
    }

    /// `devices` member devices with sessions, in spaces of at most 16 each (an identity holds
    /// at most 16 devices at once, SPEC § 6.2): many couples' devices, as a relay serves them.
    static func spaces(_ relay: RelayProcess, devices: Int) async throws -> [Member] {
        var members: [Member] = []
        var remaining = devices
        while remaining > 0 {
            let count = min(remaining, MembershipLog.maximumDevicesPerIdentity)
            members += try await space(relay, devices: count).0
            remaining -= count
        }
        return members
    }

    /// A space owned by a fresh identity with `devices` member devices, each with a session.
    static func space(_ relay: RelayProcess, devices: Int) async throws -> ([Member], SpaceID) {
        let owner = SigningKey.generate()
        let space = SpaceID.random()
        var previous = Digest.zero
        var index: UInt64 = 1
        var members: [Member] = []
        for number in 0..<devices {
            var client = RelayClient(base: relay.base, device: .generate())
            try await client.authenticate()
            if number == 0 {
                let create = MembershipRecord.sign(space: space, index: 1, previous: .zero, action: .create(identity: owner.verifyingKey), signer: owner)
                _ = try await client.request("POST", "/v1/spaces/\(RelayClient.hex(space))/membership", body: create.encoded)
                previous = create.hash
            }
            index += 1
            let certificate = DeviceCertificate.issue(identity: owner, device: client.device.verifyingKey, created: 0)
            let record = MembershipRecord.sign(space: space, index: index, previous: previous, action: .addDevice(certificate), signer: owner)
            let reply = try await client.request("POST", "/v1/spaces/\(RelayClient.hex(space))/membership", body: record.encoded)
            guard reply.status == 200 else { throw RelayTestFailure("join: \(reply.text)") }
            previous = record.hash
            members.append(Member(client: client, space: space))
        }
        return (members, space)
    }

    /// Milliseconds from sending an append to a subscribed device receiving it, 200 times.
    static func fanOut(_ relay: RelayProcess, key: SymmetricKey) async throws -> [Double] {
        try await fanOut(writer: relay, subscriber: relay, key: key)
    }

    /// The same with the writer on one relay and the subscriber on another (issue #17: two
    /// relay processes on one PostgreSQL database; the session from `writer` works at both).
    static func fanOut(writer relay: RelayProcess, subscriber: RelayProcess, key: SymmetricKey) async throws -> [Double] {
        let (members, space) = try await Self.space(relay, devices: 2)
        var writer = members[0]
        let path = "/v1/spaces/\(RelayClient.hex(space))"
        guard let socket = MinimalWebSocket(port: subscriber.port, path: path + "/live", token: members[1].client.token) else {
            throw RelayTestFailure("could not subscribe")
        }
        var samples: [Double] = []
        for _ in 0..<200 {
            let envelope = writer.next(key, [1, 2, 3])
            let sent = Date()
            _ = try await writer.client.request("POST", path + "/envelopes", body: RelayMessages.encode(batch: [envelope.bytes]))
            guard socket.nextBinary() == envelope.bytes else { throw RelayTestFailure("fan-out lost an envelope") }
            samples.append(Date().timeIntervalSince(sent) * 1000)
        }
        return samples.sorted()
    }

    /// Relay resident memory per idle live connection.
    static func idleMemory(_ relay: RelayProcess, connections: Int) async throws -> Int {
        let devices = max(1, (connections + 3) / 4)  // at most four live connections per device
        let members = try await Self.spaces(relay, devices: devices)
        let before = residentBytes(relay.processIdentifier)
        var sockets: [MinimalWebSocket] = []
        for number in 0..<connections {
            let member = members[number % members.count]
            guard let socket = MinimalWebSocket(port: relay.port, path: "/v1/spaces/\(RelayClient.hex(member.space))/live", token: member.client.token) else {
                throw RelayTestFailure("connection \(number) refused")
            }
            sockets.append(socket)
        }
        let after = residentBytes(relay.processIdentifier)
        withExtendedLifetime(sockets) {}
        return max(0, after - before) / connections
    }

    static func residentBytes(_ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return (line.split(separator: " ").compactMap { Int($0) }.first ?? 0) * 1024
        }
        return 0
    }

    static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * fraction))]
    }
}
