import DuetTesting
import Foundation
import Testing

/// Issue #16 item 1: `duet write` and `duet edit` with a real terminal editor (vim) on a real
/// pseudo-terminal, where `duet` leads the session as a shell's job would be in the foreground.
/// Before the fix vim ran in a process group of its own, was stopped by the kernel (SIGTTOU)
/// and never drew its screen: every test here waited for it in vain.
@Suite("Terminal editors")
struct TerminalEditorTests {
    /// vim with nothing of the person's loaded (no vimrc, no viminfo, no swap file) that says
    /// on the screen when it reads keys, and only that (no file message before it, which would
    /// make it wait for Enter). The arguments are part of $EDITOR, as people write it.
    static let vim = "vim -u NONE -i NONE -n -N --cmd 'set shortmess+=F' -c 'echo \"EDITOR-READY\"'"

    /// `duet` on a pseudo-terminal with vim as the editor; a passphrase asked on the terminal
    /// is answered there (DUET_PASSPHRASE is set too, for when it takes precedence).
    private func terminal(_ journal: TemporaryJournal, _ arguments: [String], editor: String = vim) throws -> TerminalSession {
        var arguments = arguments
        arguments.insert(contentsOf: ["--home", journal.home], at: 1)
        let session = try TerminalSession("duet", arguments, environment: journal.environment.merging(["EDITOR": editor]) { $1 })
        session.answer("Passphrase: ", with: TemporaryJournal.passphrase + "\r", secret: true)
        return session
    }

