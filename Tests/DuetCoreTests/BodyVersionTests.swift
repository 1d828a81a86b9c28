import Testing
@testable import DuetCore

/// Issue #15: an edit made on stale text merges with what arrived meanwhile instead of erasing it.
@Suite("Editing against a base version")
struct BodyVersionTests {
    static let alex = DeviceID(high: 0xA, low: 1), sam = DeviceID(high: 0x5, low: 2)
    static let id = EntryID(high: 7, low: 8)
    static let t0: UInt64 = 1_767_225_600_000

    static func text(_ string: String) -> [Unicode.Scalar] { Array(string.unicodeScalars) }

    /// Alex's journal with the entry, and Sam's copy of it.
    static func shared(_ start: String) -> (alex: Journal, sam: Journal) {
        var alex = Journal(), sam = Journal()
        let create = alex.commit(entry: id, by: Self.alex, at: HLC(milliseconds: t0, counter: 0)) {
            $0.create(); $0.insertText(text(start), at: 0)
        }
        sam.receive(create)
        return (alex, sam)
    }

    @Test("Text that arrived while the editor was open survives an edit made from the older text")
    func arrivalSurvives() throws {
        var (alex, sam) = Self.shared("We walked by the river.")
        let base = try #require(alex.entries[Self.id]).body.version
        // Sam's answer reaches Alex's device while Alex is still typing in the editor.
        let answer = sam.commit(entry: Self.id, by: Self.sam, at: HLC(milliseconds: Self.t0 + 1, counter: 0)) {
            $0.insertText(Self.text(" I loved it."), at: 23)
        }
        alex.receive(answer)
        let edit = alex.commit(entry: Self.id, by: Self.alex, at: HLC(milliseconds: Self.t0 + 2, counter: 0)) {
            $0.replaceBody(with: Self.text("We walked slowly by the river."), since: base)
        }
        sam.receive(edit)
        #expect(alex.entries[Self.id]?.body.string == "We walked slowly by the river. I loved it.")
        #expect(alex.canonicalState == sam.canonicalState)
    }

    @Test("Without the base version the same edit erases the arrival (what the old `duet edit` did)")
    func plainReplaceErases() throws {
        var (alex, sam) = Self.shared("We walked by the river.")
        let answer = sam.commit(entry: Self.id, by: Self.sam, at: HLC(milliseconds: Self.t0 + 1, counter: 0)) {
            $0.insertText(Self.text(" I loved it."), at: 23)
        }
        alex.receive(answer)
        alex.commit(entry: Self.id, by: Self.alex, at: HLC(milliseconds: Self.t0 + 2, counter: 0)) {
            $0.replaceBody(with: Self.text("We walked slowly by the river."))
        }
        #expect(alex.entries[Self.id]?.body.string == "We walked slowly by the river.")
    }

    @Test("Deletions of text already deleted elsewhere, and insertions after a deleted anchor, keep both sides")
    func overlappingDeletes() throws {
        var (alex, sam) = Self.shared("one two three four")
        let base = try #require(alex.entries[Self.id]).body.version
        // Sam deletes "two " meanwhile; Alex, from the old text, deletes "two three " and adds "five".
        let cut = sam.commit(entry: Self.id, by: Self.sam, at: HLC(milliseconds: Self.t0 + 1, counter: 0)) {
            $0.deleteText(at: 4, count: 4)
        }
        alex.receive(cut)
        let edit = alex.commit(entry: Self.id, by: Self.alex, at: HLC(milliseconds: Self.t0 + 2, counter: 0)) {
            $0.replaceBody(with: Self.text("one four five"), since: base)
        }
        sam.receive(edit)
        #expect(alex.entries[Self.id]?.body.string == "one four five")
        #expect(alex.canonicalState == sam.canonicalState)
    }

    @Test("With nothing new since the base, it is the plain diff: the same operations")
    func unchangedIsPlainDiff() throws {
        let (alex, _) = Self.shared("I felt safe when you called.")
        let base = try #require(alex.entries[Self.id]).body.version
        var a = alex, b = alex
        let viaBase = a.commit(entry: Self.id, by: Self.alex, at: HLC(milliseconds: Self.t0 + 1, counter: 0)) {
            $0.replaceBody(with: Self.text("I felt truly safe when you called me."), since: base)
        }
        let plain = b.commit(entry: Self.id, by: Self.alex, at: HLC(milliseconds: Self.t0 + 1, counter: 0)) {
            $0.replaceBody(with: Self.text("I felt truly safe when you called me."))
        }
        #expect(viaBase.operations == plain.operations)
        #expect(a.entries[Self.id]?.body.string == "I felt truly safe when you called me.")
    }

    @Test("A version of another entry's body is ignored: the edit is diffed against this body")
    func foreignVersion() throws {
        var (alex, _) = Self.shared("mine")
        var other = Journal()
        other.commit(entry: EntryID(high: 9, low: 9), by: Self.sam, at: HLC(milliseconds: Self.t0, counter: 0)) {
            $0.create(); $0.insertText(Self.text("theirs"), at: 0)
        }
        let foreign = try #require(other.entries[EntryID(high: 9, low: 9)]).body.version
        alex.commit(entry: Self.id, by: Self.alex, at: HLC(milliseconds: Self.t0 + 1, counter: 0)) {
            $0.replaceBody(with: Self.text("new"), since: foreign)
        }
        #expect(alex.entries[Self.id]?.body.string == "new")
    }
}
