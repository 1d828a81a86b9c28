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
    @Option(help: "The paced rate for the latency figures: appends per second over all devices.") var rate = 2_000
    @Option(help: "A PostgreSQL server to use (its URL; each configuration gets a fresh database).") var postgres: String?
    @Flag(help: "Print one JSON object instead of text.") var json = false

    enum Setup: String, CaseIterable, Encodable {
        case sqlite = "one relay on SQLite"
        case postgres = "one relay on PostgreSQL"
        case postgresPair = "two relays on one PostgreSQL"
        /// The same, with every device of a space on one relay (a proxy routing by the space in
        /// the path): the processes never contend for a space's row.
        case postgresPairBySpace = "two relays on one PostgreSQL, a space's devices on one"

        var relays: Int { self == .postgresPair || self == .postgresPairBySpace ? 2 : 1 }
    }

    struct Figures: Encodable {
        let setup: String
        let appendsPerSecond: [Double]
        let p99Milliseconds: [Double]
        let fanOutP99Milliseconds: [Double]
        /// At the paced rate: what was achieved, and the acknowledgement p99 from each planned send.
        let pacedAppendsPerSecond: [Double]
        let pacedP99Milliseconds: [Double]
        var medianAppendsPerSecond: Double { median(appendsPerSecond) }
        var medianP99Milliseconds: Double { median(p99Milliseconds) }
        var medianFanOutP99Milliseconds: Double { median(fanOutP99Milliseconds) }

        enum CodingKeys: String, CodingKey { case setup, appendsPerSecond, p99Milliseconds, fanOutP99Milliseconds, pacedAppendsPerSecond, pacedP99Milliseconds, medians }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(setup, forKey: .setup)
            try container.encode(appendsPerSecond, forKey: .appendsPerSecond)
            try container.encode(p99Milliseconds, forKey: .p99Milliseconds)
            try container.encode(fanOutP99Milliseconds, forKey: .fanOutP99Milliseconds)
            try container.encode(pacedAppendsPerSecond, forKey: .pacedAppendsPerSecond)
            try container.encode(pacedP99Milliseconds, forKey: .pacedP99Milliseconds)
            try container.encode(["appendsPerSecond": medianAppendsPerSecond, "p99Milliseconds": medianP99Milliseconds,
                                  "fanOutP99Milliseconds": medianFanOutP99Milliseconds, "pacedAppendsPerSecond": median(pacedAppendsPerSecond),
                                  "pacedP99Milliseconds": median(pacedP99Milliseconds)], forKey: .medians)
        }
    }

    func run() async throws {
        let cluster: PrivatePostgresCluster? = postgres == nil ? try await PrivatePostgresCluster(fsync: true) : nil
        let server = postgres ?? cluster?.url ?? ""
        var results: [Figures] = []
        for setup in Setup.allCases {
            var rates: [Double] = [], p99s: [Double] = [], fanOuts: [Double] = [], pacedRates: [Double] = [], pacedP99s: [Double] = []
            for _ in 0..<runs {
                let figures = try await measure(setup, server: server)
                rates.append(figures.appendsPerSecond)
                p99s.append(figures.p99)
                fanOuts.append(figures.fanOutP99)
                pacedRates.append(figures.pacedRate)
                pacedP99s.append(figures.pacedP99)
            }
            results.append(Figures(setup: setup.rawValue, appendsPerSecond: rates, p99Milliseconds: p99s, fanOutP99Milliseconds: fanOuts,
                                   pacedAppendsPerSecond: pacedRates, pacedP99Milliseconds: pacedP99s))
        }
        await cluster?.remove()
        if json { return try printJSON(results) }
        let baseline = results[0].medianAppendsPerSecond, onePostgres = results[1].medianAppendsPerSecond
        for (figures, setup) in zip(results, Setup.allCases) {
            let ratio = setup.relays == 2 ? String(format: "×%.2f one PostgreSQL relay", figures.medianAppendsPerSecond / max(onePostgres, 1)) : ""
            print(String(format: "relay-backends: %@: at most %.0f appends/s (×%.2f SQLite%@; p99 %.1f ms at that load); at %d/s paced: %.0f/s, p99 %.1f ms; live fan-out p99 %.1f ms  [runs: %@]",
                         figures.setup, figures.medianAppendsPerSecond, figures.medianAppendsPerSecond / max(baseline, 1), ratio.isEmpty ? "" : ", " + ratio,
                         figures.medianP99Milliseconds, rate, median(figures.pacedAppendsPerSecond), median(figures.pacedP99Milliseconds),
                         figures.medianFanOutP99Milliseconds,
                         figures.appendsPerSecond.map { String(format: "%.0f", $0) }.joined(separator: ", ")))
        }
    }

    /// One run: fresh relays (and database), `devices` devices appending at once, then the
    /// fan-out from a writer to a subscriber (on the other relay when there are two).
    func measure(_ setup: Setup, server: String) async throws -> (appendsPerSecond: Double, p99: Double, fanOutP99: Double, pacedRate: Double, pacedP99: Double) {
        let options = ["--appends-per-second", "1000000000", "--append-burst", "1000000000", "--max-connections", "20000"]
        var database: String?
        if setup != .sqlite { database = try await TestPostgres.freshDatabase(server: server) }
        let first = try await RelayProcess(options: options, postgresURL: database)
        let second = setup.relays == 2 ? try await RelayProcess(options: options, postgresURL: database) : nil
        let relays = [first] + (second.map { [$0] } ?? [])
        let key = SymmetricKey.random()
        var members = try await RelayCommand.spaces(first, devices: devices)
        let payload = [UInt8](repeating: 0x5A, count: 1024 - 160)
        // Sealed and signed before the clock starts. Devices of one space alternate between the
        // relays, so the two processes contend for the same spaces' rows.
        // First as fast as the relays take them (closed loop: each device waits for its answer),
        // then paced at `rate` over all devices, latency from each planned send.
        let bySpace = setup == .postgresPairBySpace
        let (unpaced, unpacedSeconds) = try await appendRound(&members, relays: relays, bySpace: bySpace, key: key, payload: payload, pacing: nil)
        let interval = Duration.seconds(Double(members.count) / Double(max(1, rate)))
        let (paced, pacedSeconds) = try await appendRound(&members, relays: relays, bySpace: bySpace, key: key, payload: payload, pacing: interval)
        let fanOut = try await RelayCommand.fanOut(writer: first, subscriber: second ?? first, key: key)
        for relay in relays { _ = await relay.terminate() }
        return (Double(unpaced.count) / unpacedSeconds, RelayCommand.percentile(unpaced, 0.99), RelayCommand.percentile(fanOut, 0.99),
                Double(paced.count) / pacedSeconds, RelayCommand.percentile(paced, 0.99))
    }

    /// Every device appends `appendsPerDevice` envelopes, sealed before the clock starts; the
    /// sorted latencies and the seconds it took.
    func appendRound(_ members: inout [RelayCommand.Member], relays: [RelayProcess], bySpace: Bool, key: SymmetricKey, payload: [UInt8],
                     pacing: Duration?) async throws -> ([Double], Double) {
        var requests: [(port: Int, requests: [ByteBuffer])] = []
        var spaces: [SpaceID: Int] = [:]
        for index in members.indices {
            let space = members[index].space
            if spaces[space] == nil { spaces[space] = spaces.count }
            let relay = relays[(bySpace ? spaces[space] ?? 0 : index) % relays.count]
            let token = Hex.encode(members[index].client.token)
            let path = "/v1/spaces/\(RelayClient.hex(members[index].space))/envelopes"
            let envelopes = (0..<appendsPerDevice).map { _ in members[index].next(key, payload) }
            requests.append((relay.port, envelopes.map { RawHTTPDevice.post(path: path, port: relay.port, token: token, body: RelayMessages.encode(batch: [$0.bytes])) }))
        }
        // Paced sends are planned from a moment just ahead, so the first is not already late.
        let began = ContinuousClock.now
        let start = began + .milliseconds(50)
        let count = requests.count
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for (index, device) in requests.enumerated() {
                let schedule = pacing.map { (start: start, offset: $0 * index / max(1, count), interval: $0) }
                group.addTask { try await RawHTTPDevice.run(port: device.port, requests: device.requests, schedule: schedule) }
            }
            var all: [Double] = []
            for try await part in group { all += part }
            return all.sorted()
        }
        let elapsed = ContinuousClock.now - (pacing == nil ? began : start)
        return (latencies, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}
