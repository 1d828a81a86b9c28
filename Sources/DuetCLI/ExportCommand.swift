import ArgumentParser
import DuetDevice
import Foundation

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export everything this device can read (json re-imports every entry's text and fields, as your own private writing; markdown is for reading).")

    @OptionGroup var common: CommonOptions
    @Option(help: "json or markdown.", completion: .list(["json", "markdown"])) var format: String = "json"
    @Option(help: "Write to this file (created 0600; a symlink is followed) instead of standard output.", completion: .file()) var out: String?

    func validate() throws {
        guard ["json", "markdown"].contains(format) else { throw ValidationError("--format is json or markdown") }
    }

    func run() throws {
        try reportingErrors {
            let unlocked = try common.unlock()
            let data: Data, count: Int
            if format == "json" {
                (data, count) = try unlocked.exportJSON()
            } else {
                let views = try unlocked.allEntries().map(EntryView.init)
                (data, count) = (Data(Self.markdown(views, name: unlocked.name).utf8), views.count)
            }
            if let out {
                try OutputFile.write(data, to: out)
                FileHandle.standardError.write(Data("Exported \(count) entries to \(out).\n".utf8))
            } else {
                writeOut(data)
            }
        }
    }

    static func markdown(_ views: [EntryView], name: String) -> String {
        var text = "# \(name)'s journal\n\n_Exported from Duet on \(rfc3339(nowMilliseconds).prefix(10)); \(views.count) entries._\n"
        for view in views {
            text += "\n---\n\n## \(view.title.isEmpty ? "Untitled" : view.title)\n\n"
            var facts = [String(view.createdAt.prefix(16)).replacingOccurrences(of: "T", with: " ")]
            if !view.factors.isEmpty { facts.append(view.factors.joined(separator: ", ")) }
            if let mood = view.mood { facts.append("mood \(mood)/5") }
            if view.deleted { facts.append("deleted") }
            text += "*\(facts.joined(separator: " · "))*\n"
            if !view.tags.isEmpty { text += "\nTags: \(view.tags.joined(separator: ", "))\n" }
            text += "\n\(view.body)\n"
        }
        return text
    }
}
