import DuetEncoding
import Testing
@testable import DuetCore

/// Stars and imported attributions (issue #16): two registers that exist from change and
/// snapshot version 2 on, written only when used, so everything else stays version 1.
@Suite("Stars and original authors")
struct StarAndOriginTests {
    static let alex = DeviceID(high: 0x1111_1111_1111_1111, low: 0x1111_1111_1111_1111)
    static let sam = DeviceID(high: 0x3333_3333_3333_3333, low: 0x3333_3333_3333_3333)
    static let entry = EntryID(high: 0x2222_2222_2222_2222, low: 0x2222_2222_2222_2222)

    static func change(_ device: DeviceID, _ seq: UInt64, ms: UInt64, after: [Dot] = [], _ operations: [EntryOperation]) -> Change {
        Change(device: device, seq: seq, hlc: HLC(milliseconds: ms, counter: 0), dependencies: after, entry: entry, operations: operations)
    }

    @Test("A change is version 2 exactly when it stars or attributes; both versions round-trip")
    func changeVersions() throws {
        let plain = Self.change(Self.alex, 1, ms: 1, [.create, .setTitle("Hi", supersedes: [])])
        let starred = Self.change(Self.alex, 1, ms: 1, [.create, .setStarred(true, supersedes: [])])
        let attributed = Self.change(Self.alex, 1, ms: 1, [.create, .setOriginalAuthor("Sam", supersedes: [])])
        #expect(ChangeCodec.encode(plain).first == 1)
        for change in [starred, attributed] {
            let bytes = ChangeCodec.encode(change)
            #expect(bytes.first == 2)
            #expect(try ChangeCodec.decode(bytes) == change)
        }
        // The same operations under the other version are refused, so each change has one encoding.
        var downgraded = ChangeCodec.encode(starred)
        downgraded[0] = 1
        #expect(throws: DecodingError.unknownTag(0x08)) { try ChangeCodec.decode(downgraded) }
        var upgraded = ChangeCodec.encode(plain)
        upgraded[0] = 2
        #expect(throws: DecodingError.self) { try ChangeCodec.decode(upgraded) }
    }

    @Test("A star on a shared entry is one flag: concurrent star and unstar converge on the later, and both stay history")
    func oneFlagForBoth() throws {
        let created = Self.change(Self.alex, 1, ms: 1, [.create])
        let star = Self.change(Self.alex, 2, ms: 10, [.setStarred(true, supersedes: [])])
        let unstar = Self.change(Self.sam, 1, ms: 20, after: [created.dot], [.setStarred(false, supersedes: [])])
        var first = Journal(), second = Journal()
        for change in [created, star, unstar] { _ = first.receive(change) }
        for change in [created, unstar, star] { _ = second.receive(change) }
        let a = try #require(first.entries[Self.entry]), b = try #require(second.entries[Self.entry])
        #expect(a.isStarred == false && b.isStarred == false)
        #expect(a.starred.history.count == 2)
        #expect(EntrySnapshot.encode(a) == EntrySnapshot.encode(b))
        // Alex, having seen Sam's unstar, stars again: that write supersedes both.
        let again = Self.change(Self.alex, 3, ms: 15, after: [unstar.dot], [.setStarred(true, supersedes: a.starred.headDots)])
        _ = first.receive(again)
        #expect(first.entries[Self.entry]?.isStarred == true)
    }

    @Test("A snapshot is version 1 until a star or an attribution is written, then version 2; both decode to the same entry")
    func snapshotVersions() throws {
        var journal = Journal()
        _ = journal.receive(Self.change(Self.alex, 1, ms: 1, [.create, .setTitle("Hi", supersedes: [])]))
        let plain = try #require(journal.entries[Self.entry])
        let version1 = EntrySnapshot.encode(plain)
        #expect(version1.first == 1)
        #expect(EntrySnapshot.encode(try EntrySnapshot.decode(version1)) == version1)

        _ = journal.receive(Self.change(Self.alex, 2, ms: 2, [.setStarred(true, supersedes: []), .setOriginalAuthor("Zoë", supersedes: [])]))
        let marked = try #require(journal.entries[Self.entry])
        let version2 = EntrySnapshot.encode(marked)
        #expect(version2.first == 2)
        let decoded = try EntrySnapshot.decode(version2)
        #expect(decoded.isStarred && decoded.originalAuthor.value == "Zoë")
        #expect(EntrySnapshot.encode(decoded) == version2)

        // Version 2 with both registers empty is a second encoding of a version-1 entry: refused.
        // (The entry above ends in factors 00 00 00, tags 00 00 00, acks 00, body 00 00.)
        var empty = version1
        empty[0] = 2
        empty.insert(contentsOf: [0, 0], at: empty.count - 9)
        #expect(throws: DecodingError.nonCanonical("version 2 with both of its registers empty")) { try EntrySnapshot.decode(empty) }
    }

