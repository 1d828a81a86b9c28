import ArgumentParser
import DuetDevice
import Foundation
import Synchronization

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "One full sync round with the relay now, then exit; says what moved.")

    @OptionGroup var common: CommonOptions
    @Option(help: "The relay (remembered for next time; default: the one given to init).") var relay: String?
    @Flag(help: "Print one JSON object: relay, sent, received, deviceChanges, refused.") var json = false

    /// What `--json` prints; every key is always there.
    struct Report: Encodable {
        let relay: String
        let sent: Int
        let received: Int
        let deviceChanges: Int
        let refused: Int
    }

    func run() async throws {
        try await reportingRelayErrors(keepsWork: true) {
            let device = try common.open()
            // Checked before the passphrase is asked; remembered once the relay answered.
            _ = try device.relay(given: relay)
            let unlocked = try PassphraseSource.unlock(device, file: common.passphraseFile)
            defer { SendingProgress.finish() }
            let report = try await unlocked.sync(relay: relay, progress: SendingProgress.report)
            SendingProgress.finish()
            if json {
                return try printJSON(Report(relay: report.relay, sent: report.sent, received: report.received,
                                            deviceChanges: report.deviceChanges, refused: report.refused))
            }
            var parts = ["sent \(report.sent)", "received \(report.received)"]
            if report.deviceChanges > 0 { parts.append("\(report.deviceChanges) device change(s)") }
            if report.refused > 0 { parts.append("refused \(report.refused) (see `duet status`)") }
            print("Synced with \(report.relay): \(parts.joined(separator: ", ")).")
        }
    }
}

/// On a terminal, a long push says how far it is (a relay takes about 100 changes a second
/// from one device, so an imported journal takes a while); elsewhere it stays quiet.
enum SendingProgress {
    static let shown = Mutex(false)

    @Sendable static func report(_ progress: SyncProgress) {
        guard isatty(2) == 1, case .sending(let sent, let total) = progress, total >= 200 else { return }
        shown.withLock { $0 = true }
        FileHandle.standardError.write(Data("\rsending: \(sent) of \(total) changes (the relay takes them at its own pace)".utf8))
    }

    /// Ends the progress line, once.
    static func finish() {
        if shown.withLock({ state in defer { state = false }; return state }) { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

