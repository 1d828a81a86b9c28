import DuetCore
import DuetCrypto
import DuetStore
import DuetTesting
import Foundation
import Testing

/// Bad input gets one `error: …` line, a non-zero exit, and changes nothing.
@Suite("duet refuses bad input")
struct BadInputTests {
    /// Runs `arguments`, expects failure with a single error line containing `fragment`, and
    /// checks that no file under the home changed.
    static func refuses(_ journal: TemporaryJournal, _ arguments: [String], containing fragment: String,
                        environment: [String: String] = [:], stdin: String? = nil, withoutPassphrase: Bool = false,
                        sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let before = try journal.files().map { "\($0.path):\($0.bytes.hashValue)" }.sorted()
        let run = try await journal.duet(arguments, environment: environment, stdin: stdin, withoutPassphrase: withoutPassphrase)
        #expect(run.status != 0, "\(arguments) succeeded", sourceLocation: sourceLocation)
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1, "one error line, got: \(run.stderr)", sourceLocation: sourceLocation)
        #expect(run.errorLine.hasPrefix("error: "), "\(run.stderr)", sourceLocation: sourceLocation)
        #expect(run.errorLine.contains(fragment), "\(run.stderr)", sourceLocation: sourceLocation)
        #expect(run.stdout.isEmpty, "nothing on stdout: \(run.stdout)", sourceLocation: sourceLocation)
        let after = try journal.files().map { "\($0.path):\($0.bytes.hashValue)" }.sorted()
        #expect(before == after, "files changed", sourceLocation: sourceLocation)
    }

    @Test("Wrong passphrase, and no passphrase source without a terminal")
    func passphrases() async throws {
        let journal = try await TemporaryJournal()
        _ = try await journal.write("something")
        try await Self.refuses(journal, ["write", "-m", "x"], containing: "wrong passphrase", environment: ["DUET_PASSPHRASE": "not it at all"])
        try await Self.refuses(journal, ["list"], containing: "wrong passphrase", environment: ["DUET_PASSPHRASE": "not it at all"])
        try await Self.refuses(journal, ["list"], containing: "no passphrase", withoutPassphrase: true)
        let file = journal.root + "/pass"
        try "\(TemporaryJournal.passphrase)\n".write(toFile: file, atomically: true, encoding: .utf8)
        let run = try await journal.duet(["list", "--passphrase-file", file], withoutPassphrase: true)
        #expect(run.status == 0, "a passphrase file works: \(run.stderr)")
    }

    @Test("Uninitialised home")
    func uninitialised() async throws {
        let journal = try await TemporaryJournal(initialise: false)
        for command in [["list"], ["write", "-m", "x"], ["show", "ABCD"], ["status"]] {
            let run = try await journal.duet(command)
            #expect(run.status != 0)
            #expect(run.errorLine.hasPrefix("error: ") && run.errorLine.contains("duet init"), "\(run.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: journal.home + "/duet.sqlite"), "nothing was created")
    }

    @Test("Unknown ids, malformed ids, unknown factors, moods out of range, tags and titles too long")
    func badArguments() async throws {
        let journal = try await TemporaryJournal()
        let id = try await journal.write("hello")
        let other = id.first == "Z" ? "Y" : "Z"
        try await Self.refuses(journal, ["show", other + "ZZZ"], containing: "no entry")
        try await Self.refuses(journal, ["show", String(id.prefix(3))], containing: "not an entry id")
        try await Self.refuses(journal, ["edit", "!!!!", "-m", "x"], containing: "not an entry id")
        try await Self.refuses(journal, ["write", "--factor", "trust", "-m", "x"], containing: "safety, attunement, comfort, delight, exploration")
        try await Self.refuses(journal, ["edit", id, "--add-factor", "love"], containing: "the five are")
        try await Self.refuses(journal, ["write", "--mood", "6", "-m", "x"], containing: "mood must be from 1 to 5")
        try await Self.refuses(journal, ["write", "--mood", "0", "-m", "x"], containing: "mood must be from 1 to 5")
        try await Self.refuses(journal, ["write", "--tag", String(repeating: "t", count: 65), "-m", "x"], containing: "tag")
        try await Self.refuses(journal, ["write", "--title", String(repeating: "t", count: 1025), "-m", "x"], containing: "title")
        try await Self.refuses(journal, ["list", "--since", "last blursday"], containing: "not a date")
    }

    @Test("A body over the size limit, and text that is not UTF-8")
    func badBodies() async throws {
        let journal = try await TemporaryJournal()
        // From a file, which still holds it: refused, nothing kept. (Piped text is kept as a
        // draft: DraftTests.)
        let long = journal.root + "/long.txt"
        try Data(String(repeating: "a", count: 262_145).utf8).write(to: URL(fileURLWithPath: long))
        try await Self.refuses(journal, ["write", "--file", long], containing: "at most 262144")
        let file = journal.root + "/latin1.txt"
        try Data([0x63, 0x61, 0x66, 0xE9, 0x0A]).write(to: URL(fileURLWithPath: file))
        try await Self.refuses(journal, ["write", "--file", file], containing: "not valid UTF-8")
        try await Self.refuses(journal, ["write", "--file", journal.root + "/missing.txt"], containing: "cannot read")
    }

    @Test("A corrupt store file and one from a newer Duet are detected and left untouched")
    func corruptAndNewer() async throws {
        let journal = try await TemporaryJournal()
        _ = try await journal.write("precious")
        let database = journal.home + "/duet.sqlite"
        // A newer version: a migration this Duet does not know.
        let sqlite = try await ProcessRun.run("/usr/bin/env", ["python3", "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"INSERT INTO grdb_migrations VALUES ('v999')\"); c.commit(); c.close()", database])
        #expect(sqlite.status == 0, "\(sqlite.stderr)")
        try await Self.refuses(journal, ["list"], containing: "newer version of Duet")
        try await Self.refuses(journal, ["write", "-m", "x"], containing: "newer version of Duet")
        // A damaged file: the header no longer says SQLite.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: database))
        bytes.replaceSubrange(0..<16, with: Data(repeating: 0x41, count: 16))
        try bytes.write(to: URL(fileURLWithPath: database))
        try await Self.refuses(journal, ["list"], containing: "damaged")
        try await Self.refuses(journal, ["write", "-m", "x"], containing: "damaged")
        try await Self.refuses(journal, ["status"], containing: "damaged")
    }

    @Test("Journal text cannot drive the terminal: escape sequences are neutralised when printed")
    func terminalEscapes() async throws {
        let journal = try await TemporaryJournal()
        let id = try await journal.write("body \u{1B}]0;pwned\u{07} and \u{1B}[2J cleared \u{202E}reversed", ["--title", "title \u{1B}[31mred\u{9B}"])
        for command in [["show", id], ["list"], ["search", "body"], ["show", id, "--history"]] {
            let run = try await journal.duet(command)
            #expect(run.status == 0)
            for forbidden in ["\u{1B}", "\u{07}", "\u{9B}", "\u{202E}"] {
                #expect(!run.stdout.contains(forbidden), "\(command) printed a control character")
            }
            #expect(run.stdout.contains("\u{FFFD}"))
        }
        // JSON carries the text exactly (escaped by the encoder), for programs.
        let object = try #require(try await journal.duet(["show", id, "--json"]).json as? [String: Any])
        #expect((object["title"] as? String)?.contains("\u{1B}[31m") == true)
    }
}

