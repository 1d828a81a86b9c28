import DuetCore
import DuetCrypto
import DuetStore
import DuetSync
import DuetTesting
import Foundation
import Synchronization
import Testing

/// Issue #14 item 1, in the issue's own form: writes committed while a push is in flight, under
/// a paused relay, hundreds of times, against the real `duet-relay` process. What the relay
/// acknowledged used to be read back from the store after the push, so the writes made
/// meanwhile were recorded as acknowledged: the next round saw a "rollback" and the space
/// stopped syncing for good, and `pendingOut` under-reported meanwhile.
@Suite("Writes racing a push")
struct PushRaceTests {
    static let passphrase = SecretBytes(utf8: "push race passphrase")

    @Test("300 pushes with writes committed while each is in flight to a paused relay: no false rollback, nothing counted sent that was not")
    func writesDuringPausedPushes() async throws {
        let relay = try RelayProcess()
        let home = Home(path: NSTemporaryDirectory() + "duet-push-race-" + UUID().uuidString)
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        let parameters = try PassphraseKDFParameters(opsLimit: PassphraseKDFParameters.minimumOpsLimit,
                                                     memoryBytes: PassphraseKDFParameters.minimumMemoryBytes,
                                                     salt: RandomBytes.make(count: PassphraseKDFParameters.saltByteCount))
        let (store, unlocked) = try Store.create(home: home, name: "Alex", deviceName: "Alex's laptop", passphrase: Self.passphrase,
                                                 parameters: parameters, now: 1_700_000_000_000)
        _ = try await SyncEngine.sync(unlocked, store: store, relay: relay.base, now: 1_700_000_000_000)
        var transport = RelayTransport(base: relay.base, device: unlocked.keystore.device)
        try await transport.authenticate()
        let space = try #require(try store.space(.personal))
        let pid = relay.processIdentifier
        let written = Atomic<Int>(0)
        var random = SeededRandom(seed: 14)
        for round in 0..<300 {
            let id = EntryID.random(using: &random)
            try unlocked.commit(entry: id, now: 1_700_000_000_000 + UInt64(round)) { $0.create(); $0.insertText(Array("round \(round)".unicodeScalars), at: 0) }
            written.add(1, ordering: .relaxed)
            let racing = random.below(3) + 1
            let done = DispatchSemaphore(value: 0)
            let writes = (0..<racing).map { _ in EntryID.random(using: &random) }
            // The envelopes to push are read; the relay stops; the request goes out (the
            // kernel accepts it for the paused process); the writes commit; the relay resumes.
            let exchanged = try await SyncEngine.exchange(space, store: store, transport: transport, ownDevice: unlocked.keystore.deviceID) { progress in
                guard case .sending(sent: 0, _) = progress else { return }
                kill(pid, SIGSTOP)
                Thread.detachNewThread {
                    for id in writes {
                        _ = try? unlocked.commit(entry: id, now: 1_700_000_000_000) { $0.create(); $0.insertText(Array("racing".unicodeScalars), at: 0) }
                        written.add(1, ordering: .relaxed)
                    }
                    usleep(5_000)   // the push is on its way to the stopped relay meanwhile
                    kill(pid, SIGCONT)
                    done.signal()
                }
            }
            #expect(done.wait(timeout: .now() + 30) == .success, "the racing writer finished")
            kill(pid, SIGCONT)
            #expect(!exchanged.rolledBack, "round \(round): no rollback")
            // What was written during the push is still to be sent, and counted so.
            let pending = try store.counts().unpushed
            #expect(pending == racing, "round \(round): \(pending) change(s) pending, \(racing) written during the push")
            if pending != racing { break }
        }
        // The next round sends the rest; nothing was lost and nothing alarmed.
        let last = try await SyncEngine.exchange(space, store: store, transport: transport, ownDevice: unlocked.keystore.deviceID)
        #expect(!last.rolledBack)
        #expect(try store.counts().unpushed == 0)
        let warnings = try store.warnings()
        #expect(warnings.isEmpty, "\(warnings)")
        let heads = try await transport.heads(space.id)
        let held = try store.localHeads(space: space.id)[unlocked.keystore.deviceID] ?? 0
        #expect(held >= UInt64(written.load(ordering: .relaxed)), "every write is stored here")
        #expect(heads[unlocked.keystore.deviceID] == held, "and the relay holds every one")
    }
}
