import DuetCrypto
import DuetDevice
import DuetSync
import DuetTesting
import Foundation
import Testing

/// Pairing, shared entries and authorship between two partners, through the real relay service
/// in process (these ran as `duet` and `duet-relay` processes before issue #15 item 6).
@Suite("Pairing, shared entries and authorship")
struct PartnerTests {
    /// `error`'s reason when it is an exchange's refusal.
    static func reason(_ error: any Error) -> ExchangeFailure? {
        if case .exchange(let reason, _) = error as? DeviceError { return reason }
        return nil
    }

    @Test("A wrong, malformed, reused or expired code is refused with its reason and pairs nothing")
    func badCodes() async throws {
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        let wrong = await #expect(throws: DeviceError.self) {
            try await couple.sam.acceptPartner(code: "00000-00000-00000-00000-00000-0", timeout: .seconds(60))
        }
        #expect(wrong.flatMap(Self.reason) == .noInvitation, "\(String(describing: wrong))")
        await #expect(throws: DeviceError.invalidCode(.pairing)) { try await couple.sam.acceptPartner(code: "not-a-code", timeout: .seconds(60)) }

        // Expired: the inviter gives up and keeps nothing. Its wait runs on a simulated clock,
        // so the second it waits passes at once.
        let clock = SimulatedClock()
        let waiting = try Device.open(home: couple.alex.device.home, environment: clock.driving(couple.environment)).unlock(TwoPartners.passphrase)
        let gaveUp = await #expect(throws: DeviceError.self) { try await waiting.invitePartner(timeout: .seconds(1)) { _ in } }
        #expect(gaveUp.flatMap(Self.reason) == .invitationUnanswered, "\(String(describing: gaveUp))")
        #expect(clock.elapsed >= .seconds(1), "the invitation waited its whole second")
        #expect(try couple.alex.device.status().partner == nil)
        #expect(try couple.sam.device.status().partner == nil, "the failed attempts left Sam unpaired")

