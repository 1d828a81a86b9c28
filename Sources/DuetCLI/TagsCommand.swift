import ArgumentParser
import DuetDevice
import Foundation

/// `duet tags`: every tag with how many live entries carry it, most used first (like `jrnl --tags`).
struct TagsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tags",
        abstract: "Every tag with its count, most used first.",
        discussion: "Tags are stored without jrnl's sigils: `--tag #repair`, `--tag @repair` and `--tag repair` are one tag.")

    @OptionGroup var common: CommonOptions
    @Flag(help: "Print one JSON array of {\"tag\", \"count\"}.") var json = false

    struct Row: Encodable {
        let tag: String
        let count: Int
    }

    func run() throws {
        try reportingErrors {
            let counts = try common.unlock().tags()
            if json { return try printJSON(counts.map { Row(tag: $0.tag, count: $0.count) }) }
            if counts.isEmpty { print("No tags yet. Add one with `duet write --tag T` or `duet edit ID --add-tag T`.") }
            let width = counts.map { String($0.count).count }.max() ?? 1
            for row in counts {
                let count = String(row.count)
                print("\(String(repeating: " ", count: width - count.count))\(count)  \(Display.line(row.tag))")
            }
        }
    }
}
