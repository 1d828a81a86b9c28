import DuetCore
import DuetCrypto
import DuetRelay
import DuetStore
import DuetSync
import DuetTesting
import DuetWire
import Foundation
import Synchronization
import Testing

/// Issue #14 item 1, in the issue's own form: writes committed while a push is in flight,
/// hundreds of times, against the real relay service in process. What the relay acknowledged
/// used to be read back from the store after the push, so the writes made meanwhile were
/// recorded as acknowledged: the next round saw a "rollback" and the space stopped syncing for
/// good, and `pendingOut` under-reported meanwhile. The process version paused `duet-relay`
/// with SIGSTOP and hoped the writes landed during the pause; here the push is held at the
/// relay's door until the writes have committed, every round.
@Suite("Writes racing a push")
struct PushRaceTests {
    static let passphrase = SecretBytes(utf8: "push race passphrase")

    @Test("300 pushes with writes committed while each is in flight: no false rollback, nothing counted sent that was not")
    func writesDuringHeldPushes() async throws {
        let folder = TwoPartners.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let relay = try InProcessRelay(directory: folder + "/relay", origin: "http://relay.test",
                                       limits: .unlimitedAppends) { SyncEnvironment.system.now() }
        let gate = PushGate()
        var environment = SyncEnvironment.system
        environment.dialer = InProcessDialer { origin in origin == relay.origin ? GatedConnection(inner: relay.connection(), gate: gate) : nil }
        let home = Home(path: folder + "/alex")
        let parameters = try PassphraseKDFParameters(opsLimit: PassphraseKDFParameters.minimumOpsLimit,
                                                     memoryBytes: PassphraseKDFParameters.minimumMemoryBytes,
                                                     salt: RandomBytes.make(count: PassphraseKDFParameters.saltByteCount))
        let (store, unlocked) = try Store.create(home: home, name: "Alex", deviceName: "Alex's laptop", passphrase: Self.passphrase,
                                                 parameters: parameters, now: 1_700_000_000_000)
        _ = try await SyncEngine.sync(unlocked, store: store, relay: relay.origin, now: 1_700_000_000_000, environment: environment)
        var transport = environment.transport(relay.origin, .device(unlocked.keystore.device))
        try await transport.authenticate()
        let space = try #require(try store.space(.personal))
        var written = 0
        var random = SeededRandom(seed: 14)
        for round in 0..<300 {
            let id = EntryID.random(using: &random)
            try unlocked.commit(entry: id, now: 1_700_000_000_000 + UInt64(round)) { $0.create(); $0.insertText(Array("round \(round)".unicodeScalars), at: 0) }
            written += 1
            let racing = random.below(3) + 1
            let writes = (0..<racing).map { _ in EntryID.random(using: &random) }
            // The envelopes to push are read; the push reaches the relay and is held there; the
            // writes commit; the relay answers.
            let pushing = transport
            async let exchanged = SyncEngine.exchange(space, store: store, transport: pushing, ownDevice: unlocked.keystore.deviceID) { progress in
                if case .sending(sent: 0, _) = progress { gate.arm() }
            }
            let held = await gate.held(within: .seconds(60))
            #expect(held, "round \(round): the push reached the relay")
            for id in writes {
                try unlocked.commit(entry: id, now: 1_700_000_000_000) { $0.create(); $0.insertText(Array("racing".unicodeScalars), at: 0) }
                written += 1
            }
            gate.release()
            let result = try await exchanged
            #expect(!result.rolledBack, "round \(round): no rollback")
            // What was written during the push is still to be sent, and counted so.
            let pending = try store.counts().unpushed
            #expect(pending == racing, "round \(round): \(pending) change(s) pending, \(racing) written during the push")
            if pending != racing || !held { break }
        }
        // The next round sends the rest; nothing was lost and nothing alarmed.
        let last = try await SyncEngine.exchange(space, store: store, transport: transport, ownDevice: unlocked.keystore.deviceID)
        #expect(!last.rolledBack)
        #expect(try store.counts().unpushed == 0)
        let warnings = try store.warnings()
        #expect(warnings.isEmpty, "\(warnings)")
        let heads = try await transport.heads(space.id)
        let stored = try store.localHeads(space: space.id)[unlocked.keystore.deviceID] ?? 0
        #expect(stored >= UInt64(written), "every write is stored here")
        #expect(heads[unlocked.keystore.deviceID] == stored, "and the relay holds every one")
    }
}

extension RelayService.Limits {
    /// The relay's default limits with no append rate limit to wait out.
    static var unlimitedAppends: Self {
        var limits = Self()
        limits.appendsPerSecond = 1_000_000_000
        limits.appendBurst = 1_000_000_000
        return limits
    }
}

/// Holds the next push of envelopes at the relay's door, once armed, until released.
final class PushGate: Sendable {
    private struct State {
        var armed = false
        var isHolding = false
        var holding: CheckedContinuation<Void, Never>?
        var arrival: CheckedContinuation<Bool, Never>?
    }
    private let state = Mutex(State())

    func arm() { state.withLock { $0.armed = true } }

    /// Called by the connection for a push: waits while armed, after telling the test.
    func pass() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let (hold, arrival) = state.withLock { state -> (Bool, CheckedContinuation<Bool, Never>?) in
                guard state.armed else { return (false, nil) }
                state.armed = false
                state.isHolding = true
                state.holding = continuation
                defer { state.arrival = nil }
                return (true, state.arrival)
            }
            arrival?.resume(returning: true)
            if !hold { continuation.resume() }
        }
    }

    /// Suspends until a push is held; false if none came within `limit` (wall time).
    func held(within limit: Duration) async -> Bool {
        let timer = Task {
            try await Task.sleep(for: limit)
            let waiter = state.withLock { state in defer { state.arrival = nil }; return state.arrival }
            waiter?.resume(returning: false)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let already = state.withLock { state -> Bool in
                if state.isHolding { return true }
                state.arrival = continuation
                return false
            }
            if already { continuation.resume(returning: true) }
        }
    }

    /// Lets the held push through.
    func release() {
        let held = state.withLock { state in
            defer { state.holding = nil; state.isHolding = false }
            return state.holding
        }
        held?.resume()
    }
}

/// A connection whose pushes of envelopes pass through a ``PushGate``.
struct GatedConnection: RelayConnection {
    let inner: any RelayConnection
    let gate: PushGate
    var origin: String { inner.origin }

    func send(_ request: RelayRequest, maximumReplyBytes: Int) async throws -> RelayReply {
        if request.method == "POST", request.target.hasSuffix("/envelopes") { await gate.pass() }
        return try await inner.send(request, maximumReplyBytes: maximumReplyBytes)
    }

    func live(space: SpaceID, token: [UInt8], pingInterval: Duration, opened: @escaping @Sendable () -> Void,
              receive: @escaping @Sendable ([UInt8]) async throws -> Void) async throws {
        try await inner.live(space: space, token: token, pingInterval: pingInterval, opened: opened, receive: receive)
    }
}
