import ArgumentParser
import DuetCrypto
import DuetTesting
import DuetWire
import Foundation
import NIOCore

/// `duet-bench relay-backends` (issue #17): 100 devices against one relay on SQLite, one relay
/// on PostgreSQL, and two relay processes on one PostgreSQL database, in one run, so that the
/// ratios compare like with like on a loaded two-core machine.
struct RelayBackendsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay-backends",
        abstract: "Appends/s, acknowledgement p99 and live fan-out p99 on SQLite, PostgreSQL, and two relays on one PostgreSQL.",
        discussion: "Without --postgres it starts a throwaway PostgreSQL cluster with fsync on (durable acknowledgements, as in production) and removes it afterwards.")

    @Option(help: "Devices appending at once.") var devices = 100
    @Option(help: "Appends each device makes per run.") var appendsPerDevice = 100
    @Option(help: "Runs per configuration (medians are reported).") var runs = 3
    @Option(help: "A PostgreSQL server to use (its URL; each configuration gets a fresh database).") var postgres: String?
    @Flag(help: "Print one JSON object instead of text.") var json = false

    enum Setup: String, CaseIterable, Encodable {
        case sqlite = "one relay on SQLite"
        case postgres = "one relay on PostgreSQL"
        case postgresPair = "two relays on one PostgreSQL"
    }

    struct Figures: Encodable {
        let setup: String
        let appendsPerSecond: [Double]
        let p99Milliseconds: [Double]
        let fanOutP99Milliseconds: [Double]
        var medianAppendsPerSecond: Double { median(appendsPerSecond) }
        var medianP99Milliseconds: Double { median(p99Milliseconds) }
        var medianFanOutP99Milliseconds: Double { median(fanOutP99Milliseconds) }

        enum CodingKeys: String, CodingKey { case setup, appendsPerSecond, p99Milliseconds, fanOutP99Milliseconds, medians }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(setup, forKey: .setup)
            try container.encode(appendsPerSecond, forKey: .appendsPerSecond)
            try container.encode(p99Milliseconds, forKey: .p99Milliseconds)
            try container.encode(fanOutP99Milliseconds, forKey: .fanOutP99Milliseconds)
            try container.encode(["appendsPerSecond": medianAppendsPerSecond, "p99Milliseconds": medianP99Milliseconds,
                                  "fanOutP99Milliseconds": medianFanOutP99Milliseconds], forKey: .medians)
        }
    }

    func run() async throws {
        let cluster: PrivatePostgresCluster? = postgres == nil ? try await PrivatePostgresCluster(fsync: true) : nil
        let server = postgres ?? cluster?.url ?? ""
        var results: [Figures] = []
        for setup in Setup.allCases {
            var rates: [Double] = [], p99s: [Double] = [], fanOuts: [Double] = []
            for _ in 0..<runs {
                let (rate, p99, fanOut) = try await measure(setup, server: server)
                rates.append(rate)
                p99s.append(p99)
                fanOuts.append(fanOut)
            }
            results.append(Figures(setup: setup.rawValue, appendsPerSecond: rates, p99Milliseconds: p99s, fanOutP99Milliseconds: fanOuts))
        }
        await cluster?.remove()
        if json { return try printJSON(results) }
        let baseline = results[0].medianAppendsPerSecond
        for figures in results {
            print(String(format: "relay-backends: %@: %.0f appends/s (×%.2f SQLite), acknowledgement p99 %.1f ms, live fan-out p99 %.1f ms  [runs: %@]",
                         figures.setup, figures.medianAppendsPerSecond, figures.medianAppendsPerSecond / max(baseline, 1),
                         figures.medianP99Milliseconds, figures.medianFanOutP99Milliseconds,
                         figures.appendsPerSecond.map { String(format: "%.0f", $0) }.joined(separator: ", ")))
        }
    }

    /// One run: fresh relays (and database), `devices` devices appending at once, then the
    /// fan-out from a writer to a subscriber (on the other relay when there are two).
    func measure(_ setup: Setup, server: String) async throws -> (appendsPerSecond: Double, p99: Double, fanOutP99: Double) {
        let options = ["--appends-per-second", "1000000000", "--append-burst", "1000000000", "--max-connections", "20000"]
        var database: String?
        if setup != .sqlite { database = try await TestPostgres.freshDatabase(server: server) }
        let first = try await RelayProcess(options: options, postgresURL: database)
        let second = setup == .postgresPair ? try await RelayProcess(options: options, postgresURL: database) : nil
        let relays = [first] + (second.map { [$0] } ?? [])
        let key = SymmetricKey.random()
        let members = try await RelayCommand.spaces(first, devices: devices)
        let payload = [UInt8](repeating: 0x5A, count: 1024 - 160)
        // Sealed and signed before the clock starts. Devices of one space alternate between the
        // relays, so the two processes contend for the same spaces' rows.
        var requests: [(port: Int, requests: [ByteBuffer])] = []
        for (index, var member) in members.enumerated() {
            let relay = relays[index % relays.count]
            let token = Hex.encode(member.client.token)
            let path = "/v1/spaces/\(RelayClient.hex(member.space))/envelopes"
            let envelopes = (0..<appendsPerDevice).map { _ in member.next(key, payload) }
            requests.append((relay.port, envelopes.map { RawHTTPDevice.post(path: path, port: relay.port, token: token, body: RelayMessages.encode(batch: [$0.bytes])) }))
        }
        let start = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for device in requests {
                group.addTask { try await RawHTTPDevice.run(port: device.port, requests: device.requests) }
            }
            var all: [Double] = []
            for try await part in group { all += part }
            return all.sorted()
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let fanOut = try await RelayCommand.fanOut(writer: first, subscriber: second ?? first, key: key)
        for relay in relays { _ = await relay.terminate() }
        return (Double(latencies.count) / seconds, RelayCommand.percentile(latencies, 0.99), RelayCommand.percentile(fanOut, 0.99))
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}
