import DuetTesting
import Foundation
import Testing

/// Issue #16 item 2: the words typed in the editor are never lost. The passphrase is asked
/// before the editor opens (three tries on a terminal), and text that then cannot be written is
/// kept sealed as a draft, offered again by the next `duet write`. Before, a text the entry
/// rules refused (or a write that failed) was gone with the editor's file.
@Suite("Drafts")
struct DraftTests {
    /// An entry holds at most 2^18 characters: one more is refused after the editor closed.
    static let tooLong = 262_145

    /// An editor that writes `count` letters `a` after a marker line.
    static func editorWriting(marker: String, count: Int) -> String {
        "sh -c 'printf \"\(marker)\\n\" > \"$1\"; head -c \(count) /dev/zero | tr \"\\\\000\" a >> \"$1\"' editor"
    }

    /// An editor that saves `text` and then fails, as vim does after an error in the session.
    static func failingAfterSaving(_ text: String) -> String {
        "sh -c 'printf \"\(text)\" > \"$1\"; exit 1' editor"
    }

    private func draftFiles(_ journal: TemporaryJournal) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: journal.home + "/drafts")) ?? []).filter { $0.hasSuffix(".sealed") }.sorted()
    }

    private func listedBodies(_ journal: TemporaryJournal) async throws -> [String] {
        let listed = try await journal.duet(["list", "--json"])
        return ((listed.json as? [[String: Any]]) ?? []).compactMap { $0["body"] as? String }
    }

    @Test("text refused after the editor closed is kept sealed, shown by `duet draft show`, and opened again by the next write")
    func refusedTextIsKept() async throws {
        let journal = try await TemporaryJournal()
        let marker = "MARKER-\(UUID().uuidString)"
        let failed = try await journal.duet(["write"], environment: ["EDITOR": Self.editorWriting(marker: marker, count: Self.tooLong)])
        #expect(failed.status == 1, "\(failed.stdout)")
        #expect(failed.errorLine.contains("an entry holds at most") && failed.errorLine.contains("is kept, sealed, as draft"), "\(failed.stderr)")
        let file = try #require(draftFiles(journal).first)
        #expect(try journal.permissions(journal.home + "/drafts/" + file) == 0o600)
        // Sealed: neither the marker nor the run of letters is in any file of the home.
        for (path, bytes) in try journal.files() {
            #expect(bytes.range(of: Data(marker.utf8)) == nil, "plaintext in \(path)")
            #expect(bytes.range(of: Data(String(repeating: "a", count: 64).utf8)) == nil, "plaintext in \(path)")
        }
        let status = try await journal.duet(["status", "--json"], withoutPassphrase: true)
        #expect((status.json as? [String: Any])?["drafts"] as? Int == 1)

        let show = try await journal.duet(["draft", "show"])
        #expect(show.status == 0 && show.stdout.hasPrefix(marker + "\n") && show.stdout.utf8.count == marker.utf8.count + 1 + Self.tooLong,
                "\(show.stderr)")
        #expect(show.stderr.contains("a new entry"))

        // The next write opens the draft in the editor: the editor sees it (copied aside), shortens it, and it is written.
        let seen = journal.root + "/seen-by-editor"
        let editor = "sh -c 'cp \"$1\" \"\(seen)\"; printf \"\(marker) shortened\" > \"$1\"' editor"
        let resumed = try await journal.duet(["write"], environment: ["EDITOR": editor])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let opened = try String(contentsOfFile: seen, encoding: .utf8)
        #expect(opened.hasPrefix(marker + "\n") && opened.utf8.count == marker.utf8.count + 1 + Self.tooLong)
        #expect(try await listedBodies(journal) == ["\(marker) shortened"])
        #expect(draftFiles(journal).isEmpty, "a written draft is not kept")
    }

    @Test("an editor that fails after saving keeps what it saved; saved again unchanged it is written, quit unsaved it stays")
    func editorFailureAndUnchangedResume() async throws {
        let journal = try await TemporaryJournal()
        let failed = try await journal.duet(["write"], environment: ["EDITOR": Self.failingAfterSaving("an hour of typing")])
        #expect(failed.status == 1 && failed.errorLine.contains("exited with status 1") && failed.errorLine.contains("what it had saved is kept"),
                "\(failed.stderr)")
        #expect(draftFiles(journal).count == 1)
        // Opened again and quit without saving: nothing written, the draft stays.
        let quit = try await journal.duet(["write"], environment: ["EDITOR": "true"])
        #expect(quit.status == 1 && quit.errorLine.contains("not saved again"), "\(quit.stderr)")
        let bodies = try await listedBodies(journal)
        #expect(draftFiles(journal).count == 1 && bodies.isEmpty)
        // Saved as it is (the file touched, not changed): written.
        let saved = try await journal.duet(["write"], environment: ["EDITOR": "sh -c 'sleep 0.01; touch \"$1\"' editor"])
        #expect(saved.status == 0, "\(saved.stderr)")
        #expect(try await listedBodies(journal) == ["an hour of typing"])
        #expect(draftFiles(journal).isEmpty)
    }

    @Test("a second text that fails is kept beside the first: no draft replaces another")
    func draftsNeverReplaceEachOther() async throws {
        let journal = try await TemporaryJournal()
        let first = try await journal.duet(["write"], environment: ["EDITOR": Self.failingAfterSaving("FIRST words")])
        #expect(first.status == 1)
        // Piped, so the first draft is not opened: both must stay.
        let second = try await journal.duet(["write"], stdin: "SECOND " + String(repeating: "b", count: Self.tooLong))
        #expect(second.status == 1 && second.errorLine.contains("is kept, sealed, as draft"), "\(second.stderr)")
        #expect(second.stderr.contains("a kept draft is waiting"), "\(second.stderr)")
        #expect(draftFiles(journal).count == 2)
        let list = try await journal.duet(["draft", "list"])
        #expect(list.stdout.contains("FIRST words") && list.stdout.contains("SECOND"), "\(list.stdout)")
        let discard = try await journal.duet(["draft", "discard"])
        #expect(discard.status == 1 && discard.errorLine.contains("2 drafts are kept; name the one"), "\(discard.stderr)")
    }

    @Test("a private draft never reopens into --shared or --reply-to; a draft being edited is taken by that write alone")
    func draftOptionsAndClaims() async throws {
        let journal = try await TemporaryJournal()
        let first = try await journal.write("an entry to answer")
        #expect(try await journal.duet(["write"], environment: ["EDITOR": Self.failingAfterSaving("private thoughts")]).status == 1)
        let seen = journal.root + "/seen"
        let recording = "sh -c 'cp \"$1\" \"\(seen)\"; printf \"an answer\" > \"$1\"' editor"
        let reply = try await journal.duet(["write", "--reply-to", first], environment: ["EDITOR": recording])
        #expect(reply.status == 0, "\(reply.stderr)")
        #expect(try String(contentsOfFile: seen, encoding: .utf8).isEmpty, "a reply opened the private draft")
        #expect(draftFiles(journal).count == 1)

        // While one write has the draft open, another process does not see it to take or discard.
        let duet = BuildProducts.folder.appendingPathComponent("duet").path
        let listing = journal.root + "/listing"
        let peeking = "sh -c '\"\(duet)\" draft list --home \"\(journal.home)\" > \"\(listing)\"' editor"
        let peek = try await journal.duet(["write"], environment: ["EDITOR": peeking])
        #expect(peek.status == 1 && peek.errorLine.contains("not saved again"), "\(peek.stderr)")
        #expect(try String(contentsOfFile: listing, encoding: .utf8) == "No drafts are kept.\n")
        #expect(draftFiles(journal).count == 1, "given back when the write ended without it")
    }

    @Test("text given with --file is not kept (it is still in the file); piped text is; waiting drafts are named by every write")
    func fileIsNotKept() async throws {
        let journal = try await TemporaryJournal()
        let long = String(repeating: "b", count: Self.tooLong)
        let file = journal.root + "/long.txt"
        try Data(long.utf8).write(to: URL(fileURLWithPath: file))
        let failed = try await journal.duet(["write", "--file", file])
        #expect(failed.status == 1 && !failed.errorLine.contains("draft"), "\(failed.stderr)")
        #expect(draftFiles(journal).isEmpty)

        let piped = try await journal.duet(["write"], stdin: long)
        #expect(piped.status == 1 && piped.errorLine.contains("is kept, sealed, as draft"), "stdin is kept: \(piped.stderr)")
        let other = try await journal.duet(["write", "-m", "something else"])
        #expect(other.status == 0 && other.stderr.contains("a kept draft is waiting: `duet draft list`"), "\(other.stderr)")
        let discard = try await journal.duet(["draft", "discard"])
        #expect(discard.status == 0 && discard.stdout.contains("discarded."), "\(discard.stdout)\(discard.stderr)")
        #expect(draftFiles(journal).isEmpty)
        let none = try await journal.duet(["draft", "show"])
        #expect(none.status == 1 && none.errorLine == "error: no draft is kept", "\(none.stderr)")
        let discardNone = try await journal.duet(["draft", "discard"])
        #expect(discardNone.status == 0 && discardNone.stdout.contains("No draft was kept."))
    }

    @Test("an edit's text that cannot be written is kept, naming the entry")
    func editDraft() async throws {
        let journal = try await TemporaryJournal()
        let id = try await journal.write("short")
        let failed = try await journal.duet(["edit", id], environment: ["EDITOR": Self.editorWriting(marker: "edited", count: Self.tooLong)])
        #expect(failed.status == 1 && failed.errorLine.contains("new text for entry \(id)"), "\(failed.stderr)")
        let show = try await journal.duet(["draft", "show"])
        #expect(show.status == 0 && show.stderr.contains("new text for entry \(id)") && show.stdout.hasPrefix("edited\n"))
        // A new entry does not open another entry's draft.
        let write = try await journal.duet(["write"], environment: ["EDITOR": "sh -c 'printf fresh > \"$1\"' editor"])
        #expect(write.status == 0 && write.stderr.contains("waiting"), "\(write.stderr)")
        #expect(try await listedBodies(journal).contains("fresh"))
    }

    @Test("a damaged draft file, or a FIFO in its place, is named, never stops or hangs a write, and can be discarded")
    func damagedDraft() async throws {
        let journal = try await TemporaryJournal()
        try FileManager.default.createDirectory(atPath: journal.home + "/drafts", withIntermediateDirectories: true)
        try Data([1, 2, 3, 4, 5, 6, 7]).write(to: URL(fileURLWithPath: journal.home + "/drafts/1-1.sealed"))
        #expect(mkfifo(journal.home + "/drafts/2-2.sealed", 0o600) == 0)
        // Given with -m, the drafts are only counted; through the editor they are opened, and named.
        let message = try await journal.duet(["write", "-m", "still writes"], timeout: .seconds(60))
        #expect(message.status == 0 && message.stderr.contains("2 kept drafts are waiting"), "\(message.stderr)")
        let write = try await journal.duet(["write"], environment: ["EDITOR": "sh -c 'printf edited > \"$1\"' editor"], timeout: .seconds(60))
        #expect(write.status == 0 && write.stderr.contains("draft 1-1 cannot be opened") && write.stderr.contains("draft 2-2 cannot be opened"),
                "\(write.stderr)")
        let list = try await journal.duet(["draft", "list"], timeout: .seconds(60))
        #expect(list.stdout.contains("1-1  (cannot be opened") && list.stdout.contains("2-2  (cannot be opened"), "\(list.stdout)")
        let show = try await journal.duet(["draft", "show", "1-1"], timeout: .seconds(60))
        #expect(show.status == 1 && show.errorLine.contains("cannot be opened"))
        #expect(try await journal.duet(["draft", "discard", "1-1"]).status == 0)
        #expect(try await journal.duet(["draft", "discard", "2-2"]).status == 0)
        #expect(draftFiles(journal).isEmpty)
    }

    @Test("a closed terminal (SIGHUP) while the editor runs keeps what it had saved; the file itself is removed")
    func hangupKeepsSavedText() async throws {
        let journal = try await TemporaryJournal()
        let editor = "sh -c 'printf \"saved before the hangup\" > \"$1\"; echo SAVED; sleep 60' editor"
        let child = try ChildProcess("duet", ["write", "--home", journal.home], environment: journal.environment.merging(["EDITOR": editor]) { $1 })
        #expect(await child.nextLine() == "SAVED")
        child.signal(SIGHUP)
        let run = await child.finish()
        #expect(run.status == 128 + SIGHUP, "\(run.stderr)")
        #expect(run.stderr.contains("your text is kept, sealed, as a draft"), "\(run.stderr)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: journal.home + "/scratch")) ?? []).isEmpty)
        let show = try await journal.duet(["draft", "show"])
        #expect(show.status == 0 && show.stdout == "saved before the hangup", "\(show.stderr)")
    }

    @Test("a signal while the write waits for a journal kept busy keeps the text as a draft")
    func hangupDuringTheWriteKeepsText() async throws {
        let journal = try await TemporaryJournal()
        let ready = journal.root + "/locked"
        // The editor saves, then has another process hold the journal's write lock for a while,
        // and says so once the lock is held: duet's write then waits for it.
        let lock = "sqlite3 \"\(journal.home)/duet.sqlite\" \"BEGIN EXCLUSIVE;\" \".shell echo held > \(ready)\" \".shell sleep 8\" \"COMMIT;\""
        let editor = "sh -c 'printf \"words written in the wait\" > \"$1\"; (\(lock.replacingOccurrences(of: "'", with: "")) >/dev/null 2>&1 &); "
            + "while [ ! -s \(ready) ]; do sleep 0.05; done; echo SAVED' editor"
        let child = try ChildProcess("duet", ["write", "--home", journal.home], environment: journal.environment.merging(["EDITOR": editor]) { $1 })
        #expect(await child.nextLine() == "SAVED")
        child.signal(SIGHUP)
        let run = await child.finish()
        #expect(run.status == 128 + SIGHUP, "\(run.stderr)")
        #expect(run.stderr.contains("your text is kept, sealed, as a draft"), "\(run.stderr)")
        let show = try await journal.duet(["draft", "show"])
        #expect(show.status == 0 && show.stdout == "words written in the wait", "\(show.stderr)")
    }

    @Test("a draft taken by a process that was killed (its claim names a dead pid) is a draft again")
    func deadClaimIsADraftAgain() async throws {
        let journal = try await TemporaryJournal()
        #expect(try await journal.duet(["write"], environment: ["EDITOR": Self.failingAfterSaving("claimed, then killed")]).status == 1)
        let file = try #require(draftFiles(journal).first)
        let folder = journal.home + "/drafts/"
        // The largest pid Linux gives is 4194304: this one runs nowhere.
        try FileManager.default.moveItem(atPath: folder + file, toPath: folder + file + ".claimed-4194999")
        let show = try await journal.duet(["draft", "show"])
        #expect(show.status == 0 && show.stdout == "claimed, then killed", "\(show.stderr)")
        // A live process's claim (this test's own) is not shown.
        try FileManager.default.moveItem(atPath: folder + file + ".claimed-4194999", toPath: folder + file + ".claimed-\(getpid())")
        let hidden = try await journal.duet(["draft", "list"])
        #expect(hidden.stdout == "No drafts are kept.\n", "\(hidden.stdout)")
    }

    @Test("another device's draft does not open here")
    func otherDevicesDraft() async throws {
        let one = try await TemporaryJournal(), two = try await TemporaryJournal()
        let failed = try await one.duet(["write"], environment: ["EDITOR": Self.editorWriting(marker: "mine", count: Self.tooLong)])
        #expect(failed.status == 1)
        let file = try #require(draftFiles(one).first)
        try FileManager.default.createDirectory(atPath: two.home + "/drafts", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: one.home + "/drafts/" + file, toPath: two.home + "/drafts/" + file)
        let show = try await two.duet(["draft", "show"])
        #expect(show.status == 1 && show.errorLine.contains("cannot be opened"), "\(show.stderr)")
    }

    @Test("on a terminal the passphrase is asked before the editor opens, and a wrong one is asked again")
    func passphraseBeforeEditor() async throws {
        let journal = try await TemporaryJournal()
        var environment = journal.environment
        environment["DUET_PASSPHRASE"] = nil
        environment["EDITOR"] = "sh -c 'echo EDITOR-OPENED; printf \"typed words\" > \"$1\"' editor"
        let session = try TerminalSession("duet", ["write", "--home", journal.home], environment: environment)
        session.answer("Passphrase: ", with: "wrong words\r", secret: true)
        session.answer("Passphrase (try 2 of 3): ", with: TemporaryJournal.passphrase + "\r", secret: true)
        try await session.waitFor("Wrong passphrase.")
        try await session.waitFor("EDITOR-OPENED")
        let termination = await session.finish()
        #expect(termination == .exited(0), "\(session.output)")
        let listed = try await journal.duet(["list", "--json"])
        #expect((listed.json as? [[String: Any]])?.first?["body"] as? String == "typed words")
    }

    @Test("three wrong passphrases on a terminal end the command before the editor opens")
    func threeWrongTries() async throws {
        let journal = try await TemporaryJournal()
        var environment = journal.environment
        environment["DUET_PASSPHRASE"] = nil
        environment["EDITOR"] = "sh -c 'echo EDITOR-OPENED; printf words > \"$1\"' editor"
        let session = try TerminalSession("duet", ["write", "--home", journal.home], environment: environment)
        session.answer("Passphrase: ", with: "wrong words\r", secret: true)
        session.answer("Passphrase (try 2 of 3): ", with: "wrong again\r", secret: true)
        session.answer("Passphrase (try 3 of 3): ", with: "and wrong\r", secret: true)
        try await session.waitFor("wrong passphrase (3 tries)")
        let termination = await session.finish()
        #expect(termination == .exited(1))
        #expect(!session.output.contains("EDITOR-OPENED"))
    }

    @Test("DUET_PASSPHRASE is used even with a terminal: no prompt")
    func environmentWithTerminal() async throws {
        let journal = try await TemporaryJournal()
        _ = try await journal.write("visible")
        let session = try TerminalSession("duet", ["list", "--home", journal.home], environment: journal.environment)
        try await session.waitFor("visible")
        let termination = await session.finish()
        #expect(termination == .exited(0))
        #expect(!session.output.contains("Passphrase"))
    }
}

