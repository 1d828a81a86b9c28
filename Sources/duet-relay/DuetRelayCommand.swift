import ArgumentParser
import DuetRelay
import Foundation
import Hummingbird
import Logging

/// `duet-relay`: the untrusted relay (CLI.md). Runs until SIGTERM or SIGINT, then shuts down
/// gracefully. Prints `listening on HOST:PORT` once ready (port 0 picks a free one).
@main
struct DuetRelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duet-relay",
        abstract: "Store and forward Duet envelopes it cannot read.",
        subcommands: [ServeCommand.self, InspectCommand.self],
        defaultSubcommand: ServeCommand.self)
}

/// Prints what a relay's data folder holds, as its operator sees it.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what the relay holds: spaces, member devices, sealed envelopes (it has no key to open them).")

    @Option(help: "The relay's data folder.") var data = "./duet-relay-data"

    func run() throws {
        let inspection: RelayInspection
        do { inspection = try RelayInspection(directory: data) } catch {
            FileHandle.standardError.write(Data("error: cannot read the relay store in \(data): \(error)\n".utf8))
            throw ExitCode(1)
        }
        for space in inspection.spaces {
            print("space \(space.id): \(space.identities) identit\(space.identities == 1 ? "y" : "ies"), devices \(space.devices.joined(separator: ", ")), "
                  + "\(space.wrappedKeys) wrapped key(s), \(space.envelopes) sealed envelope(s), \(space.envelopeBytes) bytes")
        }
    }
}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the sync protocol (the default).")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one).") var port = 8479
    @Option(help: "Folder for the embedded SQLite store (relay.sqlite).") var data = "./duet-relay-data"
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @Option(help: "Largest request body in bytes.") var maxRequestBytes = 8 << 20
    @Option(help: "Largest envelope in bytes (at most the protocol's 2 MiB of sealed content).") var maxEnvelopeBytes = (2 << 20) + 256
    @Option(help: "Most envelope bytes one space may hold.") var spaceQuotaBytes = 1 << 30
    @Option(help: "Appends per second a device may make on average.") var appendsPerSecond = 100.0
    @Option(help: "Appends a device may burst above that rate.") var appendBurst = 200.0
    @Option(help: "Live (WebSocket) connections one device may hold at once.") var liveConnectionsPerDevice = 4
    @Option(help: "Network event-loop threads (default: one per core).") var eventLoopThreads: Int?

    func run() async throws {
        var logger = Logger(label: "duet-relay")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        var configuration = RelayServer.Configuration()
        configuration.host = host
        configuration.port = port
        configuration.dataDirectory = data
        configuration.maximumRequestBytes = maxRequestBytes
        configuration.limits.maximumEnvelopeBytes = min(maxEnvelopeBytes, (2 << 20) + 256)
        configuration.spaceQuotaBytes = spaceQuotaBytes
        configuration.limits.appendsPerSecond = appendsPerSecond
        configuration.limits.appendBurst = appendBurst
        configuration.liveConnectionsPerDevice = liveConnectionsPerDevice
        configuration.eventLoopThreads = eventLoopThreads
        let host = self.host
        let app = try RelayServer.application(configuration: configuration, logger: logger) { port in
            // Written straight to the descriptor (unbuffered): tests and scripts wait for this line.
            FileHandle.standardOutput.write(Data("listening on \(host):\(port)\n".utf8))
        }
        try await app.runService()
    }
}
