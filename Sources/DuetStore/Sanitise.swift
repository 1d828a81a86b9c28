/// Text that came from a journal (and later from the partner, so attacker-controlled) is made
/// safe to print to a terminal: escape sequences and other control characters cannot move the
/// cursor, rewrite earlier lines, set the window title or hide text.
public enum Sanitise {
    /// Keeps newlines and tabs; replaces other controls and every invisible formatting character
    /// with U+FFFD.
    public static func text(_ text: String) -> String { sanitised(text, breaks: .kept) }

    /// One line: like ``text(_:)`` but newlines, tabs and carriage returns become spaces.
    public static func line(_ text: String) -> String { sanitised(text, breaks: .spaces) }

    private enum Breaks { case kept, spaces }

    private static func sanitised(_ text: String, breaks: Breaks) -> String {
        var view = String.UnicodeScalarView()
        let scalars = Array(text.unicodeScalars)
        var inFlagTags = false
        for (index, scalar) in scalars.enumerated() {
            if scalar == "\n" || scalar == "\t" || (scalar == "\r" && breaks == .spaces) {
                view.append(breaks == .spaces ? " " : scalar)
                inFlagTags = false
                continue
            }
            // Tag characters spell a subdivision flag after a black flag (🏴 + "gbsct" + cancel
            // tag: Scotland); anywhere else they are invisible text.
            let isTag = (0xE0020...0xE007F).contains(scalar.value)
            inFlagTags = isTag && (inFlagTags || (index > 0 && scalars[index - 1].value == 0x1F3F4))
            let kept = !isDangerous(scalar) || joinsEmoji(scalars, at: index) || inFlagTags
            view.append(kept ? scalar : "\u{FFFD}")
        }
        return String(view)
    }

    /// A zero-width joiner between two pictographs is part of one picture (a couple with a heart,
    /// a family, a skin tone): kept, where anywhere else it is an invisible character. "©", "®"
    /// and "‼" count as emoji to Unicode but are letters of text, so a joiner after them is not.
    static func joinsEmoji(_ scalars: [Unicode.Scalar], at index: Int) -> Bool {
        guard scalars[index].value == 0x200D, index > 0, index + 1 < scalars.count else { return false }
        let before = scalars[index - 1], after = scalars[index + 1]
        let endsPicture = before.value == 0xFE0F || before.properties.isEmojiPresentation || before.properties.isEmojiModifier
            || (before.properties.isEmoji && before.value >= 0x1F000)
        return endsPicture && after.properties.isEmoji && after.value > 0x7F
    }

    /// Controls (C0, C1, DEL) rewrite the screen. Format characters (bidirectional embeddings,
    /// overrides and isolates, zero-width spaces and joiners, directional marks, the soft hyphen,
    /// invisible operators, tags…: Unicode's whole `Cf` category, not a list that misses some)
    /// reorder or hide text, so that two names that look the same differ — a partner's "Alex's
    /// laptop" beside the real one. Line and paragraph separators break a line where none is
    /// seen. The few invisible characters of other categories (the combining grapheme joiner,
    /// the Hangul fillers, the Khmer inherent vowels) are named.
    static func isDangerous(_ scalar: Unicode.Scalar) -> Bool {
        // Printable ASCII, most of any journal, needs no property lookup.
        if (0x20...0x7E).contains(scalar.value) { return false }
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: return true
        default:
            switch scalar.value {
            case 0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0: return true
            default: return false
            }
        }
    }
}
