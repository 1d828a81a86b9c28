import DuetCore
import DuetCrypto
import DuetStore
import DuetSync

/// A device's journal, unlocked: every use case that reads or writes entries, and the
/// exchanges with the relay. Made by ``Device/unlock(_:)`` or by creating, joining or
/// recovering a journal.
public struct UnlockedDevice: Sendable {
    public let device: Device
    let unlocked: UnlockedStore

    var store: Store { device.store }
    var environment: DeviceEnvironment { device.environment }

    /// The person's name, as the partner sees it.
    public var name: String { unlocked.keystore.name }
    /// This device's id.
    public var deviceID: String { unlocked.keystore.deviceID.description }

    /// Re-seals the keystore under a new passphrase (nothing else is rewritten). On the
    /// unlocked journal, so the old passphrase is hashed once, by the unlock.
    public func changePassphrase(to new: Passphrase) throws(DeviceError) {
        let replacement = try new.checkedNew()
        try translatingErrors { try store.changePassphrase(unlocked, to: replacement, parameters: environment.passphraseHashing.parameters) }
    }

    // MARK: - Writing

    /// Writes a new entry; returns its id.
    @discardableResult
    public func write(_ new: NewEntry) throws(DeviceError) -> String {
        let checked = try new.checked()
        let replyTarget = try new.replyTo.map(resolve)
        // A reply lives where the entry it answers lives: a shared answer to a private entry
        // would show the partner a thread they cannot read, a private answer to a shared one
        // would never reach the partner it answers (and read as if it had).
        if let replyTarget {
            let targetKind = try kind(of: replyTarget)
            if new.visibility == .shared, targetKind != .couple { throw .sharedReplyToPrivate(id: replyTarget.description) }
            if new.visibility == .private, targetKind == .couple { throw .privateReplyToShared(id: replyTarget.description) }
        }
        var random = environment.generator
        let id = EntryID.random(using: &random)
        try translatingErrors {
            try unlocked.commit(entry: id, in: new.visibility.kind, now: environment.now) { editor in
                editor.create()
                if let title = checked.title { editor.setTitle(title) }
                if let mood = checked.mood { editor.setMood(mood) }
                for factor in checked.factors { editor.addFactor(factor) }
                for tag in checked.tags { editor.addTag(tag) }
                if let replyTarget { editor.setReplyTo(replyTarget) }
                if let date = new.date { editor.setDate(date) }
                if new.starred { editor.setStarred(true) }
                editor.insertText(checked.body, at: 0)
            }
        }
        return id.description
    }

    /// Answers an entry: a new entry in the same space, pointing at it (a partner's shared entry
    /// as well as one's own; whatever `new.visibility` says).
    @discardableResult
    public func reply(to target: String, _ new: NewEntry) throws(DeviceError) -> String {
        let id = try resolve(target)
        var answer = new
        answer.replyTo = id.description
        answer.visibility = try kind(of: id) == .couple ? .shared : .private
        return try write(answer)
    }

    /// Changes an entry; returns its id. Only what differs becomes operations; a body edited
    /// from `changes.base` keeps whatever arrived since that version was read.
    @discardableResult
    public func edit(_ reference: String, _ changes: EntryChanges) throws(DeviceError) -> String {
        // Checked before the entry is looked up, so bad input is refused however the id reads.
        let body = try changes.body.map(EntryRules.body)
        let title = try changes.title.map(EntryRules.title), mood = try changes.mood.map(EntryRules.mood)
        let adding = try changes.addFactors.map(EntryRules.factor), removing = try changes.removeFactors.map(EntryRules.factor)
        let tagsToAdd = try changes.addTags.map(EntryRules.tag), tagsToRemove = try changes.removeTags.map(EntryRules.tag)
        // Resolved from the entries table: the entry exists, and the commit edits it where it lives.
        let id = try resolve(reference)
        let base = changes.base.flatMap { $0.entry == id ? $0.body : nil }
        try translatingErrors {
            try unlocked.commit(entry: id, now: environment.now) { editor in
                if let title, title != editor.entry.title.value { editor.setTitle(title) }
                if let mood, mood != (editor.entry.mood.value ?? nil) { editor.setMood(mood) }
                for factor in adding where !editor.entry.factors.contains(factor) { editor.addFactor(factor) }
                for factor in removing where editor.entry.factors.contains(factor) { editor.removeFactor(factor) }
                for tag in tagsToAdd where !editor.entry.tags.contains(tag) { editor.addTag(tag) }
                for tag in tagsToRemove where editor.entry.tags.contains(tag) { editor.removeTag(tag) }
                if let date = changes.date, date != (editor.entry.date.value ?? nil) ?? editor.entry.creation?.hlc.milliseconds {
                    editor.setDate(date)
                }
                if let starred = changes.starred, starred != editor.entry.isStarred { editor.setStarred(starred) }
                if let body {
                    if let base { editor.replaceBody(with: body, since: base) } else { editor.replaceBody(with: body) }
                }
            }
        }
        return id.description
    }

