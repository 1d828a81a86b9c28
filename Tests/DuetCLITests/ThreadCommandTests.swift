import DuetCore
import DuetTesting
import Foundation
import Testing

/// Issue #16 item 5 through the real `duet` and `duet-relay`: replies shown under their entry,
/// marked and counted in lists, written to the partner's shared entries; and replyTo values a
/// hostile partner makes up (an entry that does not exist, the reply itself, a cycle).
@Suite("Threads, end to end")
struct ThreadCommandTests {
    @Test("Sam's `write --reply-to` on Alex's shared entry is shared; Alex's show prints it, list marks and counts it")
    func replyToPartner() async throws {
        let couple = try await Couple()
        let shared = try await couple.alex.write("We walked by the river.", ["--shared", "--title", "Sunday"])
        try await couple.syncBoth()
        let written = try await couple.sam.duet(["write", "--reply-to", String(shared.prefix(8)), "-m", "Thank you for Sunday."])
        #expect(written.status == 0, "\(written.stderr)")
        let answer = written.stdout.trimmingCharacters(in: .newlines)
        #expect(written.stdout == answer + "\n" && answer.count == 26, "stdout is the id alone: \(written.stdout)")
        #expect(written.stderr == "note: the reply is shared, as the entry it answers is\n", "without --shared, said once: \(written.stderr)")
        try await couple.syncBoth()

        #expect(try await couple.sam.show(answer)["space"] as? String == "shared", "a reply to a shared entry is shared")
        #expect(try await couple.alex.show(answer)["replyTo"] as? String == shared)
        let show = try await couple.alex.duet(["show", shared], environment: ["TZ": "UTC"])
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout.contains("1 reply:"), "\(show.stdout)")
        #expect(show.stdout.contains("  ↳ Sam, "), "\(show.stdout)")
        #expect(show.stdout.contains("    Thank you for Sunday."), "\(show.stdout)")
        let replyShow = try await couple.alex.duet(["show", answer])
        #expect(replyShow.stdout.contains("reply to: \(shared.prefix(8))  Sunday (Alex, "), "\(replyShow.stdout)")

        let list = try await couple.alex.duet(["list"])
        let lines = list.stdout.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix(shared.prefix(8)) && $0.contains("Sunday") && $0.hasSuffix("1 reply") }, "\(list.stdout)")
        #expect(lines.contains { $0.hasPrefix(answer.prefix(8)) && $0.contains("↳ Thank you for Sunday.") }, "\(list.stdout)")
        let explicit = try await couple.sam.duet(["write", "--shared", "--reply-to", shared, "-m", "And the ducks."])
        #expect(explicit.status == 0 && explicit.stderr.isEmpty, "--shared asked for it: \(explicit.stderr)")
    }

    @Test("A reply without --shared to one's own private entry stays private; --shared on it is refused")
    func privateReplies() async throws {
        let journal = try await TemporaryJournal()
        let secret = try await journal.write("just for me")
        let written = try await journal.duet(["write", "--reply-to", secret, "-m", "a later thought"])
        #expect(written.status == 0 && written.stderr.isEmpty, "a private reply needs no notice: \(written.stderr)")
        let note = written.stdout.trimmingCharacters(in: .newlines)
        #expect(try await journal.show(note)["space"] as? String == "private")
        let shown = try await journal.duet(["show", secret])
        #expect(shown.stdout.contains("1 reply:") && shown.stdout.contains("    a later thought"), "\(shown.stdout)")
        let shared = try await journal.duet(["write", "--shared", "--reply-to", secret, "-m", "x"])
        #expect(shared.status != 0 && shared.errorLine.contains("a shared entry can only answer a shared entry"), "\(shared.stderr)")
    }

    @Test("Replies Sam makes up (to nothing, to itself, in a cycle) are shown as such; nothing loops or fails")
    func hostileReplyTargets() async throws {
        let couple = try await Couple()
        try await couple.syncBoth()
        var sam = try await HostileMember.take(couple.sam, relay: couple.relay.base)
        let nowhere = EntryID(high: 0xDEAD, low: 0xBEEF)
        let selfish = EntryID(high: 0x5E1F, low: 1)
        let first = EntryID(high: 0xC1C1, low: 1), second = EntryID(high: 0xC1C1, low: 2)
        for (id, target, text) in [(EntryID(high: 0xAAAA, low: 1), nowhere, "to nothing"), (selfish, selfish, "to myself"),
                                   (first, second, "first of a cycle"), (second, first, "second of a cycle")] {
            let insert = TextInsert(id: CharID(device: sam.deviceID, counter: 0), originLeft: nil, originRight: nil, scalars: Array(text.unicodeScalars))
            let pushed = try await sam.push(entry: id, operations: [.create, .setReplyTo(target, supersedes: []), .insertText(insert)])
            #expect(pushed.status == 200, "\(pushed.text)")
        }
        #expect(try await couple.alex.duet(["sync"]).status == 0)

        let list = try await couple.alex.duet(["list"])
        #expect(list.status == 0, "\(list.stderr)")
        for text in ["to nothing", "to myself", "first of a cycle", "second of a cycle"] {
            #expect(list.stdout.contains("↳ \(text)"), "\(text): \(list.stdout)")
        }
        let orphan = try await couple.alex.duet(["show", EntryID(high: 0xAAAA, low: 1).description])
        #expect(orphan.status == 0 && orphan.stdout.contains("reply to: an unknown entry (\(nowhere.description.prefix(8)))"), "\(orphan.stdout)")
        let itself = try await couple.alex.duet(["show", selfish.description])
        #expect(itself.status == 0 && itself.stdout.contains("reply to: an unknown entry"), "\(itself.stdout)")
        #expect(!itself.stdout.contains("1 reply:"), "an entry is not its own reply: \(itself.stdout)")
        let cycle = try await couple.alex.duet(["show", first.description])
        #expect(cycle.status == 0, "\(cycle.stderr)")
        #expect(cycle.stdout.contains("reply to: \(second.description.prefix(8))  second of a cycle"), "\(cycle.stdout)")
        #expect(cycle.stdout.contains("1 reply:") && cycle.stdout.contains("    second of a cycle"), "\(cycle.stdout)")
        #expect(try await couple.alex.duet(["show", first.description, "--json"]).json != nil)
    }
}
