import DuetDevice
import DuetSync
import DuetTesting
import Foundation
import Synchronization
import Testing

/// Issue #15 item 1: a device's use cases as a Swift API, over the in-process relay.
@Suite("DuetDevice use cases")
struct DeviceUseCaseTests {
    @Test("Write, share, sync, read under the signed author, answer, acknowledge")
    func sharedEntryRoundTrip() async throws {
        let couple = try await TwoPartners.make()
        defer { couple.remove() }
        let privateID = try couple.alex.write(NewEntry(title: "Just mine", body: "A private reflection.", factors: ["safety"]))
        let sharedID = try couple.alex.share(privateID)
        _ = try await couple.alex.sync()
        _ = try await couple.sam.sync()
        let seen = try couple.sam.show(sharedID).record
        #expect(seen.visibility == .shared)
        #expect(seen.body == "A private reflection.")
        #expect(seen.author?.person == "Alex")
        #expect(seen.author?.isMine == false)
        // The private original never reaches Sam.
        #expect(throws: DeviceError.unknownEntry(prefix: privateID.uppercased())) { try couple.sam.show(privateID) }
        let answer = try couple.sam.reply(to: sharedID, NewEntry(body: "Thank you for showing me."))
        #expect(try couple.sam.show(answer).record.visibility == .shared)
        #expect(try couple.sam.show(answer).record.replyTo == sharedID)
        try couple.sam.acknowledge(sharedID)
        #expect(throws: DeviceError.alreadyAcknowledged(id: sharedID)) { try couple.sam.acknowledge(sharedID) }
        #expect(throws: DeviceError.acknowledgingOwn(id: sharedID)) { try couple.alex.acknowledge(sharedID) }
        #expect(throws: DeviceError.acknowledgingPrivate(id: privateID)) { try couple.alex.acknowledge(privateID) }
        #expect(throws: DeviceError.alreadyShared(id: sharedID)) { try couple.alex.share(sharedID) }
        _ = try await couple.sam.sync()
        _ = try await couple.alex.sync()
        let acknowledged = try couple.alex.show(sharedID).record
        #expect(acknowledged.acknowledgements.map(\.by.person) == ["Sam"])
    }

    @Test("An edit made from an older version keeps what the partner added meanwhile")
    func editFromBaseVersionMerges() async throws {
        let couple = try await TwoPartners.make()
        defer { couple.remove() }
        let id = try couple.alex.write(NewEntry(visibility: .shared, body: "We walked by the river."))
        _ = try await couple.alex.sync()
        _ = try await couple.sam.sync()
        // Alex opens the editor on the text as it is now.
        let base = try couple.alex.show(id).record.version
        // Sam answers inside the entry, and it reaches Alex's journal while the editor is open.
        let samsView = try couple.sam.show(id).record
        try couple.sam.edit(id, EntryChanges(body: samsView.body + " I loved it.", base: samsView.version))
        _ = try await couple.sam.sync()
        _ = try await couple.alex.sync()
        // Alex saves the editor's text, made from the older version.
        try couple.alex.edit(id, EntryChanges(body: "We walked slowly by the river.", base: base))
        #expect(try couple.alex.show(id).record.body == "We walked slowly by the river. I loved it.")
        _ = try await couple.alex.sync()
        _ = try await couple.sam.sync()
        #expect(try couple.sam.show(id).record.body == "We walked slowly by the river. I loved it.")
    }

