public import DuetWire
import DuetCrypto
import Foundation

/// The relay's request surface (SPEC § 6.5) as bytes in, bytes out: route, parse, call
/// ``RelayService``, encode. The HTTP server reads a request's body and hands it here; an
/// in-process connection (tests, the simulator) calls ``respond(_:)`` directly, so both run the
/// same routes, the same parsing and the same refusals. Every refusal of what a client sent is
/// a 4xx with a code; nothing a client sends can crash it.
public struct RelayAPI: Sendable {
    public let service: RelayService
    let live: LiveFanOut
    let now: @Sendable () -> UInt64
    let metrics: RelayMetrics?
    /// The largest envelope batch body taken (the operator's `--max-request-bytes`).
    let maximumRequestBytes: Int

    /// `now` is the relay's wall clock in milliseconds (sessions, challenges, rates, mailboxes).
    public init(service: RelayService, now: @escaping @Sendable () -> UInt64, maximumRequestBytes: Int = 8 << 20,
                liveConnectionsPerDevice: Int = 4) {
        self.init(service: service, live: LiveFanOut(maximumConnectionsPerDevice: liveConnectionsPerDevice), now: now,
                  metrics: nil, maximumRequestBytes: maximumRequestBytes)
    }

    init(service: RelayService, live: LiveFanOut, now: @escaping @Sendable () -> UInt64, metrics: RelayMetrics?, maximumRequestBytes: Int) {
        self.service = service
        self.live = live
        self.now = now
        self.metrics = metrics
        self.maximumRequestBytes = maximumRequestBytes
    }

    /// A route of SPEC § 6.5, with the ids as the client wrote them (checked when handled).
    enum Route: Equatable {
        case challenge, session
        case appendMembership(space: Substring, batch: Bool)
        case refusedMembership(space: Substring), membership(space: Substring)
        case append(space: Substring), fetch(space: Substring), heads(space: Substring), live(space: Substring)
        case putRecovery(id: Substring), recovery(id: Substring)
        case putMailbox(id: Substring), takeMailbox(id: Substring)

        init?(method: String, path: Substring) {
            let parts = path.split(separator: "/")
            switch (method, parts.count) {
            case ("POST", 3) where parts[0] == "v1" && parts[1] == "auth" && parts[2] == "challenge": self = .challenge
            case ("POST", 3) where parts[0] == "v1" && parts[1] == "auth" && parts[2] == "session": self = .session
            case (_, 3) where parts[0] == "v1" && parts[1] == "recovery":
                switch method {
                case "PUT": self = .putRecovery(id: parts[2])
                case "GET": self = .recovery(id: parts[2])
                default: return nil
                }
            case (_, 3) where parts[0] == "v1" && parts[1] == "mailboxes":
                switch method {
                case "PUT": self = .putMailbox(id: parts[2])
                case "GET": self = .takeMailbox(id: parts[2])
                default: return nil
                }
            case (_, 4) where parts[0] == "v1" && parts[1] == "spaces":
                let space = parts[2]
                switch (method, parts[3]) {
                case ("POST", "membership"): self = .appendMembership(space: space, batch: false)
                case ("GET", "membership"): self = .membership(space: space)
                case ("POST", "envelopes"): self = .append(space: space)
                case ("GET", "envelopes"): self = .fetch(space: space)
                case ("GET", "heads"): self = .heads(space: space)
                case ("GET", "live"): self = .live(space: space)
                default: return nil
                }
            case (_, 5) where parts[0] == "v1" && parts[1] == "spaces" && parts[3] == "membership":
                switch (method, parts[4]) {
                case ("POST", "batch"): self = .appendMembership(space: parts[2], batch: true)
                case ("GET", "refused"): self = .refusedMembership(space: parts[2])
                default: return nil
                }
            default: return nil
            }
        }
    }

