import Testing
@testable import DuetCore
import DuetTesting

@Suite("Journal")
struct JournalTests {
    static let alice = DeviceID(high: 0xA, low: 1), sam = DeviceID(high: 0x5, low: 2)
    static let id = EntryID(high: 3, low: 4)
    static let t0: UInt64 = 1_767_225_600_000

    @Test("A keystroke commits without copying the body (copy-on-write stays unique)")
    func commitKeepsBodyStorage() {
        var journal = Journal()
        journal.commit(entry: Self.id, by: Self.alice, at: HLC(milliseconds: Self.t0, counter: 0)) {
            $0.create(); $0.insertText(Array("hello".unicodeScalars), at: 0)
        }
        let before = journal.entries[Self.id].map { ObjectIdentifier($0.body.storage) }
        journal.commit(entry: Self.id, by: Self.alice, at: HLC(milliseconds: Self.t0, counter: 1)) {
            $0.insertText(["!"], at: 5)
        }
        let after = journal.entries[Self.id].map { ObjectIdentifier($0.body.storage) }
        #expect(before != nil && before == after)
    }

    @Test("An edit that changes nothing uses no sequence number and leaves no entry behind")
    func emptyEditIsNotNumbered() {
        var alice = Journal(), sam = Journal()
        let nothing = alice.commit(entry: Self.id, by: Self.alice, at: HLC(milliseconds: Self.t0, counter: 0)) { _ in }
        #expect(nothing.operations.isEmpty)
        #expect(alice.entries[Self.id] == nil)
        #expect(alice.vector[Self.alice, default: 0] == 0)
        let first = alice.commit(entry: Self.id, by: Self.alice, at: HLC(milliseconds: Self.t0, counter: 1)) {
            $0.create(); $0.insertText(Array("hi".unicodeScalars), at: 0)
        }
        #expect(first.seq == 1)
        // The peer, which never saw the empty edit, applies the next change at once: no gap.
        #expect(sam.receive(first).outcome == .applied)
        #expect(sam.entries[Self.id]?.body.string == "hi")
    }

    @Test("A change whose causal past is missing waits, then applies when it arrives")
    func causalBuffering() {
        var alice = Journal(), sam = Journal()
        let first = alice.commit(entry: Self.id, by: Self.alice, at: HLC(milliseconds: Self.t0, counter: 0)) {
            $0.create(); $0.insertText(Array("we".unicodeScalars), at: 0)
        }
        let second = alice.commit(entry: Self.id, by: Self.alice, at: HLC(milliseconds: Self.t0, counter: 1)) {
            $0.insertText(Array(" talked".unicodeScalars), at: 2)
        }
        #expect(sam.receive(second).outcome == .pending)
        #expect(sam.entries[Self.id] == nil)
        let result = sam.receive(first)
        #expect(result.outcome == .applied)
        #expect(result.applied == [first.dot, second.dot])
        #expect(sam.entries[Self.id]?.body.string == "we talked")
        #expect(sam.receive(first).outcome == .duplicate)
    }

    @Test("Text inserted under another device's id is refused whole, identically everywhere")
    func forgedAuthorRefused() {
        var alice = Journal()
        let create = alice.commit(entry: Self.id, by: Self.alice, at: HLC(milliseconds: Self.t0, counter: 0)) {
            $0.create(); $0.setTitle("mine")
        }
        let forged = Change(
            device: Self.sam, seq: 1, hlc: HLC(milliseconds: Self.t0, counter: 5), dependencies: [create.dot],
            entry: Self.id, operations: [
                .setTitle("forged", supersedes: [create.dot]),
                .insertText(TextInsert(id: CharID(device: Self.alice, counter: 0), originLeft: nil, originRight: nil, scalars: ["x"])),
            ])
        let outcome = alice.receive(forged).outcome
        #expect(outcome == .refused(.foreignAuthor))
        #expect(alice.entries[Self.id]?.title.value == "mine", "nothing of a refused change is applied")
        #expect(alice.vector[Self.sam] == 1, "the device's later changes are not blocked")
    }

