import DuetCrypto
import DuetTesting
import DuetWire
import Foundation
import GRDB
import Testing

/// Issue #14 items 3, 4 and 5: the recovery code works from the moment it is shown, `duetd`
/// keeps it stored and `duet status` says when it is not; the devices cross-check the blob's
/// generation, and a new device refuses a log older than the one its blob or link names.
@Suite("The recovery blob kept current, and checked")
struct RecoveryBlobTests {
    static func code(in created: ProcessRun) -> String? {
        created.stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.count == 31 && $0.filter { $0 == "-" }.count == 5 }
    }

    @Test("The README's quick start with no `duet sync`: init with a relay, pair, write — the code recovers both spaces")
    func codeWorksAtOnce() async throws {
        let relay = try await RelayProcess()
        let alex = try await TemporaryJournal(name: "Alex", initialise: false)
        let created = try await alex.duet(["init", "--name", "Alex", "--device", "Alex's laptop", "--relay", relay.base])
        #expect(created.status == 0 && created.stderr.contains("stored at your relay now"), "\(created.stderr)")
        let code = try #require(Self.code(in: created))
        #expect(try await alex.status()["recoveryAtRelay"] as? Bool == true)
        let first = try await TemporaryJournal(name: "Alex", initialise: false)
        let early = try await first.duet(["recover", code, "--relay", relay.base, "--device", "at once"])
        #expect(early.status == 0, "recovered right after init: \(early.stderr)")

        let sam = try await TemporaryJournal(name: "Sam", initOptions: ["--relay", relay.base])
        try await CoupleOf(relay: relay, alex: alex, sam: sam).pair()
        let daemon = try alex.daemon(backoff: 0.3), samDaemon = try sam.daemon(backoff: 0.3)
        let daemonLine = await daemon.firstLine(), samDaemonLine = await samDaemon.firstLine()
        #expect(daemonLine != nil && samDaemonLine != nil)
        let shared = try await alex.write("shared, from the quick start", ["--shared"])
        #expect(try await RelayFaultTests.arrived([shared], at: sam), "duetd sent it")
        let newLaptop = try await TemporaryJournal(name: "Alex", initialise: false)
        let recovered = try await newLaptop.duet(["recover", code, "--relay", relay.base, "--device", "Alex's new laptop"])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(try await newLaptop.show(shared)["body"] as? String == "shared, from the quick start", "the couple space came with the code")
        daemon.signal(SIGTERM)
        samDaemon.signal(SIGTERM)
        let daemonExit = await daemon.finish(), samDaemonExit = await samDaemon.finish()
        #expect(daemonExit.status == 0 && samDaemonExit.status == 0)
    }

    @Test("A relay out of reach at init: status warns the code does not work yet; duetd stores it, and says it synced")
    func storedByTheDaemon() async throws {
        let relay = try await RelayProcess()
        let port = relay.port
        #expect(await relay.terminate() == 0)
        let alex = try await TemporaryJournal(name: "Alex", initialise: false)
        let created = try await alex.duet(["init", "--name", "Alex", "--relay", "http://127.0.0.1:\(port)"])
        #expect(created.status == 0, "offline first: \(created.stderr)")
        #expect(created.stderr.contains("not stored at your relay yet: the relay at"), "\(created.stderr)")
        let code = try #require(Self.code(in: created))
        #expect(try await alex.status()["recoveryAtRelay"] as? Bool == false)
        let human = try await alex.duet(["status"], withoutPassphrase: true)
        #expect(human.stdout.contains("recovery code does not work yet"), "\(human.stdout)")
        #expect(human.stdout.contains("synced:   never"), "\(human.stdout)")

        try await relay.start(port: port)
        let daemon = try alex.daemon(backoff: 0.3)
        #expect(await daemon.firstLine() != nil)
        #expect(try await alex.eventually { try await alex.status()["recoveryAtRelay"] as? Bool == true }, "duetd stored the blob")
        let status = try await alex.status()
        #expect(status["lastSyncBy"] as? String == "duetd" && status["daemonState"] as? String == "connected", "\(status)")
        let shown = try await alex.duet(["status"], withoutPassphrase: true).stdout
        #expect(shown.contains("(duetd)") && shown.contains("duetd is running, connected") && !shown.contains("synced:   never"), "\(shown)")
        let recovered = try await TemporaryJournal(name: "Alex", initialise: false)
        #expect(try await recovered.duet(["recover", code, "--relay", relay.base, "--device", "after duetd"]).status == 0)

        await relay.kill()
        #expect(try await alex.eventually { (try await alex.status()["daemonState"] as? String)?.hasPrefix("retrying") == true }, "the daemon says it is retrying")
        daemon.signal(SIGTERM)
        #expect(await daemon.finish().status == 0)
    }

    @Test("An older recovery blob served again is caught by the counter and put right; two devices uploading in turn raise nothing")
    func olderBlobCaught() async throws {
        let relay = try await RelayProcess()
        let alex = try await TemporaryJournal(name: "Alex", initialise: false)
        let created = try await alex.duet(["init", "--name", "Alex", "--device", "Alex's laptop", "--relay", relay.base])
        let code = try #require(Self.code(in: created))
        let slot = try #require(Recovery.derive(code: code)?.slot)
        let blobs = { () throws -> Data? in
            let database = try DatabaseQueue(path: relay.data + "/relay.sqlite")
            defer { try? database.close() }
            return try database.read { try Data.fetchOne($0, sql: "SELECT blob FROM recovery WHERE slot = ?", arguments: [Data(slot)]) }
        }
        let first = try #require(try blobs())
        // The control: a second device of Alex's and both syncing in turn, each refreshing the blob.
        let phone = try await Couple.link(alex, base: relay.base, named: "Alex's phone")
        for _ in 0..<3 {
            #expect(try await phone.duet(["sync"]).status == 0)
            #expect(try await alex.duet(["sync"]).status == 0)
        }
        for device in [alex, phone] { #expect((try await device.status()["warnings"] as? [String]) == [], "no false alarm") }
        #expect(try blobs() != first, "linking changed what the blob holds")

        // The relay (or whoever holds its disk) puts the first blob back.
        #expect(await relay.terminate() == 0)
        let database = try DatabaseQueue(path: relay.data + "/relay.sqlite")
        try await database.write { try $0.execute(sql: "UPDATE recovery SET blob = ? WHERE slot = ?", arguments: [first, Data(slot)]) }
        try database.close()
        try await relay.start()
        #expect(try await alex.duet(["sync", "--relay", relay.base]).status == 0)
        let warnings = (try await alex.status()["warnings"] as? [String]) ?? []
        #expect(warnings.contains { $0.contains("older recovery blob") }, "\(warnings)")
        #expect(try blobs() != first, "the current blob was put back")
        let recovered = try await TemporaryJournal(name: "Alex", initialise: false)
        let run = try await recovered.duet(["recover", code, "--relay", relay.base, "--device", "recovered"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect((try await recovered.status()["warnings"] as? [String]) == [])
    }

    @Test("A relay serving a recovering device the membership log from before a revocation is refused: nothing is created")
    func oldLogPrefixRefused() async throws {
        let proxy = try TamperingProxy()
        let relay = try await RelayProcess(options: ["--public-url", proxy.base])
        proxy.forward(to: relay.port)
        let alex = try await TemporaryJournal(name: "Alex", initialise: false)
        let created = try await alex.duet(["init", "--name", "Alex", "--device", "Alex's laptop", "--relay", proxy.base])
        let code = try #require(Self.code(in: created))
        let phone = try await Couple.link(alex, base: proxy.base, named: "Alex's phone")
        #expect(try await phone.duet(["sync"]).status == 0)
        let spaces = try #require(try await alex.status()["spaces"] as? [String: String])
        let personal = try #require(spaces["private"])
        let beforeRevocation = try Self.membershipCount(relay: relay, space: personal)
        #expect(try await alex.duet(["device", "revoke", "Alex's phone"]).status == 0)
        #expect(try await alex.duet(["sync"]).status == 0)
        #expect(try Self.membershipCount(relay: relay, space: personal) > beforeRevocation)

        // The lost phone's holder and the relay together: a recovering device (it asks with a
        // certificate, being in no space yet) is shown the log as it was before the removal.
        proxy.tamper(reply: { request, reply in
            guard request.target.contains("/membership?"), request.headers["duet-certificate"] != nil, reply.status == 200,
                  let records = try? RelayMessages.decodeBatch(reply.body, maximumCount: 10_000, maximumItemBytes: 4096) else { return }
            reply.body = RelayMessages.encode(batch: Array(records.prefix(beforeRevocation)))
        })
        let target = try await TemporaryJournal(name: "Alex", initialise: false)
        let refused = try await target.duet(["recover", code, "--relay", proxy.base, "--device", "recovered"])
        #expect(refused.status != 0 && refused.errorLine.contains("older membership log"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target.home + "/duet.sqlite"), "nothing was created")

        proxy.tamper()
        let honest = try await target.duet(["recover", code, "--relay", proxy.base, "--device", "recovered"])
        #expect(honest.status == 0, "\(honest.stderr)")
        proxy.stop()
    }

    static func membershipCount(relay: RelayProcess, space: String) throws -> Int {
        let database = try DatabaseQueue(path: relay.data + "/relay.sqlite")
        defer { try? database.close() }
        return try database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM membership WHERE space = ?", arguments: [Data(try #require(Hex.decode(space)))]) ?? 0 }
    }
}

/// Found by the adversarial review of issue #14.
@Suite("The recovery blob and the log floor against a relay that cheats")
struct RecoveryBlobCheatingTests {
    @Test("A linked device whose relay says its space does not exist refuses to start a new log (its bundle names one)")
    func unknownSpaceForALinkedDevice() async throws {
        let relay = try await RelayProcess()
        let alex = try await TemporaryJournal(name: "Alex", initOptions: ["--device", "Alex's laptop", "--relay", relay.base])
        let phone = try await Couple.link(alex, base: relay.base, named: "Alex's phone")
        // The phone is pointed at a relay that knows nothing (one siding with a revoked device
        // could answer `unknown-space` alike): its log floor says the log went further.
        let empty = try await RelayProcess()
        let database = try DatabaseQueue(path: phone.home + "/duet.sqlite")
        try await database.write { try $0.execute(sql: "DELETE FROM membership") }
        try database.close()
        // Written first, so a sync that took the made-up log would push it there.
        _ = try await phone.write("waiting to be sent")
        let run = try await phone.duet(["sync", "--relay", empty.base])
        #expect(run.status != 0 && run.errorLine.contains("older membership log"), "\(run.stderr)")
        #expect(try empty.envelopeCount() == 0, "nothing was sent into a log the relay made up")
        let spaces = try #require(try await phone.status()["spaces"] as? [String: String])
        #expect(try RecoveryBlobTests.membershipCount(relay: empty, space: spaces["private"] ?? "") == 0,
                "and no new log was started there")
    }

    @Test("A relay that answers yes to the recovery upload and keeps nothing: init and status say the code does not work")
    func uploadDropped() async throws {
        let proxy = try TamperingProxy()
        let relay = try await RelayProcess(options: ["--public-url", proxy.base])
        proxy.forward(to: relay.port)
        proxy.tamper(request: { request in
            guard request.method == "PUT", request.target.hasPrefix("/v1/recovery/") else { return }
            request.method = "GET"
            request.target = "/healthz"
            request.body = []
        }, reply: { request, reply in
            if request.target == "/healthz" {
                reply.status = 200
                reply.body = Array("{}".utf8)
            }
        })
        let alex = try await TemporaryJournal(name: "Alex", initialise: false)
        let created = try await alex.duet(["init", "--name", "Alex", "--relay", proxy.base])
        #expect(created.status == 0 && !created.stderr.contains("stored at your relay now"), "\(created.stderr)")
        #expect(try await alex.status()["recoveryAtRelay"] as? Bool == false)
        let warnings = (try await alex.status()["warnings"] as? [String]) ?? []
        #expect(warnings.contains { $0.contains("does not keep it") }, "\(warnings)")
        proxy.stop()
    }

    @Test("duetd does not put a blob sealed before another device's newer one over it")
    func staleBlobNotPutByTheDaemon() async throws {
        let relay = try await RelayProcess()
        let port = relay.port
        #expect(await relay.terminate() == 0)
        let alex = try await TemporaryJournal(name: "Alex", initialise: false)
        #expect(try await alex.duet(["init", "--name", "Alex", "--device", "Alex's laptop", "--relay", "http://127.0.0.1:\(port)"]).status == 0)
        let stale = try #require(try Self.meta(alex, "recovery_pending"), "a blob waits for the relay")
        try await relay.start(port: port)
        #expect(try await alex.duet(["sync"]).status == 0)
        // The phone's first sync puts a newer blob (it holds a longer log).
        let phone = try await Couple.link(alex, base: relay.base, named: "Alex's phone")
        #expect(try await phone.duet(["sync"]).status == 0)
        let newer = try #require(try Self.blob(relay))
        // The laptop still holds its old blob as pending (as if sealed before the phone's).
        try Self.setMeta(alex, "recovery_pending", stale)
        let daemon = try alex.daemon(backoff: 0.3)
        #expect(await daemon.firstLine() != nil)
        #expect(try await alex.eventually(within: 5) { try Self.meta(alex, "daemon_sync") != nil })
        daemon.signal(SIGTERM)
        #expect(await daemon.finish().status == 0)
        #expect(try Self.blob(relay) == newer, "the phone's newer blob is still there")
        // The next unlocked sync weighs both and puts what covers everything, with no alarm.
        #expect(try await alex.duet(["sync"]).status == 0)
        #expect((try await alex.status()["warnings"] as? [String]) == [])
        #expect(try await alex.status()["recoveryAtRelay"] as? Bool == true)
    }

    @Test("A damaged pending blob in the store is dropped and made again; the sync goes on")
    func damagedPendingBlob() async throws {
        let relay = try await RelayProcess()
        let alex = try await TemporaryJournal(name: "Alex", initOptions: ["--relay", relay.base])
        try Self.setMeta(alex, "recovery_pending", Data("not a blob at all".utf8))
        try Self.setMeta(alex, "recovery_state", Data("stale".utf8))
        let sync = try await alex.duet(["sync"])
        #expect(sync.status == 0, "\(sync.stderr)")
        #expect(try await alex.status()["recoveryAtRelay"] as? Bool == true)
        #expect((try await alex.status()["warnings"] as? [String]) == [])
    }

    static func meta(_ journal: TemporaryJournal, _ key: String) throws -> Data? {
        let database = try DatabaseQueue(path: journal.home + "/duet.sqlite")
        defer { try? database.close() }
        return try database.read { try Data.fetchOne($0, sql: "SELECT value FROM store_meta WHERE key = ?", arguments: [key]) }
    }

    static func setMeta(_ journal: TemporaryJournal, _ key: String, _ value: Data) throws {
        let database = try DatabaseQueue(path: journal.home + "/duet.sqlite")
        defer { try? database.close() }
        try database.write { try $0.execute(sql: "INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", arguments: [key, value]) }
    }

    static func blob(_ relay: RelayProcess) throws -> Data? {
        let database = try DatabaseQueue(path: relay.data + "/relay.sqlite")
        defer { try? database.close() }
        return try database.read { try Data.fetchOne($0, sql: "SELECT blob FROM recovery") }
    }
}

extension RelayProcess {
    /// Envelopes the relay holds, over all its spaces.
    func envelopeCount() throws -> Int {
        let database = try DatabaseQueue(path: data + "/relay.sqlite")
        defer { try? database.close() }
        return try database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM envelopes") ?? 0 }
    }
}

/// Each recovery-blob warning fires for what it names (the silent side: every other test of
/// the suite ends with no warning, two devices of one person uploading in turn included).
@Suite("The recovery blob's warnings")
struct RecoveryBlobWarningTests {
    enum Damage: String, CaseIterable, CustomTestStringConvertible {
        case removed, altered, counterAtMaximum
        var testDescription: String { rawValue }
        var warning: String {
            switch self {
            case .removed: "no longer keeps your recovery blob"
            case .altered: "does not open with it"
            case .counterAtMaximum: "someone else may hold your recovery code"
            }
        }
    }

    @Test("A blob removed, altered, or sealed with the counter at its maximum is warned of at the next sync, and a good one put back",
          arguments: Damage.allCases)
    func damaged(_ damage: Damage) async throws {
        let relay = try await RelayProcess()
        let alex = try await TemporaryJournal(name: "Alex", initialise: false)
        let created = try await alex.duet(["init", "--name", "Alex", "--relay", relay.base])
        let code = try #require(RecoveryBlobTests.code(in: created))
        let slot = try #require(Recovery.derive(code: code))
        #expect(await relay.terminate() == 0)
        let database = try DatabaseQueue(path: relay.data + "/relay.sqlite")
        try await database.write { db in
            switch damage {
            case .removed:
                try db.execute(sql: "DELETE FROM recovery")
            case .altered:
                var blob = try #require(try Data.fetchOne(db, sql: "SELECT blob FROM recovery"))
                blob[blob.count / 2] ^= 1
                try db.execute(sql: "UPDATE recovery SET blob = ?", arguments: [blob])
            case .counterAtMaximum:
                // Whoever holds the code (a lost device keeps it) opens, re-seals and replaces it.
                let sealed = try #require(try Data.fetchOne(db, sql: "SELECT blob FROM recovery"))
                let bundle = try IdentityBundle.open([UInt8](sealed), using: slot.key, purpose: "recovery")
                let raised = bundle.with(generation: .max)
                try db.execute(sql: "UPDATE recovery SET blob = ?", arguments: [Data(try raised.seal(using: slot.key, purpose: "recovery"))])
            }
        }
        try database.close()
        try await relay.start()
        #expect(try await alex.duet(["sync", "--relay", relay.base]).status == 0)
        let warnings = (try await alex.status()["warnings"] as? [String]) ?? []
        #expect(warnings.contains { $0.contains(damage.warning) }, "\(warnings)")
        #expect(try await alex.status()["recoveryAtRelay"] as? Bool == true)
        let recovered = try await TemporaryJournal(name: "Alex", initialise: false)
        #expect(try await recovered.duet(["recover", code, "--relay", relay.base, "--device", "after"]).status == 0, "the code works again")
    }

    @Test("A home restored from an older backup learns of envelopes signed with its own key elsewhere: warned of, and kept")
    func restoredFromBackup() async throws {
        let relay = try await RelayProcess()
        let alex = try await TemporaryJournal(name: "Alex", initOptions: ["--relay", relay.base])
        _ = try await alex.write("before the backup")
        #expect(try await alex.duet(["sync"]).status == 0)
        let backup = alex.root + "/backup"
        try FileManager.default.copyItem(atPath: alex.home, toPath: backup)
        let after = try await alex.write("after the backup")
        #expect(try await alex.duet(["sync"]).status == 0)
        #expect((try await alex.status()["warnings"] as? [String]) == [], "nothing wrong yet")
        try FileManager.default.removeItem(atPath: alex.home)
        try FileManager.default.moveItem(atPath: backup, toPath: alex.home)
        #expect(try await alex.duet(["sync"]).status == 0)
        let warnings = (try await alex.status()["warnings"] as? [String]) ?? []
        #expect(warnings.contains { $0.contains("signed with this device's key that were not written here") }, "\(warnings)")
        #expect(try await alex.show(after)["body"] as? String == "after the backup", "what the relay held of this device came back")
    }
}
