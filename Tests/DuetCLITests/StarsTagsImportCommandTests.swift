import DuetTesting
import Foundation
import Testing

/// Issue #16 items 6 and 7 through the real `duet` binary: stars, `duet tags`, and imports
/// that keep everything or say what they could not, with `--json`.
@Suite("duet stars, tags and faithful imports")
struct StarsTagsImportCommandTests {
    static let fixtures = ExportImportTests.fixtures

    @Test("write --star, list --starred with ★, show and JSON say starred; edit --unstar; duet tags counts without sigils")
    func starsAndTags() async throws {
        let journal = try await TemporaryJournal()
        let starred = try await journal.write("You listened.", ["--title", "Listening", "--star", "--tag", "#repair", "--tag", "@trust"])
        let plain = try await journal.write("A quiet day.", ["--tag", "repair"])
        let list = try await journal.duet(["list", "--starred"])
        #expect(list.status == 0)
        #expect(list.stdout.contains("★ Listening") && !list.stdout.contains("quiet"), "\(list.stdout)")
        let shown = try await journal.duet(["show", starred])
        #expect(shown.stdout.contains("starred: ★"), "\(shown.stdout)")
        let json = try #require(try await journal.duet(["show", starred, "--json"]).json as? [String: Any])
        #expect(json["starred"] as? Bool == true)
        #expect(json["tags"] as? [String] == ["repair", "trust"])
        #expect((try await journal.duet(["show", plain, "--json"]).json as? [String: Any])?["starred"] as? Bool == false)

        let tags = try await journal.duet(["tags", "--json"])
        #expect(tags.status == 0)
        let counts = try #require(tags.json as? [[String: Any]])
        #expect(counts.map { "\($0["tag"] ?? "")=\($0["count"] ?? "")" } == ["repair=2", "trust=1"])
        #expect(try await journal.duet(["tags"]).stdout == "2  repair\n1  trust\n")

        #expect(try await journal.duet(["edit", starred, "--unstar"]).status == 0)
        #expect(try await journal.duet(["edit", plain, "--star"]).status == 0)
        let after = try #require(try await journal.duet(["list", "--starred", "--json"]).json as? [[String: Any]])
        #expect(after.map { $0["id"] as? String } == [plain])
        // A usage error, as swift-argument-parser reports them (CLI.md).
        let both = try await journal.duet(["edit", plain, "--star", "--unstar"])
        #expect(both.status != 0 && both.stderr.contains("choose --star or --unstar, not both"))
    }

    @Test("A real jrnl 4.6 export: local times, stars, tags; --json counts; importing again adds nothing")
    func jrnl() async throws {
        let journal = try await TemporaryJournal()
        let file = Self.fixtures.appendingPathComponent("jrnl-4.6.json").path
        let first = try await journal.duet(["import", "--from", "jrnl", file, "--json"], environment: ["TZ": "Europe/Berlin"])
        #expect(first.status == 0, "\(first.stderr)")
        let report = try #require(first.json as? [String: Any])
        #expect(report["imported"] as? Int == 5 && report["skipped"] as? Int == 0)
        #expect((report["notImported"] as? [String: Int])?.isEmpty == true)
        let again = try await journal.duet(["import", "--from", "jrnl", file], environment: ["TZ": "Europe/Berlin"])
        #expect(again.stdout == "Imported 0 entries; skipped 5 already here.\n", "\(again.stdout)")
        let entries = try #require(try await journal.duet(["list", "--json"]).json as? [[String: Any]])
        #expect(entries.count == 5)
        // 08:15 in Berlin on 2 March 2024 (CET, UTC+1) is 07:15 UTC.
        let cafe = try #require(entries.first { ($0["title"] as? String) == "Café mornings ☕." })
        #expect(cafe["createdAt"] as? String == "2024-03-02T07:15:00Z")
        #expect(cafe["tags"] as? [String] == ["delight"])
        let starred = try #require(try await journal.duet(["list", "--starred", "--json"]).json as? [[String: Any]])
        #expect(Set(starred.compactMap { $0["title"] as? String }) == ["Hard conversation about the phone.", "Just one line, no body, but a tag #gratitude"])
    }