/// The disk itself misbehaving: needs root to mount a small filesystem, as CI has.
@Suite("duet on a full or read-only disk", .enabled(if: geteuid() == 0, "mounting a test filesystem needs root"))
struct DiskTests {
    /// A tmpfs of `megabytes` with a journal in it, unmounted at the end.
    static func withSmallDisk(megabytes: Int, _ body: (TemporaryJournal, String) async throws -> Void) async throws {
        let journal = try await TemporaryJournal(initialise: false)
        let mountPoint = journal.root + "/disk"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mount = try await ProcessRun.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", mountPoint])
        try #require(mount.status == 0, "mount failed: \(mount.stderr)")
        do {
            try await body(journal, mountPoint)
        } catch {
            _ = try? await ProcessRun.run("/bin/umount", ["-l", mountPoint])
            throw error
        }
        _ = try? await ProcessRun.run("/bin/umount", ["-l", mountPoint])
    }

    @Test("A full disk fails the write with a clear error and loses nothing already written")
    func fullDisk() async throws {
        try await Self.withSmallDisk(megabytes: 2) { journal, mountPoint in
            let home = mountPoint + "/home"
            let environment = journal.environment
            func duet(_ arguments: [String], stdin: String? = nil) async throws -> ProcessRun {
                try await ProcessRun.run("duet", [arguments[0], "--home", home] + arguments.dropFirst(), environment: environment, stdin: stdin)
            }
            #expect(try await duet(["init", "--name", "Alex"]).status == 0)
            let kept = try await duet(["write", "-m", "kept safe"])
            #expect(kept.status == 0)
            // Fill the disk.
            _ = try await ProcessRun.run("/bin/dd", ["if=/dev/zero", "of=\(mountPoint)/filler", "bs=64k", "count=1000"])
            let run = try await duet(["write"], stdin: String(repeating: "x", count: 200_000))
            #expect(run.status != 0)
            #expect(run.errorLine.hasPrefix("error: ") && run.errorLine.contains("disk is full"), "\(run.stderr)")
            try FileManager.default.removeItem(atPath: mountPoint + "/filler")
            let list = try await duet(["list", "--json"])
            #expect(list.status == 0, "\(list.stderr)")
            #expect((list.json as? [[String: Any]])?.map { $0["body"] as? String } == ["kept safe"])
        }
    }

