import DuetDevice
import DuetStore
import DuetSync
import DuetTesting
import DuetWire
import Foundation
import Synchronization
import Testing

/// A relay keeps sessions in memory: one that restarts between two requests of a round
/// answered the second with 401, and `duet sync` failed although nothing was wrong.
@Suite("Session renewal")
struct SessionRenewalTests {
    @Test("A request after the relay restarted renews the session once and succeeds; a relay that keeps refusing is not asked forever")
    func renewsAfterRestart() async throws {
        let folder = TwoPartners.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let origin = "http://relay.test"
        func start() throws -> InProcessRelay {
            try InProcessRelay(directory: folder + "/relay", origin: origin) { SyncEnvironment.system.now() }
        }
        let current = Box<InProcessRelay?>(try start())
        let requests = Box(0)
        let refusing = Box(false)
        var environment = TwoPartners.environment(try start())
        environment.sync.dialer = InProcessDialer { _ in CountingConnection(relay: current, origin: origin, requests: requests, refusing: refusing) }
        _ = try await Device.create(home: folder + "/alex", name: "Alex", deviceName: "laptop", passphrase: TwoPartners.passphrase,
                                    relay: origin, environment: environment)
        let store = try Store.open(home: Home(path: folder + "/alex"))
        let space = try #require(try store.space(.personal))
        var transport = environment.sync.transport(origin, .delegated(try #require(try store.syncCredential())))
        try await transport.authenticate()
        _ = try await transport.heads(space.id)

        // The relay restarts: same storage, no sessions.
        current.value = nil
        current.value = try start()
        let before = requests.value
        _ = try await transport.heads(space.id)
        // The refused request, a challenge, a session, the request again.
        #expect(requests.value - before == 4)

        // A relay (or a proxy) that refuses every session: renewed once, then the refusal stands.
        refusing.value = true
        let again = requests.value
        await #expect(throws: RelayTransport.Failure.self) { try await transport.heads(space.id) }
        #expect(requests.value - again == 4)
    }
}

/// A value shared between a test and the connections it hands out.
final class Box<Value: Sendable>: Sendable {
    private let state: Mutex<Value>
    init(_ value: Value) { state = Mutex(value) }
    var value: Value {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}

/// Counts what passes through.
/// Whichever relay process runs now, as one address: counts what passes through; while
/// `refusing`, answers every request but authentication as a relay that lost the session would.
struct CountingConnection: RelayConnection {
    let relay: Box<InProcessRelay?>
    let origin: String
    let requests: Box<Int>
    let refusing: Box<Bool>

    var inner: any RelayConnection { relay.value?.connection() ?? UnreachableConnection(origin: origin) }

    func send(_ request: RelayRequest, maximumReplyBytes: Int) async throws -> RelayReply {
        requests.value += 1
        if refusing.value, !request.path.hasPrefix("/v1/auth/") {
            return RelayReply(status: 401, body: Array(#"{"code":"unauthenticated","message":"sign a fresh challenge"}"#.utf8), isJSON: true)
        }
        return try await inner.send(request, maximumReplyBytes: maximumReplyBytes)
    }

    func live(space: SpaceID, token: [UInt8], pingInterval: Duration, opened: @escaping @Sendable () -> Void,
              receive: @escaping @Sendable ([UInt8]) async throws -> Void) async throws {
        try await inner.live(space: space, token: token, pingInterval: pingInterval, opened: opened, receive: receive)
    }
}
