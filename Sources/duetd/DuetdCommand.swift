import ArgumentParser
import DuetDaemon
import DuetStore
import DuetSync
import Foundation
import Logging
import ServiceLifecycle

/// `duetd` (CLI.md): the sync daemon. Runs in the foreground until SIGTERM or SIGINT, then exits
/// cleanly; prints `connected to RELAY` on stdout each time it is connected and in step.
@main
struct DuetdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duetd",
        abstract: "Keep this device in sync with the relay (no passphrase needed; no content key held).")

    @Option(help: "The journal's folder (default: $DUET_HOME, else $XDG_DATA_HOME/duet, else ~/.local/share/duet).") var home: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @Option(help: "Longest wait between reconnection attempts, in seconds.") var maximumBackoff = 30.0
    @Option(help: "Seconds between rounds when nothing prompts one (to learn of devices added or removed elsewhere).") var quietRound = 30.0

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level is one of trace, debug, info, notice, warning, error, critical") }
        guard maximumBackoff >= 0.1, maximumBackoff <= 3600 else { throw ValidationError("--maximum-backoff is 0.1 to 3600 seconds") }
        guard quietRound >= 0.5, quietRound <= 86_400 else { throw ValidationError("--quiet-round is 0.5 to 86400 seconds") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "duetd")
        let homeFolder = Home.resolve(option: home)
        guard homeFolder.exists else {
            FileHandle.standardError.write(Data("error: no Duet journal in \(homeFolder.path); run `duet init --name NAME` first, or pass --home\n".utf8))
            throw ExitCode(1)
        }
        do { try homeFolder.acquireDaemonLock() } catch {
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
        var options = SyncDaemon.Options()
        options.maximumBackoff = .milliseconds(Int64(maximumBackoff * 1000))
        options.quietRoundInterval = .milliseconds(Int64(quietRound * 1000))
        let daemon = SyncDaemon(home: homeFolder, logger: logger, options: options) { relay in
            FileHandle.standardOutput.write(Data("connected to \(relay)\n".utf8))
        }
        let group = ServiceGroup(configuration: .init(services: [daemon], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let error as DaemonError {
            FileHandle.standardError.write(Data("error: \(error.message)\(Self.hint(error.next))\n".utf8))
            throw ExitCode(1)
        }
    }

    /// The daemon's next steps in the words of Duet's commands.
    static func hint(_ next: NextStep?) -> String {
        switch next {
        case .giveRelay?: ": run `duet sync --relay URL` once"
        case .syncOnceWithPassphrase?: ": run `duet sync` once with your passphrase"
        case .seeStatus?: "; see `duet status`"
        default: ""
        }
    }
}