    /// The most body bytes the route named by `method` and `target` takes: a server reads no
    /// more (and answers 413 beyond it); nil for a request no route takes.
    public func bodyLimit(method: String, target: String) -> Int? {
        guard let route = Route(method: method, path: RelayRequest(method: method, target: target).path) else { return nil }
        switch route {
        case .challenge, .session: return 1024
        case .appendMembership(_, let batch): return batch ? RelayService.maximumMembershipBatch * 4200 : 4096
        case .append: return maximumRequestBytes
        case .putRecovery: return Mailboxes.maximumBytes + 96
        case .putMailbox: return Mailboxes.maximumBytes
        case .refusedMembership, .membership, .fetch, .heads, .live, .recovery, .takeMailbox: return 0
        }
    }

    /// Answers one request. Never throws: a refusal is a reply with its code.
    public func respond(_ request: RelayRequest) async -> RelayReply {
        guard let route = Route(method: request.method, path: request.path) else { return reply(for: Self.noSuchRoute) }
        if let limit = bodyLimit(method: request.method, target: request.target), request.body.count > limit {
            return reply(for: RelayError.tooLarge(limit: limit))
        }
        do {
            return try await handle(route, request)
        } catch let error as RelayError {
            return reply(for: error)
        } catch {
            // A fault of the relay's own (its storage), never of what the client sent.
            metrics?.refused(code: "internal")
            return json("{\"code\":\"internal\",\"message\":\"the relay failed; retry later\"}", status: 500)
        }
    }

    /// What a request no route takes is answered (SPEC § 6.5: `not-found`, 404).
    public static let noSuchRoute = RelayError(code: "not-found", status: 404, message: "no such route")

    /// The reply for a refusal: its code and message as JSON, the wait when it has one.
    public func reply(for error: RelayError) -> RelayReply {
        metrics?.refused(code: error.code)
        let wait = error.retryAfterMilliseconds.map { ",\"retryAfterMilliseconds\":\($0)" } ?? ""
        let origin = error.expectedOrigin.map { ",\"expectedOrigin\":\(Self.jsonString($0))" } ?? ""
        var reply = json("{\"code\":\"\(error.code)\",\"message\":\(Self.jsonString(error.message))\(wait)\(origin)}", status: error.status)
        reply.retryAfterSeconds = error.retryAfterSeconds
        return reply
    }

