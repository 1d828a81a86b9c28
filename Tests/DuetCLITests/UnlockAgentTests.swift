@testable import DuetCLI
import DuetTesting
import Foundation
import Testing

/// Issue #16 item 3: `duet unlock` starts an agent that holds the keystore key, so that later
/// commands need no passphrase; `duet lock`, its time running out, `duet passphrase` and its
/// death each end it. Through the real binary; the hostile listeners are this test's own
/// sockets at the agent's path.
@Suite("Unlock agent")
struct UnlockAgentTests {
    private func socketPath(_ journal: TemporaryJournal) -> String { journal.home + "/agent.socket" }

    /// The agent process serving `journal`, found by its command line.
    private func agentPID(_ journal: TemporaryJournal) -> pid_t? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for name in names {
            guard let pid = pid_t(name), let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline") else { continue }
            let words = String(decoding: data, as: UTF8.self).split(separator: "\0").map(String.init)
            if words.contains("agent-serve"), words.contains(journal.home) { return pid }
        }
        return nil
    }

    private func unlockedUntil(_ journal: TemporaryJournal) async throws -> Any? {
        let status = try await journal.duet(["status", "--json"], withoutPassphrase: true)
        #expect(status.status == 0, "\(status.stderr)")
        return (status.json as? [String: Any])?["unlockedUntil"]
    }

    private func isRunning(_ pid: pid_t) -> Bool {
        // A zombie is gone for this purpose (its memory is freed).
        guard let stat = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return false }
        return !String(decoding: stat, as: UTF8.self).contains(") Z ")
    }

    @Test("after `duet unlock`, commands need no passphrase; after `duet lock` they ask again")
    func unlockThenLock() async throws {
        let journal = try await TemporaryJournal()
        let id = try await journal.write("kept behind the passphrase")
        let locked = try await journal.duet(["list"], withoutPassphrase: true)
        #expect(locked.status == 1 && locked.errorLine.contains("no passphrase"), "\(locked.stderr)")
        #expect(try await unlockedUntil(journal) is NSNull)

        let unlock = try await journal.duet(["unlock", "--for", "10m"])
        #expect(unlock.status == 0, "\(unlock.stderr)")
        #expect(unlock.stdout.contains("Unlocked until"), "\(unlock.stdout)")
        let show = try await journal.duet(["show", id], withoutPassphrase: true)
        #expect(show.status == 0 && show.stdout.contains("kept behind the passphrase"), "\(show.stderr)")
        let write = try await journal.duet(["write", "-m", "written while unlocked"], withoutPassphrase: true)
        #expect(write.status == 0, "\(write.stderr)")
        #expect(try journal.permissions(socketPath(journal)) == 0o600)
        #expect(try await unlockedUntil(journal) is String)
        let human = try await journal.duet(["status"], withoutPassphrase: true)
        #expect(human.stdout.contains("unlock:   unlocked until"), "\(human.stdout)")

        let lock = try await journal.duet(["lock"], withoutPassphrase: true)
        #expect(lock.status == 0 && lock.stdout.contains("Locked."), "\(lock.stdout)\(lock.stderr)")
        #expect(!FileManager.default.fileExists(atPath: socketPath(journal)))
        let again = try await journal.duet(["list"], withoutPassphrase: true)
        #expect(again.status == 1 && again.errorLine.contains("no passphrase"), "\(again.stderr)")
        #expect(try await unlockedUntil(journal) is NSNull)
        let twice = try await journal.duet(["lock"], withoutPassphrase: true)
        #expect(twice.status == 0 && twice.stdout.contains("Already locked"))
    }

    @Test("the agent holds the key in locked memory, and neither its arguments nor its environment hold the passphrase")
    func agentMemoryIsLocked() async throws {
        let journal = try await TemporaryJournal()
        let unlock = try await journal.duet(["unlock"])
        #expect(unlock.status == 0, "\(unlock.stderr)")
        let pid = try #require(agentPID(journal))
        let status = String(decoding: FileManager.default.contents(atPath: "/proc/\(pid)/status") ?? Data(), as: UTF8.self)
        let lockedLine = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmLck:") })
        let kilobytes = Int(lockedLine.split(separator: " ").dropFirst().first ?? "") ?? 0
        #expect(kilobytes > 0, "\(lockedLine)")
        let environment = String(decoding: FileManager.default.contents(atPath: "/proc/\(pid)/environ") ?? Data(), as: UTF8.self)
        let arguments = String(decoding: FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data(), as: UTF8.self)
        #expect(!environment.contains(TemporaryJournal.passphrase) && !arguments.contains(TemporaryJournal.passphrase))
        // Its own session: a closed terminal (SIGHUP to the terminal's session) does not reach it.
        #expect(getsid(pid) == pid)
        _ = try await journal.duet(["lock"], withoutPassphrase: true)
        #expect(await Poll.until { !isRunning(pid) })
    }

    @Test("the agent forgets the key when its time is up")
    func timesOut() async throws {
        let journal = try await TemporaryJournal()
        let unlock = try await journal.duet(["unlock", "--for", "1s"])
        #expect(unlock.status == 0, "\(unlock.stderr)")
        let pid = try #require(agentPID(journal))
        #expect(await Poll.until(timeout: .seconds(30)) { !isRunning(pid) })
        #expect(!FileManager.default.fileExists(atPath: socketPath(journal)))
        let list = try await journal.duet(["list"], withoutPassphrase: true)
        #expect(list.status == 1 && list.errorLine.contains("no passphrase"), "\(list.stderr)")
    }

    @Test("a stopped agent (SIGTERM) removes its socket; a killed one (SIGKILL) leaves a socket nobody answers, and nothing hangs")
    func killedAgent() async throws {
        let journal = try await TemporaryJournal()
        #expect(try await journal.duet(["unlock"]).status == 0)
        let first = try #require(agentPID(journal))
        kill(first, SIGTERM)
        #expect(await Poll.until { !isRunning(first) })
        #expect(!FileManager.default.fileExists(atPath: socketPath(journal)))

        #expect(try await journal.duet(["unlock"]).status == 0)
        let second = try #require(agentPID(journal))
        kill(second, SIGKILL)
        #expect(await Poll.until { !isRunning(second) })
        #expect(FileManager.default.fileExists(atPath: socketPath(journal)), "SIGKILL leaves the socket file")
        let locked = try await journal.duet(["list"], withoutPassphrase: true)
        #expect(locked.status == 1 && locked.errorLine.contains("no passphrase"), "\(locked.stderr)")
        #expect(try await journal.duet(["list"]).status == 0)
        // The stale socket is replaced by the next unlock.
        let again = try await journal.duet(["unlock"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try await journal.duet(["list"], withoutPassphrase: true).status == 0)
        _ = try await journal.duet(["lock"], withoutPassphrase: true)
    }

    @Test("a wrong passphrase starts no agent; a new `duet unlock` replaces the running agent")
    func wrongPassphraseAndReplacement() async throws {
        let journal = try await TemporaryJournal()
        let wrong = try await journal.duet(["unlock"], environment: ["DUET_PASSPHRASE": "not the passphrase"])
        #expect(wrong.status == 1 && wrong.errorLine.contains("wrong passphrase"), "\(wrong.stderr)")
        #expect(!FileManager.default.fileExists(atPath: socketPath(journal)) && agentPID(journal) == nil)
        #expect(try await journal.duet(["unlock", "--for", "1h"]).status == 0)
        let first = try #require(agentPID(journal))
        #expect(try await journal.duet(["unlock", "--for", "2h"]).status == 0)
        let second = try #require(agentPID(journal))
        #expect(first != second)
        #expect(await Poll.until { !isRunning(first) })
        #expect(try await journal.duet(["list"], withoutPassphrase: true).status == 0)
        _ = try await journal.duet(["lock"], withoutPassphrase: true)
    }

    @Test("`duet passphrase` asks for the passphrase even when unlocked, and locks the agent")
    func passphraseChangeLocks() async throws {
        let journal = try await TemporaryJournal()
        #expect(try await journal.duet(["unlock"]).status == 0)
        let pid = try #require(agentPID(journal))
        let unasked = try await journal.duet(["passphrase"], environment: ["DUET_NEW_PASSPHRASE": "a brand new passphrase"], withoutPassphrase: true)
        #expect(unasked.status == 1 && unasked.errorLine.contains("no passphrase"), "the agent's key must not change the passphrase: \(unasked.stderr)")
        let change = try await journal.duet(["passphrase"], environment: ["DUET_NEW_PASSPHRASE": "a brand new passphrase"])
        #expect(change.status == 0 && change.stdout.contains("unlock agent is locked"), "\(change.stdout)\(change.stderr)")
        #expect(await Poll.until { !isRunning(pid) })
        let list = try await journal.duet(["list"], withoutPassphrase: true)
        #expect(list.status == 1, "\(list.stdout)")
        #expect(try await journal.duet(["list"], environment: ["DUET_PASSPHRASE": "a brand new passphrase"]).status == 0)
    }

    @Test("the agent comes before --passphrase-file and DUET_PASSPHRASE, but never lets a device in: link, revoke and pairing ask")
    func agentFirstButNotForMembership() async throws {
        let journal = try await TemporaryJournal()
        #expect(try await journal.duet(["unlock"]).status == 0)
        let list = try await journal.duet(["list", "--passphrase-file", "/nonexistent"], environment: ["DUET_PASSPHRASE": "wrong wrong wrong"])
        #expect(list.status == 0, "the agent's key comes first: \(list.stderr)")
        // Revoking and accepting a pairing take the same path (PassphraseSource.typed) after
        // checking their arguments (a device id, a code), which a test here cannot give.
        for command in [["device", "link", "--relay", "http://127.0.0.1:9"], ["pair", "invite", "--relay", "http://127.0.0.1:9"]] {
            let run = try await journal.duet(command, withoutPassphrase: true, timeout: .seconds(60))
            #expect(run.status == 1 && run.errorLine.contains("no passphrase"), "\(command) must stop at the passphrase: \(run.stderr)")
        }
        _ = try await journal.duet(["lock"], withoutPassphrase: true)
    }

    @Test("SIGHUP and SIGINT end the agent as SIGTERM does, and so does removing its socket")
    func otherEndings() async throws {
        let journal = try await TemporaryJournal()
        for signal in [SIGHUP, SIGINT] {
            #expect(try await journal.duet(["unlock"]).status == 0)
            let pid = try #require(agentPID(journal))
            kill(pid, signal)
            #expect(await Poll.until { !isRunning(pid) }, "signal \(signal)")
            #expect(!FileManager.default.fileExists(atPath: socketPath(journal)))
        }
        #expect(try await journal.duet(["unlock"]).status == 0)
        let pid = try #require(agentPID(journal))
        unlink(socketPath(journal))
        #expect(await Poll.until(timeout: .seconds(30)) { !isRunning(pid) }, "an agent whose socket is gone serves nobody and ends")
    }

    @Test("a link planted at the socket's path is not followed")
    func symlinkedSocket() async throws {
        let one = try await TemporaryJournal(), two = try await TemporaryJournal()
        #expect(try await one.duet(["unlock"]).status == 0)
        let pid = try #require(agentPID(one))
        try FileManager.default.createSymbolicLink(atPath: socketPath(two), withDestinationPath: socketPath(one))
        let list = try await two.duet(["list"], withoutPassphrase: true)
        #expect(list.status == 1 && list.errorLine.contains("no passphrase"), "\(list.stderr)")
        #expect(isRunning(pid), "the other journal's agent was not asked to lock")
        let status = try await two.duet(["status", "--json"], withoutPassphrase: true)
        #expect((status.json as? [String: Any])?["unlockedUntil"] is NSNull)
        _ = try await one.duet(["lock"], withoutPassphrase: true)
    }

    @Test("a home whose path is too long for a socket address: one clear line, no agent")
    func homeTooLongForASocket() async throws {
        let journal = try await TemporaryJournal(initialise: false)
        let home = journal.root + "/" + String(repeating: "h", count: 120)
        let initialised = try await ProcessRun.run("duet", ["init", "--name", "Alex", "--home", home], environment: journal.environment)
        #expect(initialised.status == 0, "\(initialised.stderr)")
        let unlock = try await ProcessRun.run("duet", ["unlock", "--home", home], environment: journal.environment)
        #expect(unlock.status == 1 && unlock.errorLine.contains("too long for the unlock agent's socket"), "\(unlock.stderr)")
        #expect(unlock.errorLine.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: home + "/agent.socket"))
    }

    @Test("the agent has no environment and no working folder of the caller's")
    func agentHygiene() async throws {
        let journal = try await TemporaryJournal()
        #expect(try await journal.duet(["unlock"], environment: ["DUET_NEW_PASSPHRASE": "something secret"]).status == 0)
        let pid = try #require(agentPID(journal))
        let environment = FileManager.default.contents(atPath: "/proc/\(pid)/environ") ?? Data()
        #expect(environment.isEmpty, "\(String(decoding: environment, as: UTF8.self))")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")) == "/")
        _ = try await journal.duet(["lock"], withoutPassphrase: true)
    }

    @Test("--for takes 90s, 15m, 2h, 1h30m, from a second to a day", arguments: [
        ("90s", 90), ("15m", 900), ("2h", 7200), ("1h30m", 5400), ("24h", 86_400), ("1s", 1),
        ("0s", nil), ("25h", nil), ("15", nil), ("m", nil), ("1x", nil), ("-5m", nil), ("99999999999h", nil), ("", nil),
    ] as [(String, Int?)])
    func durations(text: String, seconds: Int?) {
        #expect(AgentDuration.seconds(text) == seconds)
    }

    @Test("a refused --for is a usage error")
    func refusedDuration() async throws {
        let journal = try await TemporaryJournal()
        let run = try await journal.duet(["unlock", "--for", "2d"])
        #expect(run.status == 64 && run.stderr.contains("--for takes a duration"), "\(run.status) \(run.stderr)")
        #expect(agentPID(journal) == nil)
    }

    @Test("--passphrase-file comes before DUET_PASSPHRASE")
    func fileBeforeEnvironment() async throws {
        let journal = try await TemporaryJournal()
        let file = journal.root + "/passphrase"
        try Data((TemporaryJournal.passphrase + "\n").utf8).write(to: URL(fileURLWithPath: file))
        let run = try await journal.duet(["list", "--passphrase-file", file], environment: ["DUET_PASSPHRASE": "wrong one entirely"])
        #expect(run.status == 0, "\(run.stderr)")
    }
}

