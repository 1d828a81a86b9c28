import DuetCore
import DuetCrypto
import DuetDevice
import DuetStore
import DuetTesting
import Foundation
import GRDB
import Testing

/// Replies between partners, in process through the real relay service: where a reply lives,
/// who sees it, and how `show` and `list` give the thread.
@Suite("Threads: replies and their entries")
struct ThreadTests {
    @Test("Sam's reply to Alex's shared entry is shared, reaches Alex under Sam's name, and Alex's show lists it")
    func replyToPartnersSharedEntry() async throws {
        let couple = try await TwoPartners.make()
        defer { couple.remove() }
        let shared = try couple.alex.write(NewEntry(visibility: .shared, title: "Sunday", body: "We walked by the river."))
        try await couple.syncBoth()
        // Dated, so that "oldest first" does not hang on two devices' clocks within a millisecond.
        let answer = try couple.sam.reply(to: shared, NewEntry(body: "Thank you for Sunday.", date: 1_800_000_000_000))
        let own = try couple.alex.reply(to: shared, NewEntry(body: "And the ducks.", date: 1_800_000_060_000))
        try await couple.syncBoth()

        let onAlex = try couple.alex.show(shared)
        #expect(onAlex.replies.map(\.id) == [answer, own], "oldest first: \(onAlex.replies.map(\.body))")
        #expect(onAlex.replies.map { $0.author?.person } == ["Sam", "Alex"])
        #expect(onAlex.replies.allSatisfy { $0.visibility == .shared })
        #expect(onAlex.parent == nil)
        let reply = try couple.alex.show(answer)
        guard case .entry(let parent) = reply.parent else { Issue.record("no parent: \(String(describing: reply.parent))"); return }
        #expect(parent.id == shared && parent.author?.person == "Alex")
        #expect(try couple.sam.show(shared).replies.count == 2, "Sam sees both replies too")

        let listed = try couple.alex.list()
        #expect(listed.first { $0.id == shared }?.replyCount == 2)
        #expect(listed.first { $0.id == answer }?.replyCount == 0)

        // A deleted reply is no longer counted or shown (it stays restorable).
        try couple.alex.setDeleted(true, own)
        #expect(try couple.alex.show(shared).replies.map(\.id) == [answer])
        #expect(try couple.alex.list().first { $0.id == shared }?.replyCount == 1)
    }

    @Test("A reply lives where the entry it answers lives: a private one to a shared entry, or the reverse, is refused")
    func replySpaces() async throws {
        let couple = try await TwoPartners.make()
        defer { couple.remove() }
        let shared = try couple.alex.write(NewEntry(visibility: .shared, body: "shared"))
        let secret = try couple.alex.write(NewEntry(body: "private"))
        try await couple.syncBoth()
        #expect(throws: DeviceError.privateReplyToShared(id: shared)) {
            try couple.sam.write(NewEntry(visibility: .private, body: "only I would see this", replyTo: shared))
        }
        #expect(throws: DeviceError.sharedReplyToPrivate(id: secret)) {
            try couple.alex.write(NewEntry(visibility: .shared, body: "to my own secret", replyTo: secret))
        }
        let note = try couple.alex.reply(to: secret, NewEntry(body: "a note to myself"))
        #expect(try couple.alex.show(note).record.visibility == .private)
        #expect(try couple.alex.show(secret).replies.map(\.id) == [note])
        try await couple.syncBoth()
        #expect(try couple.sam.list().allSatisfy { $0.id != note && $0.id != secret })
    }

    @Test("--date: an entry written with a date is listed by it, and edit moves it")
    func dates() async throws {
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        let id = try couple.alex.write(NewEntry(body: "long ago", date: 1_000_000_000_000))
        #expect(try couple.alex.show(id).record.created == 1_000_000_000_000)
        #expect(try couple.alex.list(EntryFilter(until: 1_000_000_000_001)).map(\.id) == [id])
        try couple.alex.edit(id, EntryChanges(date: 1_700_000_000_000))
        #expect(try couple.alex.show(id).record.created == 1_700_000_000_000)
        #expect(try couple.alex.list(EntryFilter(until: 1_000_000_000_001)).isEmpty)
        #expect(try couple.alex.list(EntryFilter(since: 1_700_000_000_000)).map(\.id) == [id])
    }

    @Test("A store from before the reply index still finds replies, and the next unlock indexes its rows")
    func upgradedStore() async throws {
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        let parent = try couple.alex.write(NewEntry(body: "before the upgrade"))
        let reply = try couple.alex.reply(to: parent, NewEntry(body: "an answer, also before"))
        // As migration v4-reply-to leaves rows it cannot open: reply_to unknown.
        let database = try DatabaseQueue(path: couple.alex.device.home + "/duet.sqlite")
        try await database.write { db in try db.execute(sql: "UPDATE entries SET reply_to = NULL, reply_known = 0") }
        #expect(try couple.alex.show(parent).replies.map(\.id) == [reply], "unknown rows are opened and checked")
        #expect(try couple.alex.list().first { $0.id == parent }?.replyCount == 1)

        let again = try Device.open(home: couple.alex.device.home, environment: couple.environment).unlock(TwoPartners.passphrase)
        let unknown = try await database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM entries WHERE reply_known = 0") }
        #expect(unknown == 0, "the unlock indexed every row")
        let indexed = try await database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM entries WHERE reply_to IS NOT NULL") }
        #expect(indexed == 1)
        #expect(try again.show(parent).replies.map(\.id) == [reply])
    }

    @Test("An entry naming an entry of the other space is no reply to it: show does not list it, list does not count it")
    func repliesAcrossSpaces() async throws {
        let couple = try await TwoPartners.make()
        defer { couple.remove() }
        let shared = try couple.alex.write(NewEntry(visibility: .shared, body: "shared"))
        let secret = try couple.alex.write(NewEntry(body: "private"))
        // What `write` refuses, written straight into the store (another client, an older
        // version, a partner's made-up replyTo): a private "reply" to the shared entry and a
        // shared one to the private entry.
        let store = try Store.open(home: Home(path: couple.alex.device.home)).unlock(passphrase: SecretBytes(utf8: "correct horse battery"))
        for (kind, target, text) in [(SpaceKind.personal, shared, "a private note under a shared entry"),
                                     (SpaceKind.couple, secret, "a shared entry under a private one")] {
            let id = EntryID(high: UInt64(text.utf8.count), low: 0xC0FFEE)
            let parent = try #require(EntryID(target))
            try store.commit(entry: id, in: kind, now: 1_800_000_000_000) { editor in
                editor.create()
                editor.setReplyTo(parent)
                editor.insertText(Array(text.unicodeScalars), at: 0)
            }
        }
        #expect(try couple.alex.show(shared).replies.map(\.body) == [])
        #expect(try couple.alex.show(secret).replies.map(\.body) == [])
        let listed = try couple.alex.list()
        #expect(listed.first { $0.id == shared }?.replyCount == 0)
        #expect(listed.first { $0.id == secret }?.replyCount == 0)
    }
}
