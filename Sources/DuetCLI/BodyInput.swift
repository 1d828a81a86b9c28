import DuetDevice
import Foundation

/// Where a body comes from: `-m`, `--file`, standard input when it is not a terminal and not
/// empty, else the editor (`$VISUAL`, `$EDITOR`) on a temporary file in the home's private
/// scratch folder.
enum BodyInput {
    /// The text as it came, not yet checked against an entry's rules: text that is then refused
    /// (too long, not UTF-8) or cannot be written is kept as a draft when nothing else holds it.
    struct Given {
        let bytes: Data
        let source: Source

        /// Whether the words exist only here: typed in the editor, or piped in. A message or a
        /// file is still where it came from.
        var isOnlyHere: Bool { source == .editor || source == .standardInput }
    }

    enum Source: Equatable {
        case message, file, standardInput, editor
    }

    /// What quitting the editor without a change means, like git: for a new entry, nothing to
    /// write; for an entry's body, nothing to change; for a kept draft opened again, writing it
    /// as it is (only a blank one is nothing).
    enum Purpose {
        case newEntry
        case change
        case keptDraft
    }

    static func read(message: String?, file: String?, home: String, initial: String = "",
                     purpose: Purpose = .newEntry) throws -> Given {
        if let message { return Given(bytes: Data(message.utf8), source: .message) }
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw InputError("cannot read \(file)")
            }
            return Given(bytes: data, source: .file)
        }
        if isatty(STDIN_FILENO) == 0 {
            // Empty input (a script with stdin closed, /dev/null) is "no text given", never
            // "replace the body with nothing": `-m ""` says that explicitly.
            let data = FileHandle.standardInput.readDataToEndOfFile()
            if !data.isEmpty { return Given(bytes: data, source: .standardInput) }
        }
        return Given(bytes: try edit(initial: initial, home: home, purpose: purpose), source: .editor)
    }

    static func checked(_ data: Data) throws -> String {
        try EntryRules.text(utf8: data)
    }

    /// Opens the editor on `initial` in a file of the home's private scratch folder, removed
    /// afterwards whatever happens (``ScratchFile``); the editor itself may keep swap or backup
    /// files elsewhere. A failed or interrupted editor, or a session that changed nothing,
    /// aborts with nothing written.
    static func edit(initial: String, home: String, purpose: Purpose) throws -> Data {
        guard let editor = Editor.command(in: ProcessInfo.processInfo.environment) else {
            throw InputError("no text given: use -m TEXT, --file PATH, pipe it on stdin, or set $EDITOR")
        }
        let scratch = try ScratchFile(home: home, initial: initial)
        defer { scratch.remove() }
        switch try Editor.run(editor, on: scratch.path) {
        case .exited(0): break
        case .exited(let status): throw InputError("the editor exited with status \(status); nothing was saved")
        case .signaled(let signal): throw InputError("the editor was ended by signal \(signal); nothing was saved")
        }
        let edited = try scratch.contents()
        // Not UTF-8: refused later, when it is checked, and kept as a draft then.
        guard let text = String(validating: [UInt8](edited), as: UTF8.self) else { return edited }
        return Data(try accepted(text, initial: initial, purpose: purpose).utf8)
    }

    /// The editor's text, or the abort git would make: a new entry left empty (or blank, or as
    /// it started) and a body left as it was write nothing. A final line break the editor added
    /// (vim's 'fixeol') is not part of the text.
    static func accepted(_ edited: String, initial: String, purpose: Purpose) throws -> String {
        var text = edited
        if !initial.hasSuffix("\n") && !initial.hasSuffix("\r\n") {
            if text.hasSuffix("\r\n") || text.hasSuffix("\n") { text.removeLast() }
        }
        switch purpose {
        case .newEntry:
            guard !text.allSatisfy(\.isWhitespace), text != initial else { throw InputError("empty entry, nothing written") }
        case .change:
            guard text != initial else { throw InputError("no change, nothing written") }
        case .keptDraft:
            guard !text.allSatisfy(\.isWhitespace) else {
                throw InputError("empty entry, nothing written; the kept draft stays (`duet draft discard` removes it)")
            }
        }
        return text
    }
}

extension UnlockedDevice {
    /// Runs `write`; if it fails, text that exists only here (``BodyInput/Given/isOnlyHere``)
    /// is kept sealed as a draft, and the error says so.
    func keepingDraft<Value>(_ given: BodyInput.Given, entry: String? = nil, _ write: () throws -> Value) throws -> Value {
        do {
            return try write()
        } catch {
            guard given.isOnlyHere, !given.bytes.isEmpty else { throw error }
            let reason = englishReason(error)
            do { try keepDraft(given.bytes, entry: entry) } catch {
                throw InputError("\(reason); the text could not be kept as a draft either (\(englishReason(error)))")
            }
            let next = entry.map { "`duet draft show` prints it (it was a new text for entry \($0))" }
                ?? "`duet write` opens it again, `duet draft show` prints it"
            throw InputError("\(reason); your text is kept, sealed, as a draft: \(next)")
        }
    }
}

/// An error's English, without the `error:` the report adds.
func englishReason(_ error: any Error) -> String {
    switch error {
    case let error as DeviceError: error.english
    case let error as InputError: error.message
    default: String(describing: type(of: error))
    }
}