/// Whatever listens at the agent's socket is hostile until it answers as an agent: garbage,
/// silence, an oversized frame and a well-formed reply with the wrong key each leave the
/// command to ask for the passphrase as if no agent ran, and none of them hangs it.
@Suite("Hostile unlock agent")
struct HostileUnlockAgentTests {
    enum Behaviour: String, CaseIterable, Sendable {
        case garbage, silence, oversized, wrongKey, closes
    }

    /// A listener that answers as an agent would, with `key`: well formed, or one byte too long.
    enum Served: Sendable { case wellFormed, oneByteTooMany }

    /// A listener at `path` that answers each connection as `behaviour` says, until stopped.
    final class FakeAgent: @unchecked Sendable {
        let descriptor: Int32
        let path: String
        private let stopped = NSLock()
        private var isStopped = false

        private let served: (key: [UInt8], form: Served)?

        init(path: String, behaviour: Behaviour, serving: (key: [UInt8], form: Served)? = nil) throws {
            served = serving
            self.path = path
            descriptor = try UnixSocket.make()
            let bound = try UnixSocket.withAddress(path) { address, length in bind(descriptor, address, length) == 0 }
            guard bound, listen(descriptor, 8) == 0 else { throw TestFailure("cannot listen at \(path)") }
            let listener = descriptor
            Thread.detachNewThread { [self] in
                while true {
                    let connection = accept(listener, nil, nil)
                    if connection < 0 { return }
                    self.serve(connection, behaviour)
                }
            }
        }

