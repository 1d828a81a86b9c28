import DuetTesting
import Foundation
import Testing

/// Where `duet` writes what it prints and exports (found by the new-user trial): an export goes
/// to what `--out` names as a person means it, and output that never arrived fails the command.
@Suite("Output destinations")
struct OutputDestinationTests {
    static var duet: String { BuildProducts.folder.appendingPathComponent("duet").path }

    func isCharacterDevice(_ path: String) -> Bool {
        (try? FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType) == .typeCharacterSpecial
    }

    @Test("export --out follows a symlink (existing or dangling) and writes into a FIFO; a folder is refused")
    func exportFollowsWhatOutNames() async throws {
        let journal = try await TemporaryJournal()
        _ = try await journal.write("through the link")
        let target = journal.root + "/target.json", link = journal.root + "/link.json"
        try Data("old".utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "target.json")
        let viaLink = try await journal.duet(["export", "--out", link])
        #expect(viaLink.status == 0, "\(viaLink.stderr)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "target.json", "the link itself was replaced")
        #expect(try String(contentsOfFile: target, encoding: .utf8).contains("through the link"))
        #expect(try journal.permissions(target) == 0o600)

        let dangling = journal.root + "/dangling.json"
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: "made.json")
        #expect(try await journal.duet(["export", "--out", dangling]).status == 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dangling) == "made.json")
        #expect(try String(contentsOfFile: journal.root + "/made.json", encoding: .utf8).contains("through the link"))

        let fifo = journal.root + "/fifo", received = journal.root + "/received.json"
        #expect(mkfifo(fifo, 0o600) == 0)
        // The reader gives up after 20 s: an export that replaced the FIFO would leave it waiting.
        let script = "timeout 20 cat \"$2\" > \"$3\" & \"$0\" export --home \"$1\" --out \"$2\"; status=$?; wait; exit $status"
        let viaFIFO = try await ProcessRun.run("/bin/sh", ["-c", script, Self.duet, journal.home, fifo, received], environment: journal.environment)
        #expect(viaFIFO.status == 0, "\(viaFIFO.stderr)")
        #expect(try String(contentsOfFile: received, encoding: .utf8).contains("through the link"), "the FIFO's reader got nothing")
        let kind = try FileManager.default.attributesOfItem(atPath: fifo)[.type] as? FileAttributeType
        #expect(kind != .typeRegular, "the FIFO was replaced by a file")

        let folder = try await journal.duet(["export", "--out", journal.root])
        #expect(folder.status == 1)
        #expect(folder.errorLine == "error: cannot write \(journal.root): it is a folder")
    }

    @Test("export --out a device that refuses is one error line and exit 1, and the device stays a device")
    func exportIntoFullDevice() async throws {
        let journal = try await TemporaryJournal()
        // A node of its own for the kernel's full device (1, 7), not /dev/full itself: the code
        // this test guards against, run as root, replaced /dev/full with a file of journal text.
        let device = journal.root + "/full"
        let made = try await ProcessRun.run("/usr/bin/mknod", [device, "c", "1", "7"])
        try #require(made.status == 0 && isCharacterDevice(device), "cannot make a device node here (not root?): \(made.stderr)")
        _ = try await journal.write("enough to need a write")
        let run = try await journal.duet(["export", "--out", device])
        #expect(run.status == 1)
        #expect(run.errorLine.hasPrefix("error: could not write everything to \(device)"), "\(run.stderr)")
        #expect(isCharacterDevice(device), "export replaced the device with a file")
    }

    @Test("A command whose output cannot be written fails: write's id to a full disk, list to a full disk, stdout closed")
    func unwritableOutputFails() async throws {
        try #require(isCharacterDevice("/dev/full"), "/dev/full is not the kernel's full device here")
        let journal = try await TemporaryJournal()
        let full = try await ProcessRun.run("/bin/sh", ["-c", "exec \"$0\" write --home \"$1\" -m 'an id nobody saw' > /dev/full", Self.duet, journal.home],
                                  environment: journal.environment)
        #expect(full.status == 1)
        #expect(full.errorLine.hasPrefix("error: could not write everything to standard output"), "\(full.stderr)")
        #expect(full.errorLine.contains("the command was carried out"))
        let listed = try await ProcessRun.run("/bin/sh", ["-c", "exec \"$0\" list --home \"$1\" > /dev/full", Self.duet, journal.home],
                                    environment: journal.environment)
        #expect(listed.status == 1, "\(listed.stderr)")
        let closed = try await ProcessRun.run("/bin/sh", ["-c", "exec \"$0\" write --home \"$1\" -m 'never written' >&-", Self.duet, journal.home],
                                    environment: journal.environment)
        #expect(closed.status == 2)
        #expect(closed.errorLine.hasPrefix("error: standard output is closed; nothing was done"), "\(closed.stderr)")
        // The first write happened (it said so); the one with its output closed did not.
        let list = try await journal.duet(["list"])
        #expect(list.stdout.contains("an id nobody saw"))
        #expect(!list.stdout.contains("never written"))
    }
}
