import ArgumentParser
import DuetDevice
import Foundation

/// `duet draft`: the texts kept when an entry could not be written (issue #16).
struct DraftCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "draft",
        abstract: "The drafts kept when an entry could not be written: list, show or discard them.",
        discussion: """
            When the text from the editor (or stdin) cannot be written (too long, a full disk, a journal kept busy, an \\
            editor that failed after saving), it is kept sealed in the home, readable only on this device. The next \\
            `duet write` with the same --shared and --reply-to opens the newest such draft again in the editor.
            """,
        subcommands: [DraftListCommand.self, DraftShowCommand.self, DraftDiscardCommand.self])
}

struct DraftListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the kept drafts, oldest first.")
    @OptionGroup var common: CommonOptions

    func run() throws {
        try reportingErrors {
            let listing = try common.unlock().drafts()
            if listing.drafts.isEmpty && listing.damaged.isEmpty { return print("No drafts are kept.") }
            for draft in listing.drafts {
                let first = String(decoding: draft.text.prefix(200), as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
                print("\(draft.id)  \(LocalTime.minute(draft.keptAt))  \(purpose(draft))  \(Display.line(String(first.prefix(60))))")
            }
            for id in listing.damaged { print("\(id)  (cannot be opened: damaged, or another device's)") }
        }
    }
}

struct DraftShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print a kept draft's text (the newest unless an id is given).")
    @OptionGroup var common: CommonOptions
    @Argument(help: "The draft's id, as `duet draft list` shows it.") var id: String?

    func run() throws {
        try reportingErrors {
            let listing = try common.unlock().drafts()
            if let id, listing.damaged.contains(id) { throw DeviceError.draftDamaged(id: id) }
            let draft = try id.map { id in
                guard let found = listing.drafts.first(where: { $0.id == id }) else { throw InputError("no draft \(id) is kept (`duet draft list`)") }
                return found
            } ?? listing.drafts.last
            guard let draft else {
                throw listing.damaged.first.map { DeviceError.draftDamaged(id: $0) as any Error } ?? InputError("no draft is kept")
            }
            note("draft \(draft.id), kept \(LocalTime.full(draft.keptAt)), \(purpose(draft))")
            writeOut(draft.text)
        }
    }
}

struct DraftDiscardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "discard", abstract: "Remove a kept draft for good.")
    @OptionGroup var common: CommonOptions
    @Argument(help: "The draft's id (needed when more than one is kept).") var id: String?

    func run() throws {
        try reportingErrors {
            // Unlocked first: whoever may remove the words must be able to read them.
            let unlocked = try common.unlock()
            let listing = unlocked.drafts()
            let ids = listing.drafts.map(\.id) + listing.damaged
            guard let target = id ?? (ids.count == 1 ? ids.first : nil) else {
                if ids.isEmpty { return print("No draft was kept.") }
                throw InputError("\(ids.count) drafts are kept; name the one to discard (`duet draft list`)")
            }
            guard try unlocked.discardDraft(id: target) else { throw InputError("no draft \(target) is kept (`duet draft list`)") }
            print("Draft \(target) discarded.")
        }
    }
}

private func purpose(_ draft: Draft) -> String {
    if let entry = draft.entry { return "a new text for entry \(entry)" }
    let place = draft.shared ? "a new shared entry" : "a new entry"
    return draft.replyTo.map { "\(place), a reply to \($0)" } ?? place
}

/// The kept drafts; one that cannot be opened is named in a note and left alone (it never
/// stops a new entry).
func waitingDrafts(_ unlocked: UnlockedDevice) -> [Draft] {
    let listing = unlocked.drafts()
    for id in listing.damaged { note(DeviceError.draftDamaged(id: id).english) }
    return listing.drafts
}

/// One line on stderr that is not an error: the command goes on.
func note(_ text: String) {
    FileHandle.standardError.write(Data("note: \(Display.line(text))\n".utf8))
}