        private func serve(_ connection: Int32, _ behaviour: Behaviour) {
            var request = [UInt8](repeating: 0, count: 2)
            _ = request.withUnsafeMutableBytes { UnixSocket.read(connection, into: $0) }
            var reply: [UInt8]
            if let served {
                let state: [UInt8] = [1, 0] + [UInt8](repeating: 0xff, count: 8) + [0, 0, 0, 1]
                reply = request[1] == 1 ? state + served.key + (served.form == .oneByteTooMany ? [0] : []) : state
                _ = reply.withUnsafeBytes { UnixSocket.write(connection, $0) }
                close(connection)
                return
            }
            switch behaviour {
            case .garbage: reply = [0xff, 0x00, 0x13, 0x37]
            case .silence:
                // Holds the connection open without a word, until the client gives up.
                var byte: UInt8 = 0
                _ = recv(connection, &byte, 1, 0)
                close(connection)
                return
            case .oversized: reply = [1, 0] + [UInt8](repeating: 7, count: 4096)
            case .wrongKey: reply = request[1] == 1 ? [1, 0] + [UInt8](repeating: 0, count: 12) + [UInt8](repeating: 0x42, count: 32) : [1, 0]
            case .closes: reply = []
            }
            _ = reply.withUnsafeBytes { UnixSocket.write(connection, $0) }
            close(connection)
        }