    @Test("A read-only home refuses writes with a clear error; reading still works")
    func readOnlyHome() async throws {
        try await Self.withSmallDisk(megabytes: 16) { journal, mountPoint in
            let home = mountPoint + "/home"
            let environment = journal.environment
            func duet(_ arguments: [String]) async throws -> ProcessRun {
                try await ProcessRun.run("duet", [arguments[0], "--home", home] + arguments.dropFirst(), environment: environment)
            }
            #expect(try await duet(["init", "--name", "Alex"]).status == 0)
            #expect(try await duet(["write", "-m", "before"]).status == 0)
            let remount = try await ProcessRun.run("/bin/mount", ["-o", "remount,ro", mountPoint])
            try #require(remount.status == 0, "\(remount.stderr)")
            let run = try await duet(["write", "-m", "after"])
            #expect(run.status != 0)
            #expect(run.errorLine.hasPrefix("error: ") && run.errorLine.contains("read-only"), "\(run.stderr)")
        }
    }
}

@Suite("duet and ambiguous ids")
struct AmbiguousIDTests {
    @Test("A prefix shared by several entries is refused with the candidates listed")
    func ambiguousPrefix() async throws {
        let journal = try await TemporaryJournal()
        // Two entries whose ids share their first 12 characters, written straight into the store
        // (an import no longer keeps a file's ids: it derives its own).
        let ids = [EntryID(high: 0x1234_5678_9ABC_DEF0, low: 1), EntryID(high: 0x1234_5678_9ABC_DEF0, low: 2)]
        do {
            let store = try Store.open(home: Home(path: journal.home)).unlock(passphrase: SecretBytes(utf8: TemporaryJournal.passphrase))
            for (index, id) in ids.enumerated() {
                try store.commit(entry: id, now: 1_700_000_000_000 + UInt64(index)) {
                    $0.create(); $0.insertText(Array("entry \(index)".unicodeScalars), at: 0)
                }
            }
        }
        // Closed above, then one run of duet: the files are as duet leaves them, which the
        // refusals below compare with what they leave.
        #expect(try await journal.duet(["list"]).status == 0)
        let prefix = String(ids[0].description.prefix(6))
        try await BadInputTests.refuses(journal, ["show", prefix], containing: "matches several entries")
        let run = try await journal.duet(["edit", prefix.lowercased(), "-m", "x"])
        #expect(run.errorLine.contains(ids[0].description) && run.errorLine.contains(ids[1].description))
        #expect(try await journal.duet(["show", ids[1].description]).stdout.contains("entry 1"))
    }
}
