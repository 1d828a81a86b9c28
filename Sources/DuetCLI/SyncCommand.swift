import ArgumentParser
import DuetStore
import DuetSync
import Foundation
import Synchronization

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "One full sync round with the relay now, then exit; says what moved.")

    @OptionGroup var common: CommonOptions
    @Option(help: "The relay (remembered for next time; default: the one given to init).") var relay: String?

    func run() async throws {
        try await reportingRelayErrors(keepsWork: true) {
            let store = try Store.open(home: common.resolvedHome)
            let url = try relayURL(store, given: relay)
            let unlocked = try store.unlock(passphrase: try PassphraseSource.read(file: common.passphraseFile))
            defer { SendingProgress.finish() }
            let result = try await SyncEngine.sync(unlocked, store: store, relay: url, now: nowMilliseconds, progress: SendingProgress.report)
            SendingProgress.finish()
            if !result.rolledBack.isEmpty {
                throw InputError("the relay holds less than it once did (rolled back or replaced); nothing was exchanged there and nothing was changed here — check the relay")
            }
            var parts = ["sent \(result.pushed)", "received \(result.received)"]
            if result.membershipRecords > 0 { parts.append("\(result.membershipRecords) device change(s)") }
            if result.refused > 0 { parts.append("refused \(result.refused) (see `duet status`)") }
            print("Synced with \(url): \(parts.joined(separator: ", ")).")
        }
    }
}

/// On a terminal, a long push says how far it is (a relay takes about 100 changes a second
/// from one device, so an imported journal takes a while); elsewhere it stays quiet.
enum SendingProgress {
    static let shown = Mutex(false)

    @Sendable static func report(_ progress: SyncEngine.Progress) {
        guard isatty(2) == 1, case .sending(let sent, let total) = progress, total >= 200 else { return }
        shown.withLock { $0 = true }
        FileHandle.standardError.write(Data("\rsending: \(sent) of \(total) changes (the relay takes them at its own pace)".utf8))
    }

    /// Ends the progress line, once.
    static func finish() {
        if shown.withLock({ state in defer { state = false }; return state }) { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// The relay to use: given now (and remembered), else the one remembered.
func relayURL(_ store: Store, given: String?) throws -> String {
    if let given {
        let url = try checkedRelayURL(given)
        try store.setMeta("relay", url)
        return url
    }
    guard let url = try store.meta("relay") else {
        throw InputError("no relay: pass --relay URL (it is remembered), or give one to `duet init`")
    }
    return url
}

/// Like ``reportingErrors(_:)`` for commands that talk to the relay.
func reportingRelayErrors(keepsWork: Bool = false, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let failure as RelayTransport.Failure {
                // Only where work waits in the store for the relay (a sync) is it said to be kept.
        let kept = failure.status == 0 && keepsWork ? "; everything written is kept here and sent at the next sync" : ""
        FileHandle.standardError.write(Data("error: \(Sanitise.line(failure.description))\(kept)\n".utf8))
        throw ExitCode(1)
    } catch let failure as PairingEngine.Failure {
        FileHandle.standardError.write(Data("error: \(Sanitise.line(failure.message))\n".utf8))
        throw ExitCode(1)
    } catch {
        try reportingErrors { throw error }
    }
}

/// A relay URL as given, if it is one.
func checkedRelayURL(_ given: String) throws -> String {
    guard let url = URL(string: given), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
        throw InputError("'\(Sanitise.line(given))' is not a relay URL: give one like http://127.0.0.1:8479")
    }
    return given
}
