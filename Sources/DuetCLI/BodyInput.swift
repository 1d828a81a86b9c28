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
                     purpose: Purpose = .newEntry, keepOnSignal: (@Sendable (Data) -> Bool)? = nil) throws -> Given {
        try read(message: message, file: file, home: home, keepOnSignal: keepOnSignal) { (initial, purpose) }
    }

    /// As above; `opening` is asked for the editor's start only when the editor opens (a kept
    /// draft is taken then, not when the text came another way).
    static func read(message: String?, file: String?, home: String, keepOnSignal: (@Sendable (Data) -> Bool)? = nil,
                     opening: () -> (initial: String, purpose: Purpose)) throws -> Given {
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
        let start = opening()
        return Given(bytes: try edit(initial: start.initial, home: home, purpose: start.purpose, keepOnSignal: keepOnSignal), source: .editor)
    }

    static func checked(_ data: Data) throws -> String {
        try EntryRules.text(utf8: data)
    }

    /// Opens the editor on `initial` in a file of the home's private scratch folder, removed
    /// afterwards whatever happens (``ScratchFile``); the editor itself may keep swap or backup
    /// files elsewhere. A failed or interrupted editor, or a session that changed nothing,
    /// aborts with nothing written.
    static func edit(initial: String, home: String, purpose: Purpose, keepOnSignal: (@Sendable (Data) -> Bool)? = nil) throws -> Data {
        guard let editor = Editor.command(in: ProcessInfo.processInfo.environment) else {
            throw InputError("no text given: use -m TEXT, --file PATH, pipe it on stdin, or set $EDITOR")
        }
        let scratch = try ScratchFile(home: home, initial: initial)
        // With a keeper, the handlers stay for the write that follows (keepUntilWritten).
        defer { scratch.remove(keepingHandlers: keepOnSignal != nil) }
        if let keepOnSignal { SignalCleanup.keepOnSignal(.init(source: .file(path: scratch.path, initial: Data(initial.utf8)), keep: keepOnSignal)) }
        let outcome = try Editor.run(editor, on: scratch.path)
        if outcome != .exited(0) {
            let reason = switch outcome {
            case .exited(let status): "the editor exited with status \(status)"
            case .signaled(let signal): "the editor was ended by signal \(signal)"
            }
            // What it saved before it failed is kept (vim exits 1 after an error in the session).
            if let saved = try? scratch.contents(), saved != Data(initial.utf8), !saved.isEmpty {
                throw EditorFailed(reason: reason, saved: saved)
            }
            throw InputError("\(reason); nothing was saved")
        }
        if purpose == .keptDraft && !scratch.wasSaved {
            throw InputError("the draft was not saved again, so nothing was written; it stays kept (`duet draft list`)")
        }
        let edited = try scratch.contents()
        // From here a signal keeps the text itself: the file goes when this returns.
        if let keepOnSignal { SignalCleanup.keepOnSignal(.init(source: .text(edited), keep: keepOnSignal)) }
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

/// An editor that failed after saving text: the text is kept as a draft, not thrown away.
struct EditorFailed: Error {
    let reason: String
    let saved: Data
}

/// Where a draft would go: a new entry (with the write's `--shared` and `--reply-to`) or a new
/// text for an entry.
struct DraftOptions {
    var entry: String?
    var shared = false
    var replyTo: String?
}

extension UnlockedDevice {
    /// What a signal during the editor does with its saved text: keeps it as a draft.
    func keeper(_ options: DraftOptions) -> @Sendable (Data) -> Bool {
        let entry = options.entry, shared = options.shared, replyTo = options.replyTo
        return { [self] text in (try? keepDraft(text, entry: entry, shared: shared, replyTo: replyTo)) != nil }
    }

    /// Reads the body with `read`; an editor that failed after saving has its text kept as a draft.
    func readKeepingDraft(_ options: DraftOptions, _ read: () throws -> BodyInput.Given) throws -> BodyInput.Given {
        do {
            return try read()
        } catch let failure as EditorFailed {
            SignalCleanup.disarm()
            throw kept(failure.saved, options, reason: failure.reason, what: "what it had saved")
        } catch {
            // Nothing to keep: the handlers the editor's file left in place go.
            SignalCleanup.disarm()
            throw error
        }
    }

    /// Runs `write`; if it fails, text that exists only here (``BodyInput/Given/isOnlyHere``)
    /// is kept sealed as a draft, and the error says so. A resumed draft (`claim`) is done
    /// with once its words are written or kept anew.
    func keepingDraft<Value>(_ given: BodyInput.Given, _ options: DraftOptions, claim: ClaimedDraft? = nil,
                             _ write: () throws -> Value) throws -> Value {
        // Until it is written or kept, a signal (a closed terminal during a busy journal's wait)
        // keeps the text too.
        if given.isOnlyHere { try SignalCleanup.keepUntilWritten(home: device.home, text: given.bytes, keep: keeper(options)) }
        defer { SignalCleanup.disarm() }
        do {
            let value = try write()
            claim?.finish()
            return value
        } catch {
            guard given.isOnlyHere, !given.bytes.isEmpty else { throw error }
            let failure = kept(given.bytes, options, reason: englishReason(error), what: "your text")
            if failure.message.contains("is kept, sealed") { claim?.finish() }
            throw failure
        }
    }

    /// Keeps `text` as a draft and says so (or that it could not be kept either).
    private func kept(_ text: Data, _ options: DraftOptions, reason: String, what: String) -> InputError {
        let id: String
        do { id = try keepDraft(text, entry: options.entry, shared: options.shared, replyTo: options.replyTo) } catch {
            return InputError("\(reason); the text could not be kept as a draft either (\(englishReason(error)))")
        }
        let next = options.entry.map { "`duet draft show \(id)` prints it (a new text for entry \($0))" }
            ?? "the next `duet write`\(options.shared ? " --shared" : "")\(options.replyTo.map { " --reply-to \($0)" } ?? "") opens it again, `duet draft show \(id)` prints it"
        return InputError("\(reason); \(what) is kept, sealed, as draft \(id): \(next)")
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