    @Test("Lists filter by space, date, factor, tag, author and deletion")
    func listFilters() async throws {
        let couple = try await TwoPartners.make()
        defer { couple.remove() }
        let first = try couple.alex.write(NewEntry(body: "private, comfort", factors: ["comfort"], tags: ["evening"]))
        let second = try couple.alex.write(NewEntry(visibility: .shared, body: "shared by Alex", factors: ["delight"]))
        let third = try couple.sam.write(NewEntry(visibility: .shared, body: "shared by Sam"))
        _ = try await couple.sam.sync()
        _ = try await couple.alex.sync()
        func ids(_ filter: EntryFilter) throws -> Set<String> { Set(try couple.alex.list(filter).map(\.id)) }
        #expect(try ids(EntryFilter()) == [first, second, third])
        #expect(try ids(EntryFilter(visibility: .private)) == [first])
        #expect(try ids(EntryFilter(visibility: .shared)) == [second, third])
        #expect(try ids(EntryFilter(factor: "comfort")) == [first])
        #expect(try ids(EntryFilter(tag: "evening")) == [first])
        #expect(try ids(EntryFilter(author: .partners)) == [third])
        #expect(try ids(EntryFilter(author: .mine)) == [first, second])
        let now = couple.environment.sync.now()
        #expect(try ids(EntryFilter(since: now + 60_000)).isEmpty)
        #expect(try ids(EntryFilter(until: now + 60_000)) == [first, second, third])
        #expect(try ids(EntryFilter(until: 1)).isEmpty)
        #expect(try couple.alex.list(EntryFilter(limit: 2)).count == 2)
        try couple.alex.setDeleted(true, first)
        #expect(try ids(EntryFilter(deleted: true)) == [first])
        #expect(throws: DeviceError.alreadyDeleted(id: first)) { try couple.alex.setDeleted(true, first) }
        #expect(throws: DeviceError.unknownFactor("courage", known: EntryRules.factorNames)) { try couple.alex.list(EntryFilter(factor: "courage")) }
        #expect(try couple.alex.search("SHARED BY").count == 2)
    }

