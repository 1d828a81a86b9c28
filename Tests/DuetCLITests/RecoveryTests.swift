import DuetTesting
import Foundation
import Testing

/// How `duet init` shows the recovery code and how `duet recover` refuses bad input; recovery
/// itself is tested in process (DuetDeviceTests' RecoveryTests).
@Suite("duet init's recovery code and duet recover")
struct RecoveryTests {
    @Test("The code is shown once (stderr, or JSON), never on captured stdout nor stored on the device")
    func codeShownOnce() async throws {
        let alex = try await TemporaryJournal(name: "Alex", initialise: false)
        let created = try await alex.duet(["init", "--name", "Alex", "--device", "Alex's laptop"])
        #expect(created.status == 0)
        let code = try #require(created.stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.count == 31 && $0.filter { $0 == "-" }.count == 5 })
        #expect(!created.stdout.contains(code), "the code goes to stderr, not to captured stdout")
        for form in [code, code.replacingOccurrences(of: "-", with: "")] {
            #expect(try !alex.holds(Array(form.utf8)), "the recovery code is not on the device")
        }
        let json = try await TemporaryJournal(name: "Kim", initialise: false)
        let jsonRun = try await json.duet(["init", "--name", "Kim", "--json"])
        #expect(((jsonRun.json as? [String: Any])?["recoveryCode"] as? String)?.count == 31)
        #expect(jsonRun.stderr.isEmpty)
    }

    @Test("A malformed code, or no relay to ask, is refused with one clear line and creates nothing")
    func refusals() async throws {
        let target = try await TemporaryJournal(name: "Alex", initialise: false)
        let malformed = try await target.duet(["recover", "not-a-code", "--relay", "http://127.0.0.1:9"])
        #expect(malformed.status != 0 && malformed.errorLine.contains("not a recovery code"), "\(malformed.stderr)")
        let noRelay = try await target.duet(["recover", "00000-00000-00000-00000-00000-0"])
        #expect(noRelay.status != 0 && noRelay.errorLine.contains("--relay"), "\(noRelay.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target.home + "/duet.sqlite"))
    }
}

/// Pairing two journals made elsewhere.
struct CoupleOf {
    let relay: RelayProcess
    let alex: TemporaryJournal
    let sam: TemporaryJournal

    func pair() async throws {
        let invite = try alex.background(["pair", "invite", "--timeout", "60"])
        guard let code = await invite.firstLine() else { throw TestFailure("no code: \(await invite.finish().stderr)") }
        let accept = try await sam.duet(["pair", "accept", code])
        guard accept.status == 0, await invite.finish().status == 0 else { throw TestFailure("pairing failed: \(accept.stderr)") }
    }
}