        // Reused: after a pairing, the same code finds nothing for a third person.
        let (codes, handOver) = AsyncStream.makeStream(of: String.self)
        async let invited = couple.alex.invitePartner(timeout: .seconds(60)) { handOver.yield($0); handOver.finish() }
        var code = ""
        for await given in codes { code = given }
        _ = try await couple.sam.acceptPartner(code: code, timeout: .seconds(60))
        _ = try await invited
        let kim = try await Device.create(home: couple.folder + "/kim", name: "Kim", deviceName: "Kim's phone", passphrase: TwoPartners.passphrase,
                                          relay: couple.relay.origin, environment: couple.environment).device
        let reused = await #expect(throws: DeviceError.self) { try await kim.acceptPartner(code: code, timeout: .seconds(60)) }
        #expect(reused.flatMap(Self.reason) == .noInvitation, "\(String(describing: reused))")
        #expect(try kim.device.status().partner == nil)
        // Pairing twice is refused too.
        let again = await #expect(throws: DeviceError.self) { try await couple.sam.invitePartner(timeout: .seconds(1)) { _ in } }
        #expect(again.flatMap(Self.reason) == .alreadyPaired(partner: "Alex"), "\(String(describing: again))")
    }

    @Test("Shared entries reach the partner under their verified author; private ones never leave their owner")
    func sharedAndPrivate() async throws {
        let couple = try await TwoPartners.make()
        defer { couple.remove() }
        let secret = try couple.alex.write(NewEntry(title: "mine", body: "PRIVATE-MARKER only Alex may read this"))
        let shared = try couple.alex.write(NewEntry(visibility: .shared, title: "Sunday", body: "We walked by the river.", factors: ["delight"]))
        try await couple.syncBoth()
        let samShared = try couple.sam.reply(to: shared, NewEntry(body: "Thank you for Sunday."))
        try await couple.syncBoth()

        let onSam = try couple.sam.show(shared).record
        #expect(onSam.visibility == .shared)
        #expect(onSam.author?.person == "Alex")
        #expect(onSam.body == "We walked by the river.")
        let alexDevice = try #require(try couple.alex.show(secret).record.author?.device)
        #expect(onSam.author?.device == alexDevice, "the author device is the one that signed")
        let reply = try couple.alex.show(samShared).record
        #expect(reply.author?.person == "Sam" && reply.replyTo == shared)

        // Alex's private entry: not listed on Sam's device, not even its sealed form.
        #expect(try couple.sam.list(EntryFilter()).allSatisfy { $0.id != secret })
        #expect(throws: DeviceError.unknownEntry(prefix: secret.uppercased())) { try couple.sam.show(secret) }
        let alexPrivateSpace = try #require(try couple.alex.device.status().privateSpace)
        #expect(!TwoPartners.holds(try #require(Hex.decode(alexPrivateSpace)), under: couple.sam.device.home), "nothing of Alex's private space is on Sam's device")
        #expect(!TwoPartners.holds(Array("PRIVATE-MARKER".utf8), under: couple.alex.device.home))
        for marker in ["PRIVATE-MARKER", "river", "Thank you"] {
            #expect(!TwoPartners.holds(Array(marker.utf8), under: couple.relay.directory), "plaintext '\(marker)' in the relay's files")
        }

        // Filters by space and author, from each side.
        #expect(try couple.sam.list(EntryFilter(visibility: .shared)).count == 2)
        #expect(try couple.sam.list(EntryFilter(visibility: .private)).isEmpty)
        #expect(try couple.sam.list(EntryFilter(author: .partners)).map(\.id) == [shared])
        #expect(try couple.alex.list(EntryFilter(author: .mine)).map(\.id).sorted() == [secret, shared].sorted())
    }

    @Test("Concurrent offline edits of one shared body by both partners both survive, identically on both")
    func concurrentEdits() async throws {
        let couple = try await TwoPartners.make()
        defer { couple.remove() }
        let id = try couple.alex.write(NewEntry(visibility: .shared, body: "The middle."))
        try await couple.syncBoth()
        try couple.alex.edit(id, EntryChanges(body: "Alex's opening. The middle.", base: try couple.alex.show(id).record.version))
        try couple.sam.edit(id, EntryChanges(body: "The middle. Sam's ending.", base: try couple.sam.show(id).record.version))
        try await couple.syncBoth()
        let alexView = try couple.alex.body(of: id), samView = try couple.sam.body(of: id)
        #expect(alexView == "Alex's opening. The middle. Sam's ending.")
        #expect(samView == alexView)
        // Who typed what, from the signing devices.
        let runs = try #require(try couple.sam.show(id, history: true).history?.text)
        #expect(runs.map { $0.by.person ?? "" } == ["Alex", "Sam"])
        #expect(runs.last?.text == " Sam's ending.")
    }

    @Test("Acknowledging marks the partner's shared entry as read; share copies a private entry; misuse is refused")
    func acknowledgeAndShare() async throws {
        let couple = try await TwoPartners.make()
        defer { couple.remove() }
        let shared = try couple.alex.write(NewEntry(visibility: .shared, body: "Please read this."))
        let privateEntry = try couple.alex.write(NewEntry(title: "Ready", body: "Something I am ready to show.", factors: ["exploration"]))
        try await couple.syncBoth()
        try couple.sam.acknowledge(shared)
        #expect(throws: DeviceError.alreadyAcknowledged(id: shared)) { try couple.sam.acknowledge(shared) }
        #expect(throws: DeviceError.acknowledgingOwn(id: shared)) { try couple.alex.acknowledge(shared) }
        #expect(throws: DeviceError.acknowledgingPrivate(id: privateEntry)) { try couple.alex.acknowledge(privateEntry) }
        try await couple.syncBoth()
        #expect(try couple.alex.show(shared).record.acknowledgements.map(\.by.person) == ["Sam"])

        let copy = try couple.alex.share(privateEntry)
        #expect(copy != privateEntry)
        #expect(try couple.alex.show(privateEntry).record.visibility == .private, "the original stays private")
        try await couple.syncBoth()
        let onSam = try couple.sam.show(copy).record
        #expect(onSam.visibility == .shared && onSam.title == "Ready")
        #expect(onSam.body == "Something I am ready to show." && onSam.factors == ["exploration"])
        #expect(throws: DeviceError.alreadyShared(id: copy)) { try couple.alex.share(copy) }
    }

    @Test("Delivery receipts: once the partner's device writes after receiving an entry, the author sees it delivered there")
    func deliveryReceipts() async throws {
        let couple = try await TwoPartners.make()
        defer { couple.remove() }
        let id = try couple.alex.write(NewEntry(visibility: .shared, body: "Did this reach you?"))
        _ = try await couple.alex.sync()
        #expect(try couple.alex.show(id, history: true).deliveredTo.isEmpty)
        _ = try await couple.sam.sync()
        try couple.sam.acknowledge(id)
        _ = try await couple.sam.sync()
        _ = try await couple.alex.sync()
        let delivered = try couple.alex.show(id, history: true).deliveredTo
        #expect(delivered.map(\.person) == ["Sam"] && delivered.map(\.deviceName) == ["Sam's phone"])
        #expect(try couple.alex.show(id).deliveredTo.map(\.deviceName) == ["Sam's phone"], "shown without the history too")
        // A newer edit by Alex is not delivered until Sam's device writes again.
        try couple.alex.edit(id, EntryChanges(body: "Did this reach you? Edited.", base: try couple.alex.show(id).record.version))
        #expect(try couple.alex.show(id, history: true).deliveredTo.isEmpty)
    }

    /// Every file under `home`, with its bytes.
    static func files(_ home: String) -> [String: Data] {
        var files: [String: Data] = [:]
        for path in FileManager.default.subpaths(atPath: home) ?? [] {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: home + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files[path] = FileManager.default.contents(atPath: home + "/" + path)
            }
        }
        return files
    }
}