    @Test("Bad references and bad input are typed errors with their facts")
    func typedErrors() async throws {
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        #expect(throws: DeviceError.notAnEntryID("x!")) { try couple.alex.show("x!") }
        #expect(throws: DeviceError.unknownEntry(prefix: "ZZZZ")) { try couple.alex.show("zzzz") }
        #expect(throws: DeviceError.notPaired) { try couple.alex.write(NewEntry(visibility: .shared, body: "to nobody")) }
        #expect(throws: DeviceError.moodOutOfRange(9)) { try couple.alex.write(NewEntry(body: "x", mood: 9)) }
        #expect(throws: DeviceError.passphraseTooShort(minimum: 8)) {
            try couple.alex.changePassphrase(to: Passphrase("short"))
        }
        let device = try Device.open(home: couple.folder + "/alex", environment: couple.environment)
        #expect(throws: DeviceError.wrongPassphrase) { try device.unlock(Passphrase("not the passphrase")) }
        #expect(throws: DeviceError.notInitialised(home: couple.folder + "/nobody")) { try Device.open(home: couple.folder + "/nobody") }
        await #expect(throws: DeviceError.alreadyInitialised(home: couple.folder + "/alex")) {
            try await Device.create(home: couple.folder + "/alex", name: "Alex", deviceName: "again", passphrase: TwoPartners.passphrase,
                                    environment: couple.environment)
        }
        #expect(throws: DeviceError.invalidRelayURL("ftp://x")) { try Device.checkedRelayURL("ftp://x") }
        await #expect(throws: DeviceError.invalidCode(.pairing)) { try await couple.alex.acceptPartner(code: "nope", timeout: .seconds(1)) }
    }

    @Test("A failed exchange is a reason with its facts, not English: no invitation, already paired (with the name as stored)")
    func exchangeFailuresAreTyped() async throws {
        let couple = try await TwoPartners.make()
        defer { couple.remove() }
        let unused = String(repeating: "7", count: 26)
        await #expect(throws: DeviceError.exchange(.alreadyPaired(partner: "Sam"), next: .showPairing)) {
            try await couple.alex.acceptPartner(code: unused, timeout: .seconds(1))
        }
        let loner = try await Device.create(home: couple.folder + "/robin", name: "Robin", deviceName: "Robin's laptop",
                                            passphrase: TwoPartners.passphrase, relay: couple.relay.origin, environment: couple.environment).device
        await #expect(throws: DeviceError.exchange(.noInvitation, next: nil)) {
            try await loner.acceptPartner(code: unused, timeout: .seconds(1))
        }
    }

    @Test("What create returns shows the recovery code only when asked for it: not in a description, not in a dump")
    func recoveryCodeRedacted() async throws {
        let folder = TwoPartners.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let relay = try InProcessRelay(directory: folder + "/relay", origin: "http://relay.test") { SyncEnvironment.system.now() }
        let created = try await Device.create(home: folder + "/alex", name: "Alex", deviceName: "laptop", passphrase: TwoPartners.passphrase,
                                              environment: TwoPartners.environment(relay))
        let code = created.recoveryCode.filter { $0.isLetter || $0.isNumber }
        #expect(code.count == 26)
        var dumped = ""
        dump(created, to: &dumped)
        for text in [String(describing: created), "\(created)", dumped] {
            #expect(!text.filter { $0.isLetter || $0.isNumber }.contains(code), "\(text)")
            #expect(!text.contains(created.recoveryCode))
        }
        #expect(!"\(TwoPartners.passphrase)".contains("horse"))
    }

    @Test("A relay URL given to an exchange that fails is not remembered; one that answers is")
    func relayRememberedOnlyWhenItAnswered() async throws {
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        let mistyped = "http://relay.tset"
        await #expect(throws: DeviceError.self) { try await couple.alex.sync(relay: mistyped) }
        await #expect(throws: DeviceError.self) { try await couple.alex.invitePartner(relay: mistyped, timeout: .seconds(1)) { _ in } }
        await #expect(throws: DeviceError.self) { try await couple.alex.link(relay: mistyped, timeout: .seconds(1)) { _ in } }
        #expect(try couple.alex.device.status().relay == couple.relay.origin, "the working relay is kept")
        #expect(try couple.alex.device.relay(given: nil) == couple.relay.origin)
        #expect(try await couple.alex.sync().relay == couple.relay.origin)
    }

    @Test("Entries that collide on a prefix are ambiguous, with the candidates named")
    func ambiguousPrefix() async throws {
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        // Ids are random: write until two share their first four characters (a few hundred at most).
        var byPrefix: [String: String] = [:]
        var clash: (String, String)?
        for _ in 0..<5000 where clash == nil {
            let id = try couple.alex.write(NewEntry(body: "x"))
            let prefix = String(id.prefix(4))
            if let other = byPrefix[prefix] { clash = (other, id) } else { byPrefix[prefix] = id }
        }
        let (one, two) = try #require(clash)
        let prefix = String(one.prefix(4))
        #expect(throws: DeviceError.ambiguousEntry(prefix: prefix, matches: [one, two].sorted(), more: false)) { try couple.alex.show(prefix) }
        #expect(try couple.alex.show(one).record.id == one)
    }

    @Test("The injected random source makes entry ids and prompts repeatable")
    func injectedRandom() async throws {
        let folder = TwoPartners.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func ids(_ home: String) async throws -> [String] {
            var environment = DeviceEnvironment.system
            environment.passphraseHashing = .minimum
            let counter = Counter()
            environment.random = { counter.next() }
            let device = try await Device.create(home: home, name: "Alex", deviceName: "laptop", passphrase: TwoPartners.passphrase,
                                                 environment: environment).device
            return [try device.write(NewEntry(body: "one")), try device.write(NewEntry(body: "two")),
                    try Prompts.pick(factor: nil, environment: environment).prompt]
        }
        let first = try await ids(folder + "/a"), second = try await ids(folder + "/b")
        #expect(first == second)
        #expect(Set(first).count == 3)
    }
}

/// A deterministic 64-bit source (SplitMix64).
final class Counter: Sendable {
    private let state = Mutex<UInt64>(0)
    func next() -> UInt64 {
        state.withLock { state in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
