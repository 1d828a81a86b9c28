import DuetTesting
import Foundation
import Testing

/// Every one-device command of CLI.md, driven through the real `duet` binary.
@Suite("duet journal commands")
struct JournalCommandTests {
    @Test("init makes a 0700 home and 0600 files even under umask 000, and refuses to run twice")
    func initPermissions() async throws {
        let journal = try await TemporaryJournal(initialise: false)
        let duet = BuildProducts.folder.appendingPathComponent("duet").path
        let run = try await ProcessRun.run("/bin/sh", ["-c", "umask 000 && exec \"$0\" \"$@\"", duet, "init", "--home", journal.home, "--name", "Alex"],
                                           environment: journal.environment)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try journal.permissions(journal.home) == 0o700)
        let files = try journal.files()
        #expect(!files.isEmpty)
        for file in files { #expect(try journal.permissions(journal.home + "/" + file.path) == 0o600, "\(file.path)") }
        let again = try await journal.duet(["init", "--name", "Alex"])
        #expect(again.status != 0)
        #expect(again.errorLine.hasPrefix("error: ") && again.errorLine.contains("already holds"))
    }

    @Test("write prints the id alone; list, show and JSON follow CLI.md")
    func writeListShow() async throws {
        let journal = try await TemporaryJournal()
        let id = try await journal.write("I felt safe when you called.", ["--title", "Tuesday", "--factor", "safety", "--factor", "comfort", "--tag", "calls", "--mood", "4"])
        #expect(id.count == 26 && id.allSatisfy { "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains($0) })
        let piped = try await journal.duet(["write", "--tag", "evening"], stdin: "A quiet evening.\nWe talked.\n")
        #expect(piped.status == 0, "\(piped.stderr)")
        let list = try await journal.duet(["list"])
        #expect(list.stdout.contains(String(id.prefix(8))) && list.stdout.contains("Tuesday") && list.stdout.contains("A quiet evening."))
        let shown = try await journal.duet(["show", String(id.prefix(5)), "--json"])
        let object = try #require(shown.json as? [String: Any], "\(shown.stdout)")
        #expect(Set(object.keys) == ["id", "space", "author", "authorDevice", "createdAt", "updatedAt", "title", "body",
                                     "mood", "factors", "tags", "replyTo", "acks", "deleted", "starred"])
        #expect(object["id"] as? String == id)
        #expect(object["space"] as? String == "private")
        #expect(object["author"] as? String == "Alex")
        #expect(object["title"] as? String == "Tuesday")
        #expect(object["body"] as? String == "I felt safe when you called.")
        #expect(object["mood"] as? Int == 4)
        #expect(object["factors"] as? [String] == ["safety", "comfort"])
        #expect(object["tags"] as? [String] == ["calls"])
        #expect(object["deleted"] as? Bool == false)
        #expect(object["replyTo"] is NSNull)
        let listed = try #require(try await journal.duet(["list", "--json"]).json as? [[String: Any]])
        #expect(listed.count == 2)
        #expect(listed.first?["tags"] as? [String] == ["evening"], "newest first")
        let filtered = try #require(try await journal.duet(["list", "--factor", "comfort", "--json"]).json as? [[String: Any]])
        #expect(filtered.map { $0["id"] as? String } == [id])
        #expect((try await journal.duet(["list", "--tag", "evening", "--limit", "1", "--json"]).json as? [[String: Any]])?.count == 1)
        #expect((try await journal.duet(["list", "--since", "2000-01-01", "--until", "2001-01-01", "--json"]).json as? [[String: Any]])?.isEmpty == true)
    }

    @Test("edit diffs the body, changes metadata, and show --history keeps every value")
    func editAndHistory() async throws {
        let journal = try await TemporaryJournal()
        let id = try await journal.write("We argued about the dishes.", ["--title", "Hard day", "--mood", "2"])
        let edit = try await journal.duet(["edit", id, "-m", "We argued about the dishes, then we laughed.", "--title", "Better day", "--mood", "4", "--add-factor", "delight", "--add-tag", "repair"])
        #expect(edit.status == 0, "\(edit.stderr)")
        let object = try #require(try await journal.duet(["show", id, "--json"]).json as? [String: Any])
        #expect(object["body"] as? String == "We argued about the dishes, then we laughed.")
        #expect(object["title"] as? String == "Better day")
        #expect(object["factors"] as? [String] == ["delight"])
        let history = try await journal.duet(["show", id, "--history"])
        #expect(history.stdout.contains("title = Hard day") && history.stdout.contains("title = Better day"))
        #expect(history.stdout.contains("mood = 2") && history.stdout.contains("mood = 4"))
        let json = try #require(try await journal.duet(["show", id, "--history", "--json"]).json as? [String: Any])
        let titles = ((json["history"] as? [String: Any])?["title"] as? [[String: Any]])?.compactMap { $0["value"] as? String }
        #expect(titles == ["Hard day", "Better day"])
        // Removing the text deletes it from the body but history keeps it.
        _ = try await journal.duet(["edit", id, "-m", "We laughed."])
        let after = try await journal.duet(["show", id, "--history"])
        #expect(after.stdout.contains("We laughed."))
        #expect(after.stdout.contains("text deleted over time"))
    }

    @Test("edit with no text option opens $EDITOR on the current body")
    func editInEditor() async throws {
        let journal = try await TemporaryJournal()
        let id = try await journal.write("draft")
        let script = journal.root + "/editor.sh"
        try "#!/bin/sh\nprintf 'final words' > \"$1\"\n".write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: script)
        let run = try await journal.duet(["edit", id], environment: ["EDITOR": script])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try await journal.duet(["show", id, "--json"]).json as? [String: Any])
        #expect(object["body"] as? String == "final words")
        let scratch = (try? FileManager.default.contentsOfDirectory(atPath: journal.home + "/scratch")) ?? []
        #expect(scratch.isEmpty, "the temp file is removed")
    }

    @Test("search is case-insensitive over titles and bodies; delete hides, restore brings back")
    func searchDeleteRestore() async throws {
        let journal = try await TemporaryJournal()
        let id = try await journal.write("You noticed I was tired and made tea.", ["--title", "Attunement"])
        _ = try await journal.write("Nothing about beverages here.")
        let found = try #require(try await journal.duet(["search", "TEA", "--json"]).json as? [[String: Any]])
        #expect(found.map { $0["id"] as? String } == [id])
        #expect((try await journal.duet(["search", "attune", "--json"]).json as? [[String: Any]])?.count == 1)
        #expect(try await journal.duet(["delete", id]).status == 0)
        #expect((try await journal.duet(["list", "--json"]).json as? [[String: Any]])?.count == 1)
        #expect((try await journal.duet(["list", "--deleted", "--json"]).json as? [[String: Any]])?.first?["deleted"] as? Bool == true)
        #expect((try await journal.duet(["search", "tea", "--json"]).json as? [[String: Any]])?.isEmpty == true)
        let twice = try await journal.duet(["delete", id])
        #expect(twice.status != 0 && twice.errorLine.contains("already deleted"))
        #expect(try await journal.duet(["restore", id]).status == 0)
        #expect((try await journal.duet(["list", "--json"]).json as? [[String: Any]])?.count == 2)
    }

    @Test("prompt gives a prompt for the factor asked; status reports counts without a passphrase")
    func promptAndStatus() async throws {
        let journal = try await TemporaryJournal()
        for factor in ["safety", "attunement", "comfort", "delight", "exploration"] {
            let object = try #require(try await journal.duet(["prompt", "--factor", factor, "--json"]).json as? [String: String])
            #expect(object["factor"] == factor)
            #expect((object["prompt"]?.count ?? 0) > 20)
        }
        _ = try await journal.write("one")
        let status = try #require(try await journal.duet(["status", "--json"], withoutPassphrase: true).json as? [String: Any])
        #expect(status["pendingOut"] as? Int == 1)
        #expect(status["daemon"] as? Bool == false)
        #expect(status["warnings"] as? [String] == [])
        #expect(status.keys.contains("relay") && status.keys.contains("lastSync") && status.keys.contains("pendingIn"))
    }

    @Test("passphrase re-seals the keystore: the new one unlocks, the old one no longer does")
    func changePassphrase() async throws {
        let journal = try await TemporaryJournal()
        let id = try await journal.write("kept across the change")
        let run = try await journal.duet(["passphrase"], environment: ["DUET_NEW_PASSPHRASE": "a brand new passphrase"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try await journal.duet(["list"]).status != 0)
        let shown = try await journal.duet(["show", id, "--json"], environment: ["DUET_PASSPHRASE": "a brand new passphrase"])
        #expect((shown.json as? [String: Any])?["body"] as? String == "kept across the change")
        // From a file, and refused when too short, changing nothing.
        let file = journal.root + "/new"
        try "third passphrase here\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try await journal.duet(["passphrase", "--new-passphrase-file", file], environment: ["DUET_PASSPHRASE": "a brand new passphrase"]).status == 0)
        try "short\n".write(toFile: file, atomically: true, encoding: .utf8)
        let refused = try await journal.duet(["passphrase", "--new-passphrase-file", file], environment: ["DUET_PASSPHRASE": "third passphrase here"])
        #expect(refused.status != 0 && refused.errorLine.contains("at least 8"))
        #expect(try await journal.duet(["list"], environment: ["DUET_PASSPHRASE": "third passphrase here"]).status == 0)
    }
}

