import ArgumentParser
import DuetCore
import DuetCrypto
import DuetStore
import Foundation

struct WriteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "write",
        abstract: "Write a new entry; prints its id.",
        discussion: "With no -m or --file, the text is read from stdin when it is not a terminal, else from $VISUAL/$EDITOR.")

    @OptionGroup var common: CommonOptions

    @Flag(help: "Share with your partner (once paired): both of you can read, edit and answer it.")
    var shared = false

    @Option(help: "A title.")
    var title: String?

    @Option(name: .customLong("factor"), help: "safety, attunement, comfort, delight or exploration (repeatable).")
    var factors: [String] = []

    @Option(name: .customLong("tag"), help: "A tag (repeatable).")
    var tags: [String] = []

    @Option(help: "Mood from 1 to 5.")
    var mood: Int?

    @Option(help: "The id of the entry this answers.")
    var replyTo: String?

    @Option(name: .short, help: "The text of the entry.")
    var m: String?

    @Option(help: "Read the text from this file.")
    var file: String?

    func validate() throws {
        if m != nil && file != nil { throw ValidationError("give the text with -m or --file, not both") }
    }

    func run() throws {
        try reportingErrors {
            let factors = try self.factors.map(parseFactor)
            let tags = try self.tags.map(checkTag)
            let mood = try self.mood.map(parseMood)
            let title = try self.title.map(checkTitle)
            // Read the text before unlocking, so the editor is not kept waiting on Argon2id.
            let store = try Store.open(home: common.resolvedHome)
            let body = try BodyInput.read(message: m, file: file, home: store.home) ?? []
            let unlocked = try applyingPending(try store.unlock(passphrase: try PassphraseSource.read(file: common.passphraseFile)))
            let replyTarget = try replyTo.map { try unlocked.resolve($0) }
            if shared, let replyTarget, try unlocked.spaceKind(of: replyTarget) != .couple {
                throw InputError("a shared entry can only answer a shared entry: \(replyTarget) is private (`duet share` it first)")
            }
            var random = SystemRandomSource()
            let id = EntryID.random(using: &random)
            try unlocked.commit(entry: id, in: shared ? .couple : .personal, now: nowMilliseconds) { editor in
                editor.create()
                if let title { editor.setTitle(title) }
                if let mood { editor.setMood(mood) }
                for factor in factors { editor.addFactor(factor) }
                for tag in tags { editor.addTag(tag) }
                if let replyTarget { editor.setReplyTo(replyTarget) }
                editor.insertText(body, at: 0)
            }
            print(id.description)
        }
    }
}

struct EditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edit",
        abstract: "Change an entry. A new body is diffed against the old one, so only changed characters become operations.")

    @OptionGroup var common: CommonOptions

    @Argument(help: "The entry's id or a unique prefix of 4+ characters.")
    var id: String

    @Option(name: .short, help: "The new text.")
    var m: String?

    @Option(help: "Read the new text from this file.")
    var file: String?

    @Option(help: "A new title.")
    var title: String?

    @Option(help: "A new mood from 1 to 5.")
    var mood: Int?

    @Option(help: "Add a factor (repeatable).")
    var addFactor: [String] = []

    @Option(help: "Remove a factor (repeatable).")
    var removeFactor: [String] = []

    @Option(help: "Add a tag (repeatable).")
    var addTag: [String] = []

    @Option(help: "Remove a tag (repeatable).")
    var removeTag: [String] = []

    func validate() throws {
        if m != nil && file != nil { throw ValidationError("give the text with -m or --file, not both") }
    }

    private var changesOnlyMetadata: Bool {
        title != nil || mood != nil || !addFactor.isEmpty || !removeFactor.isEmpty || !addTag.isEmpty || !removeTag.isEmpty
    }

    func run() throws {
        try reportingErrors {
            let adding = try addFactor.map(parseFactor), removing = try removeFactor.map(parseFactor)
            let tagsToAdd = try addTag.map(checkTag), tagsToRemove = try removeTag.map(checkTag)
            let mood = try self.mood.map(parseMood)
            let title = try self.title.map(checkTitle)
            let store = try Store.open(home: common.resolvedHome)
            let unlocked = try applyingPending(try store.unlock(passphrase: try PassphraseSource.read(file: common.passphraseFile)))
            let id = try unlocked.resolve(self.id)
            guard let current = try unlocked.entry(id) else { throw StoreError(.unknownEntry, "entry \(id) is gone") }
            var body: [Unicode.Scalar]?
            if m != nil || file != nil || !changesOnlyMetadata {
                body = try BodyInput.read(message: m, file: file, home: store.home, initial: current.body.string)
            }
            try unlocked.commit(entry: id, now: nowMilliseconds) { editor in
                if let title, title != editor.entry.title.value { editor.setTitle(title) }
                if let mood, mood != (editor.entry.mood.value ?? nil) { editor.setMood(mood) }
                for factor in adding where !editor.entry.factors.contains(factor) { editor.addFactor(factor) }
                for factor in removing where editor.entry.factors.contains(factor) { editor.removeFactor(factor) }
                for tag in tagsToAdd where !editor.entry.tags.contains(tag) { editor.addTag(tag) }
                for tag in tagsToRemove where editor.entry.tags.contains(tag) { editor.removeTag(tag) }
                if let body { editor.replaceBody(with: body) }
            }
            print(id.description)
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
    let unlocked = try common.unlock()
    let id = try unlocked.resolve(text)
    guard let entry = try unlocked.entry(id) else { throw StoreError(.unknownEntry, "entry \(id) is gone") }
    guard entry.isDeleted != deleted else {
        throw InputError("entry \(id) is \(deleted ? "already deleted" : "not deleted"); nothing was changed")
    }
    try unlocked.commit(entry: id, now: nowMilliseconds) { $0.setDeleted(deleted) }
    print(id.description)
}
