import DuetDevice

/// `export --format markdown|txt`: the journal as one document for people to read (the JSON
/// export is the one to re-import). Each entry says who wrote it, in which space, whether it is
/// starred or imported, who read it and when, with its replies nested under it.
///
/// Everything in an entry may have been written by the partner, or come from an imported file,
/// so it is treated as hostile twice over: control characters, escapes and invisible characters
/// are neutralised (``Display``), and in Markdown the text is escaped so that a body cannot
/// start a heading, a rule or HTML of its own — a body holding "## Sunday" and "*by Alex*"
/// must not read as another entry written by someone else.
enum ReadableExport {
    enum Format: String, CaseIterable {
        case markdown
        case txt
    }

    /// The deepest indentation shown; deeper replies are shown at this depth (still in order).
    static let deepestShownLevel = 6

    /// `exportedOn` is the local day; `zone` names the time zone every time shown is in.
    static func render(_ views: [EntryView], name: String, exportedOn: String, zone: String, format: Format) -> String {
        let threads = Threads(views)
        var text: String
        switch format {
        case .markdown:
            text = "# \(Markdown.inline(Display.line(name)))'s journal\n\n_Exported from Duet on \(exportedOn); \(views.count) entries; times in \(Markdown.inline(zone))._\n"
        case .txt:
            let title = "\(Display.line(name))'s journal"
            text = "\(title)\n\(String(repeating: "=", count: min(title.count, 72)))\n\nExported from Duet on \(exportedOn); \(views.count) entries; times in \(zone).\n"
        }
        for (view, depth, note) in threads.inOrder() {
            switch format {
            case .markdown: text += markdown(view, depth: depth, note: note)
            case .txt: text += plain(view, depth: depth, note: note)
            }
        }
        return text
    }

    /// Who wrote it, where, when, and what it is marked with: one line of facts.
    static func facts(_ view: EntryView) -> [String] {
        var facts = [Display.line(view.author), view.space == "shared" ? "shared" : "private", shownTime(view.createdAt)]
        if !view.factors.isEmpty { facts.append(view.factors.map(Display.line).joined(separator: ", ")) }
        if let mood = view.mood { facts.append("mood \(mood)/5") }
        if view.starred { facts.append("★ starred") }
        if let imported = view.importedAttribution { facts.append(imported) }
        if view.deleted { facts.append("deleted" + (view.deletedBy.map { " by \(Display.line($0))" } ?? "")) }
        return facts
    }

    static func acknowledgements(_ view: EntryView) -> String? {
        guard !view.acks.isEmpty else { return nil }
        return "Read by " + view.acks.map { "\(Display.line($0.by)) (\(shownTime($0.at)))" }.joined(separator: ", ")
    }

    /// An RFC 3339 time to the minute, as people read it: "2026-12-02 19:30".
    static func shownTime(_ rfc3339: String) -> String {
        String(rfc3339.prefix(16)).replacingOccurrences(of: "T", with: " ")
    }

    private static func markdown(_ view: EntryView, depth: Int, note: String?) -> String {
        let heading = view.title.isEmpty ? (view.replyTo == nil ? "Untitled" : "Reply") : Markdown.inline(Display.line(view.title))
        // Replies are quoted one level per depth: the nesting survives any renderer.
        let quote = String(repeating: "> ", count: min(depth, deepestShownLevel))
        var lines: [String] = []
        if depth == 0 { lines += ["", "---", ""] } else { lines.append("") }
        lines.append("\(String(repeating: "#", count: min(2 + depth, 6))) \(heading)")
        lines.append("")
        lines.append("*\(facts(view).map(Markdown.inline).joined(separator: " · "))*")
        if let note { lines += ["", "_\(note)_"] }
        if !view.tags.isEmpty { lines += ["", "Tags: " + view.tags.map { Markdown.inline(Display.line($0)) }.joined(separator: ", ")] }
        lines.append("")
        lines += Markdown.block(Display.text(view.body))
        if let read = acknowledgements(view) { lines += ["", "_\(Markdown.inline(read))_"] }
        let quoted = lines.map { $0.isEmpty ? quote.trimmingSuffix(while: { $0 == " " }) + "\n" : quote + $0 + "\n" }.joined()
        // An unquoted blank line first, so that the quote never continues the text above it.
        return depth == 0 ? quoted : "\n" + quoted
    }

    private static func plain(_ view: EntryView, depth: Int, note: String?) -> String {
        let indent = String(repeating: "    ", count: min(depth, deepestShownLevel))
        let heading = view.title.isEmpty ? (view.replyTo == nil ? "Untitled" : "Reply") : Display.line(view.title)
        var lines: [String] = depth == 0 ? ["", String(repeating: "-", count: 72), ""] : [""]
        lines.append(depth == 0 ? heading : "↳ " + heading)
        lines.append(facts(view).joined(separator: " · "))
        if let note { lines.append("(\(note))") }
        if !view.tags.isEmpty { lines.append("Tags: " + view.tags.map(Display.line).joined(separator: ", ")) }
        lines.append("")
        lines += Display.text(view.body).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let read = acknowledgements(view) { lines += ["", read] }
        return lines.map { $0.isEmpty ? "\n" : indent + $0 + "\n" }.joined()
    }
}

/// What a thread is made of: an id, and the id of what it answers.
protocol Threaded {
    var id: String { get }
    var replyTo: String? { get }
}

extension EntryView: Threaded {}

/// Entries with their replies: each entry once, replies after their parent, oldest first.
struct Threads<Item: Threaded> {
    private let roots: [Item]
    private let children: [String: [Item]]
    private let all: [Item]

