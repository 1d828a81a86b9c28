import ArgumentParser
import DuetDevice
import Foundation

struct WriteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "write",
        abstract: "Write a new entry; prints its id.",
        discussion: """
            With no -m or --file, the text is read from stdin when it is not a terminal, else from $VISUAL/$EDITOR \
            (with its arguments, e.g. EDITOR="code --wait"). Quitting the editor without writing anything writes \
            no entry ("empty entry, nothing written", exit 1). Text that then cannot be written (too long, a full disk, \
            an editor that failed after saving) is kept sealed as a draft; the next write with the same --shared and \
            --reply-to opens it again in the editor, where saving writes it and quitting unsaved keeps it (`duet draft`).
            """)

    @OptionGroup var common: CommonOptions

    @Flag(help: "Share with your partner (once paired): both of you can read, edit and answer it.")
    var shared = false

    @Option(help: "A title.")
    var title: String?

    @Option(name: .customLong("factor"), help: "safety, attunement, comfort, delight or exploration (repeatable).", completion: .factors)
    var factors: [String] = []

    @Option(name: .customLong("tag"), help: "A tag (repeatable).")
    var tags: [String] = []

    @Option(help: "Mood from 1 to 5.")
    var mood: Int?

    @Option(help: "The id of the entry this answers (yours or your partner's); the reply is shared when that entry is.")
    var replyTo: String?

    @Option(help: ArgumentHelp("When it was written, if not now (local time; a day alone is 09:00 that day).", discussion: DateWording.help))
    var date: String?

    @Flag(help: "Star it. On a shared entry the star is one flag for both of you: either can star or unstar it.")
    var star = false

    @Option(name: .short, help: "The text of the entry.")
    var m: String?

    @Option(help: "Read the text from this file.", completion: .file())
    var file: String?

    func validate() throws {
        if m != nil && file != nil { throw ValidationError("give the text with -m or --file, not both") }
    }

    func run() throws {
        try reportingErrors {
            var entry = NewEntry(visibility: shared ? .shared : .private, title: title, factors: factors, tags: tags, mood: mood, replyTo: replyTo,
                                 starred: star)
            entry.date = try date.map { text throws(DeviceError) in try LocalTime.parse(text).entryDate(text) }
            try entry.validate()
            // Unlocked before the editor opens: a passphrase mistyped afterwards cannot cost the text.
            let unlocked = try common.unlock()
            let options = DraftOptions(entry: nil, shared: shared, replyTo: replyTo)
            // The newest draft kept by a write with these options opens again in the editor, to
            // be written (saved as it is, or changed); other input leaves every draft kept.
            // Drafts are opened only when the editor opens: a write given its text another way
            // counts the files and decrypts nothing (there may be a hundred of 16 MiB).
            let kept = Draft.keptCount(home: unlocked.device.home)
            var claim: ClaimedDraft?
            // Given back on every way out but success (finish() comes first then).
            defer { claim?.release() }
            let given = try unlocked.readKeepingDraft(options) {
                try BodyInput.read(message: m, file: file, home: unlocked.device.home, keepOnSignal: unlocked.keeper(options)) {
                    let drafts = kept == 0 ? [] : waitingDrafts(unlocked)
                    claim = drafts.last { $0.entry == nil && $0.shared == shared && $0.replyTo == replyTo }.flatMap(unlocked.claimDraft)
                    if let claim {
                        note("opening the draft kept \(LocalTime.full(claim.draft.keptAt)); save to write it, quit without saving to keep it")
                    }
                    return (claim.map { String(decoding: $0.draft.text, as: UTF8.self) } ?? "", claim == nil ? .newEntry : .keptDraft)
                }
            }
            let others = kept - (claim == nil ? 0 : 1)
            if others > 0 { note("\(others == 1 ? "a kept draft is" : "\(others) kept drafts are") waiting: `duet draft list` shows them") }
            let id = try unlocked.keepingDraft(given, options, claim: claim) { [entry] in
                var entry = entry
                entry.body = try BodyInput.checked(given.bytes)
                // A reply without --shared goes where the entry it answers lives: said when that is
                // the shared space, so that no one shares without knowing (stdout stays the id).
                if let replyTo, !shared {
                    let id = try unlocked.reply(to: replyTo, entry)
                    if try unlocked.visibility(of: id) == .shared { note("the reply is shared, as the entry it answers is") }
                    return id
                }
                return try unlocked.write(entry)
            }
            print(id)
        }
    }
}

