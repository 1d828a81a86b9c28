import ArgumentParser
import DuetDevice
import Foundation

/// `duet draft`: the text kept when an entry could not be written (issue #16).
struct DraftCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "draft",
        abstract: "The draft kept when an entry could not be written: show it or discard it.",
        discussion: """
            When the text from the editor (or stdin) cannot be written (too long, a full disk, a journal kept busy), \
            it is kept sealed in the home, readable only on this device. The next `duet write` opens it again in the editor.
            """,
        subcommands: [DraftShowCommand.self, DraftDiscardCommand.self])
}

struct DraftShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print the kept draft's text.")
    @OptionGroup var common: CommonOptions

    func run() throws {
        try reportingErrors {
            guard let draft = try common.unlock().draft() else { throw InputError("no draft is kept") }
            let purpose = draft.entry.map { "as a new text for entry \($0)" } ?? "for a new entry"
            note("kept \(LocalTime.full(draft.keptAt)), \(purpose)")
            writeOut(draft.text)
        }
    }
}

struct DraftDiscardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "discard", abstract: "Remove the kept draft for good.")
    @OptionGroup var common: CommonOptions

    func run() throws {
        try reportingErrors {
            // Unlocked first: whoever may remove the words must be able to read them.
            print(try common.unlock().discardDraft() ? "Draft discarded." : "No draft was kept.")
        }
    }
}

/// The kept draft, if any; one that cannot be opened is named in a note and left alone (it
/// never stops a new entry).
func keptDraft(_ unlocked: UnlockedDevice) -> Draft? {
    do { return try unlocked.draft() } catch {
        note(englishReason(error))
        return nil
    }
}

/// One line on stderr that is not an error: the command goes on.
func note(_ text: String) {
    FileHandle.standardError.write(Data("note: \(Display.line(text))\n".utf8))
}
