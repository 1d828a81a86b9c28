@testable import DuetCLI
import DuetTesting
import Foundation
import Testing

/// `duet export --format markdown|txt` (issue #16 item 8): who wrote what, in which space, who
/// read it, replies nested, and nothing the partner wrote can forge the document's structure or
/// reach the terminal as a control sequence.
@Suite("Readable exports")
struct ReadableExportTests {
    /// What Sam, a hostile partner, writes in a shared entry: a terminal title escape, then an
    /// imitation of an entry of Alex's (a rule, a heading, a line of facts) and HTML.
    static let forgery = "Fine.\u{1B}]0;pwned\u{07}\n\n---\n\n## Forged\n\n*Alex · private · 2026-01-01 10:00*\n\n<script>alert(1)</script>\n1. one\n    code?\nSam&#x202E;txt.exe"

    @Test("Markdown and txt show author, space, acks and nested replies; a partner's text cannot forge an entry or escape the terminal")
    func coupleExport() async throws {
        let couple = try await Couple()
        let sunday = try await couple.alex.write("Walking by the river helped.", ["--shared", "--title", "Sunday"])
        _ = try await couple.alex.write("Only mine.", ["--title", "Mine", "--star"])
        try await couple.syncBoth()
        let answer = try await couple.sam.write("It helped me too.", ["--shared", "--reply-to", sunday])
        #expect(try await couple.sam.duet(["ack", sunday]).status == 0)
        _ = try await couple.sam.write(Self.forgery, ["--shared", "--title", "Hostile"])
        try await couple.syncBoth()

        let markdown = try await couple.alex.duet(["export", "--format", "markdown"])
        #expect(markdown.status == 0, "\(markdown.stderr)")
        let text = markdown.stdout
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.contains("## Sunday"))
        #expect(lines.contains { $0.hasPrefix("*Alex · shared · ") }, "the author and the space of Sunday")
        #expect(lines.contains { $0.hasPrefix("*Alex · private · ") && $0.hasSuffix(" · ★ starred*") }, "Mine is private and starred")
        let sundayAt = try #require(lines.firstIndex(of: "## Sunday"))
        let replyAt = try #require(lines.firstIndex(of: "> ### Reply"), "the reply is quoted under its parent: \(text)")
        #expect(replyAt > sundayAt)
        #expect(lines.contains { $0.hasPrefix("> *Sam · shared · ") }, "the reply's author")
        #expect(lines.contains("> It helped me too.  "))
        #expect(lines.contains { $0.hasPrefix("_Read by Sam (") }, "Sam's acknowledgement of Sunday")
        #expect(!text.contains("\u{1B}") && !text.contains("\u{07}"), "no control character reaches the document")
        #expect(lines.filter { $0.hasPrefix("## ") }.count == 3, "three entries have headings, the forged one none: \(lines.filter { $0.hasPrefix("#") })")
        #expect(!lines.contains("---") || lines.filter { $0 == "---" }.count == 3, "only Duet's own rules between entries")
        #expect(!lines.contains { $0.hasPrefix("*Alex · private · 2026-01-01") }, "the forged facts line is escaped")
        #expect(!text.contains("<script>"), "HTML is escaped")
        #expect(lines.contains("Sam\\&\\#x202E;txt.exe  "), "a character reference stays text: \(lines.suffix(3))")
        #expect(lines.contains("1\\. one  ") && lines.contains("&#32;&#32;&#32;&#32;code?  "), "no list, no code block: \(lines.suffix(8))")
        _ = answer

        let plain = try await couple.alex.duet(["export", "--format", "txt"])
        #expect(plain.status == 0, "\(plain.stderr)")
        let plainLines = plain.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(plainLines.first == "Alex's journal")
        let parent = try #require(plainLines.firstIndex(of: "Sunday"))
        let reply = try #require(plainLines.firstIndex(of: "    ↳ Reply"), "the reply indented under its parent: \(plain.stdout)")
        #expect(reply > parent)
        #expect(plainLines.contains("    It helped me too."))
        #expect(plainLines.contains { $0.hasPrefix("Read by Sam (") })
        #expect(!plain.stdout.contains("\u{1B}"), "no escape in the text export")

        let unknown = try await couple.alex.duet(["export", "--format", "pdf"])
        #expect(unknown.status != 0 && unknown.stderr.contains("json, markdown or txt"), "\(unknown.stderr)")
    }

    struct Item: Threaded {
        let id: String
        let replyTo: String?
    }

    static func view(_ id: String, replyTo: String?) -> Item { Item(id: id, replyTo: replyTo) }

    @Test("Replies that loop, answer themselves or an entry not exported are each shown once, with a note")
    func hostileThreads() {
        let views = [
            Self.view("A", replyTo: "B"), Self.view("B", replyTo: "A"),  // a loop only a hostile device writes
            Self.view("C", replyTo: "C"), Self.view("D", replyTo: "gone"), Self.view("E", replyTo: nil), Self.view("F", replyTo: "E"),
        ]
        let order = Threads(views).inOrder()
        #expect(order.map(\.view.id).sorted() == ["A", "B", "C", "D", "E", "F"], "each entry exactly once")
        #expect(order.first { $0.view.id == "F" }?.depth == 1)
        #expect(order.first { $0.view.id == "C" }?.note == "a reply to itself")
        #expect(order.first { $0.view.id == "D" }?.note == "a reply to an entry not in this export")
        #expect(order.contains { ($0.view.id == "A" || $0.view.id == "B") && $0.note == "in a loop of replies" })
    }

    @Test("A chain of 100,000 replies is ordered without recursion, parent before reply")
    func longChain() {
        var views = [Self.view("0", replyTo: nil)]
        for index in 1..<100_000 { views.append(Self.view(String(index), replyTo: String(index - 1))) }
        let order = Threads(views).inOrder()
        #expect(order.count == 100_000)
        #expect(order.last?.depth == 99_999 && order.last?.view.id == "99999", "in order, parent before reply")
    }

    @Test("Replies nested deeper than the cap are shown at the cap, still under their parents")
    func deepReplies() async throws {
        let journal = try await TemporaryJournal()
        var parent = try await journal.write("The first.", ["--title", "Root"])
        for depth in 1...8 { parent = try await journal.write("Answer \(depth).", ["--reply-to", parent]) }
        let run = try await journal.duet(["export", "--format", "markdown"], environment: ["TZ": "Asia/Tokyo"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("times in Asia/Tokyo"), "the zone of the times is said")
        let json = try #require(try await journal.duet(["show", parent, "--json"], environment: ["TZ": "Asia/Tokyo"]).json as? [String: Any])
        let created = try #require(json["createdAt"] as? String)
        #expect(created.hasSuffix("+09:00"))
        #expect(run.stdout.contains(String(created.prefix(16)).replacingOccurrences(of: "T", with: " ")), "the same local time as show --json")
        let depths = run.stdout.split(separator: "\n").map { line in line.prefix { $0 == ">" || $0 == " " }.filter { $0 == ">" }.count }
        #expect(depths.max() == ReadableExport.deepestShownLevel, "\(run.stdout)")
        let answers = run.stdout.split(separator: "\n").filter { $0.contains("Answer ") }.map { String($0.drop { $0 == ">" || $0 == " " }) }
        #expect(answers == (1...8).map { "Answer \($0).  " }, "in thread order")
    }
}
