import DuetCrypto
import DuetWire
import Foundation
public import Hummingbird
import HTTPTypes
import HummingbirdCore
import HummingbirdWebSocket
public import Logging
import NIOCore
import NIOPosix

/// The relay's HTTP surface (SPEC § 6.5) over ``RelayService``: parse, call, answer. Every
/// refusal of what a client sent is a 4xx with a code; nothing a client sends can crash it.
public enum RelayServer {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 8479
        /// The origin clients reach this relay at and sign during authentication (SPEC § 6.3),
        /// e.g. `https://relay.example.org` behind a TLS proxy; nil for `http://{host}:{port}`.
        public var publicURL: String?
        /// The operator's listener: `/metrics` and `/healthz`, never on the public port.
        public var adminHost = "127.0.0.1"
        public var adminPort = 8480
        public var dataDirectory = "./duet-relay-data"
        public var maximumRequestBytes = 8 << 20
        public var spaceQuotaBytes = 1 << 30
        public var liveConnectionsPerDevice = 4
        /// TCP connections the public listener holds at once.
        public var maximumConnections = 10_000
        /// An HTTP connection with no traffic for this long is closed (slow and dead clients).
        public var idleTimeoutSeconds = 60
        /// A connection's first request head must have arrived within this (slowloris).
        public var requestHeadTimeoutSeconds = 10
        /// A request body must have arrived whole within this.
        public var requestBodyTimeoutSeconds = 30
        /// Request body bytes being read at once, relay-wide.
        public var bodyBytesInFlight = 256 << 20
        /// NIO event-loop threads; nil for one per core.
        public var eventLoopThreads: Int?
        public var limits = RelayService.Limits()
        public init() {}
    }

    /// Builds the public relay and the operator's admin listener, to run together in one
    /// service group; `onListening` and `onAdminListening` receive the bound ports (useful
    /// with port 0).
    public static func applications(
        configuration: Configuration, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in },
        onAdminListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> (relay: some ApplicationProtocol, admin: some ApplicationProtocol) {
        let storage = try SQLiteRelayStorage(directory: configuration.dataDirectory, spaceQuotaBytes: configuration.spaceQuotaBytes)
        let origin = configuration.publicURL ?? "http://\(configuration.host):\(configuration.port)"
        let service = RelayService(storage: storage, origin: origin, limits: configuration.limits)
        let metrics = RelayMetrics(logger: logger)
        let live = LiveFanOut(maximumConnectionsPerDevice: configuration.liveConnectionsPerDevice)
        let router = Router()
        router.middlewares.add(MetricsMiddleware(metrics: metrics))
        let limit = configuration.maximumRequestBytes
        let body = BodyReader(budget: BodyBudget(maximum: configuration.bodyBytesInFlight),
                              timeout: .seconds(configuration.requestBodyTimeoutSeconds))
        // Wall-clock milliseconds as read at start, advanced by the monotonic clock: challenge,
        // session, rate and mailbox lifetimes must not jump when the system clock is stepped
        // (seen on this machine: a 60 s challenge expired at once after a step forward).
        let startedWall = UInt64(max(0, Date().timeIntervalSince1970 * 1000)), started = ContinuousClock.now
        let now: @Sendable () -> UInt64 = {
            let elapsed = ContinuousClock.now - started
            return startedWall + UInt64(elapsed.components.seconds) * 1000 + UInt64(elapsed.components.attoseconds / 1_000_000_000_000_000)
        }

        // Public: a load balancer may ask whether the relay is up; that tells nobody anything.
        router.get("/healthz") { _, _ in "ok\n" }
        let guardian = ConnectionGuard(maximum: configuration.maximumConnections,
                                       headTimeout: .seconds(Int64(clamping: min(max(1, configuration.requestHeadTimeoutSeconds), 86_400))))
        // Admin only (issue #12): request counts over time tell whoever reads them when, how
        // often and how much the people on this relay write.
        let adminRouter = Router()
        adminRouter.get("/healthz") { _, _ in "ok\n" }
        adminRouter.get("/metrics") { _, _ in
            metrics.prometheusText(liveConnections: await live.connections, connections: guardian.connections, held: await service.held())
        }

        router.post("/v1/auth/challenge") { request, _ -> Response in
            try await answer(metrics) {
                let body = try await body.read(request, limit: 1024)
                let device = try publicKey(body)
                return binary(try await service.challenge(for: device, now: now()))
            }
        }
        router.post("/v1/auth/session") { request, _ -> Response in
            try await answer(metrics) {
                let body = try await body.read(request, limit: 1024)
                // key ‖ challenge ‖ signature, then for a sync daemon: its key ‖ the device's delegation.
                guard body.count == 128 || body.count == 128 + 32 + 64 else {
                    throw RelayError.malformed("key (32) ‖ challenge (32) ‖ signature (64) [‖ delegate key (32) ‖ delegation (64)]")
                }
                let device = try publicKey(Array(body[0..<32]))
                guard let signature = try? Signature(bytes: Array(body[64..<128])) else { throw RelayError.malformed("signature") }
                var delegate: (key: VerifyingKey, delegation: Signature)?
                if body.count > 128 {
                    guard let delegation = try? Signature(bytes: Array(body[160..<224])) else { throw RelayError.malformed("delegation") }
                    delegate = (try publicKey(Array(body[128..<160])), delegation)
                }
                return binary(try await service.session(device: device, challenge: Array(body[32..<64]), signature: signature,
                                                         delegate: delegate, now: now()))
            }
        }
        /// Both membership routes: one record, or a batch (stored all or none); the records
        /// name their space, and the URL must name the same one.
        @Sendable func appendMembership(_ request: Request, _ context: some RequestContext, batch: Bool) async throws -> Response {
            try await answer(metrics) {
                let device = try await authenticated(request, service, now())
                let space = try spaceID(context)
                let records: [[UInt8]]
                if batch {
                    let body = try await body.read(request, limit: RelayService.maximumMembershipBatch * 4200)
                    do {
                        records = try RelayMessages.decodeBatch(body, maximumCount: RelayService.maximumMembershipBatch, maximumItemBytes: 4096)
                    } catch {
                        throw RelayError.malformed("a batch of membership records: varint(count) (varint(length) record)*")
                    }
                } else {
                    records = [try await body.read(request, limit: 4096)]
                }
                guard records.allSatisfy({ $0.count >= 17 && Array($0[1..<17]) == space.bytes }) else {
                    throw RelayError.malformed("a record is for another space than the URL names")
                }
                let appended = try await service.appendMembership(batch: records, from: device, now: now())
                for removed in appended.removedDevices {
                    // Revocation takes effect at once: its sockets close, its sessions are gone.
                    await live.close(space: space, device: WireDeviceID(verifyingKey: removed))
                }
                return json("{\"index\":\(appended.index)}")
            }
        }
        router.post("/v1/spaces/:space/membership") { request, context -> Response in
            try await appendMembership(request, context, batch: false)
        }
        router.post("/v1/spaces/:space/membership/batch") { request, context -> Response in
            try await appendMembership(request, context, batch: true)
        }
        router.get("/v1/spaces/:space/membership/refused") { request, context -> Response in
            try await answer(metrics) {
                let device = try await authenticated(request, service, now())
                return binary(RelayMessages.encode(batch: try await service.refusedMembership(space: try spaceID(context), device: device)))
            }
        }
        router.get("/v1/spaces/:space/membership") { request, context -> Response in
            try await answer(metrics) {
                let device = try await authenticated(request, service, now())
                let space = try spaceID(context)
                // Indices are stored as SQLite integers: after + 1 must fit in Int64.
                let after = try QueryNumber.parse(request.uri.queryParameters.get("after"), name: "after", default: 0,
                                                  range: 0...(UInt64(Int64.max) - 1))
                var certificate: DeviceCertificate?
                if let name = HTTPField.Name("Duet-Certificate"), let text = request.headers[name] {
                    guard let bytes = hex(text), let parsed = try? DeviceCertificate(bytes: bytes) else {
                        throw RelayError.malformed("Duet-Certificate is a device certificate in hex")
                    }
                    certificate = parsed
                }
                return binary(RelayMessages.encode(batch: try await service.membership(space: space, from: after + 1, device: device, certificate: certificate)))
            }
        }
        router.post("/v1/spaces/:space/envelopes") { request, context -> Response in
            try await answer(metrics) {
                let device = try await authenticated(request, service, now())
                let space = try spaceID(context)
                let body = try await body.read(request, limit: limit)
                let batch: [[UInt8]]
                do { batch = try RelayMessages.decodeBatch(body, maximumCount: 256, maximumItemBytes: Envelope.maximumSealedBytes + 256) } catch {
                    throw RelayError.malformed("\(error)")
                }
                let outcomes = try await service.append(batch, to: space, from: device, now: now())
                metrics.appended(outcomes: outcomes, bytes: body.count)
                let stored = zip(batch, outcomes).compactMap { bytes, outcome -> [UInt8]? in
                    if case .stored = outcome { return bytes }
                    return nil
                }
                if !stored.isEmpty { await live.publish(space: space, envelopes: stored, members: await service.memberDeviceIDs(of: space)) }
                let codes = outcomes.map(code)
                if let refusal = outcomes.lazy.compactMap(refusalOf).first {
                    let quota = refusal == .quotaExceeded
                    throw RelayError(code: refusal.rawValue, status: quota ? 429 : 409,
                                     message: "\(message(for: refusal)); outcomes: \(codes.joined(separator: ","))",
                                     retryAfterSeconds: quota ? RelayError.quotaExceeded.retryAfterSeconds : nil)
                }
                return json("{\"outcomes\":[\(codes.map { "\"\($0)\"" }.joined(separator: ","))]}")
            }
        }
        router.get("/v1/spaces/:space/envelopes") { request, context -> Response in
            try await answer(metrics) {
                let device = try await authenticated(request, service, now())
                let space = try spaceID(context)
                var vector: [WireDeviceID: UInt64] = [:]
                if let text = request.uri.queryParameters.get("vector"), !text.isEmpty {
                    guard let data = base64URL(text) else { throw RelayError.malformed("vector is base64url") }
                    do { vector = try RelayMessages.decodeVector(data) } catch { throw RelayError.malformed("\(error)") }
                }
                let limit = Int(try QueryNumber.parse(request.uri.queryParameters.get("limit"), name: "limit", default: 1000,
                                                      range: 1...UInt64(RelayService.maximumFetchCount)))
                let result = try await service.fetch(space: space, after: vector, limit: limit, device: device, now: now())
                return binary([result.complete ? 1 : 0] + RelayMessages.encode(batch: result.envelopes))
            }
        }
        router.get("/v1/spaces/:space/heads") { request, context -> Response in
            try await answer(metrics) {
                let device = try await authenticated(request, service, now())
                return binary(RelayMessages.encode(vector: try await service.heads(space: try spaceID(context), device: device, now: now())))
            }
        }

        // Recovery slots need a session (any device); the slot id comes from a 128-bit code.
        router.put("/v1/recovery/:id") { request, context -> Response in
            try await answer(metrics) {
                let device = try await authenticated(request, service, now())
                let body = try await body.read(request, limit: Mailboxes.maximumBytes + 96)
                try await service.putRecovery(slot: try mailboxID(context), body: body, from: device, now: now())
                return json("{}")
            }
        }
        router.get("/v1/recovery/:id") { request, context -> Response in
            try await answer(metrics) {
                _ = try await authenticated(request, service, now())
                return binary(try await service.recovery(slot: try mailboxID(context)))
            }
        }

        // Mailboxes need a session (any device) but no membership: the invitee is not one yet.
        router.put("/v1/mailboxes/:id") { request, context -> Response in
            try await answer(metrics) {
                let device = try await authenticated(request, service, now())
                let body = try await body.read(request, limit: Mailboxes.maximumBytes)
                try await service.putMailbox(try mailboxID(context), body, from: device, now: now())
                return json("{}")
            }
        }
        router.get("/v1/mailboxes/:id") { request, context -> Response in
            try await answer(metrics) {
                _ = try await authenticated(request, service, now())
                return binary(try await service.takeMailbox(try mailboxID(context), now: now()))
            }
        }

        let eventLoops: EventLoopGroupProvider = configuration.eventLoopThreads.map { .shared(MultiThreadedEventLoopGroup(numberOfThreads: $0)) } ?? .singleton
        let channel = HTTP1WebSocketUpgradeChannel.Configuration(
            http1: .init(idleTimeout: .seconds(Int64(clamping: min(max(1, configuration.idleTimeoutSeconds), 86_400)))),
            // Pings find live sockets whose device vanished (a laptop closed mid-connection);
            // inbound frames stay small, since a client sends nothing that matters on them.
            ws: .init(maxFrameSize: 1 << 14, autoPing: .enabled(timePeriod: .seconds(30)), closeTimeout: .seconds(5)))
        let relay = Application(
            router: router,
            server: HTTPServerBuilder { responder in
                guardian.guarding(HTTP1WebSocketUpgradeChannel(responder: responder, configuration: channel) { request, _, _ in
                    try await upgrade(request, service: service, live: live, now: now())
                })
            },
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "duet-relay"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                if configuration.publicURL == nil { await service.setOrigin("http://\(configuration.host):\(port)") }
                await onListening(port)
            },
            eventLoopGroupProvider: eventLoops,
            logger: logger)
        let admin = Application(
            router: adminRouter,
            configuration: .init(address: .hostname(configuration.adminHost, port: configuration.adminPort), serverName: "duet-relay-admin"),
            onServerRunning: { channel in await onAdminListening(channel.localAddress?.port ?? configuration.adminPort) },
            eventLoopGroupProvider: eventLoops,
            logger: logger)
        return (relay, admin)
    }

    // MARK: - Live push

    /// `GET /v1/spaces/{space}/live` with a session: upgraded for member devices, within the
    /// per-device connection limit; anything else is answered as plain HTTP (and refused there).
    static func upgrade(
        _ request: HTTPRequest, service: RelayService, live: LiveFanOut, now: UInt64
    ) async throws -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        let parts = (request.path ?? "").split(separator: "?").first?.split(separator: "/") ?? []
        guard parts.count == 4, parts[0] == "v1", parts[1] == "spaces", parts[3] == "live",
              let bytes = hex(String(parts[2])), let space = try? SpaceID(bytes: bytes),
              let header = request.headerFields[.authorization], header.hasPrefix("Bearer "),
              let token = hex(String(header.dropFirst(7))), token.count == 32,
              let device = try? await service.device(for: token, now: now),
              (try? await service.heads(space: space, device: device, now: now)) != nil else { return .dontUpgrade }
        let deviceID = WireDeviceID(verifyingKey: device)
        guard let subscription = await live.subscribe(space: space, device: deviceID) else { return .dontUpgrade }
        // A removal that landed between the membership check and the subscription: the next
        // publish re-checks too, but do not even start.
        guard await service.isMember(device, of: space) else {
            await live.unsubscribe(space: space, device: deviceID, id: subscription.id)
            return .dontUpgrade
        }
        return .upgrade([:]) { inbound, outbound, _ in
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await envelope in subscription.stream {
                        do { try await outbound.write(.binary(ByteBuffer(bytes: envelope))) } catch { return }
                        subscription.queued.written(envelope.count)
                    }
                }
                group.addTask {
                    // The client sends nothing that matters; the stream ending means it left.
                    do { for try await _ in inbound {} } catch {}
                }
                await group.next()
                await live.unsubscribe(space: space, device: deviceID, id: subscription.id)
                group.cancelAll()
            }
        }
    }

    // MARK: - Helpers

    static func answer(_ metrics: RelayMetrics, _ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let error as RelayError {
            metrics.refused(code: error.code)
            let wait = error.retryAfterMilliseconds.map { ",\"retryAfterMilliseconds\":\($0)" } ?? ""
            let origin = error.expectedOrigin.map { ",\"expectedOrigin\":\(jsonString($0))" } ?? ""
            var response = json("{\"code\":\"\(error.code)\",\"message\":\(jsonString(error.message))\(wait)\(origin)}",
                                status: .init(code: error.status))
            if let seconds = error.retryAfterSeconds { response.headers[.retryAfter] = String(seconds) }
            return response
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            metrics.refused(code: "too-large")
            return json("{\"code\":\"too-large\",\"message\":\"the request body is too large\"}", status: .contentTooLarge)
        }
    }

    static func publicKey(_ bytes: [UInt8]) throws -> VerifyingKey {
        guard let key = try? VerifyingKey(bytes: bytes) else { throw RelayError.malformed("a device key is 32 bytes") }
        return key
    }

    static func authenticated(_ request: Request, _ service: RelayService, _ now: UInt64) async throws -> VerifyingKey {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
              let token = hex(String(header.dropFirst(7))), token.count == 32 else { throw RelayError.unauthenticated }
        return try await service.device(for: token, now: now)
    }

    static func spaceID(_ context: some RequestContext) throws -> SpaceID {
        guard let text = context.parameters.get("space"), let bytes = hex(text), let space = try? SpaceID(bytes: bytes) else {
            throw RelayError.malformed("a space id is 32 lowercase hex characters")
        }
        return space
    }

    static func mailboxID(_ context: some RequestContext) throws -> [UInt8] {
        guard let text = context.parameters.get("id"), let bytes = hex(text), bytes.count == 16 else {
            throw RelayError.malformed("a mailbox id is 32 lowercase hex characters")
        }
        return bytes
    }

    static func binary(_ bytes: [UInt8]) -> Response {
        Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }

    static func jsonString(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func code(_ outcome: AppendOutcome) -> String {
        switch outcome {
        case .stored: "stored"
        case .duplicate: "duplicate"
        case .refused(let refusal): refusal.rawValue
        }
    }

    static func refusalOf(_ outcome: AppendOutcome) -> RelayRefusal? {
        if case .refused(let refusal) = outcome { return refusal }
        return nil
    }

    static func message(for refusal: RelayRefusal) -> String {
        switch refusal {
        case .gap: "an earlier envelope of this device is missing; send them in seq order"
        case .brokenChain: "the envelope does not name the hash of the device's previous one"
        case .fork: "a different envelope holds this seq; the device forked and both are kept"
        case .quotaExceeded: "the space has reached its storage quota; ask the relay's operator"
        case .deviceForked: "this device signed two different envelopes for one seq; the relay takes nothing more from it: revoke it and link a new one"
        }
    }

    /// Lower- or upper-case hex (DuetCrypto's decoder, shared within the package).
    static func hex(_ text: String) -> [UInt8]? { Hex.decode(text) }

    static func base64URL(_ text: String) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map { [UInt8]($0) }
    }
}