    @Test("An original author past 64 bytes is refused where it is decoded and where it is applied")
    func boundedName() throws {
        let long = String(repeating: "a", count: 65)
        let change = Self.change(Self.alex, 1, ms: 1, [.create, .setOriginalAuthor(long, supersedes: [])])
        #expect(throws: DecodingError.self) { try ChangeCodec.decode(ChangeCodec.encode(change)) }
        var journal = Journal()
        guard case .refused(let reason) = journal.receive(change).outcome else { Issue.record("applied a 65-byte name"); return }
        #expect(reason == .tooLong(field: "original author", limit: 64))
    }

    @Test("Sharing an imported entry keeps its attribution; a private star does not travel to the shared copy")
    func recreateKeepsAttribution() throws {
        var journal = Journal()
        _ = journal.receive(Self.change(Self.alex, 1, ms: 1, [.create, .setStarred(true, supersedes: []), .setOriginalAuthor("Sam", supersedes: [])]))
        let source = try #require(journal.entries[Self.entry])
        let copyID = EntryID(high: 9, low: 9)
        journal.commit(entry: copyID, by: Self.alex, at: HLC(milliseconds: 5, counter: 0)) { $0.recreate(from: source) }
        let copy = try #require(journal.entries[copyID])
        #expect(copy.originalAuthor.value == "Sam")
        #expect(!copy.isStarred)
    }

    @Test("An attribution counts only when written in the change that creates the entry: the partner cannot relabel a shared entry as written by someone else")
    func attributionOnlyAtCreation() throws {
        var journal = Journal()
        let created = Self.change(Self.alex, 1, ms: 1, [.create, .setTitle("Mine", supersedes: [])])
        _ = journal.receive(created)
        // Sam, a member of the couple space, edits Alex's shared entry to say Sam wrote it first.
        let relabel = Self.change(Self.sam, 1, ms: 5, after: [created.dot], [.setOriginalAuthor("Sam", supersedes: [])])
        _ = journal.receive(relabel)
        #expect(journal.entries[Self.entry]?.attribution == nil, "Alex's entry is still Alex's own writing")
        // Alex's own later change does not attribute either: the label belongs to the import.
        _ = journal.receive(Self.change(Self.alex, 2, ms: 6, [.setOriginalAuthor("Zoë", supersedes: [])]))
        #expect(journal.entries[Self.entry]?.attribution == nil)
        // In the creating change it counts.
        var other = Journal()
        _ = other.receive(Self.change(Self.alex, 1, ms: 1, [.create, .setOriginalAuthor("Sam", supersedes: [])]))
        #expect(other.entries[Self.entry]?.attribution == "Sam")
        // A local editor writes it only while creating.
        var local = Journal()
        local.commit(entry: Self.entry, by: Self.alex, at: HLC(milliseconds: 1, counter: 0)) { $0.create() }
        let relabelled = local.commit(entry: Self.entry, by: Self.alex, at: HLC(milliseconds: 2, counter: 0)) { editor in
            editor.setOriginalAuthor("Sam")
            editor.setTitle("x")
        }
        #expect(relabelled.operations.count == 1, "\(relabelled.operations)")
    }

    @Test("A second `create` from the partner carrying an attribution does not relabel the entry")
    func secondCreateCannotRelabel() throws {
        var journal = Journal()
        let created = Self.change(Self.alex, 1, ms: 1, [.create, .setTitle("Mine", supersedes: [])])
        _ = journal.receive(created)
        let forged = Self.change(Self.sam, 1, ms: 5, after: [created.dot], [.create, .setOriginalAuthor("Sam", supersedes: [])])
        _ = journal.receive(forged)
        let entry = try #require(journal.entries[Self.entry])
        #expect(entry.author == Self.alex, "the earliest create is the creation")
        #expect(entry.attribution == nil, "only a write in the creating change counts")
    }

    @Test("The partner cannot erase an attribution: a later nil write, or a concurrent later one, leaves the creating change's")
    func attributionCannotBeErased() throws {
        var journal = Journal()
        let imported = Self.change(Self.alex, 1, ms: 1, [.create, .setOriginalAuthor("Jordan", supersedes: [])])
        _ = journal.receive(imported)
        let head = try #require(journal.entries[Self.entry]).originalAuthor.headDots
        _ = journal.receive(Self.change(Self.sam, 1, ms: 5, after: [imported.dot], [.setOriginalAuthor(nil, supersedes: head)]))
        #expect(journal.entries[Self.entry]?.attribution == "Jordan", "the words stay Jordan's, not the importer's own")
        _ = journal.receive(Self.change(Self.sam, 2, ms: 9, after: [imported.dot], [.setOriginalAuthor("Alex", supersedes: [])]))
        #expect(journal.entries[Self.entry]?.attribution == "Jordan")
    }
}
