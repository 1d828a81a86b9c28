import DuetDevice
import Foundation
import Testing

/// Issue #16 items 6 and 7, through the device library: stars, sigil-free tags and their counts,
/// and imports that keep everything (or say what they could not), keyed by their source.
@Suite("Stars, tags and faithful imports")
struct StarsTagsImportTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/import")

    @Test("write --star, edit --unstar, list --starred; #tag and @tag are the tag; counts most used first")
    func starsAndTags() async throws {
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        let alex = couple.alex
        let starred = try alex.write(NewEntry(body: "You listened.", tags: ["#repair", "@trust"], starred: true))
        let plain = try alex.write(NewEntry(body: "A quiet day.", tags: ["repair"]))
        _ = try alex.write(NewEntry(body: "Tea.", tags: ["@tea", "trust", "#repair"]))
        #expect(try alex.list(EntryFilter(starred: true)).map(\.id) == [starred])
        #expect(try alex.show(starred).record.tags.sorted() == ["repair", "trust"])
        #expect(try alex.list(EntryFilter(tag: "#repair")).count == 3, "a filter's sigil is dropped as well")
        #expect(try alex.tags() == [TagCount(tag: "repair", count: 3), TagCount(tag: "trust", count: 2), TagCount(tag: "tea", count: 1)])

        try alex.edit(plain, EntryChanges(starred: true))
        try alex.edit(starred, EntryChanges(starred: false))
        #expect(try alex.list(EntryFilter(starred: true)).map(\.id) == [plain])
        try alex.setDeleted(true, plain)
        #expect(try alex.tags().first == TagCount(tag: "repair", count: 2), "deleted entries are not counted")
        #expect(throws: DeviceError.tagSize(maximum: 64)) { try alex.write(NewEntry(body: "x", tags: ["#@"])) }
    }

    @Test("A star on a shared entry is one flag both partners see and either can change")
    func sharedStar() async throws {
        let couple = try await TwoPartners.make()
        defer { couple.remove() }
        let id = try couple.sam.write(NewEntry(visibility: .shared, body: "Our first walk since.", starred: true))
        try await couple.syncBoth()
        #expect(try couple.alex.show(id).record.isStarred)
        try couple.alex.edit(id, EntryChanges(starred: false))
        try await couple.syncBoth()
        _ = try await couple.sam.sync()
        #expect(try couple.sam.show(id).record.isStarred == false)
    }

    @Test("A real jrnl 4.6 export: stars, # and @ tags without sigils, jrnl's titles and bodies, local times; a second import adds nothing")
    func jrnl() async throws {
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("jrnl-4.6.json"))
        let newYork = try #require(TimeZone(identifier: "America/New_York"))
        let first = try couple.alex.importEntries(data, from: .jrnl, timeZone: newYork)
        #expect(first.imported == 5 && first.skipped == 0 && first.leftOut.isEmpty)
        let entries = try couple.alex.list()
        let phone = try #require(entries.first { $0.title == "Hard conversation about the phone." })
        #expect(phone.isStarred)
        #expect(phone.body.hasPrefix("We talked about the phone again.") && phone.body.hasSuffix("I want to stop asking one day. @Sam"))
        #expect(phone.tags.sorted() == ["repair", "sam"])
        // 22:10 on 5 March 2024 in New York (EST, UTC−5) is 03:10 UTC on the 6th.
        #expect(phone.created == 1_709_694_600_000)
        let dinner = try #require(entries.first { $0.title == "Dinner with @Sam and #family!" })
        #expect(dinner.tags.sorted() == ["delight", "family", "sam"], "tags in the title count, as jrnl finds them")
        #expect(try couple.alex.list(EntryFilter(starred: true)).count == 2)
        #expect(try couple.alex.tags().first == TagCount(tag: "delight", count: 2))
        #expect(try couple.alex.tags().contains(TagCount(tag: "repair/trust", count: 1)))

        let again = try couple.alex.importEntries(data, from: .jrnl, timeZone: newYork)
        #expect(again.imported == 0 && again.skipped == 5)
        #expect(try couple.alex.list().count == 5)
    }

    @Test("jrnl's tag rule: a sigil at the start or after white space, then word characters and -+*#/")
    func jrnlTagRule() async throws {
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        let body = "mail me@example.com #Trust, (#no) @x-y/z #é_1 ##double # alone"
        let file = ##"{"entries": [{"date": "2024-01-01", "time": "09:00", "title": "t", "body": "\##(body)", "starred": false}]}"##
        _ = try couple.alex.importEntries(Data(file.utf8), from: .jrnl, timeZone: try #require(TimeZone(identifier: "UTC")))
        #expect(try couple.alex.list().first?.tags.sorted() == ["double", "trust", "x-y/z", "é_1"])
    }

    @Test("The real Day One sample export: its text and date, and a count of what Duet drops; a second import adds nothing")
    func dayOne() async throws {
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("dayone-to-obsidian/MyJournal.json"))
        let first = try couple.alex.importEntries(data, from: .dayone)
        #expect(first.imported == 1)
        #expect(first.leftOut == [.photos: 1, .videos: 1, .audios: 1, .pdfs: 1, .locations: 1, .weather: 1])
        let entry = try #require(try couple.alex.list().first)
        #expect(entry.body == "test text")
        #expect(entry.created == 1_524_333_424_000, "2018-04-21T17:57:04Z")
        let again = try couple.alex.importEntries(data, from: .dayone)
        #expect(again.imported == 0 && again.skipped == 1)
        // Starred and tags, from the hand-written sample of the documented shape.
        _ = try couple.alex.importEntries(Data(##"{"entries": [{"uuid": "AB", "creationDate": "2024-02-14T20:31:00Z", "text": "x", "starred": true, "tags": ["#cooking"]}]}"##.utf8), from: .dayone)
        let starred = try #require(try couple.alex.list(EntryFilter(starred: true)).first)
        #expect(starred.tags == ["cooking"])
    }

    @Test("A Duet export imported into another couple's journal, trusted (keepShared): which entries were shared, and who wrote them as a marked attribution")
    func duetKeepsAuthorsAndSpaces() async throws {
        let first = try await TwoPartners.make()
        defer { first.remove() }
        let samsShared = try first.sam.write(NewEntry(visibility: .shared, title: "Sam's", body: "I was scared to say it."))
        try await first.syncBoth()
        try first.alex.edit(samsShared, EntryChanges(starred: true))
        _ = try first.alex.write(NewEntry(body: "Only mine."))
        _ = try first.alex.write(NewEntry(visibility: .shared, body: "Ours."))
        let export = try first.alex.exportJSON().data

        // Not paired: the shared entries are left out (and said so), not made private for good.
        let alone = try await TwoPartners.make(paired: false)
        defer { alone.remove() }
        let unpaired = try alone.alex.importEntries(export, from: .duet, keepShared: true)
        #expect(unpaired.imported == 1 && unpaired.leftOut == [.sharedEntriesNotPaired: 2])

        let second = try await TwoPartners.make()
        defer { second.remove() }
        let result = try second.alex.importEntries(export, from: .duet, keepShared: true)
        #expect(result.imported == 3 && result.sharedAsPrivate.isEmpty)
        let copy = try DuetImportTrustTests.entry(second.alex, body: "I was scared to say it.")
        #expect(copy.id != samsShared, "a copy has an id of its own")
        #expect(copy.visibility == .shared)
        #expect(copy.author?.isMine == true, "the importer's device wrote the copy: no change may claim Sam's device")
        #expect(copy.originalAuthor == "Sam")
        #expect(copy.isStarred)
        #expect(try DuetImportTrustTests.entry(second.alex, body: "Ours.").visibility == .shared)
        let mine = try DuetImportTrustTests.entry(second.alex, body: "Only mine.")
        #expect(mine.visibility == .private && mine.originalAuthor == "Alex", "another journal's Alex is named, not assumed")

        // The partner of the importing journal sees the same attribution, under the importer's name.
        try await second.syncBoth()
        let seen = try second.sam.show(copy.id).record
        #expect(seen.author?.person == "Alex" && seen.originalAuthor == "Sam")
        #expect(try second.alex.importEntries(export, from: .duet).skipped == 3)
    }

    @Test("A version 1 Duet export still imports; another journal's entry is marked imported from an unnamed author")
    func duetVersionOne() async throws {
        let first = try await TwoPartners.make(paired: false)
        defer { first.remove() }
        let id = try first.alex.write(NewEntry(body: "old format"))
        let export = try #require(try JSONSerialization.jsonObject(with: first.alex.exportJSON().data) as? [String: Any])
        var entries = try #require(export["entries"] as? [[String: Any]])
        for index in entries.indices { for key in ["space", "author", "starred", "originalAuthor"] { entries[index][key] = nil } }
        let version1 = try JSONSerialization.data(withJSONObject: ["format": "duet", "version": 1, "exportedAt": "x", "entries": entries] as [String: Any])
        let result = try first.sam.importEntries(version1, from: .duet)
        #expect(result.imported == 1)
        let copy = try DuetImportTrustTests.entry(first.sam, body: "old format")
        #expect(copy.id != id && copy.originalAuthor == "")
    }
}