    /// Deletes an entry (a tombstone) or restores it; returns its id.
    @discardableResult
    public func setDeleted(_ deleted: Bool, _ reference: String) throws(DeviceError) -> String {
        let id = try resolve(reference)
        let entry = try existing(id)
        guard entry.isDeleted != deleted else {
            throw deleted ? .alreadyDeleted(id: id.description) : .notDeleted(id: id.description)
        }
        try translatingErrors { try unlocked.commit(entry: id, now: environment.now) { $0.setDeleted(deleted) } }
        return id.description
    }

    /// Copies a private entry into the couple space as a new shared entry; returns the copy's
    /// id. The private one, with its history, stays where it is.
    @discardableResult
    public func share(_ reference: String) throws(DeviceError) -> String {
        let source = try resolve(reference)
        let entry = try existing(source)
        guard try kind(of: source) == .personal else { throw .alreadyShared(id: source.description) }
        guard !entry.isDeleted else { throw .deleted(id: source.description) }
        var random = environment.generator
        let copy = EntryID.random(using: &random)
        try translatingErrors { try unlocked.commit(entry: copy, in: .couple, now: environment.now) { $0.recreate(from: entry) } }
        return copy.description
    }

    /// Marks a shared entry of the partner's as read and heard; returns its id.
    @discardableResult
    public func acknowledge(_ reference: String) throws(DeviceError) -> String {
        let target = try resolve(reference)
        let entry = try existing(target)
        guard try kind(of: target) == .couple else { throw .acknowledgingPrivate(id: target.description) }
        let authors = try translatingErrors { try Authors(unlocked) }
        guard let author = entry.author, !authors.isMine(author) else { throw .acknowledgingOwn(id: target.description) }
        guard !entry.acknowledgements.contains(where: { authors.isMine($0.device) }) else {
            throw .alreadyAcknowledged(id: target.description)
        }
        try translatingErrors { try unlocked.commit(entry: target, now: environment.now) { $0.acknowledge() } }
        return target.description
    }

    // MARK: - Reading

    /// One entry, with its history when asked.
    public func show(_ reference: String, history: Bool = false) throws(DeviceError) -> EntryDetail {
        let id = try resolve(reference)
        let entry = try existing(id)
        return try translatingErrors {
            let authors = try Authors(unlocked)
            let kind = try unlocked.spaceKind(of: id) ?? .personal
            let record = EntryRecord(entry, kind: kind, authors: authors)
            let delivered = try unlocked.deliveredTo(id).map(authors.author)
            return EntryDetail(record: record, history: history ? EntryHistory(entry, authors: authors) : nil, deliveredTo: delivered,
                               parent: try parent(of: entry, authors: authors), replies: try replies(to: id, in: kind, authors: authors))
        }
    }

    /// Which space the entry `reference` names lives in (what a reply to it gets).
    public func visibility(of reference: String) throws(DeviceError) -> Visibility {
        let id = try resolve(reference)
        guard let kind = try kind(of: id) else { throw .entryGone(id: id.description) }
        return Visibility(kind)
    }

    /// The entry an id or a unique prefix of 4+ characters names.
    func resolve(_ text: String) throws(DeviceError) -> EntryID {
        guard let (normalised, matches) = try translatingErrors({ try unlocked.entries(matchingPrefix: text) }) else {
            throw .notAnEntryID(text)
        }
        switch matches.count {
        case 1: return matches[0]
        case 0: throw .unknownEntry(prefix: normalised)
        default: throw .ambiguousEntry(prefix: normalised, matches: matches.prefix(5).map(\.description), more: matches.count > 5)
        }
    }

    func existing(_ id: EntryID) throws(DeviceError) -> Entry {
        guard let entry = try translatingErrors({ try unlocked.entry(id) }) else { throw .entryGone(id: id.description) }
        return entry
    }

    func kind(of id: EntryID) throws(DeviceError) -> SpaceKind? {
        try translatingErrors { try unlocked.spaceKind(of: id) }
    }
}
