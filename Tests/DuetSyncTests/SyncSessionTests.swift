import DuetWire
import Testing
@testable import DuetSync

@Suite("Sync session")
struct SyncSessionTests {
    static let me = try! WireDeviceID(bytes: [UInt8](repeating: 1, count: 16))
    static let partner = try! WireDeviceID(bytes: [UInt8](repeating: 2, count: 16))

    @Test("Push what the relay lacks, fetch what we lack, store, finish with a summary")
    func fullRound() {
        var session = SyncSession(local: [Self.me: 5, Self.partner: 2], ownDevices: [Self.me])
        #expect(session.start() == .requestHeads)
        #expect(session.handle(.heads([Self.me: 3, Self.partner: 4], rolledBack: [])) == .push(devices: [Self.me], after: [Self.me: 3, Self.partner: 4]))
        #expect(session.handle(.pushed(count: 2)) == .fetch(after: [Self.me: 5, Self.partner: 2]))
        #expect(session.handle(.fetched([[1], [2]], complete: true)) == .store([[1], [2]]))
        #expect(session.handle(.stored(received: 2, refused: 0)) == .finished(.init(pushed: 2, received: 2, refused: 0, complete: true)))
    }

    @Test("A push when the heads show nothing to fetch ends the round without a fetch")
    func pushOnly() {
        var session = SyncSession(local: [Self.me: 5, Self.partner: 2], ownDevices: [Self.me])
        _ = session.start()
        #expect(session.handle(.heads([Self.me: 4, Self.partner: 2], rolledBack: [])) == .push(devices: [Self.me], after: [Self.me: 4, Self.partner: 2]))
        #expect(session.handle(.pushed(count: 1)) == .finished(.init(pushed: 1, complete: true)))
    }

    @Test("In step with the relay: nothing moves")
    func inStep() {
        var session = SyncSession(local: [Self.me: 5], ownDevices: [Self.me])
        _ = session.start()
        #expect(session.handle(.heads([Self.me: 5], rolledBack: [])) == .finished(.init(complete: true)))
    }

    @Test("Paged fetches continue above what was stored until the relay says complete")
    func paging() {
        var session = SyncSession(local: [:], ownDevices: [Self.me])
        _ = session.start()
        #expect(session.handle(.heads([Self.partner: 3], rolledBack: [])) == .fetch(after: [:]))
        #expect(session.handle(.fetched([[1], [2]], complete: false)) == .store([[1], [2]]))
        session.noteLocal([Self.partner: 2])
        #expect(session.handle(.stored(received: 2, refused: 0)) == .fetch(after: [Self.partner: 2]))
        #expect(session.handle(.fetched([[3]], complete: true)) == .store([[3]]))
        #expect(session.handle(.stored(received: 1, refused: 0)) == .finished(.init(pushed: 0, received: 3, refused: 0, complete: true)))
    }

    @Test("A rolled-back relay stops the round before anything is pushed or stored")
    func rollback() {
        var session = SyncSession(local: [Self.me: 5], ownDevices: [Self.me])
        _ = session.start()
        #expect(session.handle(.heads([Self.me: 2], rolledBack: [Self.me])) == .rolledBack([Self.me]))
    }

    @Test("A page that stores nothing (all refused) ends the round instead of looping")
    func allRefused() {
        var session = SyncSession(local: [:], ownDevices: [Self.me])
        _ = session.start()
        _ = session.handle(.heads([Self.partner: 3], rolledBack: []))
        _ = session.handle(.fetched([[9]], complete: false))
        #expect(session.handle(.stored(received: 0, refused: 1)) == .finished(.init(pushed: 0, received: 0, refused: 1)))
    }

    @Test("A page this device already held (stored meanwhile by its daemon) moves the round on; it is not its end")
    func duplicatesMoveOn() {
        var session = SyncSession(local: [:], ownDevices: [Self.me])
        _ = session.start()
        _ = session.handle(.heads([Self.partner: 4], rolledBack: []))
        _ = session.handle(.fetched([[1], [2]], complete: false))
        session.noteLocal([Self.partner: 2])
        #expect(session.handle(.stored(received: 0, refused: 0)) == .fetch(after: [Self.partner: 2]))
        #expect(session.handle(.fetched([[3], [4]], complete: true)) == .store([[3], [4]]))
        session.noteLocal([Self.partner: 4])
        #expect(session.handle(.stored(received: 2, refused: 0)) == .finished(.init(pushed: 0, received: 2, refused: 0, complete: true)))
    }

    @Test("A round that ends without the relay's last page is not complete")
    func incompleteRound() {
        var session = SyncSession(local: [Self.partner: 1], ownDevices: [Self.me])
        _ = session.start()
        _ = session.handle(.heads([Self.partner: 3], rolledBack: []))
        _ = session.handle(.fetched([[9]], complete: false))
        session.noteLocal([Self.partner: 1])
        if case .finished(let summary) = session.handle(.stored(received: 0, refused: 1)) { #expect(!summary.complete) } else { Issue.record("the round goes on") }
    }
}
