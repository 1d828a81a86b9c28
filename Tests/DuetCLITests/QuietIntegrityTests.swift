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
    func honestConcurrencyIsQuiet() throws {
        let couple = try Couple()
        let alexDaemon = try couple.alex.daemon(backoff: 0.3), samDaemon = try couple.sam.daemon(backoff: 0.3)
        #expect(alexDaemon.firstLine() != nil && samDaemon.firstLine() != nil)
        let port = couple.relay.port
        let answered = try couple.alex.write("a question", ["--shared"])
        #expect(try RelayFaultTests.arrived([answered], at: couple.sam))
        var alexWrote: [String] = [], samWrote: [String] = []
        for round in 0..<9 {
            alexWrote.append(try couple.alex.write("Alex, round \(round)", ["--shared"]))
            // Sam answers: a change depending on Alex's, which reaches the relay after them.
            #expect(try couple.sam.duet(["edit", answered, "-m", "an answer, round \(round)"]).status == 0)
            samWrote.append(try couple.sam.write("Sam, round \(round)", ["--shared"]))
            // The CLI syncs while each daemon's live socket stores the same envelopes.
            let alexSync = try couple.alex.background(["sync"]), samSync = try couple.sam.background(["sync"])
            alexWrote.append(try couple.alex.write("Alex during the syncs, round \(round)", ["--shared"]))
            let alexRun = alexSync.finish(), samRun = samSync.finish()
            #expect(alexRun.status == 0 && samRun.status == 0, "\(alexRun.stderr) \(samRun.stderr)")
            switch round % 3 {
            case 0:
                couple.relay.signal(SIGSTOP)
                alexWrote.append(try couple.alex.write("Alex while the relay is paused, round \(round)", ["--shared"]))
                Thread.sleep(forTimeInterval: 0.5)   // the fault lasts a while; nothing waits on it
                couple.relay.signal(SIGCONT)
            case 1:
                couple.relay.kill()
                samWrote.append(try couple.sam.write("Sam while the relay is down, round \(round)", ["--shared"]))
                try couple.relay.start(port: port)
            default:
                break
            }
        }
        #expect(try RelayFaultTests.arrived(alexWrote, at: couple.sam), "every write of Alex's reached Sam")
        #expect(try RelayFaultTests.arrived(samWrote, at: couple.alex), "every write of Sam's reached Alex")
        for journal in [couple.alex, couple.sam] {
            let sync = try journal.duet(["sync"])
            #expect(sync.status == 0, "\(sync.stderr)")
            let warnings = (try journal.status()["warnings"] as? [String]) ?? []
            #expect(warnings.isEmpty, "\(journal.home): \(warnings)")
        }
        let converged = try couple.alex.eventually(within: 30) {
            try couple.alex.show(answered)["body"] as? String == "an answer, round 8" && couple.sam.show(answered)["body"] as? String == "an answer, round 8"
        }
        #expect(converged, "both see Sam's last answer")
        alexDaemon.signal(SIGTERM)
        samDaemon.signal(SIGTERM)
        #expect(alexDaemon.finish().status == 0 && samDaemon.finish().status == 0)
    }
}
