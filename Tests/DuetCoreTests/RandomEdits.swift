import DuetCore
import DuetTesting

/// Random edits of every field of an entry, for property and convergence tests.
enum RandomEdits {
    static let tags = ["gratitude", "repair", "date-night", "trust", "🌱"]
    static let titles = ["Tuesday", "After the talk", "Café ☕", "e\u{0301}te\u{0301}", "𝄞 music"]

    /// One random local action on `entry` (creating it first if the replica has not seen it).
    static func edit(_ editor: inout EntryEditor, _ random: inout SeededRandom) {
        if editor.entry.creation == nil { editor.create() }
        let length = editor.entry.body.count
        switch random.below(12) {
        case 0: editor.setTitle(random.pick(titles))
        case 1: editor.setMood(random.chance(20) ? nil : UInt8(1 + random.below(5)))
        case 2: editor.setDeleted(random.chance(50))
        case 3 where random.chance(40):
            // An attribution is written only in a creating change; elsewhere a star instead.
            if random.chance(50) || !editor.operations.contains(.create) { editor.setStarred(random.chance(60)) } else {
                editor.setOriginalAuthor(random.chance(20) ? nil : random.pick(["Sam", "", "Zoë"]))
            }
        case 3: editor.setKind(random.pick(["reflection", "prompt", "response"]))
        case 4: random.chance(50) ? editor.addFactor(random.pick(Factor.allCases)) : editor.removeFactor(random.pick(Factor.allCases))
        case 5: random.chance(50) ? editor.addTag(random.pick(tags)) : editor.removeTag(random.pick(tags))
        case 6: editor.acknowledge()
        case 7 where random.chance(50): editor.setReplyTo(random.chance(30) ? nil : EntryID(high: 1, low: UInt64(random.below(3))))
        case 7: editor.setDate(random.chance(20) ? nil : 1_700_000_000_000 + UInt64(random.below(1_000_000)))
        case 8 where length > 0:
            let position = random.below(length)
            editor.deleteText(at: position, count: 1 + random.below(min(4, length - position)))
        default:
            editor.insertText(scalars(&random, count: 1 + random.below(4)), at: random.below(length + 1))
        }
    }

    /// Letters, an emoji, a combining mark and astral characters, on purpose.
    static let alphabet: [Unicode.Scalar] = Array("abcdef ".unicodeScalars) + ["\u{1F60A}", "\u{0301}", "\u{20000}", "é", "\u{1F468}", "\u{200D}"]

    static func scalars(_ random: inout SeededRandom, count: Int) -> [Unicode.Scalar] {
        (0..<count).map { _ in random.pick(alphabet) }
    }

    static let entries = [EntryID(high: 1, low: 0), EntryID(high: 1, low: 1), EntryID(high: 1, low: 2)]
}
