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
        /// The shared backend (issue #17): several relay processes on one PostgreSQL database.
        /// Nil for the embedded SQLite store in `dataDirectory`.
        public var postgres: PostgresLocation?
        /// Connections to PostgreSQL each process keeps at most.
        public var postgresPoolSize = 16
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

    /// What the relay runs on besides its listeners: closed once they have stopped.
    public struct Backend: Sendable {
        let feed: Task<Void, Never>?
        let postgres: PostgresRelayStorage?

        public func close() async {
            feed?.cancel()
            await feed?.value
            await postgres?.close()
        }
    }

    /// Builds the public relay and the operator's admin listener, to run together in one
    /// service group; `onListening` and `onAdminListening` receive the bound ports (useful
    /// with port 0). With PostgreSQL, it returns once the database is reachable, migrated, and
    /// this process hears the others' appends; a database it cannot use throws one clear line.
    public static func applications(
        configuration: Configuration, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in },
        onAdminListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> (relay: some ApplicationProtocol, admin: some ApplicationProtocol, backend: Backend) {
        let origin = configuration.publicURL ?? "http://\(configuration.host):\(configuration.port)"
        let live = LiveFanOut(maximumConnectionsPerDevice: configuration.liveConnectionsPerDevice)
        let service: RelayService
        let backend: Backend
        if let location = configuration.postgres {
            // PostgresNIO's own debug and trace lines carry query values (ciphertext, space ids,
            // session hashes): its log stops at notice, whatever the relay's level.
            var databaseLogger = logger
            databaseLogger.logLevel = max(logger.logLevel, .notice)
            let storage = try await PostgresRelayStorage.connect(location, spaceQuotaBytes: configuration.spaceQuotaBytes,
                                                                 poolSize: configuration.postgresPoolSize, logger: databaseLogger)
            let limits = configuration.limits
            let access = PostgresAccessStore(storage: storage, mailboxBytes: limits.mailboxBytes, mailboxBytesPerDevice: limits.mailboxBytesPerDevice)
            service = RelayService(storage: storage, origin: origin, limits: limits, access: access)
            // Nothing cached is trusted until this process hears what the others change.
            await service.trustMembershipCache(false)
            access.trustCache(false)
            let feed = PostgresClusterFeed(location: location, storage: storage, access: access, service: service, live: live, logger: databaseLogger)
            let (listening, heard) = AsyncStream<Void>.makeStream()
            let task = Task { await feed.run { heard.yield() } }
            // Serve only once other processes' appends are heard: a socket opened before would miss them.
            for await _ in listening { break }
            backend = Backend(feed: task, postgres: storage)
        } else {
            let storage = try SQLiteRelayStorage(directory: configuration.dataDirectory, spaceQuotaBytes: configuration.spaceQuotaBytes)
            service = RelayService(storage: storage, origin: origin, limits: configuration.limits)
            backend = Backend(feed: nil, postgres: nil)
        }
        let metrics = RelayMetrics(logger: logger)
        let router = Router()
        router.middlewares.add(MetricsMiddleware(metrics: metrics))
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
            metrics.prometheusText(liveConnections: await live.connections, connections: guardian.connections, held: await service.held(now: now()))
        }

        let api = RelayAPI(service: service, live: live, now: now, metrics: metrics, maximumRequestBytes: configuration.maximumRequestBytes)
        // The catch-all routes below take GET, POST and PUT under a path; every other request
        // (HEAD, DELETE, OPTIONS, PATCH, the root, a path under /healthz) reaches the router's
        // own not-found, which must answer as the API does: JSON `not-found`, counted.
        router.middlewares.add(NotFoundMiddleware(api: api))
        // Every route is the API's (RelayAPI parses the path, one home for both transports):
        // here only the body is read, within the route's limit and the relay-wide budget.
        for method in [HTTPRequest.Method.get, .post, .put] {
            router.on("**", method: method) { request, _ -> Response in
                try await respond(request, api: api, body: body)
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
                    try await upgrade(request, api: api)
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
        return (relay, admin, backend)
    }

    // MARK: - Live push

    /// `GET /v1/spaces/{space}/live` with a session: upgraded for member devices, within the
    /// per-device connection limit; anything else is answered as plain HTTP (and refused there).
    static func upgrade(_ request: HTTPRequest, api: RelayAPI) async throws -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        var headers: [String: String] = [:]
        if let authorization = request.headerFields[.authorization] { headers["authorization"] = authorization }
        guard let subscription = await api.openLive(RelayRequest(method: request.method.rawValue, target: request.path ?? "", headers: headers)) else {
            return .dontUpgrade
        }
        return .upgrade([:]) { inbound, outbound, _ in
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await envelope in subscription.envelopes {
                        do { try await outbound.write(.binary(ByteBuffer(bytes: envelope))) } catch { return }
                        subscription.written(envelope.count)
                    }
                }
                group.addTask {
                    // The client sends nothing that matters; the stream ending means it left.
                    do { for try await _ in inbound {} } catch {}
                }
                await group.next()
                await subscription.close()
                group.cancelAll()
            }
        }
    }

    // MARK: - HTTP

    /// One HTTP request through the API: its body read within the route's limit, the headers
    /// Duet uses passed on, the reply written back.
    static func respond(_ request: Request, api: RelayAPI, body reader: BodyReader) async throws -> Response {
        let target = request.uri.description
        let method = request.method.rawValue
        var bytes: [UInt8] = []
        if let limit = api.bodyLimit(method: method, target: target), limit > 0 {
            do { bytes = try await reader.read(request, limit: limit) } catch let error as RelayError {
                return response(api.reply(for: error))
            } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
                return response(api.reply(for: RelayError.tooLarge(limit: limit)))
            }
        }
        var headers: [String: String] = [:]
        if let authorization = request.headers[.authorization] { headers["authorization"] = authorization }
        if let name = HTTPField.Name("Duet-Certificate"), let certificate = request.headers[name] { headers["duet-certificate"] = certificate }
        return response(await api.respond(RelayRequest(method: method, target: target, headers: headers, body: bytes)))
    }

    /// The router's not-found (no route for this method and path) as the API's `not-found`.
    struct NotFoundMiddleware<Context: RequestContext>: RouterMiddleware {
        let api: RelayAPI

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            do {
                return try await next(request, context)
            } catch let error as HTTPError where error.status == .notFound {
                let reply = RelayServer.response(api.reply(for: RelayAPI.noSuchRoute))
                // A reply to HEAD has the headers of the reply to GET and no body (RFC 9110 § 9.3.2).
                return request.method == .head ? reply.createHeadResponse() : reply
            }
        }
    }

    static func response(_ reply: RelayReply) -> Response {
        var fields: HTTPFields = [.contentType: reply.isJSON ? "application/json" : "application/octet-stream"]
        if let seconds = reply.retryAfterSeconds { fields[.retryAfter] = String(seconds) }
        return Response(status: .init(code: reply.status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
    }
}
