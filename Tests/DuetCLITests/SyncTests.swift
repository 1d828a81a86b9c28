import DuetTesting
import Foundation
import Testing

/// `duet sync` against a real `duet-relay` process on loopback, end to end; a relay that rolls
/// back is tested in process (DuetDeviceTests' RelayFaultTests).
@Suite("duet sync")
struct SyncTests {
    @Test("A device pushes its personal space; a restored copy of it pulls and reads the same entries")
    func personalSpaceRoundTrip() async throws {
        let relay = try await RelayProcess()
        let journal = try await TemporaryJournal()
        // A copy of the device as it was at init (a backup restored elsewhere), before any writing.
        let copyHome = journal.root + "/copy"
        try FileManager.default.copyItem(atPath: journal.home, toPath: copyHome)
        let id = try await journal.write("Reflection that travels, sealed.", ["--title", "Walk", "--factor", "safety"])
        _ = try await journal.write("A second one.")
        let sync = try await journal.duet(["sync", "--relay", relay.base])
        #expect(sync.status == 0, "\(sync.stderr)")
        #expect(sync.stdout.contains("sent 2"), "\(sync.stdout)")
        let status = try #require(try await journal.duet(["status", "--json"], withoutPassphrase: true).json as? [String: Any])
        #expect(status["pendingOut"] as? Int == 0, "nothing left to send")
        #expect(status["relay"] as? String == relay.base)
        #expect((status["lastSync"] as? String)?.hasSuffix("Z") == true, "last sync time in RFC 3339")
        let again = try await journal.duet(["sync"])
        #expect(again.stdout.contains("sent 0, received 0"), "the relay is remembered; nothing moves twice: \(again.stdout)")
        _ = try await journal.write("A third, reported in JSON.")
        let asJSON = try await journal.duet(["sync", "--json"])
        let report = try #require(asJSON.json as? [String: Any], "one JSON object: \(asJSON.stdout) \(asJSON.stderr)")
        #expect(report["relay"] as? String == relay.base)
        #expect(report["sent"] as? Int == 1 && report["received"] as? Int == 0, "\(report)")
        #expect(report["deviceChanges"] as? Int == 0 && report["refused"] as? Int == 0, "every key, always: \(report)")

        let pulled = try await ProcessRun.run("duet", ["sync", "--home", copyHome, "--relay", relay.base], environment: journal.environment)
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(pulled.stdout.contains("received 3"), "\(pulled.stdout)")
        let shown = try await ProcessRun.run("duet", ["show", "--home", copyHome, id, "--json"], environment: journal.environment)
        let object = try #require(try? JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any], "\(shown.stderr)")
        #expect(object["body"] as? String == "Reflection that travels, sealed.")
        #expect(object["factors"] as? [String] == ["safety"])
        // The relay's files hold no plaintext.
        guard let walker = FileManager.default.enumerator(atPath: relay.data) else { return }
        for case let path as String in walker {
            let data = (try? Data(contentsOf: URL(fileURLWithPath: relay.data + "/" + path))) ?? Data()
            #expect(data.range(of: Data("travels".utf8)) == nil, "plaintext in the relay's \(path)")
        }
    }

    @Test("With the relay down, sync fails with a clear error and keeps the work for later")
    func relayDown() async throws {
        let journal = try await TemporaryJournal()
        _ = try await journal.write("kept for later")
        let run = try await journal.duet(["sync", "--relay", "http://127.0.0.1:9"])
        #expect(run.status != 0)
        #expect(run.errorLine.hasPrefix("error: ") && run.errorLine.contains("cannot be reached"), "\(run.stderr)")
        let status = try #require(try await journal.duet(["status", "--json"], withoutPassphrase: true).json as? [String: Any])
        #expect(status["pendingOut"] as? Int == 1)
    }
}