    private func handle(_ route: Route, _ request: RelayRequest) async throws -> RelayReply {
        let body = request.body
        switch route {
        case .challenge:
            return binary(try await service.challenge(for: try Self.publicKey(body), now: now()))
        case .session:
            // key ‖ challenge ‖ signature, then for a sync daemon: its key ‖ the device's delegation.
            guard body.count == 128 || body.count == 128 + 32 + 64 else {
                throw RelayError.malformed("key (32) ‖ challenge (32) ‖ signature (64) [‖ delegate key (32) ‖ delegation (64)]")
            }
            let device = try Self.publicKey(Array(body[0..<32]))
            guard let signature = try? Signature(bytes: Array(body[64..<128])) else { throw RelayError.malformed("signature") }
            var delegate: (key: VerifyingKey, delegation: Signature)?
            if body.count > 128 {
                guard let delegation = try? Signature(bytes: Array(body[160..<224])) else { throw RelayError.malformed("delegation") }
                delegate = (try Self.publicKey(Array(body[128..<160])), delegation)
            }
            return binary(try await service.session(device: device, challenge: Array(body[32..<64]), signature: signature,
                                                    delegate: delegate, now: now()))
        case .appendMembership(let text, let batch):
            // One record, or a batch (stored all or none); the records name their space, and
            // the URL must name the same one.
            let device = try await authenticated(request)
            let space = try Self.spaceID(text)
            let records: [[UInt8]]
            if batch {
                do {
                    records = try RelayMessages.decodeBatch(body, maximumCount: RelayService.maximumMembershipBatch, maximumItemBytes: 4096)
                } catch {
                    throw RelayError.malformed("a batch of membership records: varint(count) (varint(length) record)*")
                }
            } else {
                records = [body]
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
        case .refusedMembership(let text):
            let device = try await authenticated(request)
            return binary(RelayMessages.encode(batch: try await service.refusedMembership(space: try Self.spaceID(text), device: device)))
        case .membership(let text):
            let device = try await authenticated(request)
            let space = try Self.spaceID(text)
            // Indices are stored as SQLite integers: after + 1 must fit in Int64.
            let after = try QueryNumber.parse(request.query("after"), name: "after", default: 0, range: 0...(UInt64(Int64.max) - 1))
            var certificate: DeviceCertificate?
            if let text = request.headers["duet-certificate"] {
                guard let bytes = Hex.decode(text), let parsed = try? DeviceCertificate(bytes: bytes) else {
                    throw RelayError.malformed("Duet-Certificate is a device certificate in hex")
                }
                certificate = parsed
            }
            return binary(RelayMessages.encode(batch: try await service.membership(space: space, from: after + 1, device: device,
                                                                                   certificate: certificate)))
        case .append(let text):
            let device = try await authenticated(request)
            let space = try Self.spaceID(text)
            let batch: [[UInt8]]
            do { batch = try RelayMessages.decodeBatch(body, maximumCount: 256, maximumItemBytes: Envelope.maximumSealedBytes + 256) } catch {
                throw RelayError.malformed("\(error)")
            }
            let outcomes = try await service.append(batch, to: space, from: device, now: now())
            metrics?.appended(outcomes: outcomes, bytes: body.count)
            let stored = zip(batch, outcomes).compactMap { bytes, outcome -> [UInt8]? in
                if case .stored = outcome { return bytes }
                return nil
            }
            if !stored.isEmpty { await live.publish(space: space, envelopes: stored, members: await service.memberDeviceIDs(of: space)) }
            let codes = outcomes.map(Self.code)
            if let refusal = outcomes.lazy.compactMap(Self.refusalOf).first {
                let quota = refusal == .quotaExceeded
                throw RelayError(code: refusal.rawValue, status: quota ? 429 : 409,
                                 message: "\(Self.message(for: refusal)); outcomes: \(codes.joined(separator: ","))",
                                 retryAfterSeconds: quota ? RelayError.quotaExceeded.retryAfterSeconds : nil)
            }
            return json("{\"outcomes\":[\(codes.map { "\"\($0)\"" }.joined(separator: ","))]}")
        case .fetch(let text):
            let device = try await authenticated(request)
            let space = try Self.spaceID(text)
            var vector: [WireDeviceID: UInt64] = [:]
            if let text = request.query("vector"), !text.isEmpty {
                guard let data = Self.base64URL(text) else { throw RelayError.malformed("vector is base64url") }
                do { vector = try RelayMessages.decodeVector(data) } catch { throw RelayError.malformed("\(error)") }
            }
            let limit = Int(try QueryNumber.parse(request.query("limit"), name: "limit", default: 1000,
                                                  range: 1...UInt64(RelayService.maximumFetchCount)))
            let result = try await service.fetch(space: space, after: vector, limit: limit, device: device, now: now())
            return binary([result.complete ? 1 : 0] + RelayMessages.encode(batch: result.envelopes))
        case .heads(let text):
            let device = try await authenticated(request)
            return binary(RelayMessages.encode(vector: try await service.heads(space: try Self.spaceID(text), device: device, now: now())))
        case .putRecovery(let text):
            // Recovery slots need a session (any device); the slot id comes from a 128-bit code.
            let device = try await authenticated(request)
            try await service.putRecovery(slot: try Self.mailboxID(text), body: body, from: device, now: now())
            return json("{}")
        case .recovery(let text):
            _ = try await authenticated(request)
            return binary(try await service.recovery(slot: try Self.mailboxID(text)))
        case .putMailbox(let text):
            // Mailboxes need a session (any device) but no membership: the invitee is not one yet.
            let device = try await authenticated(request)
            try await service.putMailbox(try Self.mailboxID(text), body, from: device, now: now())
            return json("{}")
        case .takeMailbox(let text):
            _ = try await authenticated(request)
            return binary(try await service.takeMailbox(try Self.mailboxID(text), now: now()))
        case .live:
            throw RelayError(code: "not-found", status: 404, message: "the live route is a WebSocket upgrade")
        }
    }

    // MARK: - Live push

    /// One live connection's feed: the envelopes stored in its space from now on, until the
    /// device is removed, falls too far behind, or ``LiveSubscription/close()`` is called.
    public struct LiveSubscription: Sendable {
        public let envelopes: AsyncStream<[UInt8]>
        let queued: QueuedBytes
        let close: @Sendable () async -> Void
        /// The transport wrote an envelope of `count` bytes out of the queue.
        public func written(_ count: Int) { queued.written(count) }
        /// Ends the feed (the connection closed).
        public func close() async { await close() }
    }

    /// Opens the live feed `GET /v1/spaces/{space}/live` asks for, for a member device with a
    /// session and within the per-device connection limit; nil otherwise (the HTTP server then
    /// answers the request as plain HTTP, and refuses it there).
    public func openLive(_ request: RelayRequest) async -> LiveSubscription? {
        guard await service.acceptsLiveSockets,
              request.method == "GET", case .live(let text)? = Route(method: request.method, path: request.path),
              let space = try? Self.spaceID(text), let device = try? await authenticated(request),
              (try? await service.heads(space: space, device: device, now: now())) != nil else { return nil }
        let deviceID = WireDeviceID(verifyingKey: device)
        guard let subscription = await live.subscribe(space: space, device: deviceID) else { return nil }
        let live = self.live
        // A removal that landed between the membership check and the subscription: the next
        // publish re-checks too, but do not even start.
        guard await service.isMember(device, of: space) else {
            await live.unsubscribe(space: space, device: deviceID, id: subscription.id)
            return nil
        }
        return LiveSubscription(envelopes: subscription.stream, queued: subscription.queued) {
            await live.unsubscribe(space: space, device: deviceID, id: subscription.id)
        }
    }

    /// Live connections open now (for `/metrics`).
    public var liveConnections: Int { get async { await live.connections } }

    // MARK: - Parsing and encoding

    func authenticated(_ request: RelayRequest) async throws -> VerifyingKey {
        guard let header = request.headers["authorization"], header.hasPrefix("Bearer "),
              let token = Hex.decode(String(header.dropFirst(7))), token.count == 32 else { throw RelayError.unauthenticated }
        return try await service.device(for: token, now: now())
    }

    static func publicKey(_ bytes: [UInt8]) throws -> VerifyingKey {
        guard let key = try? VerifyingKey(bytes: bytes) else { throw RelayError.malformed("a device key is 32 bytes") }
        return key
    }

    static func spaceID(_ text: Substring) throws -> SpaceID {
        guard let bytes = Hex.decode(String(text)), let space = try? SpaceID(bytes: bytes) else {
            throw RelayError.malformed("a space id is 32 lowercase hex characters")
        }
        return space
    }

    static func mailboxID(_ text: Substring) throws -> [UInt8] {
        guard let bytes = Hex.decode(String(text)), bytes.count == 16 else {
            throw RelayError.malformed("a mailbox id is 32 lowercase hex characters")
        }
        return bytes
    }

    func binary(_ bytes: [UInt8]) -> RelayReply { RelayReply(status: 200, body: bytes) }

    func json(_ text: String, status: Int = 200) -> RelayReply { RelayReply(status: status, body: Array((text + "\n").utf8), isJSON: true) }

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

    static func base64URL(_ text: String) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map { [UInt8]($0) }
    }
}
