/// Text that came from a journal (and later from the partner, so attacker-controlled) is made
/// safe to print to a terminal: escape sequences and other control characters cannot move the
/// cursor, rewrite earlier lines, set the window title or hide text.
public enum Sanitise {
    /// Keeps newlines and tabs; replaces other C0/C1 controls, DEL, and bidirectional overrides
    /// with U+FFFD.
    public static func text(_ text: String) -> String {
        var view = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            view.append(isDangerous(scalar) && scalar != "\n" && scalar != "\t" ? "\u{FFFD}" : scalar)
        }
        return String(view)
    }

    /// One line: like ``text(_:)`` but newlines and tabs become spaces.
    public static func line(_ text: String) -> String {
        var view = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar == "\n" || scalar == "\t" || scalar == "\r" { view.append(" ") } else {
                view.append(isDangerous(scalar) ? "\u{FFFD}" : scalar)
            }
        }
        return String(view)
    }

    static func isDangerous(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        // Bidirectional embeddings, overrides and isolates can reorder what is shown; line and
        // paragraph separators break a line where none is seen; zero-width characters and
        // directional marks make two names that look the same differ (a partner's "Alex's
        // laptop" beside the real one).
        case 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029, 0x200B...0x200F, 0x2060, 0xFEFF: true
        default: false
        }
    }
}
