import DuetDevice

/// How `show` prints a thread: what an entry answers, and its replies under it.
enum ThreadLines {
    /// "ABCD1234  the heading (Sam, 2026-12-02 19:30)", or what is known of an entry this device
    /// cannot show (the partner's bytes may name anything, the reply itself included).
    static func parent(_ parent: ReplyParent) -> String {
        switch parent {
        case .entry(let record):
            let view = EntryView(record)
            let deleted = record.isDeleted ? ", deleted" : ""
            return "\(view.id.prefix(8))  \(Display.line(view.heading)) (\(Display.line(view.author)), \(LocalTime.minute(view.created))\(deleted))"
        case .unknown(let id):
            return "an unknown entry (\(id.prefix(8)))"
        }
    }

    /// Each reply: who, when (local), its id, then its text indented.
    static func printReplies(_ replies: [EntryRecord]) {
        guard !replies.isEmpty else { return }
        print("")
        print(replies.count == 1 ? "1 reply:" : "\(replies.count) replies:")
        for record in replies {
            let view = EntryView(record)
            print("")
            print("  ↳ \(Display.line(view.author)), \(LocalTime.minute(view.created))  (\(view.id.prefix(8)))")
            if !view.title.isEmpty { print("    \(Display.line(view.title))") }
            for line in Display.text(view.body).split(separator: "\n", omittingEmptySubsequences: false) {
                print("    \(line)")
            }
        }
    }
}
