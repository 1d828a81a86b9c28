import DuetDevice
import Foundation

/// Where a body comes from: `-m`, `--file`, standard input when it is not a terminal and not
/// empty, else the editor (`$VISUAL`, `$EDITOR`) on a temporary file in the home's private
/// scratch folder.
enum BodyInput {
    static func read(message: String?, file: String?, home: String, initial: String = "",
                     purpose: Purpose = .newEntry) throws -> String? {
        if let message { return message }
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw InputError("cannot read \(file)")
            }
            return try checked(data)
        }
        if isatty(STDIN_FILENO) == 0 {
            // Empty input (a script with stdin closed, /dev/null) is "no text given", never
            // "replace the body with nothing": `-m ""` says that explicitly.
            let data = FileHandle.standardInput.readDataToEndOfFile()
            if !data.isEmpty { return try checked(data) }
        }
        return try edit(initial: initial, home: home, purpose: purpose)
    }

    static func checked(_ data: Data) throws -> String {
        try EntryRules.text(utf8: data)
    }

    /// What quitting the editor without a change means, like git: for a new entry, nothing to
    /// write; for an entry's body, nothing to change.
    enum Purpose {
        case newEntry
        case change
    }

    /// Opens the editor on `initial` in a file of the home's private scratch folder, removed
    /// afterwards whatever happens (``ScratchFile``); the editor itself may keep swap or backup
    /// files elsewhere. A failed or interrupted editor, or a session that changed nothing,
    /// aborts with nothing written.
    static func edit(initial: String, home: String, purpose: Purpose) throws -> String? {
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
        return try accepted(try checked(scratch.contents()), initial: initial, purpose: purpose)
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
        }
        return text
    }
}
