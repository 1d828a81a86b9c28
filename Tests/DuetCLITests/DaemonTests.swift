import DuetCrypto
import DuetTesting
import Foundation
import Testing

extension TemporaryJournal {
    /// `duetd` for this home, with no passphrase in its environment, reconnecting within `backoff` s.
    func daemon(backoff: Double = 0.5) throws -> BackgroundRun {
        var environment = self.environment
        environment["DUET_PASSPHRASE"] = nil
        return try BackgroundRun("duetd", ["--home", home, "--maximum-backoff", String(backoff), "--log-level", ProcessInfo.processInfo.environment["DUET_DAEMON_LOG"] ?? "warning"], environment: environment)
    }

    /// Waits until `condition` holds, checking every 50 ms, for at most `seconds`: for effects of
    /// another process (a daemon) that has no completion signal of its own. Returns whether it held.
    /// Suspends between checks: no thread is held while the other process works.
    func eventually(within seconds: Double = 20, _ condition: () async throws -> Bool) async rethrows -> Bool {
        try await Poll.until(timeout: .milliseconds(Int64(seconds * 1000)), condition)
    }
}

@Suite("duetd against a real relay")
struct DaemonTests {
    @Test("With both daemons running, a shared entry reaches the partner's locked device and opens at the next command")
    func liveDelivery() async throws {
        let couple = try await Couple()
        let alexDaemon = try couple.alex.daemon(), samDaemon = try couple.sam.daemon()
        #expect(await alexDaemon.firstLine()?.hasPrefix("connected to ") == true)
        #expect(await samDaemon.firstLine()?.hasPrefix("connected to ") == true)
        #expect(try await couple.sam.status()["daemon"] as? Bool == true)

        let id = try await couple.alex.write("Written while both daemons run.", ["--shared"])
        // The daemon stores it verified but sealed: the journal is locked until a command runs.
        #expect(try await couple.sam.eventually { (try await couple.sam.status()["pendingIn"] as? Int ?? 0) >= 1 }, "the envelope arrived at Sam's store")
        #expect(try await couple.sam.show(id)["body"] as? String == "Written while both daemons run.")
        #expect(try await couple.sam.status()["pendingIn"] as? Int == 0, "opened and applied by the unlocked command")
        #expect(try await couple.alex.status()["pendingOut"] as? Int == 0, "Alex's daemon pushed it")

        let answer = try await couple.sam.write("And answered live.", ["--shared", "--reply-to", id])
        #expect(try await couple.alex.eventually { try await couple.alex.duet(["show", answer]).status == 0 })

        alexDaemon.signal(SIGTERM)
        samDaemon.signal(SIGTERM)
        #expect(await alexDaemon.finish().status == 0, "SIGTERM is a clean exit")
        #expect(await samDaemon.finish().status == 0)
        #expect(try await couple.sam.status()["daemon"] as? Bool == false)
    }

    @Test("A local write costs the daemon two requests: its space's heads and the push (no membership read, no fetch, nothing for the other space)")
    func requestsPerLocalWrite() async throws {
        let couple = try await Couple()
        try await couple.syncBoth()
        let daemon = try couple.alex.daemon()
        #expect(await daemon.firstLine()?.hasPrefix("connected to ") == true)
        // The relay counts every request on its public listener (the admin one is not counted).
        let admin = RelayClient(base: couple.relay.adminBase, device: SigningKey.generate())
        func served() async throws -> Int {
            let text = try await admin.request("GET", "/metrics", authorised: false).text
            return text.split(separator: "\n").filter { $0.hasPrefix("duet_relay_requests_total{") }
                .compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
        }
        let before = try await served()
        _ = try await couple.alex.write("One more, for the counting.", ["--shared"])
        #expect(try await couple.alex.eventually { (try await couple.alex.status()["pendingOut"] as? Int) == 0 }, "the daemon pushed it")
        let after = try await served()
        #expect(after - before == 2, "requests for one local write: \(after - before)")
        daemon.signal(SIGTERM)
        #expect(await daemon.finish().status == 0)
    }

    @Test("One daemon per home; no relay or no credential is a clear error")
    func refusals() async throws {
        let couple = try await Couple()
        let first = try couple.alex.daemon()
        #expect(await first.firstLine() != nil)
        let second = try await couple.alex.daemon().finish()
        #expect(second.status != 0 && second.stderr.contains("already running"), "\(second.stderr)")
        first.signal(SIGTERM)
        #expect(await first.finish().status == 0)

        let lonely = try await TemporaryJournal(name: "Kim")
        let noRelay = try await lonely.daemon().finish()
        #expect(noRelay.status != 0 && noRelay.stderr.contains("no relay is configured"), "\(noRelay.stderr)")
    }

    @Test("Killed with SIGKILL while pushing, the daemon loses nothing and resumes")
    func killedMidSync() async throws {
        let couple = try await Couple()
        let samDaemon = try couple.sam.daemon()
        #expect(await samDaemon.firstLine() != nil)
        var alexDaemon = try couple.alex.daemon()
        #expect(await alexDaemon.firstLine() != nil)
        var ids: [String] = []
        for index in 0..<12 {
            ids.append(try await couple.alex.write("entry \(index)", ["--shared"]))
            if index == 5 {
                alexDaemon.signal(SIGKILL)
                _ = await alexDaemon.finish()
            }
        }
        alexDaemon = try couple.alex.daemon()
        #expect(await alexDaemon.firstLine() != nil, "it starts again over what the killed one left")
        let arrived = try await couple.sam.eventually {
            Set(try await couple.sam.list(["--shared"]).compactMap { $0["id"] as? String }) == Set(ids)
        }
        #expect(arrived, "every entry reached Sam")
        #expect(try await couple.alex.status()["pendingOut"] as? Int == 0)
        alexDaemon.signal(SIGTERM)
        samDaemon.signal(SIGTERM)
        _ = await alexDaemon.finish(); _ = await samDaemon.finish()
    }

    @Test("The relay down for a while, then back: what was written meanwhile flows")
    func relayOutage() async throws {
        let couple = try await Couple()
        let alexDaemon = try couple.alex.daemon(), samDaemon = try couple.sam.daemon()
        let alexDaemonLine = await alexDaemon.firstLine(), samDaemonLine = await samDaemon.firstLine()
        #expect(alexDaemonLine != nil && samDaemonLine != nil)
        let port = couple.relay.port
        #expect(await couple.relay.terminate() == 0)
        var written: [String] = []
        for index in 0..<3 { written.append(try await couple.alex.write("offline \(index)", ["--shared"])) }
        #expect(try await couple.alex.status()["pendingOut"] as? Int == 3, "kept, waiting for the relay")
        try await couple.relay.start(port: port)
        let arrived = try await couple.sam.eventually {
            Set(try await couple.sam.list(["--shared"]).compactMap { $0["id"] as? String }) == Set(written)
        }
        #expect(arrived, "queued changes flowed once the relay was back")
        alexDaemon.signal(SIGTERM)
        samDaemon.signal(SIGTERM)
        let alexDaemonExit = await alexDaemon.finish(), samDaemonExit = await samDaemon.finish()
        #expect(alexDaemonExit.status == 0 && samDaemonExit.status == 0)
    }
}