    private func scratchFiles(_ journal: TemporaryJournal) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: journal.home + "/scratch"))?.sorted() ?? []
    }

    private func entries(_ journal: TemporaryJournal) async throws -> [[String: Any]] {
        let list = try await journal.duet(["list", "--json"])
        #expect(list.status == 0, "\(list.stderr)")
        return try #require(list.json as? [[String: Any]])
    }

    @Test("write with vim on a terminal saves what was typed, and the file is gone afterwards")
    func writeWithVim() async throws {
        let journal = try await TemporaryJournal()
        let session = try terminal(journal, ["write", "--title", "From vim"])
        try await session.waitFor("EDITOR-READY")
        session.type("iHello from vim\u{1b}:wq\r")
        let termination = await session.finish()
        #expect(termination == .exited(0), "\(session.output)")
        let listed = try await entries(journal)
        #expect(listed.count == 1)
        // vim ends the file with a newline; the body is what was typed.
        #expect(listed.first?["body"] as? String == "Hello from vim")
        let id = try #require(listed.first?["id"] as? String)
        let show = try await journal.duet(["show", id])
        #expect(show.status == 0 && show.stdout.contains("Hello from vim"), "\(show.stdout)\(show.stderr)")
        #expect(scratchFiles(journal).isEmpty)
    }

    @Test("edit with vim changes the body")
    func editWithVim() async throws {
        let journal = try await TemporaryJournal()
        let id = try await journal.write("first words")
        let session = try terminal(journal, ["edit", id])
        try await session.waitFor("EDITOR-READY")
        session.type("A, and more\u{1b}:wq\r")
        let termination = await session.finish()
        #expect(termination == .exited(0), "\(session.output)")
        let show = try await journal.duet(["show", id, "--json"])
        #expect((show.json as? [String: Any])?["body"] as? String == "first words, and more", "\(show.stdout)")
        #expect(scratchFiles(journal).isEmpty)
    }

    @Test("with its output captured (id=$(duet write)), the editor still draws on the terminal and only the id is captured")
    func writeWithCapturedOutput() async throws {
        let journal = try await TemporaryJournal()
        let duet = BuildProducts.folder.appendingPathComponent("duet").path
        let script = "id=$(\"$0\" write --home \"$1\"); echo \"captured=[$id]\""
        let session = try TerminalSession("/bin/sh", ["-c", script, duet, journal.home],
                                          environment: journal.environment.merging(["EDITOR": Self.vim]) { $1 })
        session.answer("Passphrase: ", with: TemporaryJournal.passphrase + "\r", secret: true)
        try await session.waitFor("EDITOR-READY")
        session.type("iCaptured\u{1b}:wq\r")
        try await session.waitFor("captured=[")
        let termination = await session.finish()
        #expect(termination == .exited(0), "\(session.output)")
        let listed = try await entries(journal)
        let id = try #require(listed.first?["id"] as? String)
        #expect(listed.first?["body"] as? String == "Captured")
        #expect(session.output.contains("captured=[\(id)]"), "\(session.output)")
    }

    @Test("an editor that leaves only blank lines writes nothing; one that fails says so; both leave no file")
    func blankAndFailingEditors() async throws {
        let journal = try await TemporaryJournal()
        // EDITOR with arguments, run through sh as git does.
        let blank = try await journal.duet(["write"], environment: ["EDITOR": "sh -c 'printf \"  \\n\\t\\n\" > \"$1\"' editor"])
        #expect(blank.status == 1)
        #expect(blank.errorLine == "error: empty entry, nothing written")
        let failing = try await journal.duet(["write"], environment: ["EDITOR": "sh -c 'exit 3' editor"])
        #expect(failing.status == 1)
        #expect(failing.errorLine == "error: the editor exited with status 3; nothing was saved")
        // What a failing editor saved first is kept as a draft (DraftTests), never written.
        let saving = try await journal.duet(["write"], environment: ["EDITOR": "sh -c 'printf words > \"$1\"; exit 3' editor"])
        #expect(saving.status == 1 && saving.errorLine.contains("what it had saved is kept, sealed, as draft"), "\(saving.stderr)")
        #expect(try await entries(journal).isEmpty)
        #expect(scratchFiles(journal).isEmpty)
    }

    @Test("quitting vim without writing aborts the write like git: nothing written, exit 1; SIGINT while the editor runs does not end duet")
    func quitWithoutSaving() async throws {
        let journal = try await TemporaryJournal()
        let session = try terminal(journal, ["write"])
        try await session.waitFor("EDITOR-READY")
        // Ctrl-C reaches the whole foreground group, and it is the editor's: duet, which ignores
        // SIGINT while the editor runs, must still be there to say what happened. (Sent to duet
        // alone: vim drops the keys typed ahead of an interrupt, and says nothing to wait on.)
        session.signal(SIGINT)
        session.type(":q!\r")
        let termination = await session.finish()
        #expect(termination == .exited(1), "\(session.output)")
        #expect(session.output.contains("error: empty entry, nothing written"), "\(session.output)")
        #expect(try await entries(journal).isEmpty)
        #expect(scratchFiles(journal).isEmpty)
    }

    @Test("edit saved unchanged in vim (:wq adds a final newline) writes nothing and says so")
    func editUnchanged() async throws {
        let journal = try await TemporaryJournal()
        let id = try await journal.write("as it was")
        let before = try await journal.duet(["show", id, "--json", "--history"])
        let session = try terminal(journal, ["edit", id])
        try await session.waitFor("EDITOR-READY")
        session.type(":wq\r")
        let termination = await session.finish()
        #expect(termination == .exited(1), "\(session.output)")
        #expect(session.output.contains("error: no change, nothing written"), "\(session.output)")
        let after = try await journal.duet(["show", id, "--json", "--history"])
        #expect(after.stdout == before.stdout)
    }

    @Test("a hang-up or termination while vim is open ends duet with 128+signal and leaves no file in scratch/",
          arguments: [SIGHUP, SIGTERM])
    func signalWhileEditing(signal: Int32) async throws {
        let journal = try await TemporaryJournal()
        // With its swap file (no -n), which vim keeps for recovery when it is hung up on.
        let session = try terminal(journal, ["write"], editor: Self.vim.replacingOccurrences(of: " -n ", with: " "))
        try await session.waitFor("EDITOR-READY")
        // Saved but not finished: the plaintext is on disk now, in the file and in vim's swap file.
        session.type("iA secret draft\u{1b}:w\r")
        try await session.waitFor("written")
        #expect(scratchFiles(journal).contains { $0.hasPrefix("entry-") && $0.hasSuffix(".md") })
        #expect(scratchFiles(journal).contains { $0.hasSuffix(".swp") }, "\(scratchFiles(journal))")
        session.signal(signal)
        let termination = await session.finish()
        #expect(termination == .exited(128 + signal), "\(session.output)")
        #expect(scratchFiles(journal).isEmpty, "\(scratchFiles(journal))")
        #expect(try await entries(journal).isEmpty)
    }

    @Test("files a killed duet left in scratch/ are wiped at the next command; a running one's are kept")
    func staleScratchWiped() async throws {
        let journal = try await TemporaryJournal()
        let scratch = journal.home + "/scratch"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let finished = try await ProcessRun.run("/bin/sh", ["-c", "echo $$"])
        let dead = try #require(Int32(finished.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(dead, 0) != 0)
        let alive = getpid()
        let stale = ["entry-\(dead).md", ".entry-\(dead).md.swp", "entry-\(dead).md~"]
        for name in stale + ["entry-\(alive).md"] {
            #expect(FileManager.default.createFile(atPath: scratch + "/" + name, contents: Data("a private draft".utf8),
                                                   attributes: [.posixPermissions: 0o600]))
        }
        let list = try await journal.duet(["list"])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(scratchFiles(journal) == ["entry-\(alive).md"])
    }
}