    @Test("Mood out of range, empty tags and overlong titles are refused")
    func invalidValues() {
        var journal = Journal()
        let base = journal.commit(entry: Self.id, by: Self.alice, at: HLC(milliseconds: Self.t0, counter: 0)) { $0.create() }
        func change(_ seq: UInt64, _ operation: EntryOperation) -> Change {
            Change(device: Self.sam, seq: seq, hlc: HLC(milliseconds: Self.t0, counter: UInt16(seq)),
                   dependencies: [base.dot], entry: Self.id, operations: [operation])
        }
        #expect(journal.receive(change(1, .setMood(9, supersedes: []))).outcome == .refused(.moodOutOfRange(9)))
        #expect(journal.receive(change(2, .addTag(""))).outcome == .refused(.emptyTag))
        let long = String(repeating: "a", count: ChangeLimits.maximumTitleBytes + 1)
        #expect(journal.receive(change(3, .setTitle(long, supersedes: []))).outcome
                == .refused(.tooLong(field: "title", limit: ChangeLimits.maximumTitleBytes)))
    }

    @Test("Concurrent title edits: one wins by clock, the other stays in history; a later edit supersedes both")
    func registerHistory() {
        var a = Journal(), b = Journal()
        let create = a.commit(entry: Self.id, by: Self.alice, at: HLC(milliseconds: Self.t0, counter: 0)) { $0.create() }
        b.receive(create)
        let fromA = a.commit(entry: Self.id, by: Self.alice, at: HLC(milliseconds: Self.t0 + 10, counter: 0)) { $0.setTitle("Comfort") }
        let fromB = b.commit(entry: Self.id, by: Self.sam, at: HLC(milliseconds: Self.t0 + 20, counter: 0)) { $0.setTitle("Delight") }
        a.receive(fromB); b.receive(fromA)
        #expect(a.entries[Self.id]?.title.value == "Delight")
        #expect(a.entries[Self.id]?.title.heads.count == 2)
        let resolve = a.commit(entry: Self.id, by: Self.alice, at: HLC(milliseconds: Self.t0 + 15, counter: 0)) { $0.setTitle("Both") }
        b.receive(resolve)
        #expect(b.entries[Self.id]?.title.value == "Both", "it saw both, so it wins despite an older clock")
        #expect(b.entries[Self.id]?.title.history.count == 3)
    }

    @Test("Add wins: a factor added concurrently with its removal stays")
    func addWins() {
        var a = Journal(), b = Journal()
        let create = a.commit(entry: Self.id, by: Self.alice, at: HLC(milliseconds: Self.t0, counter: 0)) { $0.create(); $0.addFactor(.safety) }
        b.receive(create)
        let remove = a.commit(entry: Self.id, by: Self.alice, at: HLC(milliseconds: Self.t0 + 1, counter: 0)) { $0.removeFactor(.safety) }
        let add = b.commit(entry: Self.id, by: Self.sam, at: HLC(milliseconds: Self.t0 + 1, counter: 0)) { $0.addFactor(.safety) }
        a.receive(add); b.receive(remove)
        #expect(a.entries[Self.id]?.factors.elements == [.safety])
        #expect(b.entries[Self.id]?.factors.elements == [.safety])
        #expect(a.canonicalState == b.canonicalState)
    }

    @Test("Replacing the body diffs: unchanged scalars keep their identity and merge with a concurrent edit")
    func replaceBodyMerges() {
        var a = Journal(), b = Journal()
        let create = a.commit(entry: Self.id, by: Self.alice, at: HLC(milliseconds: Self.t0, counter: 0)) {
            $0.create(); $0.insertText(Array("I felt safe when you called.".unicodeScalars), at: 0)
        }
        b.receive(create)
        let edit = a.commit(entry: Self.id, by: Self.alice, at: HLC(milliseconds: Self.t0 + 1, counter: 0)) {
            $0.replaceBody(with: Array("I felt truly safe when you called.".unicodeScalars))
        }
        #expect(edit.operations.count == 1, "one insert, nothing deleted")
        let other = b.commit(entry: Self.id, by: Self.sam, at: HLC(milliseconds: Self.t0 + 1, counter: 0)) {
            $0.replaceBody(with: Array("I felt safe when you called me.".unicodeScalars))
        }
        a.receive(other); b.receive(edit)
        #expect(a.entries[Self.id]?.body.string == "I felt truly safe when you called me.")
        #expect(a.canonicalState == b.canonicalState)
    }
}

@Suite("Adopting snapshots: authorship only from the signature")
struct AdoptionTests {
    static let now: UInt64 = 1_767_225_600_000
    static let alex = DeviceID(high: 1, low: 1), sam = DeviceID(high: 2, low: 2)
    static let id = EntryID(high: 42, low: 42)

