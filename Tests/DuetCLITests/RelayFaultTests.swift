import DuetTesting
import Foundation
import Testing

/// Issue #12, item 8: `duetd` survives whatever happens to the relay, with real processes; and
/// the CLI's words for a relay it cannot use. (Item 7, a backlog draining through the relay's
/// rate limit, is tested in process: DuetDeviceTests' RelayFaultTests.)
@Suite("Relay faults, with processes")
struct RelayFaultTests {
    @Test("A relay URL mismatch says which side to fix; no relay at all is said at once, as such")
    func clearRelayErrors() async throws {
        let relay = try await RelayProcess(options: ["--public-url", "https://relay.example.test"])
        let alex = try await TemporaryJournal(name: "Alex", initOptions: ["--relay", relay.base])
        let mismatch = try await alex.duet(["sync"])
        #expect(mismatch.status == 1)
        #expect(mismatch.errorLine.contains("expects to be reached as https://relay.example.test")
                && mismatch.errorLine.contains("--public-url \(relay.base)"), "\(mismatch.stderr)")
        #expect(mismatch.errorLine.split(separator: "\n").count == 1, "one line")

        let port = relay.port
        _ = await relay.terminate()
        let start = ContinuousClock.now
        let down = try await alex.duet(["sync", "--relay", "http://127.0.0.1:\(port)"])
        #expect(down.status == 1 && down.errorLine.contains("cannot be reached (connection refused"), "\(down.stderr)")
        #expect(ContinuousClock.now - start < .seconds(4), "refused at once, not after the connect timeout")
    }

    /// Waits until every id in `ids` is in Sam's shared list.
    static func arrived(_ ids: [String], at journal: TemporaryJournal, within seconds: Double = 60) async throws -> Bool {
        try await journal.eventually(within: seconds) {
            Set(try await journal.list(["--shared"]).compactMap { $0["id"] as? String }).isSuperset(of: ids)
        }
    }

    @Test("duetd lives through the relay killed with SIGKILL and restarted 20 times while Alex writes; every write arrives")
    func relayKilledTwentyTimes() async throws {
        let couple = try await Couple()
        let alexDaemon = try couple.alex.daemon(backoff: 0.3), samDaemon = try couple.sam.daemon(backoff: 0.3)
        let alexDaemonLine = await alexDaemon.firstLine(), samDaemonLine = await samDaemon.firstLine()
        #expect(alexDaemonLine != nil && samDaemonLine != nil)
        let port = couple.relay.port
        var written: [String] = []
        for round in 0..<20 {
            written.append(try await couple.alex.write("before kill \(round)", ["--shared"]))
            await couple.relay.kill()
            written.append(try await couple.alex.write("while down \(round)", ["--shared"]))
            try await couple.relay.start(port: port)
            #expect(alexDaemon.isRunning && samDaemon.isRunning, "a daemon exited in round \(round)")
        }
        let arrived = try await Self.arrived(written, at: couple.sam)
        let pending = try await couple.alex.status()["pendingOut"] as? Int
        let samStatus = try await couple.sam.status()
        // No warning at all through kills and reconnects: neither the partner-as-adversary ones
        // (issue #13: nothing honest is unreadable, refused, or keyed wrong) nor the relay's
        // (issue #14: no replay, withholding or rollback is seen where there is none).
        for journal in [couple.alex, couple.sam] {
            let warnings = (try await journal.status()["warnings"] as? [String]) ?? []
            #expect(warnings.isEmpty, "\(warnings)")
        }
        #expect(alexDaemon.isRunning && samDaemon.isRunning)
        alexDaemon.signal(SIGTERM)
        samDaemon.signal(SIGTERM)
        let alexRun = await alexDaemon.finish(), samRun = await samDaemon.finish()
        #expect(arrived, "every write reached Sam; Sam: \(samStatus); Sam's daemon: \(samRun.stderr.suffix(1500))")
        #expect(pending == 0, "Alex's daemon: \(alexRun.stderr.suffix(1500))")
        #expect(alexRun.status == 0 && samRun.status == 0, "and still exits cleanly on SIGTERM")
    }

    @Test("duetd lives through a paused relay (SIGSTOP), then garbage, cut-off replies and broken upgrades at the relay's address")
    func pausedAndHostileRelay() async throws {
        let couple = try await Couple()
        let alexDaemon = try couple.alex.daemon(backoff: 0.3), samDaemon = try couple.sam.daemon(backoff: 0.3)
        let alexDaemonLine = await alexDaemon.firstLine(), samDaemonLine = await samDaemon.firstLine()
        #expect(alexDaemonLine != nil && samDaemonLine != nil)
        var written: [String] = []
        // Paused: requests and the live socket get no answer; the bounded client gives up on
        // them, and the writes wait in the store.
        couple.relay.signal(SIGSTOP)
        written.append(try await couple.alex.write("written while the relay is paused", ["--shared"]))
        try await Task.sleep(for: .seconds(2))
        couple.relay.signal(SIGCONT)
        #expect(try await Self.arrived(written, at: couple.sam), "the paused relay's backlog flowed once it resumed")

        // Something that is not a relay at the relay's address.
        let port = couple.relay.port
        await couple.relay.kill()
        let impostor = try HostileServer(port: port)
        written.append(try await couple.alex.write("written while an impostor holds the port", ["--shared"]))
        let answered = await couple.alex.eventually(within: 30) { impostor.connections >= 2 * HostileServer.answers.count }
        #expect(answered, "both daemons kept retrying against every kind of garbage (\(impostor.connections) connections)")
        await impostor.stop()
        #expect(alexDaemon.isRunning && samDaemon.isRunning, "no daemon exited on garbage")
        try await couple.relay.start(port: port)
        written.append(try await couple.alex.write("written after the relay came back", ["--shared"]))
        #expect(try await Self.arrived(written, at: couple.sam), "everything arrived")
        alexDaemon.signal(SIGTERM)
        samDaemon.signal(SIGTERM)
        let alexDaemonExit = await alexDaemon.finish(), samDaemonExit = await samDaemon.finish()
        #expect(alexDaemonExit.status == 0 && samDaemonExit.status == 0)
    }
}
