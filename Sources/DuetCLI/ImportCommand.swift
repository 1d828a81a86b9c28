import ArgumentParser
import DuetDevice
import Foundation

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import from Duet's own JSON, jrnl's JSON export, or Day One's JSON export.",
        discussion: """
            Importing the same file again adds nothing: entries are keyed by their source. jrnl's \
            dates and times are read as local time (TZ). From a Duet export, an entry already here \
            is skipped; any other becomes a new entry of yours. What you wrote, in your own export, \
            is yours again; any other entry says who imported it and whom the file names ("Sam \
            imported this; the file says Alex wrote it"): a file proves nothing of who wrote it. \
            An entry the file marks shared is shared (once paired) only when the file is your own \
            export of this couple space; otherwise it is imported as private and the summary says \
            so, unless --keep-shared. Prints what was imported, skipped, made private and left out.
            """)

    @OptionGroup var common: CommonOptions
    @Option(help: "duet, jrnl or dayone.", completion: .list(["duet", "jrnl", "dayone"])) var from: String
    @Argument(help: "The export file.", completion: .file()) var path: String
    @Flag(help: ArgumentHelp(
        "With --from duet: share the entries the file marks shared even when it is not your own export of this couple space.",
        discussion: "Only for a file you trust: your partner will read them. Without it they are imported as private."))
    var keepShared = false
    @Flag(help: "Print one JSON object: {\"imported\", \"skipped\", \"notImported\": {KIND: N}, \"sharedAsPrivate\": {REASON: N}}.")
    var json = false

    func validate() throws {
        guard let format = ImportFormat(rawValue: from) else { throw ValidationError("--from is duet, jrnl or dayone") }
        if keepShared, format != .duet { throw ValidationError("--keep-shared is for --from duet: only a Duet export has shared entries") }
    }

    struct Report: Encodable {
        let imported: Int
        let skipped: Int
        let notImported: [String: Int]
        let sharedAsPrivate: [String: Int]
    }

    func run() throws {
        try reportingErrors {
            guard let format = ImportFormat(rawValue: from) else { throw ValidationError("--from is duet, jrnl or dayone") }
            guard let data = FileManager.default.contents(atPath: path) else { throw InputError("cannot read \(path)") }
            let unlocked = try common.unlock()
            let result: ImportResult
            let progress = ImportProgress()
            defer { progress.finish() }
            do {
                result = try unlocked.importEntries(data, from: format, keepShared: keepShared, progress: progress.report)
            } catch DeviceError.importNotJSON {
                throw InputError("\(path) is not a JSON object; is it an export from \(from)?")
            }
            progress.finish()
            if json {
                return try printJSON(Report(imported: result.imported, skipped: result.skipped,
                                            notImported: Dictionary(uniqueKeysWithValues: result.leftOut.map { ($0.key.rawValue, $0.value) }),
                                            sharedAsPrivate: Dictionary(uniqueKeysWithValues: result.sharedAsPrivate.map { ($0.key.rawValue, $0.value) })))
            }
            print(Self.summary(result))
        }
    }

    /// "Imported 3 entries; skipped 2 already here. 1 shared entry imported as private: …. Not
    /// imported: 1 photo and 1 location."
    static func summary(_ result: ImportResult) -> String {
        var line = "Imported \(result.imported) \(result.imported == 1 ? "entry" : "entries")"
        if result.skipped > 0 { line += "; skipped \(result.skipped) already here" }
        line += "."
        for (reason, count) in result.sharedAsPrivate.sorted(by: { $0.key < $1.key }) {
            // What to do now, honestly: importing again adds nothing (the copies are here), so
            // --keep-shared helps only a first import; `duet share` shares one copy.
            line += " \(count) shared \(count == 1 ? "entry" : "entries") imported as private: \(Self.why(reason))"
                + " (`duet share ID` shares one; a first import with --keep-shared shares them all)."
        }
        let parts = result.leftOut.sorted { $0.key < $1.key }.map { kind, count in Self.words(kind, count) }
        if !parts.isEmpty {
            let joined = parts.count == 1 ? parts[0] : parts.dropLast().joined(separator: ", ") + " and " + (parts.last ?? "")
            line += " Not imported: \(joined)."
        }
        return line
    }

    private static func why(_ reason: ImportResult.SharedAsPrivate) -> String {
        switch reason {
        case .fromAnotherCouple: "the file is from another couple space"
        case .coupleNotNamed: "the file does not say which couple space it is from"
        case .notYourExport: "the file names this couple space but is not your own export"
        }
    }

    private static func words(_ kind: ImportResult.LeftOut, _ count: Int) -> String {
        let (one, many): (String, String) = switch kind {
        case .photos: ("photo", "photos")
        case .videos: ("video", "videos")
        case .audios: ("audio recording", "audio recordings")
        case .pdfs: ("PDF", "PDFs")
        case .locations: ("location", "locations")
        case .weather: ("weather record", "weather records")
        case .sharedEntriesNotPaired: ("shared entry (not paired yet: pair, then import the file again)",
                                       "shared entries (not paired yet: pair, then import the file again)")
        case .longTags: ("tag longer than 64 bytes", "tags longer than 64 bytes")
        case .extraTags: ("tag past an entry's 64", "tags past an entry's 64")
        }
        return "\(count) \(count == 1 ? one : many)"
    }
}

/// On a terminal, an import that takes more than a second says how far it is; elsewhere (a
/// script, a test, `--json` piped) it stays quiet.
final class ImportProgress: @unchecked Sendable {
    // @unchecked: used from the one thread that runs the import.
    private let started = ContinuousClock.now
    private var shown = false
    private let onTerminal = isatty(2) == 1

    func report(_ done: Int, _ total: Int) {
        guard onTerminal, done == total || done % 100 == 0, ContinuousClock.now - started > .seconds(1) else { return }
        shown = true
        FileHandle.standardError.write(Data("\rimporting: \(done) of \(total) entries".utf8))
    }

    func finish() {
        if shown { FileHandle.standardError.write(Data("\n".utf8)) }
        shown = false
    }
}
