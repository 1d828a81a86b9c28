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

@Suite("Adopting snapshots (import)")
struct AdoptionTests {
    @Test("An entry adopted elsewhere arrives whole, with its history, and edits continue from it")
    func adoptionTravels() throws {
        let now: UInt64 = 1_767_225_600_000
        let old = DeviceID(high: 7, low: 7), alex = DeviceID(high: 1, low: 1), sam = DeviceID(high: 2, low: 2)
        let id = EntryID(high: 42, low: 42)
        // An entry with history on an old device, exported as a snapshot.
        var original = Journal()
        original.commit(entry: id, by: old, at: HLC(milliseconds: now - 10_000, counter: 0)) {
            $0.create(); $0.setTitle("first"); $0.insertText(Array("hello".unicodeScalars), at: 0)
        }
        original.commit(entry: id, by: old, at: HLC(milliseconds: now - 5_000, counter: 0)) { $0.setTitle("second") }
        let snapshot = EntrySnapshot.encode(try #require(original.entries[id]))
        // Imported on a new device; the change travels to a second replica.
        var a = Journal(), b = Journal()
        let adoption = a.commit(entry: id, by: alex, at: HLC(milliseconds: now, counter: 0)) { try? $0.adopt(snapshot: snapshot) }
        #expect(adoption.operations.count == 1)
        #expect(try ChangeCodec.decode(ChangeCodec.encode(adoption)) == adoption)
        b.receive(adoption)
        #expect(EntrySnapshot.encode(try #require(b.entries[id])) == snapshot, "adopted byte for byte")
        #expect(b.entries[id]?.title.history.map(\.value) == ["first", "second"])
        let edit = b.commit(entry: id, by: sam, at: HLC(milliseconds: now + 1, counter: 0)) { $0.insertText(Array(" you".unicodeScalars), at: 5) }
        a.receive(edit)
        #expect(a.entries[id]?.body.string == "hello you")
        #expect(a.canonicalState == b.canonicalState)
        // Adopting over an entry that has state is refused locally…
        var c = a
        c.commit(entry: id, by: alex, at: HLC(milliseconds: now + 2, counter: 0)) { editor in
            #expect(throws: Entry.InvalidOperation.invalidSnapshot) { try editor.adopt(snapshot: snapshot) }
        }
        #expect(c.entries[id]?.body.string == "hello you")
        // …and a remote one (a concurrent import elsewhere) changes nothing here.
        let late = Change(device: sam, seq: 2, hlc: HLC(milliseconds: now + 3, counter: 0), dependencies: [],
                          entry: id, operations: [.adoptSnapshot(snapshot)])
        let state = a.canonicalState
        #expect(a.receive(late).outcome == .applied)
        #expect(a.entries[id]?.body.string == "hello you")
        #expect(a.canonicalState != state, "only the vector moved")
    }
}
