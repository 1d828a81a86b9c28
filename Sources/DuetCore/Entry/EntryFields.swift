/// An entry's registers, sets and acknowledgements, kept behind one reference with copy on
/// write (like ``Body``'s storage).
///
/// Why: they are twenty reference-counted buffers. Held inline, every move of an `Entry` — in
/// and out of the journal's table, into the editor and back, once per keystroke's change —
/// retained and released each of them; behind one reference a move costs one. They change
/// rarely (a title, a mood, a tag), so the indirection costs nothing where it is paid.
final class EntryFields: @unchecked Sendable {
    // @unchecked: mutated only through `Entry.uniqueFields()`, after `isKnownUniquelyReferenced`
    // proves no other entry (on any thread) shares this instance.
    var title = Register<String>()
    var mood = Register<UInt8?>()
    var deleted = Register<Bool>()
    var kind = Register<String>()
    var replyTo = Register<EntryID?>()
    var date = Register<UInt64?>()
    var starred = Register<Bool>()
    var originalAuthor = Register<String?>()
    var factors = ObservedRemoveSet<Factor>()
    var tags = ObservedRemoveSet<String>()
    var acknowledgements: Set<Stamp> = []

    init() {}

    init(copying other: EntryFields) {
        title = other.title
        mood = other.mood
        deleted = other.deleted
        kind = other.kind
        replyTo = other.replyTo
        date = other.date
        starred = other.starred
        originalAuthor = other.originalAuthor
        factors = other.factors
        tags = other.tags
        acknowledgements = other.acknowledgements
    }
}
