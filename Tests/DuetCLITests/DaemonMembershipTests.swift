import DuetTesting
import Foundation
import Testing

/// Found by the new-user trial of issue #14: a device added or removed elsewhere sends no
/// envelope, so `duetd` learnt of it only when it reconnected, and `duet status` said "connected"
/// meanwhile; a revoked device's daemon retried for ever while its status said only "retrying".
@Suite("duetd and membership changes")
struct DaemonMembershipTests {
    @Test("A device Sam links is learnt by Alex's duetd within a quiet round; status says so, and an unlocked command says who")
    func deviceAddedElsewhereIsLearnt() async throws {
        let couple = try await Couple()
        var environment = couple.alex.environment
        environment["DUET_PASSPHRASE"] = nil
        let alexDaemon = try BackgroundRun("duetd", ["--home", couple.alex.home, "--maximum-backoff", "0.3", "--quiet-round", "1", "--log-level", "warning"],
                                           environment: environment)
        #expect(await alexDaemon.firstLine() != nil)
        _ = try await Couple.link(couple.sam, relay: couple.relay, named: "Sam's tablet")
        let learnt = try await couple.alex.eventually(within: 20) {
            try await couple.alex.duet(["status"], withoutPassphrase: true).stdout.contains("who is in your spaces changed")
        }
        #expect(learnt, "duetd learnt the new device without any envelope from it")
        _ = try await couple.alex.list()
        let notices = (try await couple.alex.status()["notices"] as? [String]) ?? []
        #expect(notices.contains("Sam added a device, “Sam's tablet”, to your shared space"), "\(notices)")
        alexDaemon.signal(SIGTERM)
        #expect(await alexDaemon.finish().status == 0)
    }

    @Test("A revoked device's duetd stops and says why; its status warns that it was removed")
    func revokedDaemonStops() async throws {
        let couple = try await Couple()
        let phone = try await couple.linkAlexDevice(named: "Alex's phone")
        var environment = phone.environment
        environment["DUET_PASSPHRASE"] = nil
        let phoneDaemon = try BackgroundRun("duetd", ["--home", phone.home, "--maximum-backoff", "0.3", "--quiet-round", "1", "--log-level", "warning"],
                                            environment: environment)
        #expect(await phoneDaemon.firstLine() != nil)
        #expect(try await couple.alex.duet(["device", "revoke", "Alex's phone"]).status == 0)
        let stopped = await phone.eventually(within: 30) { !phoneDaemon.isRunning }
        #expect(stopped, "the daemon stopped instead of retrying for ever")
        let run = await phoneDaemon.finish()
        #expect(run.status != 0 && run.stderr.contains("no longer a member"), "\(run.stderr.suffix(600))")
        let warnings = (try await phone.status()["warnings"] as? [String]) ?? []
        #expect(warnings.contains { $0.contains("no longer a member") && $0.contains("probably revoked") }, "\(warnings)")
    }
}