/// `duet list` on a terminal without --limit shows a page, at once, however long the journal;
/// a pipe and --json get every entry (issue #16: "answers well under 100 ms on 20,000 entries"
/// is what a person at a terminal meets; BENCHMARKS.md has the figures).
@Suite("List on a terminal")
struct TerminalListTests {
    @Test("the newest 50 on a terminal, with a line that says so; all of them through a pipe")
    func pagedOnTerminal() async throws {
        let journal = try await TemporaryJournal()
        let entries = (1...55).map { day in
            ["title": "Day \(day)", "body": "words of day \(day)", "date": String(format: "2026-01-%02d", (day - 1) % 28 + 1),
             "time": String(format: "%02d:00", day / 28 + 8), "tags": [], "starred": false] as [String: Any]
        }
        let file = journal.root + "/jrnl.json"
        try JSONSerialization.data(withJSONObject: ["tags": [:], "entries": entries]).write(to: URL(fileURLWithPath: file))
        let imported = try await journal.duet(["import", "--from", "jrnl", file])
        #expect(imported.status == 0, "\(imported.stderr)")

        let session = try TerminalSession("duet", ["list", "--home", journal.home], environment: journal.environment)
        try await session.waitFor("the newest 50 shown")
        #expect(await session.finish() == .exited(0))
        #expect(session.output.components(separatedBy: "Day ").count - 1 == 50, "\(session.output)")

        let piped = try await journal.duet(["list"])
        #expect(piped.status == 0 && piped.stdout.split(separator: "\n").count == 55 && !piped.stdout.contains("newest 50"))
        let limited = try TerminalSession("duet", ["list", "--limit", "55", "--home", journal.home], environment: journal.environment)
        try await limited.waitFor("Day 1")
        #expect(await limited.finish() == .exited(0))
        #expect(!limited.output.contains("newest 50"))
    }
}
