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

    private func draftPath(_ journal: TemporaryJournal) -> String { journal.home + "/draft.sealed" }

    @Test("text refused after the editor closed is kept sealed, shown by `duet draft show`, and opened again by the next write")
    func refusedTextIsKept() async throws {
        let journal = try await TemporaryJournal()
        let marker = "MARKER-\(UUID().uuidString)"
        let failed = try await journal.duet(["write"], environment: ["EDITOR": Self.editorWriting(marker: marker, count: Self.tooLong)])
        #expect(failed.status == 1, "\(failed.stdout)")
        #expect(failed.errorLine.contains("an entry holds at most") && failed.errorLine.contains("kept, sealed, as a draft"), "\(failed.stderr)")
        #expect(try journal.permissions(draftPath(journal)) == 0o600)
        // Sealed: neither the marker nor the run of letters is in any file of the home.
        for (path, bytes) in try journal.files() {
            #expect(bytes.range(of: Data(marker.utf8)) == nil, "plaintext in \(path)")
            #expect(bytes.range(of: Data(String(repeating: "a", count: 64).utf8)) == nil, "plaintext in \(path)")
        }
        let status = try await journal.duet(["status", "--json"], withoutPassphrase: true)
        #expect((status.json as? [String: Any])?["draftKept"] as? Bool == true)

        let show = try await journal.duet(["draft", "show"])
        #expect(show.status == 0 && show.stdout.hasPrefix(marker + "\n") && show.stdout.utf8.count == marker.utf8.count + 1 + Self.tooLong,
                "\(show.stderr)")
        #expect(show.stderr.contains("for a new entry"))

        // The next write opens the draft in the editor: the editor sees it (copied aside), shortens it, and it is written.
        let seen = journal.root + "/seen-by-editor"
        let editor = "sh -c 'cp \"$1\" \"\(seen)\"; printf \"\(marker) shortened\" > \"$1\"' editor"
        let resumed = try await journal.duet(["write"], environment: ["EDITOR": editor])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let opened = try String(contentsOfFile: seen, encoding: .utf8)
        #expect(opened.hasPrefix(marker + "\n") && opened.utf8.count == marker.utf8.count + 1 + Self.tooLong)
        let listed = try await journal.duet(["list", "--json"])
        #expect((listed.json as? [[String: Any]])?.first?["body"] as? String == "\(marker) shortened")
        #expect(!FileManager.default.fileExists(atPath: draftPath(journal)), "a written draft is not kept")
    }

    @Test("a kept draft written unchanged from the editor is written, not refused as 'nothing written'")
    func keptDraftWrittenAsItIs() async throws {
        let journal = try await TemporaryJournal()
        // Kept because it is not UTF-8 the first time; the second editor leaves valid text as it finds it.
        let invalid = "sh -c 'printf \"half \\377 way\" > \"$1\"' editor"
        let failed = try await journal.duet(["write"], environment: ["EDITOR": invalid])
        #expect(failed.status == 1 && failed.errorLine.contains("kept, sealed, as a draft"), "\(failed.stderr)")
        let fix = "sh -c 'printf \"half way\" > \"$1\"' editor"
        #expect(try await journal.duet(["write"], environment: ["EDITOR": fix]).status == 0)
        let keep = "true"
        let again = try await journal.duet(["write", "-m", "other"], environment: ["EDITOR": keep])
        #expect(again.status == 0 && !again.stderr.contains("draft"), "\(again.stderr)")
        let failedTwice = try await journal.duet(["write"], environment: ["EDITOR": Self.editorWriting(marker: "x", count: Self.tooLong)])
        #expect(failedTwice.status == 1)
        let unchanged = try await journal.duet(["write"], environment: ["EDITOR": "true"])
        // Unchanged, it is as long as before: refused again, and kept again (never lost).
        #expect(unchanged.status == 1 && unchanged.errorLine.contains("kept, sealed, as a draft"), "\(unchanged.stderr)")
        #expect(FileManager.default.fileExists(atPath: draftPath(journal)))
    }

    @Test("text given with --file is not kept (it is still in the file); piped text is; a waiting draft is named by every write")
    func fileIsNotKept() async throws {
        let journal = try await TemporaryJournal()
        let long = String(repeating: "b", count: Self.tooLong)
        let file = journal.root + "/long.txt"
        try Data(long.utf8).write(to: URL(fileURLWithPath: file))
        let failed = try await journal.duet(["write", "--file", file])
        #expect(failed.status == 1 && !failed.errorLine.contains("draft"), "\(failed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: draftPath(journal)))

        let piped = try await journal.duet(["write"], stdin: long)
        #expect(piped.status == 1 && piped.errorLine.contains("kept, sealed, as a draft"), "stdin is kept: \(piped.stderr)")
        let other = try await journal.duet(["write", "-m", "something else"])
        #expect(other.status == 0 && other.stderr.contains("still waiting: `duet draft show`"), "\(other.stderr)")
        let discard = try await journal.duet(["draft", "discard"])
        #expect(discard.status == 0 && discard.stdout.contains("Draft discarded."))
        #expect(!FileManager.default.fileExists(atPath: draftPath(journal)))
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
        #expect(write.status == 0 && write.stderr.contains("still waiting"), "\(write.stderr)")
    }

    @Test("a damaged draft file is named, never stops a write, and can be discarded")
    func damagedDraft() async throws {
        let journal = try await TemporaryJournal()
        try Data([1, 2, 3, 4, 5, 6, 7]).write(to: URL(fileURLWithPath: draftPath(journal)))
        let write = try await journal.duet(["write", "-m", "still writes"])
        #expect(write.status == 0 && write.stderr.contains("cannot be opened"), "\(write.stderr)")
        let show = try await journal.duet(["draft", "show"])
        #expect(show.status == 1 && show.errorLine.contains("cannot be opened"))
        #expect(try await journal.duet(["draft", "discard"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: draftPath(journal)))
    }

    @Test("another device's draft does not open here")
    func otherDevicesDraft() async throws {
        let one = try await TemporaryJournal(), two = try await TemporaryJournal()
        let failed = try await one.duet(["write"], environment: ["EDITOR": Self.editorWriting(marker: "mine", count: Self.tooLong)])
        #expect(failed.status == 1)
        try FileManager.default.copyItem(atPath: draftPath(one), toPath: draftPath(two))
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
