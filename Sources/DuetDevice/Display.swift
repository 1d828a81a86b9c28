import DuetStore

/// Text from a journal, made safe to show on a terminal: what the partner or a file wrote can
/// hold control characters and escape sequences that would rewrite the screen.
public enum Display {
    /// One line: newlines and tabs become spaces, other controls U+FFFD.
    public static func line(_ text: String) -> String { Sanitise.line(text) }
    /// A body: newlines and tabs are kept, other controls become U+FFFD.
    public static func text(_ text: String) -> String { Sanitise.text(text) }
}
