import DuetDevice
import DuetStore
import DuetSync
import DuetWire
import Foundation
import Testing

/// Issue #15 item 4: a local write cost `duetd` four write transactions (the relay's heads
/// recorded even when nothing was new, the push marked, its acknowledgement recorded apart).
@Suite("What a local write costs the daemon")
struct LocalWriteCostTests {
    @Test("The daemon's round for a local write commits once, and a round with nothing new commits nothing")
    func oneCommitPerLocalWrite() async throws {
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        // duetd's view of Alex's home: its own store, no key, the delegated credential.
        let store = try Store.open(home: Home(path: couple.folder + "/alex"))
        let credential = try #require(try store.syncCredential())
        let transport = couple.environment.sync.transport(couple.relay.origin, .delegated(credential))
        var authorized = transport
        try await authorized.authenticate()
        let space = try #require(try store.space(.personal))
        let own = WireDeviceID(verifyingKey: credential.device)

        try couple.alex.write(NewEntry(body: "written while duetd runs"))
        let commits = store.countingCommits()
        let round = try await SyncEngine.exchange(space, store: store, transport: authorized, ownDevice: own)
        #expect(round.summary.pushed == 1)
        #expect(commits.value == 1, "one transaction: the push and what the relay acknowledged")
        #expect(try store.hasUnpushed(space: space.id, device: own) == false)

        let quiet = store.countingCommits()
        let nothing = try await SyncEngine.exchange(space, store: store, transport: authorized, ownDevice: own)
        #expect(nothing.summary.pushed == 0 && nothing.summary.received == 0)
        #expect(quiet.value == 0, "a round that learns nothing writes nothing")
        #expect(try store.warnings().isEmpty)
    }
}
