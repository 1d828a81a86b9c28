import DuetTesting
import Foundation
import Testing

/// What reaches the disk: never journal plaintext; always every acknowledged write.
@Suite("duet at rest")
struct DurabilityTests {
    @Test("No marker word typed into the journal appears in any byte under the home")
    func noPlaintextOnDisk() throws {
        let journal = try TemporaryJournal()
        let markers = ["zebrafinchmarker", "Quokkatitlemarker", "narwhaltagmarker", "axolotleditmarker", "pangolineditormarker"]
        let id = try journal.write("a body with \(markers[0]) inside", ["--title", markers[1], "--tag", markers[2], "--factor", "safety"])
        #expect(try journal.duet(["edit", id, "-m", "now \(markers[3]) instead"]).status == 0)
        let script = journal.root + "/editor.sh"
        try "#!/bin/sh\nprintf '\(markers[4]) from the editor' > \"$1\"\n".write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: script)
        #expect(try journal.duet(["write"], environment: ["EDITOR": script]).status == 0)
        #expect(try journal.duet(["delete", id]).status == 0)
        #expect(try journal.duet(["search", "narwhal"]).status == 0)
        // Everything the journal holds is readable through duet…
        let shown = try journal.duet(["list", "--deleted", "--json"])
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
    func killDuringWrites() throws {
        let journal = try TemporaryJournal()
        var random = SeededRandom(seed: 2026)
        // Kill moments are drawn from the span of one whole write on this machine, so they land
        // before, during and after the commit however fast or slow the machine is.
        let timing = Date()
        _ = try journal.write("timing run")
        let writeMicroseconds = max(50_000, Int(Date().timeIntervalSince(timing) * 1_000_000))
        var acknowledged: [String] = []
        var killedBeforeAnswer = 0
        let duet = BuildProducts.folder.appendingPathComponent("duet")
        for round in 0..<40 {
            let process = Process()
            process.executableURL = duet
            process.arguments = ["write", "--home", journal.home, "-m", "entry \(round)"]
            process.environment = ProcessInfo.processInfo.environment.merging(journal.environment) { $1 }
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            process.standardInput = FileHandle.nullDevice
            try process.run()
            // The kill lands anywhere from start-up through Argon2id, the commit and the print.
            usleep(useconds_t(random.below(writeMicroseconds * 3 / 2)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let id = printed.trimmingCharacters(in: .whitespacesAndNewlines)
            if id.count == 26 { acknowledged.append(id) } else { killedBeforeAnswer += 1 }
        }
        let list = try journal.duet(["list", "--json"])
        #expect(list.status == 0, "the store opens after 40 kills: \(list.stderr)")
        let present = Set(((list.json as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String })
        for id in acknowledged { #expect(present.contains(id), "acknowledged \(id) is missing") }
        // The kills must have landed on both sides of the acknowledgement for this to mean anything.
        #expect(!acknowledged.isEmpty && killedBeforeAnswer > 0, "\(acknowledged.count) acknowledged, \(killedBeforeAnswer) killed first")
        // A write after all that still works and the device's envelope chain is intact.
        #expect(try journal.duet(["write", "-m", "after the storm"]).status == 0)
    }
}