    init(_ views: [Item]) {
        all = views
        let ids = Set(views.map(\.id))
        var children: [String: [Item]] = [:]
        var roots: [Item] = []
        for view in views {
            if let parent = view.replyTo, parent != view.id, ids.contains(parent) {
                children[parent, default: []].append(view)
            } else {
                roots.append(view)
            }
        }
        self.roots = roots
        self.children = children
    }

    /// Depth first, without recursion (a partner can write a chain of replies as long as the
    /// journal), each entry exactly once: replies that form a loop (each naming another of the
    /// loop as its parent, which only a hostile device writes) are shown at the end, each as
    /// its own thread, with a note.
    func inOrder() -> [(view: Item, depth: Int, note: String?)] {
        var shown = Set<String>()
        var order: [(Item, Int, String?)] = []
        func walk(from root: Item, note: String?) {
            var stack: [(Item, Int)] = [(root, 0)]
            while let (view, depth) = stack.popLast() {
                guard shown.insert(view.id).inserted else { continue }
                var shownNote: String? = nil
                if depth == 0 {
                    shownNote = note ?? view.replyTo.flatMap { parent in
                        parent == view.id ? "a reply to itself" : "a reply to an entry not in this export"
                    }
                }
                order.append((view, depth, shownNote))
                for child in (children[view.id] ?? []).reversed() { stack.append((child, depth + 1)) }
            }
        }
        for root in roots { walk(from: root, note: nil) }
        for view in all where !shown.contains(view.id) { walk(from: view, note: "in a loop of replies") }
        return order
    }
}

/// Markdown escaping for text that must stay text.
enum Markdown {
    /// Inline text: characters that start emphasis, code, links, HTML or a character reference
    /// are backslash-escaped.
    static func inline(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            // "&" too: a renderer would turn "&#x202E;" into the very override Display removed.
            case "\\", "`", "*", "_", "[", "]", "<", ">", "#", "|", "~", "&": escaped += "\\\(character)"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// A body: each line kept as its own line (a hard break), inline-escaped, and a line that
    /// would open a block (a heading, a rule, a list, a quote, a fence, a table) made plain.
    static func block(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            let escaped = inline(String(line))
            // Leading spaces would make an indented code block: keep them visible as spaces.
            let leading = escaped.prefix { $0 == " " }
            var rest = escaped.dropFirst(leading.count)
            var prefix = String(repeating: "&#32;", count: leading.count)
            if let first = rest.first, "-+=".contains(first) {
                prefix += "\\"
            } else if let first = rest.first, first.isNumber, Self.startsOrderedItem(rest) {
                // "1. text" would start a list: "1\. text".
                prefix += String(rest.prefix { $0.isNumber }) + "\\"
                rest = rest.drop { $0.isNumber }
            }
            let joined = prefix + rest
            return joined.isEmpty ? "" : joined + "  "
        }
    }

    private static func startsOrderedItem(_ text: Substring) -> Bool {
        let afterDigits = text.drop { $0.isNumber }
        return afterDigits.first == "." || afterDigits.first == ")"
    }
}
