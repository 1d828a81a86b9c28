import Testing
@testable import DuetCore
import DuetTesting

/// Keystrokes that continue one another inside a change travel as one insert operation; the
/// receiver ends with exactly the author's state either way.
@Suite("Typing runs in one change")
struct TypingRunTests {
    let alex = DeviceID(high: 1, low: 1), sam = DeviceID(high: 2, low: 2)
    let id = EntryID(high: 5, low: 5)

    @Test("Consecutive keystrokes become one operation; a jump, a delete or another field breaks the run")
    func coalescing() {
        var journal = Journal()
        var clock = HybridLogicalClock()
        let change = journal.commit(entry: id, by: alex, at: clock.tick(now: 1)) { editor in
            editor.create()
            for (offset, scalar) in "hello".unicodeScalars.enumerated() { editor.insertText([scalar], at: offset) }
            editor.insertText(["!"], at: 0)            // a jump: a new operation
            editor.insertText([" "], at: 6)            // after "!hello": continues nothing of the jump
            editor.deleteText(at: 6, count: 1)
            editor.insertText(["?"], at: 6)            // after a delete: a new operation
        }
        let inserts = change.operations.compactMap { operation -> TextInsert? in
            if case .insertText(let insert) = operation { return insert }
            return nil
        }
        #expect(inserts.map { String(String.UnicodeScalarView($0.scalars)) } == ["hello", "!", " ", "?"])
        #expect(journal.entries[id]?.body.string == "!hello?")

        // A replica that receives the change has the same state, byte for byte.
        var replica = Journal()
        #expect(replica.receive(change).outcome == .applied)
        #expect(replica.canonicalState == journal.canonicalState)
    }

    @Test("Runs merge with a concurrent run at the same place exactly as keystroke by keystroke would")
    func concurrentRuns() {
        var base = Journal()
        var clock = HybridLogicalClock()
        let create = base.commit(entry: id, by: alex, at: clock.tick(now: 1)) { $0.create(); $0.insertText(Array("ab".unicodeScalars), at: 0) }
        var a = base, b = Journal()
        _ = b.receive(create)
        let fromA = a.commit(entry: id, by: alex, at: clock.tick(now: 2)) { editor in
            for (offset, scalar) in "XYZ".unicodeScalars.enumerated() { editor.insertText([scalar], at: 1 + offset) }
        }
        var samClock = HybridLogicalClock()
        let fromB = b.commit(entry: id, by: sam, at: samClock.tick(now: 2)) { editor in
            for (offset, scalar) in "123".unicodeScalars.enumerated() { editor.insertText([scalar], at: 1 + offset) }
        }
        #expect(fromA.operations.count == 1 && fromB.operations.count == 1)
        _ = a.receive(fromB)
        _ = b.receive(fromA)
        #expect(a.canonicalState == b.canonicalState)
        let text = a.entries[id]?.body.string ?? ""
        #expect(text == "aXYZ123b" || text == "a123XYZb", "each run stays whole: \(text)")
    }
}
