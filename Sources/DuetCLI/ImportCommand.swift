import ArgumentParser
import DuetDevice
import Foundation

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import from Duet's own JSON, jrnl's JSON export, or Day One's JSON export.")

    @OptionGroup var common: CommonOptions
    @Option(help: "duet, jrnl or dayone.", completion: .list(["duet", "jrnl", "dayone"])) var from: String
    @Argument(help: "The export file.", completion: .file()) var path: String

    func validate() throws {
        guard ImportFormat(rawValue: from) != nil else { throw ValidationError("--from is duet, jrnl or dayone") }
    }

    func run() throws {
        try reportingErrors {
            guard let format = ImportFormat(rawValue: from) else { throw ValidationError("--from is duet, jrnl or dayone") }
            guard let data = FileManager.default.contents(atPath: path) else { throw InputError("cannot read \(path)") }
            let unlocked = try common.unlock()
            let result: ImportResult
            do {
                result = try unlocked.importEntries(data, from: format)
            } catch DeviceError.importNotJSON {
                throw InputError("\(path) is not a JSON object; is it an export from \(from)?")
            }
            print("Imported \(result.imported) entries\(result.skipped > 0 ? "; skipped \(result.skipped) already here" : "").")
        }
    }
}