        func stop() {
            shutdown(descriptor, Int32(SHUT_RDWR))
            close(descriptor)
            unlink(path)
        }
    }

    @Test("the real key in a well-formed frame opens the journal; the same key one byte too long does not")
    func rightKeyOnlyInTheRightFrame() async throws {
        let journal = try await TemporaryJournal()
        let id = try await journal.write("opened by the key")
        #expect(try await journal.duet(["unlock"]).status == 0)
        // The key as the real agent hands it out, then the real agent gone.
        let key = try #require(AgentClient.key(home: journal.home)).withUnsafeBytes { [UInt8]($0) }
        _ = try await journal.duet(["lock"], withoutPassphrase: true)
        // Without this, the hostile cases below would pass with the agent lookup removed.
        for (form, opens) in [(Served.wellFormed, true), (.oneByteTooMany, false)] {
            let fake = try FakeAgent(path: journal.home + "/agent.socket", behaviour: .garbage, serving: (key, form))
            let show = try await journal.duet(["show", id], withoutPassphrase: true, timeout: .seconds(60))
            fake.stop()
            #expect((show.status == 0) == opens, "\(form): \(show.stderr)")
            if !opens { #expect(show.errorLine.contains("no passphrase"), "\(show.stderr)") }
        }
    }

    @Test("a hostile listener at the agent's socket is ignored", arguments: Behaviour.allCases)
    func hostileListener(behaviour: Behaviour) async throws {
        let journal = try await TemporaryJournal()
        let id = try await journal.write("still mine")
        let fake = try FakeAgent(path: journal.home + "/agent.socket", behaviour: behaviour)
        defer { fake.stop() }
        let show = try await journal.duet(["show", id], timeout: .seconds(60))
        #expect(show.status == 0 && show.stdout.contains("still mine"), "\(behaviour): \(show.stderr)")
        if behaviour == .wrongKey { #expect(show.stderr.contains("no longer opens this journal"), "\(show.stderr)") }
        let without = try await journal.duet(["show", id], withoutPassphrase: true, timeout: .seconds(60))
        #expect(without.status == 1 && without.errorLine.contains("no passphrase"), "\(behaviour): \(without.stderr)")
        let status = try await journal.duet(["status", "--json"], withoutPassphrase: true, timeout: .seconds(60))
        #expect((status.json as? [String: Any])?["unlockedUntil"] is NSNull, "\(status.stdout)")
    }
}
