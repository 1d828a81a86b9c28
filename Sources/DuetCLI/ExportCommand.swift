import ArgumentParser
import DuetDevice
import Foundation

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export everything this device can read: json to re-import, markdown or txt to read.",
        discussion: "markdown and txt show each entry's author, space, acknowledgements and replies (nested under what they answer); control characters are neutralised.")

    @OptionGroup var common: CommonOptions
    @Option(help: "json, markdown or txt.", completion: .list(["json"] + ReadableExport.Format.allCases.map(\.rawValue))) var format: String = "json"
    @Option(help: "Write to this file (created 0600; a symlink is followed) instead of standard output.", completion: .file()) var out: String?

    func validate() throws {
        guard format == "json" || ReadableExport.Format(rawValue: format) != nil else { throw ValidationError("--format is json, markdown or txt") }
    }

    func run() throws {
        try reportingErrors {
            let unlocked = try common.unlock()
            let data: Data, count: Int
            if let readable = ReadableExport.Format(rawValue: format) {
                let views = try unlocked.allEntries().map(EntryView.init)
                let text = ReadableExport.render(views, name: unlocked.name, exportedOn: String(LocalTime.minute(nowMilliseconds).prefix(10)),
                                                zone: LocalTime.zone.identifier, format: readable)
                (data, count) = (Data(text.utf8), views.count)
            } else {
                (data, count) = try unlocked.exportJSON()
            }
            if let out {
                try OutputFile.write(data, to: out)
                FileHandle.standardError.write(Data("Exported \(count) entries to \(out).\n".utf8))
            } else {
                writeOut(data)
            }
        }
    }
}
