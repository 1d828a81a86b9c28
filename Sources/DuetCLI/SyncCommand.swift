import ArgumentParser
import DuetStore
import DuetSync
import Foundation

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "One full sync round with the relay now, then exit; says what moved.")

    @OptionGroup var common: CommonOptions
    @Option(help: "The relay (remembered for next time; default: the one given to init).") var relay: String?

    func run() async throws {
        do {
            let store = try Store.open(home: common.resolvedHome)
            if let relay { try store.setMeta("relay", relay) }
            guard let url = try relay ?? store.meta("relay") else {
                throw InputError("no relay: pass --relay URL (it is remembered), or give one to `duet init`")
            }
            let unlocked = try store.unlock(passphrase: try PassphraseSource.read(file: common.passphraseFile))
            let result = try await SyncEngine.syncPersonalSpace(unlocked, store: store, relay: url, now: nowMilliseconds)
            if result.rolledBack {
                throw InputError("the relay holds less than it once did (rolled back or replaced); nothing was changed here — check the relay")
            }
            let summary = result.summary
            print("Synced with \(url): sent \(summary.pushed), received \(summary.received)\(summary.refused > 0 ? ", refused \(summary.refused) (see `duet status`)" : "").")
        } catch let failure as RelayTransport.Failure {
            FileHandle.standardError.write(Data("error: \(Sanitise.line(failure.description))\n".utf8))
            throw ExitCode(1)
        } catch {
            try reportingErrors { throw error }
        }
    }
}