    /// A snapshot of an entry written by `author` (and, when given, edited by `editor`).
    static func snapshot(by author: DeviceID, editedBy editor: DeviceID? = nil) throws -> [UInt8] {
        var journal = Journal()
        journal.commit(entry: id, by: author, at: HLC(milliseconds: now - 10_000, counter: 0)) {
            $0.create(); $0.setTitle("first"); $0.insertText(Array("hello".unicodeScalars), at: 0)
        }
        journal.commit(entry: id, by: editor ?? author, at: HLC(milliseconds: now - 5_000, counter: 0)) { $0.setTitle("second") }
        return EntrySnapshot.encode(try #require(journal.entries[id]))
    }

    @Test("A device's snapshot of its own writing travels whole, with its history, and edits continue from it")
    func ownSnapshotTravels() throws {
        let snapshot = try Self.snapshot(by: Self.alex)
        var a = Journal(), b = Journal()
        let adoption = a.commit(entry: Self.id, by: Self.alex, at: HLC(milliseconds: Self.now, counter: 0)) { try? $0.adopt(snapshot: snapshot) }
        #expect(adoption.operations.count == 1)
        #expect(try ChangeCodec.decode(ChangeCodec.encode(adoption)) == adoption)
        #expect(b.receive(adoption).outcome == .applied)
        #expect(EntrySnapshot.encode(try #require(b.entries[Self.id])) == snapshot, "adopted byte for byte")
        #expect(b.entries[Self.id]?.title.history.map(\.value) == ["first", "second"])
        let edit = b.commit(entry: Self.id, by: Self.sam, at: HLC(milliseconds: Self.now + 1, counter: 0)) { $0.insertText(Array(" you".unicodeScalars), at: 5) }
        a.receive(edit)
        #expect(a.entries[Self.id]?.body.string == "hello you")
        #expect(a.canonicalState == b.canonicalState)
        // Adopting over an entry that has state is refused locally…
        var c = a
        c.commit(entry: Self.id, by: Self.alex, at: HLC(milliseconds: Self.now + 2, counter: 0)) { editor in
            #expect(throws: Entry.InvalidOperation.invalidSnapshot) { try editor.adopt(snapshot: snapshot) }
        }
        #expect(c.entries[Self.id]?.body.string == "hello you")
        // …and a remote one (a concurrent import elsewhere) changes nothing here.
        let late = Change(device: Self.alex, seq: 2, hlc: HLC(milliseconds: Self.now + 3, counter: 0), dependencies: [],
                          entry: Self.id, operations: [.adoptSnapshot(snapshot)])
        let state = a.canonicalState
        #expect(a.receive(late).outcome == .applied)
        #expect(a.entries[Self.id]?.body.string == "hello you")
        #expect(a.canonicalState != state, "only the vector moved")
    }

    @Test("The partner's change adopting a snapshot that names the other partner is refused: no entry appears under Alex's name")
    func forgedAdoptionRefused() throws {
        // Sam builds, offline, an entry "written" by Alex's device and sends it inside a
        // change Sam's device signs.
        let forged = try Self.snapshot(by: Self.alex)
        let change = Change(device: Self.sam, seq: 1, hlc: HLC(milliseconds: Self.now, counter: 0), dependencies: [],
                            entry: Self.id, operations: [.adoptSnapshot(forged)])
        var alexJournal = Journal()
        #expect(alexJournal.receive(change).outcome == .refused(.foreignAuthor))
        #expect(alexJournal.entries[Self.id] == nil, "nothing shown")
        #expect(alexJournal.vector[Self.sam] == 1, "the seq is consumed: Sam's later changes still apply")
        // One foreign write anywhere in the history is enough to refuse it.
        let mixed = try Self.snapshot(by: Self.sam, editedBy: Self.alex)
        var other = Journal()
        #expect(other.receive(Change(device: Self.sam, seq: 1, hlc: HLC(milliseconds: Self.now, counter: 0), dependencies: [],
                                     entry: Self.id, operations: [.adoptSnapshot(mixed)])).outcome == .refused(.foreignAuthor))
        // The same rule where the change is made: an import never signs another device's writing.
        var local = Journal()
        local.commit(entry: Self.id, by: Self.sam, at: HLC(milliseconds: Self.now, counter: 0)) { editor in
            #expect(throws: Entry.InvalidOperation.foreignAuthor) { try editor.adopt(snapshot: forged) }
        }
        #expect(local.entries[Self.id] == nil)
    }

    @Test("A snapshot of another entry, or bytes that are no snapshot, are refused as invalid")
    func invalidSnapshotsRefused() throws {
        var journal = Journal()
        let other = EntryID(high: 9, low: 9)
        let snapshot = try Self.snapshot(by: Self.sam)
        #expect(journal.receive(Change(device: Self.sam, seq: 1, hlc: HLC(milliseconds: Self.now, counter: 0), dependencies: [],
                                       entry: other, operations: [.adoptSnapshot(snapshot)])).outcome == .refused(.invalidSnapshot))
        #expect(journal.receive(Change(device: Self.sam, seq: 2, hlc: HLC(milliseconds: Self.now, counter: 1), dependencies: [],
                                       entry: Self.id, operations: [.adoptSnapshot([1, 2, 3])])).outcome == .refused(.invalidSnapshot))
    }

    @Test("recreate(from:) copies another journal's entry as this device's own writing")
    func recreateClaimsNothing() throws {
        let source = try EntrySnapshot.decode(try Self.snapshot(by: Self.alex))
        var journal = Journal()
        journal.commit(entry: Self.id, by: Self.sam, at: HLC(milliseconds: Self.now, counter: 0)) { $0.recreate(from: source) }
        let copy = try #require(journal.entries[Self.id])
        #expect(copy.title.value == "second" && copy.body.string == "hello")
        #expect(EntrySnapshot.namedDevices(copy) == [Self.sam])
        #expect(copy.date.value == Self.now - 10_000, "keeps when it was written")
    }
}
