import DuetTesting
import Foundation
import Testing

/// Issue #14 item 2: the relay's integrity warnings (replay, withholding, rollback, heads not
/// delivered) stay silent when nothing is wrong — two daemons and the CLI syncing the same
/// homes at once, edits crossing between the partners, the relay paused, killed and restarted.
/// `LyingRelayTests` and `TamperedRelayTests` show each warning firing for its attack.
@Suite("No false alarms")
struct QuietIntegrityTests {
    @Test("Daemons and CLI syncs together, answers crossing, the relay paused, killed and restarted: every write arrives and no warning fires")
    func honestConcurrencyIsQuiet() async throws {
        let couple = try await Couple()
        let alexDaemon = try couple.alex.daemon(backoff: 0.3), samDaemon = try couple.sam.daemon(backoff: 0.3)
        let alexDaemonLine = await alexDaemon.firstLine(), samDaemonLine = await samDaemon.firstLine()
        #expect(alexDaemonLine != nil && samDaemonLine != nil)
        let port = couple.relay.port
        let answered = try await couple.alex.write("a question", ["--shared"])
        #expect(try await RelayFaultTests.arrived([answered], at: couple.sam))
        var alexWrote: [String] = [], samWrote: [String] = []
        for round in 0..<9 {
            alexWrote.append(try await couple.alex.write("Alex, round \(round)", ["--shared"]))
            // Sam answers: a change depending on Alex's, which reaches the relay after them.
            #expect(try await couple.sam.duet(["edit", answered, "-m", "an answer, round \(round)"]).status == 0)
            samWrote.append(try await couple.sam.write("Sam, round \(round)", ["--shared"]))
            // The CLI syncs while each daemon's live socket stores the same envelopes.
            let alexSync = try couple.alex.background(["sync"]), samSync = try couple.sam.background(["sync"])
            alexWrote.append(try await couple.alex.write("Alex during the syncs, round \(round)", ["--shared"]))
            let alexRun = await alexSync.finish(), samRun = await samSync.finish()
            #expect(alexRun.status == 0 && samRun.status == 0, "\(alexRun.stderr) \(samRun.stderr)")
            switch round % 3 {
            case 0:
                couple.relay.signal(SIGSTOP)
                alexWrote.append(try await couple.alex.write("Alex while the relay is paused, round \(round)", ["--shared"]))
                try await Task.sleep(for: .milliseconds(500))   // the fault lasts a while; nothing waits on it
                couple.relay.signal(SIGCONT)
            case 1:
                await couple.relay.kill()
                samWrote.append(try await couple.sam.write("Sam while the relay is down, round \(round)", ["--shared"]))
                try await couple.relay.start(port: port)
            default:
                break
            }
        }
        #expect(try await RelayFaultTests.arrived(alexWrote, at: couple.sam), "every write of Alex's reached Sam")
        #expect(try await RelayFaultTests.arrived(samWrote, at: couple.alex), "every write of Sam's reached Alex")
        for journal in [couple.alex, couple.sam] {
            let sync = try await journal.duet(["sync"])
            #expect(sync.status == 0, "\(sync.stderr)")
            let warnings = (try await journal.status()["warnings"] as? [String]) ?? []
            #expect(warnings.isEmpty, "\(journal.home): \(warnings)")
        }
        let converged = try await couple.alex.eventually(within: 30) {
            let alexView = try await couple.alex.show(answered)["body"] as? String, samView = try await couple.sam.show(answered)["body"] as? String
            return alexView == "an answer, round 8" && samView == "an answer, round 8"
        }
        #expect(converged, "both see Sam's last answer")
        alexDaemon.signal(SIGTERM)
        samDaemon.signal(SIGTERM)
        let alexDaemonExit = await alexDaemon.finish(), samDaemonExit = await samDaemon.finish()
        #expect(alexDaemonExit.status == 0 && samDaemonExit.status == 0)
    }
}
