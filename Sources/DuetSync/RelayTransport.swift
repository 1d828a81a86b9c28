public import DuetCrypto
public import DuetStore
public import DuetWire
import Foundation
import Synchronization

/// The relay's HTTP surface (SPEC § 6.5) from a device's side.
public struct RelayTransport: Sendable {
    public let base: String
    private let credential: Credential
    /// The session token, shared by copies of this transport (a prefetch's task): a session
    /// renewed by one of them serves all.
    private let session = Session()

    final class Session: Sendable {
        private let state = Mutex<[UInt8]>([])
        var token: [UInt8] {
            get { state.withLock { $0 } }
            set { state.withLock { $0 = newValue } }
        }
    }

    /// How this side proves it is the device: with the device key itself (an unlocked CLI), or
    /// with the sync daemon's delegated key (SPEC § 6.3).
    public enum Credential: Sendable {
        case device(SigningKey)
        case delegated(SyncCredential)
    }

    /// Why the relay refused, with its code; or a transport failure (relay down: try later).
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let status: Int
        public let code: String
        public let message: String
        /// The wait the relay asked for with a 429, when it gave a sane one.
        public var retryAfter: Duration?
        /// The origin the relay checks signatures against, when it refused ours for it.
        public var expectedOrigin: String?
        /// The relay no longer counts this device a member of a space it was in: removed
        /// (revoked from another device). Nothing is gained by trying again.
        public var deviceRemoved = false
        public init(status: Int, code: String, message: String, retryAfter: Duration? = nil, expectedOrigin: String? = nil) {
            self.status = status
            self.code = code
            self.message = message
            self.retryAfter = retryAfter
            self.expectedOrigin = expectedOrigin
        }
        public var description: String {
            status == 0 ? "the relay at \(code) cannot be reached (\(message))"
                : "the relay refused (\(code)): \(message)"
        }
    }

    public let connection: any RelayConnection
    /// How the transport waits out a `rate-limited` answer and polls a mailbox.
    let sleep: @Sendable (Duration) async throws -> Void
    let elapsed: @Sendable () -> Duration
    let tasks: any TaskStarter

    /// Over HTTP with the system's clocks.
    public init(base: String, device: SigningKey) {
        self.init(base: base, credential: .device(device))
    }

    /// Over HTTP with the system's clocks.
    public init(base: String, credential: Credential) {
        let system = SyncEnvironment.system
        self.init(connection: HTTPRelayConnection(origin: base), credential: credential, sleep: system.sleep, elapsed: system.elapsed)
    }

    public init(connection: any RelayConnection, credential: Credential, sleep: @escaping @Sendable (Duration) async throws -> Void,
                elapsed: @escaping @Sendable () -> Duration, tasks: any TaskStarter = SystemTasks()) {
        self.connection = connection
        self.base = connection.origin
        self.credential = credential
        self.sleep = sleep
        self.elapsed = elapsed
        self.tasks = tasks
    }

    /// Starts fetching a page beside the caller's work (see ``fetch(_:after:limit:)``).
    public func prefetch(_ space: SpaceID, after vector: [WireDeviceID: UInt64]) -> Task<(envelopes: [[UInt8]], complete: Bool), any Error> {
        let transport = self
        return tasks.start { try await transport.fetch(space, after: vector) }
    }

    /// The session token, for the live feed.
    public var sessionToken: [UInt8] { session.token }

    /// Follows the live feed of `space` on this transport's session (see ``RelayConnection/live``).
    public func live(_ space: SpaceID, pingInterval: Duration, opened: @escaping @Sendable () -> Void,
                     receive: @escaping @Sendable ([UInt8]) async throws -> Void) async throws {
        try await connection.live(space: space, token: session.token, pingInterval: pingInterval, opened: opened, receive: receive)
    }

    /// Reply caps (a hostile relay must not make a device buffer gigabytes): a fetch page is
    /// bounded by the relay in bytes (SPEC § 6.6), a membership read by its record count.
    static let smallReplyBytes = 256 << 10
    static let pageReplyBytes = 24 << 20
    static let membershipReplyBytes = 16 << 20

    private func request(_ method: String, _ path: String, body: [UInt8]? = nil, headers: [String: String] = [:],
                         maximumReplyBytes: Int = RelayTransport.smallReplyBytes, renewed: Bool = false) async throws -> [UInt8] {
        var fields = headers
        let token = session.token
        if !token.isEmpty { fields["authorization"] = "Bearer " + Hex.encode(token) }
        let reply: RelayReply
        do {
            reply = try await connection.send(RelayRequest(method: method, target: path, headers: fields, body: body ?? []),
                                              maximumReplyBytes: maximumReplyBytes)
        } catch let failure as RelayConnectionFailure {
            switch failure {
            case .replyTooLarge(let limit):
                throw Failure(status: 200, code: "reply-too-large", message: "the relay's reply was larger than \(limit) bytes")
            case .unreachable(let reason): throw Failure(status: 0, code: base, message: reason)
            case .timedOut: throw Failure(status: 0, code: base, message: "no answer in time")
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw Failure(status: 0, code: base, message: String(describing: type(of: error)))
        }
        guard reply.status == 200 else {
            let object = try? JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any]
            // The relay's words are shown to the person: keep them short and printable.
            let code = Self.printable(object?["code"] as? String, limit: 64) ?? "http-\(reply.status)"
            let message = Self.printable(object?["message"] as? String, limit: 300)
                ?? "HTTP \(reply.status) from the relay or a proxy in front of it"
            // The wait to the millisecond when the relay gave one (SPEC § 6.6), else Retry-After.
            let milliseconds = (object?["retryAfterMilliseconds"] as? Int).flatMap { (0...86_400_000).contains($0) ? $0 : nil }
            let seconds = reply.retryAfterSeconds.flatMap { (0...86_400).contains($0) ? $0 : nil }
            var failure = Failure(status: reply.status, code: code, message: message,
                                  retryAfter: milliseconds.map { .milliseconds($0) } ?? seconds.map { .seconds($0) })
            failure.expectedOrigin = Self.printable(object?["expectedOrigin"] as? String, limit: 300)
            // A session the relay no longer knows (it restarted between this round's requests:
            // sessions live in its memory) is renewed once, and the request sent again. The
            // relay checks the session before anything else, so the first try did nothing.
            if reply.status == 401, code == "unauthenticated", !renewed, !token.isEmpty, !path.hasPrefix("/v1/auth/") {
                try await establishSession()
                return try await request(method, path, body: body, headers: headers, maximumReplyBytes: maximumReplyBytes, renewed: true)
            }
            throw failure
        }
        return reply.body
    }

    /// `text` when it is short and has no control characters (a relay's reply is shown in a
    /// terminal: no escape sequences), else nil.
    static func printable(_ text: String?, limit: Int) -> String? {
        guard let text, !text.isEmpty, text.unicodeScalars.count <= limit,
              !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return nil }
        return text
    }

    /// Proves the device key to the relay and keeps the session token.
    public mutating func authenticate() async throws {
        try await establishSession()
    }

    /// ``authenticate()``, on the shared session.
    private func establishSession() async throws {
        // A challenge lives a minute at the relay. One that expired before it was answered (a
        // laptop that slept between the two requests, a machine too busy to run this task)
        // earns a fresh one, once more; any other refusal is final.
        for attempt in 1...3 {
            do {
                return try await authenticateOnce()
            } catch let failure as Failure where failure.status == 401 && failure.expectedOrigin != nil {
                // Not an expired challenge: the two sides disagree on the relay's URL. Say
                // which one to fix; trying again would only fail the same way.
                let expected = failure.expectedOrigin ?? ""
                throw Failure(status: 401, code: "wrong-relay-url",
                              // The operator's flag is the relay's own vocabulary; the device's next
                              // step (`expectedOrigin`) is worded by the client.
                              message: "this device reaches the relay as \(base), but the relay expects to be reached as \(expected). "
                                + "If \(base) is right, its operator must start it with --public-url \(base)",
                              expectedOrigin: expected)
            } catch let failure as Failure where failure.status == 401 && failure.code == "unauthenticated" && attempt < 3 {
                continue
            }
        }
    }

    private func authenticateOnce() async throws {
        let device: VerifyingKey
        switch credential {
        case .device(let key): device = key.verifyingKey
        case .delegated(let sync): device = sync.device
        }
        let challenge = try await request("POST", "/v1/auth/challenge", body: device.bytes)
        let message = RelayMessages.authenticationMessage(origin: base, challenge: challenge)
        switch credential {
        case .device(let key):
            session.token = try await request("POST", "/v1/auth/session", body: device.bytes + challenge + key.signature(for: message).bytes)
        case .delegated(let sync):
            session.token = try await request("POST", "/v1/auth/session",
                                              body: device.bytes + challenge + sync.key.signature(for: message).bytes + sync.key.verifyingKey.bytes + sync.delegation.bytes)
        }
    }

    static func hex(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }

    public func heads(_ space: SpaceID) async throws -> [WireDeviceID: UInt64] {
        try RelayMessages.decodeVector(try await request("GET", "/v1/spaces/\(Self.hex(space.bytes))/heads"))
    }

    public func postMembership(_ record: MembershipRecord) async throws {
        try await postMembership([record])
    }

    /// Appends records to their space's log as one batch, all or nothing (SPEC § 6.5): a
    /// rotation and its wraps, a device and its key, must never land halfway.
    /// Posts records this device signed, noting them in `store` first as its own (SPEC § 7.6:
    /// a device's own doing is never a notice to it, even when it learns it back from the relay).
    public func postMembership(_ records: [MembershipRecord], signedHere store: Store) async throws {
        try store.noteSignedHere(records)
        try await postMembership(records)
    }

    public func postMembership(_ records: [MembershipRecord]) async throws {
        guard let space = records.first?.space else { return }
        _ = try await request("POST", "/v1/spaces/\(Self.hex(space.bytes))/membership/batch",
                              body: RelayMessages.encode(batch: records.map(\.encoded)))
    }

    /// The space's membership records after index `after` (verify them before use: the relay's
    /// word is not trusted).
    public func membership(_ space: SpaceID, after: UInt64 = 0, certificate: DeviceCertificate? = nil) async throws -> [MembershipRecord] {
        let body = try await request("GET", "/v1/spaces/\(Self.hex(space.bytes))/membership?after=\(after)",
                                     headers: certificate.map { ["duet-certificate": Hex.encode($0.encoded)] } ?? [:],
                                     maximumReplyBytes: Self.membershipReplyBytes)
        return try RelayMessages.decodeBatch(body, maximumCount: 10_000, maximumItemBytes: 4096).map { try MembershipRecord(bytes: $0) }
    }

    /// Records members signed that the relay refused by the log's rules, kept as evidence (verify
    /// before believing: the relay's word is not trusted).
    public func refusedMembership(_ space: SpaceID) async throws -> [MembershipRecord] {
        let body = try await request("GET", "/v1/spaces/\(Self.hex(space.bytes))/membership/refused", maximumReplyBytes: Self.membershipReplyBytes)
        return try RelayMessages.decodeBatch(body, maximumCount: 1000, maximumItemBytes: 4096).compactMap { try? MembershipRecord(bytes: $0) }
    }

    /// Keeps the sealed recovery blob in its slot, owned by `identity` (SPEC § 7.5).
    public func putRecovery(slot: [UInt8], blob: [UInt8], identity: SigningKey) async throws {
        try await putRecovery(slot: slot, body: Recovery.putBody(slot: slot, blob: blob, identity: identity))
    }

    /// Puts a body ``Recovery/putBody(slot:blob:identity:)`` made earlier (signed while unlocked).
    public func putRecovery(slot: [UInt8], body: [UInt8]) async throws {
        _ = try await request("PUT", "/v1/recovery/\(Self.hex(slot))", body: body)
    }

    /// The sealed recovery blob in `slot`, or nil when there is none.
    public func recovery(slot: [UInt8]) async throws -> [UInt8]? {
        do {
            return try await request("GET", "/v1/recovery/\(Self.hex(slot))")
        } catch let failure as Failure where failure.code == "unknown-recovery" {
            return nil
        }
    }

    /// Leaves a blob in a mailbox (pairing and linking; SPEC § 7.2).
    public func putMailbox(_ id: [UInt8], _ blob: [UInt8]) async throws {
        _ = try await request("PUT", "/v1/mailboxes/\(Self.hex(id))", body: blob)
    }

    /// Takes the blob from a mailbox (it is then gone), or nil when the mailbox is empty.
    public func takeMailbox(_ id: [UInt8]) async throws -> [UInt8]? {
        do {
            return try await request("GET", "/v1/mailboxes/\(Self.hex(id))")
        } catch let failure as Failure where failure.code == "unknown-mailbox" {
            return nil
        }
    }

    /// Waits for a blob to arrive in a mailbox, checking every `interval`, for at most
    /// `timeout`; nil when none came in time.
    public func awaitMailbox(_ id: [UInt8], timeout: Duration, interval: Duration = .milliseconds(200)) async throws -> [UInt8]? {
        let deadline = elapsed() + timeout
        while true {
            if let blob = try await takeMailbox(id) { return blob }
            guard elapsed() < deadline else { return nil }
            try await sleep(interval)
        }
    }

    /// Envelopes per push request: half the relay's default per-device burst (SPEC § 6.6), so
    /// a fresh bucket always takes a whole batch and a drained one refills for it in a second.
    public static let pushBatch = 100

    /// Appends envelopes in seq order, in batches the relay's rate limit allows; returns how
    /// many were stored or already held. A `rate-limited` answer is waited out for as long as
    /// the relay says (clamped to 10 ms – 30 s) and the same batch is sent again, so
    /// a backlog of any size drains; a `batch-too-large` answer (a relay with a smaller burst)
    /// halves the batch. Anything else ends the push with the relay's refusal, and so does a
    /// relay that keeps answering `rate-limited` without ever taking a batch (`maximumWaits`
    /// in a row: an honest relay takes the batch after the wait it asked for).
    /// `acknowledged` is called after each batch the relay took, with that batch, so the caller
    /// records exactly what is at the relay even if a later batch fails or the push is stopped.
    public func push(_ envelopes: [[UInt8]], to space: SpaceID, maximumWaits: Int = 10,
                     acknowledged: ([[UInt8]]) throws -> Void = { _ in }) async throws -> Int {
        var count = 0
        var start = 0
        var batchSize = Self.pushBatch
        var waits = 0
        while start < envelopes.count {
            let batch = Array(envelopes[start..<min(envelopes.count, start + batchSize)])
            do {
                _ = try await request("POST", "/v1/spaces/\(Self.hex(space.bytes))/envelopes", body: RelayMessages.encode(batch: batch))
            } catch let failure as Failure where failure.status == 429 && failure.code == "rate-limited" && waits < maximumWaits {
                waits += 1
                try await sleep(min(.seconds(30), max(.milliseconds(10), failure.retryAfter ?? .seconds(1))))
                continue
            } catch let failure as Failure where failure.status == 413 && failure.code == "batch-too-large" && batchSize > 1 {
                batchSize = max(1, batchSize / 2)
                continue
            }
            waits = 0
            try acknowledged(batch)
            count += batch.count
            start += batch.count
        }
        return count
    }

    public func fetch(_ space: SpaceID, after vector: [WireDeviceID: UInt64], limit: Int = 1000) async throws -> (envelopes: [[UInt8]], complete: Bool) {
        let encoded = Data(RelayMessages.encode(vector: vector)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let body = try await request("GET", "/v1/spaces/\(Self.hex(space.bytes))/envelopes?vector=\(encoded)&limit=\(limit)",
                                     maximumReplyBytes: Self.pageReplyBytes)
        guard let flag = body.first else { throw Failure(status: 200, code: "malformed", message: "empty fetch reply") }
        let envelopes = try RelayMessages.decodeBatch(Array(body.dropFirst()), maximumCount: 10_000, maximumItemBytes: Envelope.maximumSealedBytes + 256)
        return (envelopes, flag == 1)
    }
}
