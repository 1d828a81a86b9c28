import DuetTesting
import Foundation
import Testing

/// What reaches the disk: never journal plaintext; always every acknowledged write.
@Suite("duet at rest")
struct DurabilityTests {
    @Test("No marker word typed into the journal appears in any byte under the home")
    func noPlaintextOnDisk() async throws {
        let journal = try await TemporaryJournal()
        let markers = ["zebrafinchmarker", "Quokkatitlemarker", "narwhaltagmarker", "axolotleditmarker", "pangolineditormarker"]
        let id = try await journal.write("a body with \(markers[0]) inside", ["--title", markers[1], "--tag", markers[2], "--factor", "safety"])
        #expect(try await journal.duet(["edit", id, "-m", "now \(markers[3]) instead"]).status == 0)
        let script = journal.root + "/editor.sh"
        try "#!/bin/sh\nprintf '\(markers[4]) from the editor' > \"$1\"\n".write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: script)
        #expect(try await journal.duet(["write"], environment: ["EDITOR": script]).status == 0)
        #expect(try await journal.duet(["delete", id]).status == 0)
        #expect(try await journal.duet(["search", "narwhal"]).status == 0)
        // Everything the journal holds is readable through duet…
        let shown = try await journal.duet(["list", "--deleted", "--json"])
        #expect(shown.stdout.contains(markers[3]))
        // …and none of it, nor the passphrase, is anywhere on disk.
        let files = try journal.files()
        #expect(!files.isEmpty)
        for (path, bytes) in files {
            for marker in markers + [TemporaryJournal.passphrase] {
                for form in [marker, marker.lowercased(), marker.uppercased()] {
                    #expect(bytes.range(of: Data(form.utf8)) == nil, "\(form) found in \(path)")
                }
            }
        }
    }

    @Test("Killing duet write at random moments loses no acknowledged entry and never breaks the store")
    func killDuringWrites() async throws {
        let journal = try await TemporaryJournal()
        var random = SeededRandom(seed: 2026)
        // Kill moments are drawn from the span of one whole write on this machine, so they land
        // before, during and after the commit however fast or slow the machine is.
        let timing = Date()
        _ = try await journal.write("timing run")
        let writeMicroseconds = max(50_000, Int(Date().timeIntervalSince(timing) * 1_000_000))
        var acknowledged: [String] = []
        var killedBeforeAnswer = 0
        for round in 0..<40 {
            let process = try ChildProcess("duet", ["write", "--home", journal.home, "-m", "entry \(round)"], environment: journal.environment)
            // The kill lands anywhere from start-up through Argon2id, the commit and the print.
            try await Task.sleep(for: .microseconds(random.below(writeMicroseconds * 3 / 2)))
            process.signal(SIGKILL)
            let printed = await process.finish().stdout
            let id = printed.trimmingCharacters(in: .whitespacesAndNewlines)
            if id.count == 26 { acknowledged.append(id) } else { killedBeforeAnswer += 1 }
        }
        let list = try await journal.duet(["list", "--json"])
        #expect(list.status == 0, "the store opens after 40 kills: \(list.stderr)")
        let present = Set(((list.json as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String })
        for id in acknowledged { #expect(present.contains(id), "acknowledged \(id) is missing") }
        // The kills must have landed on both sides of the acknowledgement for this to mean anything.
        #expect(!acknowledged.isEmpty && killedBeforeAnswer > 0, "\(acknowledged.count) acknowledged, \(killedBeforeAnswer) killed first")
        // A write after all that still works and the device's envelope chain is intact.
        #expect(try await journal.duet(["write", "-m", "after the storm"]).status == 0)
    }
}