    @Test("The real Day One sample export says what it could not import")
    func dayOne() async throws {
        let journal = try await TemporaryJournal()
        let file = Self.fixtures.appendingPathComponent("dayone-to-obsidian/MyJournal.json").path
        let run = try await journal.duet(["import", "--from", "dayone", file])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "Imported 1 entry. Not imported: 1 photo, 1 video, 1 audio recording, 1 PDF, 1 location and 1 weather record.\n", "\(run.stdout)")
        let json = try #require(try await journal.duet(["import", "--from", "dayone", file, "--json"]).json as? [String: Any])
        #expect(json["imported"] as? Int == 0 && json["skipped"] as? Int == 1)
        #expect(json["notImported"] as? [String: Int] == ["photos": 1, "videos": 1, "audios": 1, "pdfs": 1, "locations": 1, "weather": 1])
    }

    @Test("A Duet export in another journal: marked as imported from its author, starred as it was, shared ones held back until paired")
    func duetAttribution() async throws {
        let first = try await TemporaryJournal(name: "Sam")
        _ = try await first.write("What I never said.", ["--title", "Unsaid", "--star"])
        let exportFile = first.root + "/export.json"
        #expect(try await first.duet(["export", "--out", exportFile]).status == 0)

        let second = try await TemporaryJournal(name: "Alex")
        let run = try await second.duet(["import", "--from", "duet", exportFile])
        #expect(run.stdout == "Imported 1 entry.\n", "\(run.stdout)")
        let json = try #require(try await second.list().first)
        let id = try #require(json["id"] as? String)
        #expect(json["author"] as? String == "Alex", "the importer wrote the copy")
        #expect(json["imported"] as? Bool == true && json["originalAuthor"] as? String == "Sam")
        #expect(json["starred"] as? Bool == true)
        let shown = try await second.duet(["show", id])
        #expect(shown.stdout.contains("origin:  Alex imported this; the file says Sam wrote it\n"), "\(shown.stdout)")
        let list = try await second.duet(["list"])
        #expect(list.stdout.contains("Alex imported this; the file says Sam wrote it"), "\(list.stdout)")
        let markdown = try await second.duet(["export", "--format", "markdown"])
        #expect(markdown.stdout.contains("Alex imported this; the file says Sam wrote it"), "\(markdown.stdout)")
    }

    @Test("A Duet export that names no author: the copy says the file does not say who wrote it")
    func duetWithoutAuthor() async throws {
        let first = try await TemporaryJournal(name: "Sam")
        _ = try await first.write("Words without a name.")
        let export = try #require(try JSONSerialization.jsonObject(with: Data(try await first.duet(["export"]).stdout.utf8)) as? [String: Any])
        var entries = try #require(export["entries"] as? [[String: Any]])
        for index in entries.indices { entries[index]["author"] = nil }
        let file = first.root + "/unnamed.json"
        var root = export
        root["entries"] = entries
        try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: file))

        let second = try await TemporaryJournal(name: "Alex")
        #expect(try await second.duet(["import", "--from", "duet", file]).status == 0)
        let list = try await second.duet(["list"])
        #expect(list.stdout.contains("Alex imported this; the file does not say who wrote it"), "\(list.stdout)")
    }

    @Test("Another couple's export: its shared entries become private, and the summary and --json say so; --keep-shared shares them")
    func sharedFromAnotherCouple() async throws {
        let first = try await Couple()
        _ = try await first.alex.write("Ours, in the first couple.", ["--shared"])
        _ = try await first.alex.write("Also ours.", ["--shared"])
        _ = try await first.alex.write("Only mine.")
        let exportFile = first.alex.root + "/export.json"
        #expect(try await first.alex.duet(["export", "--out", exportFile]).status == 0)

        let second = try await Couple()
        let run = try await second.alex.duet(["import", "--from", "duet", exportFile])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "Imported 3 entries. 2 shared entries imported as private: the file is from another couple space"
                + " (`duet share ID` shares one; a first import with --keep-shared shares them all).\n", "\(run.stdout)")
        let json = try #require(try await second.alex.duet(["import", "--from", "duet", exportFile, "--json"]).json as? [String: Any])
        #expect(json["skipped"] as? Int == 3 && json["sharedAsPrivate"] as? [String: Int] == [:], "already here: \(json)")
        #expect(try await second.alex.list(["--shared"]).isEmpty)

        // Sam, in the same second couple, trusts the file: the shared ones are shared.
        let kept = try #require(try await second.sam.duet(["import", "--from", "duet", exportFile, "--keep-shared", "--json"]).json as? [String: Any])
        #expect(kept["imported"] as? Int == 3 && kept["sharedAsPrivate"] as? [String: Int] == [:], "\(kept)")
        #expect(try await second.sam.list(["--shared"]).count == 2)
        let dayOne = try await second.sam.duet(["import", "--from", "dayone", "--keep-shared", exportFile])
        #expect(dayOne.status != 0 && dayOne.errorLine.contains("--keep-shared"), "only for a Duet export: \(dayOne.stderr)")

        // The first couple's Sam, before syncing: the file names this couple space, but the
        // claim is Alex's export's, which Sam's keys cannot check.
        let partner = try #require(try await first.sam.duet(["import", "--from", "duet", exportFile, "--json"]).json as? [String: Any])
        #expect(partner["sharedAsPrivate"] as? [String: Int] == ["notYourExport": 2], "\(partner)")
    }
}
