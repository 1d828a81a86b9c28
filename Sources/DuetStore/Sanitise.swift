/// Text that came from a journal (and later from the partner, so attacker-controlled) is made
/// safe to print to a terminal: escape sequences and other control characters cannot move the
/// cursor, rewrite earlier lines, set the window title or hide text.
public enum Sanitise {
    /// Keeps newlines and tabs; replaces other C0/C1 controls, DEL, and bidirectional overrides
    /// with U+FFFD.
    public static func text(_ text: String) -> String {
        var view = String.UnicodeScalarView()
        let scalars = Array(text.unicodeScalars)
        for (index, scalar) in scalars.enumerated() {
            let kept = scalar == "\n" || scalar == "\t" || !isDangerous(scalar) || joinsEmoji(scalars, at: index)
            view.append(kept ? scalar : "\u{FFFD}")
        }
        return String(view)
    }

    /// One line: like ``text(_:)`` but newlines and tabs become spaces.
    public static func line(_ text: String) -> String {
        var view = String.UnicodeScalarView()
        let scalars = Array(text.unicodeScalars)
        for (index, scalar) in scalars.enumerated() {
            if scalar == "\n" || scalar == "\t" || scalar == "\r" { view.append(" ") } else {
                view.append(!isDangerous(scalar) || joinsEmoji(scalars, at: index) ? scalar : "\u{FFFD}")
            }
        }
        return String(view)
    }

    /// A zero-width joiner between two emoji is part of one picture (a couple with a heart, a
    /// family, a skin tone): kept, where anywhere else it is an invisible character.
    static func joinsEmoji(_ scalars: [Unicode.Scalar], at index: Int) -> Bool {
        guard scalars[index].value == 0x200D, index > 0, index + 1 < scalars.count else { return false }
        let before = scalars[index - 1], after = scalars[index + 1]
        let endsEmoji = before.value == 0xFE0F || before.properties.isEmojiPresentation || before.properties.isEmojiModifier
            || (before.properties.isEmoji && before.value > 0x7F)
        return endsEmoji && after.properties.isEmoji && after.value > 0x7F
    }

    static func isDangerous(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        // Bidirectional embeddings, overrides and isolates can reorder what is shown; line and
        // paragraph separators break a line where none is seen; zero-width characters and
        // directional marks make two names that look the same differ (a partner's "Alex's
        // laptop" beside the real one).
        case 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029, 0x200B...0x200F, 0x2060, 0xFEFF: true
        // The other invisible formatting characters that make two names look the same: the soft
        // hyphen, the Arabic letter mark, the Mongolian vowel separator, the invisible operators,
        // the deprecated shaping controls and the interlinear annotation marks.
        case 0x00AD, 0x061C, 0x180E, 0x2061...0x2064, 0x206A...0x206F, 0xFFF9...0xFFFB: true
        default: false
        }
    }
}
