import DuetTesting
import Foundation
import Testing

@Suite("duet export and import")
struct ExportImportTests {
    @Test("Export to a full disk is one error line and exit code 1, not a crash and not silence")
    func exportToFullDisk() async throws {
        // Linux's full device: every write fails with ENOSPC.
        let kind = try FileManager.default.attributesOfItem(atPath: "/dev/full")[.type] as? FileAttributeType
        try #require(kind == .typeCharacterSpecial, "/dev/full is not the kernel's full device here")
        let journal = try await TemporaryJournal()
        _ = try await journal.write("enough to need a write")
        for format in ["json", "markdown"] {
            let duet = BuildProducts.folder.appendingPathComponent("duet").path
            let run = try await ProcessRun.run("/bin/sh", ["-c", "exec \"$0\" export --format \(format) --home \"$1\" > /dev/full", duet, journal.home],
                                               environment: journal.environment)
            #expect(run.status == 1, "\(format): \(run.stderr)")
            #expect(run.stderr.hasPrefix("error: could not write everything to standard output"), "\(format): \(run.stderr)")
            #expect(run.stderr.split(separator: "\n").count == 1)
        }
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/import")

    @Test("Duet JSON imports into another journal with every current value, as that journal's own writing")
    func duetRoundTrip() async throws {
        let first = try await TemporaryJournal()
        let id = try await first.write("We argued. We repaired.", ["--title", "Sunday", "--factor", "comfort", "--tag", "repair", "--mood", "3"])
        #expect(try await first.duet(["edit", id, "--title", "Sunday, later", "-m", "We argued. Then we repaired, slowly."]).status == 0)
        _ = try await first.write("A second one")
        #expect(try await first.duet(["delete", id]).status == 0)
        let exportFile = first.root + "/export.json"
        #expect(try await first.duet(["export", "--out", exportFile]).status == 0)
        #expect(try first.permissions(exportFile) == 0o600)
        let original = try #require(try await first.duet(["show", id, "--json"]).json as? [String: Any])

        let second = try await TemporaryJournal(name: "Alex on a new laptop")
        let imported = try await second.duet(["import", "--from", "duet", exportFile])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("Imported 2 entries"))
        let again = try await second.duet(["import", "--from", "duet", exportFile])
        #expect(again.stdout.contains("skipped 2"), "importing twice adds nothing: \(again.stdout)")
        // Same values, same date, an id of its own (the original may still arrive elsewhere by
        // sync). The history of the other journal's devices is not carried: a change may name
        // only its signing device (SPEC § 3.3.2), so the import is this device's writing, not a
        // claim that another device wrote it.
        let deleted = try #require(try await second.duet(["list", "--deleted", "--json"]).json as? [[String: Any]])
        #expect(deleted.count == 1)
        let copyID = try #require(deleted.first?["id"] as? String)
        #expect(copyID != id)
        let copy = try #require(try await second.duet(["show", copyID, "--json"]).json as? [String: Any])
        for key in ["title", "body", "mood", "factors", "tags", "deleted"] {
            #expect(String(describing: copy[key]) == String(describing: original[key]), "\(key)")
        }
        #expect(copy["createdAt"] as? String == original["createdAt"] as? String, "the date it was written")
        #expect(copy["authorDevice"] as? String != original["authorDevice"] as? String, "written by this journal's device")
        #expect(copy["author"] as? String == "Alex on a new laptop")
        // Imported entries are editable.
        #expect(try await second.duet(["restore", copyID]).status == 0)
    }

    @Test("Markdown export is one readable document with titles, dates, factors and mood")
    func markdown() async throws {
        let journal = try await TemporaryJournal()
        _ = try await journal.write("You made tea.", ["--title", "Tea", "--factor", "attunement", "--mood", "4"])
        let run = try await journal.duet(["export", "--format", "markdown"])
        #expect(run.status == 0)
        #expect(run.stdout.hasPrefix("# Alex's journal"))
        #expect(run.stdout.contains("## Tea") && run.stdout.contains("attunement") && run.stdout.contains("mood 4/5") && run.stdout.contains("You made tea."))
    }

    @Test("jrnl's JSON export imports with titles, bodies, original dates and tags")
    func jrnl() async throws {
        let journal = try await TemporaryJournal()
        // jrnl's dates and times are local wall time: read here in UTC, so they show unchanged.
        let run = try await journal.duet(["import", "--from", "jrnl", Self.fixtures.appendingPathComponent("jrnl.json").path], environment: ["TZ": "UTC"])
        #expect(run.status == 0, "\(run.stderr)")
        let entries = try #require(try await journal.duet(["list", "--json"]).json as? [[String: Any]])
        #expect(entries.count == 3)
        let phone = try #require(entries.first { ($0["title"] as? String) == "Hard conversation about the phone." })
        #expect(phone["createdAt"] as? String == "2024-03-05T22:10:00Z")
        #expect(phone["tags"] as? [String] == ["repair"])
        #expect((phone["body"] as? String)?.contains("I want to stop asking one day.") == true)
        #expect(entries.first?["title"] as? String == "Café mornings ☕", "newest (by original date) first")
        #expect((try await journal.duet(["list", "--since", "2024-03-03", "--json"]).json as? [[String: Any]])?.count == 2)
    }

    @Test("Day One's JSON export imports, taking a leading heading as the title")
    func dayOne() async throws {
        let journal = try await TemporaryJournal()
        let run = try await journal.duet(["import", "--from", "dayone", Self.fixtures.appendingPathComponent("dayone.json").path])
        #expect(run.status == 0, "\(run.stderr)")
        let entries = try #require(try await journal.duet(["list", "--json"]).json as? [[String: Any]])
        #expect(entries.count == 2)
        let valentine = try #require(entries.first { ($0["title"] as? String) == "Valentine's" })
        #expect(valentine["body"] as? String == "We cooked together and burned the rice. You laughed first.")
        #expect(valentine["createdAt"] as? String == "2024-02-14T20:31:00Z")
        #expect(valentine["tags"] as? [String] == ["cooking", "delight"])
    }

    @Test("A damaged or foreign file imports nothing")
    func badImports() async throws {
        let journal = try await TemporaryJournal()
        _ = try await journal.write("already here")
        let bad = journal.root + "/bad.json"
        try #"{"format": "duet", "version": 1, "exportedAt": "x", "entries": [{"id": "0000000000000000000000000A", "snapshot": "bm90IGEgc25hcHNob3Q="}]}"#
            .write(toFile: bad, atomically: true, encoding: .utf8)
        try await BadInputTests.refuses(journal, ["import", "--from", "duet", bad], containing: "damaged")
        try "not json".write(toFile: bad, atomically: true, encoding: .utf8)
        try await BadInputTests.refuses(journal, ["import", "--from", "jrnl", bad], containing: "not a JSON object")
        try await BadInputTests.refuses(journal, ["import", "--from", "dayone", Self.fixtures.appendingPathComponent("jrnl.json").path],
                                  containing: "creationDate")
        try await BadInputTests.refuses(journal, ["import", "--from", "duet", Self.fixtures.appendingPathComponent("jrnl.json").path],
                                  containing: "not a Duet export")
    }
}