struct EditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edit",
        abstract: "Change an entry. A new body is diffed against the old one, so only changed characters become operations.",
        discussion: """
            With no text or field option, $VISUAL/$EDITOR opens on the current body; leaving it unchanged \
            changes nothing ("no change, nothing written", exit 1).
            """)

    @OptionGroup var common: CommonOptions

    @Argument(help: "The entry's id or a unique prefix of 4+ characters.")
    var id: String

    @Option(name: .short, help: "The new text.")
    var m: String?

    @Option(help: "Read the new text from this file.", completion: .file())
    var file: String?

    @Option(help: "A new title.")
    var title: String?

    @Option(help: "A new mood from 1 to 5.")
    var mood: Int?

    @Option(help: "Add a factor (repeatable).", completion: .factors)
    var addFactor: [String] = []

    @Option(help: "Remove a factor (repeatable).", completion: .factors)
    var removeFactor: [String] = []

    @Option(help: "Add a tag (repeatable).")
    var addTag: [String] = []

    @Option(help: "Remove a tag (repeatable).")
    var removeTag: [String] = []

    @Option(help: ArgumentHelp("A new time for when it was written (local time; a day alone is 09:00 that day).", discussion: DateWording.help))
    var date: String?

    @Flag(help: "Star it. On a shared entry the star is one flag for both of you: the latest change wins.")
    var star = false

    @Flag(help: "Remove its star.")
    var unstar = false

    func validate() throws {
        if m != nil && file != nil { throw ValidationError("give the text with -m or --file, not both") }
        if star && unstar { throw ValidationError("choose --star or --unstar, not both") }
    }

    func run() throws {
        try reportingErrors {
            var changes = EntryChanges(title: title, mood: mood, addFactors: addFactor, removeFactors: removeFactor,
                                       addTags: addTag, removeTags: removeTag, starred: star ? true : unstar ? false : nil)
            changes.date = try date.map { text throws(DeviceError) in try LocalTime.parse(text).entryDate(text) }
            try changes.validate()
            let unlocked = try common.unlock()
            if m != nil || file != nil || !changes.changesMetadata {
                // The editor opens on the text as it is now; what arrives while it is open (the
                // partner's answer, duetd applying another device's edit) is kept: the change is
                // made against this version, not against the text at saving time.
                let current = try unlocked.show(id).record
                changes.base = current.version
                let options = DraftOptions(entry: current.id)
                let given = try unlocked.readKeepingDraft(options) {
                    try BodyInput.read(message: m, file: file, home: unlocked.device.home, initial: current.body, purpose: .change,
                                       keepOnSignal: unlocked.keeper(options))
                }
                return print(try unlocked.keepingDraft(given, options) { [changes] in
                    var changes = changes
                    changes.body = try BodyInput.checked(given.bytes)
                    return try unlocked.edit(id, changes)
                })
            }
            print(try unlocked.edit(id, changes))
        }
    }
}

struct DeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete an entry (a tombstone: `duet restore` undoes it).")
    @OptionGroup var common: CommonOptions
    @Argument(help: "The entry's id or a unique prefix of 4+ characters.") var id: String

    func run() throws {
        try reportingErrors { try setDeleted(true, id: id, common: common) }
    }
}

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restore", abstract: "Restore a deleted entry.")
    @OptionGroup var common: CommonOptions
    @Argument(help: "The entry's id or a unique prefix of 4+ characters.") var id: String

    func run() throws {
        try reportingErrors { try setDeleted(false, id: id, common: common) }
    }
}

private func setDeleted(_ deleted: Bool, id text: String, common: CommonOptions) throws {
    print(try common.unlock().setDeleted(deleted, text))
}