@Suite("duet list, many entries")
struct ManyEntriesTests {
    @Test("Listing pages through more entries than one page, newest first, none lost or repeated")
    func paging() async throws {
        let journal = try await TemporaryJournal()
        // Imported entries with chosen dates: several share a second, so paging must break ties.
        var entries: [[String: Any]] = []
        for index in 0..<150 {
            entries.append(["title": "entry \(index)", "body": "text \(index)", "date": "2024-01-\(String(format: "%02d", 1 + index / 6))",
                            "time": "10:00", "tags": [], "starred": false])
        }
        let file = journal.root + "/many.json"
        try JSONSerialization.data(withJSONObject: ["tags": [:], "entries": entries]).write(to: URL(fileURLWithPath: file))
        #expect(try await journal.duet(["import", "--from", "jrnl", file]).status == 0)
        let listed = try #require(try await journal.duet(["list", "--json"]).json as? [[String: Any]])
        #expect(listed.count == 150)
        #expect(Set(listed.compactMap { $0["id"] as? String }).count == 150)
        let dates = listed.compactMap { $0["createdAt"] as? String }
        #expect(dates == dates.sorted(by: >))
        #expect((try await journal.duet(["list", "--limit", "70", "--json"]).json as? [[String: Any]])?.count == 70)
    }
}
