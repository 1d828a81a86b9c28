import Testing
import DuetCore
import DuetTesting

@Suite("Text diff")
struct TextDiffTests {
    static func apply(_ edits: [TextDiff.Edit], old: [Unicode.Scalar], new: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var result = old
        for edit in edits.reversed() {
            result.replaceSubrange(edit.position..<edit.position + edit.deleteCount, with: new[edit.insertRange])
        }
        return result
    }

    /// Length of a longest common subsequence (the minimal edit keeps exactly this many).
    static func lcs(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        var row = [Int](repeating: 0, count: b.count + 1)
        for x in a {
            var diagonal = 0
            for j in 1...max(b.count, 1) where j <= b.count {
                let above = row[j]
                row[j] = x == b[j - 1] ? diagonal + 1 : max(row[j], row[j - 1])
                diagonal = above
            }
        }
        return row[b.count]
    }

    @Test("Diffs rebuild the new text and are minimal (1,000 generated pairs)")
    func minimalAndCorrect() {
        var random = SeededRandom(seed: 11)
        for case_ in 0..<1_000 {
            let old = RandomEdits.scalars(&random, count: random.below(30))
            var new = old
            for _ in 0..<random.below(5) {
                if !new.isEmpty, random.chance(50) {
                    new.remove(at: random.below(new.count))
                } else {
                    new.insert(contentsOf: RandomEdits.scalars(&random, count: 1 + random.below(3)), at: random.below(new.count + 1))
                }
            }
            let edits = TextDiff.edits(from: old, to: new)
            #expect(Self.apply(edits, old: old, new: new) == new, "case \(case_)")
            let changed = edits.reduce(0) { $0 + $1.deleteCount + $1.insertRange.count }
            let minimal = old.count + new.count - 2 * Self.lcs(old, new)
            #expect(changed == minimal, "case \(case_): \(changed) scalars changed, \(minimal) needed")
        }
    }

    @Test("Identical texts need no edit; edits are in increasing order")
    func shapes() {
        let text = Array("attunement".unicodeScalars)
        #expect(TextDiff.edits(from: text, to: text).isEmpty)
        let edits = TextDiff.edits(from: Array("a-b-c".unicodeScalars), to: Array("A-b-C".unicodeScalars))
        #expect(edits.map(\.position) == [0, 4])
    }
}

@Suite("Text diff, large")
struct LargeTextDiffTests {
    @Test("A long body with a few scattered edits diffs minimally; a total rewrite stays correct")
    func longBodies() {
        var random = SeededRandom(seed: 3)
        let old = RandomEdits.scalars(&random, count: 50_000)
        var new = old
        for _ in 0..<40 { new.insert(contentsOf: RandomEdits.scalars(&random, count: 3), at: random.below(new.count)) }
        let edits = TextDiff.edits(from: old, to: new)
        #expect(TextDiffTests.apply(edits, old: old, new: new) == new)
        #expect(edits.reduce(0) { $0 + $1.deleteCount + $1.insertRange.count } <= 120)
        let rewrite = RandomEdits.scalars(&random, count: 20_000)
        #expect(TextDiffTests.apply(TextDiff.edits(from: old, to: rewrite), old: old, new: rewrite) == rewrite)
    }
}
