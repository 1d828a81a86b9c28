public import DuetCrypto
public import DuetWire

/// The relay's logic, free of HTTP (the server is a thin layer over it): sessions from signed
/// challenges, membership logs verified record by record, envelopes accepted only from member
/// devices with valid signatures, fetches only by members. Time is passed in.
public actor RelayService {
    public struct Limits: Sendable {
        public var maximumEnvelopeBytes = Envelope.maximumSealedBytes + 256
        public var maximumBatch = 256
        public var challengeLifetime: UInt64 = 60_000
        public var sessionLifetime: UInt64 = 3_600_000
        /// Appends per second a device may make on average, and the burst it may save up.
        public var appendsPerSecond = 100.0
        public var appendBurst = 200.0
        public init() {}
    }

    private let storage: any RelayStorage
    private var origin: String
    private nonisolated let limits: Limits
    private var challenges: [[UInt8]: (device: VerifyingKey, expires: UInt64)] = [:]
    private var sessions: [[UInt8]: (device: VerifyingKey, expires: UInt64)] = [:]
    private var logs: [SpaceID: MembershipLog] = [:]
    private var mailboxes = Mailboxes()
    private var buckets: [VerifyingKey: (tokens: Double, at: UInt64)] = [:]

    static let authContext = Array("duet relay auth v1".utf8)

    public init(storage: any RelayStorage, origin: String, limits: Limits = Limits()) {
        self.storage = storage
        self.origin = origin
        self.limits = limits
    }

    // MARK: - Authentication

    /// The origin signatures are bound to: the URL clients use to reach this relay. Set once the
    /// port is known when listening on port 0.
    public func setOrigin(_ origin: String) { self.origin = origin }

    /// A fresh challenge for `device` to sign.
    public func challenge(for device: VerifyingKey, now: UInt64) -> [UInt8] {
        challenges = challenges.filter { $0.value.expires > now }
        let challenge = RandomBytes.make(count: 32)
        challenges[challenge] = (device, now + limits.challengeLifetime)
        return challenge
    }

    /// What a device signs to prove it holds its key: context, this relay's origin, challenge.
    public static func authenticationMessage(origin: String, challenge: [UInt8]) -> [UInt8] {
        authContext + Array(origin.utf8) + [0] + challenge
    }

    /// Exchanges a signed challenge for a session token. A challenge is good once.
    /// With `delegate`, the challenge was signed by the device's sync daemon key, which the device
    /// key vouched for (SPEC § 6.3); the session is the device's either way.
    public func session(device: VerifyingKey, challenge: [UInt8], signature: Signature,
                        delegate: (key: VerifyingKey, delegation: Signature)? = nil, now: UInt64) throws(RelayError) -> [UInt8] {
        guard let issued = challenges.removeValue(forKey: challenge), issued.device == device, issued.expires > now else {
            throw .unauthenticated
        }
        let signer = delegate?.key ?? device
        if let delegate, !SyncDelegation.isValid(delegate.delegation, delegate: delegate.key, device: device) {
            throw .unauthenticated
        }
        guard signer.isValidSignature(signature, for: Self.authenticationMessage(origin: origin, challenge: challenge)) else {
            throw .unauthenticated
        }
        sessions = sessions.filter { $0.value.expires > now }
        let token = RandomBytes.make(count: 32)
        sessions[token] = (device, now + limits.sessionLifetime)
        return token
    }

    /// The device a session token belongs to.
    public func device(for token: [UInt8], now: UInt64) throws(RelayError) -> VerifyingKey {
        guard let session = sessions[token], session.expires > now else { throw .unauthenticated }
        return session.device
    }

    // MARK: - Membership

    private func log(for space: SpaceID) async throws -> MembershipLog? {
        if let cached = logs[space] { return cached }
        let records = try await storage.membership(space: space, from: 1)
        guard !records.isEmpty else { return nil }
        var log = MembershipLog(space: space)
        for bytes in records {
            // Records were verified before they were stored; a failure here means a damaged store.
            try log.append(try MembershipRecord(bytes: bytes))
        }
        logs[space] = log
        return log
    }

    /// Appends a membership record. The first record of a space creates it (anyone may create a
    /// space; only its members may change it). Later records must come from a member device.
    public func appendMembership(_ bytes: [UInt8], from device: VerifyingKey) async throws -> UInt64 {
        let record: MembershipRecord
        do { record = try MembershipRecord(bytes: bytes) } catch { throw RelayError.malformed("\(error)") }
        var log = try await log(for: record.space) ?? MembershipLog(space: record.space)
        // The record's signature is the authority; the sender must also be a member device,
        // except when the record adds the sender itself (a new device joining, certified by
        // its identity), or creates the space.
        var addsSender = false
        if case .addDevice(let certificate) = record.action, certificate.device == device { addsSender = true }
        if !log.records.isEmpty, log.devices[device] == nil, !addsSender { throw RelayError.notAMember }
        do { try log.append(record) } catch { throw RelayError.conflict("membership-\(error.rawValue)", "the record does not follow the space's log") }
        guard try await storage.appendMembership(space: record.space, index: record.index, record: bytes) else {
            logs[record.space] = nil
            throw RelayError.conflict("membership-out-of-order", "another record took this index; fetch the log and retry")
        }
        logs[record.space] = log
        return record.index
    }

    /// Member devices read the log; so does a device not yet added whose certificate (for the
    /// session's own key) is signed by a member identity — a recovered device must read the log
    /// to append its own `addDevice` (SPEC § 7.5).
    public func membership(space: SpaceID, from index: UInt64, device: VerifyingKey, certificate: DeviceCertificate? = nil) async throws -> [[UInt8]] {
        guard let log = try await log(for: space) else { throw RelayError.unknownSpace }
        let certified = certificate.map { certificate in
            certificate.device == device && log.identities.contains(certificate.identity) && (try? certificate.verify()) != nil
        } ?? false
        guard log.devices[device] != nil || certified else { throw RelayError.notAMember }
        return try await storage.membership(space: space, from: index)
    }

    // MARK: - Envelopes

    /// Appends envelopes sent by `device` to `space`: each must parse, be the sender's own, come
    /// from a current member, and carry a valid signature, before the storage rules judge it.
    /// Parsing and signature checks run outside the actor, so requests verify in parallel; only
    /// the membership and rate checks are serialised.
    public nonisolated func append(_ batch: [[UInt8]], to space: SpaceID, from device: VerifyingKey, now: UInt64) async throws -> [AppendOutcome] {
        try await admit(batchSize: batch.count, to: space, from: device, now: now)
        let maximumBytes = limits.maximumEnvelopeBytes
        let sender = WireDeviceID(verifyingKey: device)
        var envelopes: [Envelope] = []
        envelopes.reserveCapacity(batch.count)
        for bytes in batch {
            guard bytes.count <= maximumBytes else { throw RelayError.tooLarge(limit: maximumBytes) }
            let envelope: Envelope
            do { envelope = try Envelope(bytes: bytes) } catch { throw RelayError.malformed("\(error)") }
            guard envelope.header.space == space else { throw RelayError.malformed("an envelope names another space") }
            guard envelope.header.device == sender else { throw RelayError.malformed("a device appends only its own envelopes") }
            do { try envelope.verify(signer: device) } catch { throw RelayError.malformed("an envelope's signature does not verify") }
            envelopes.append(envelope)
        }
        return try await storage.append(envelopes)
    }

    /// The serialised part of an append: batch size, membership, rate.
    private func admit(batchSize: Int, to space: SpaceID, from device: VerifyingKey, now: UInt64) async throws {
        guard batchSize <= limits.maximumBatch else { throw RelayError.tooLarge(limit: limits.maximumBatch) }
        guard let log = try await log(for: space) else { throw RelayError.unknownSpace }
        guard let certificate = log.devices[device], certificate.isValid(at: now) else { throw RelayError.notAMember }
        try spend(Double(batchSize), by: device, now: now)
    }

    /// A token bucket per device: `appendsPerSecond` refill, `appendBurst` capacity.
    private func spend(_ cost: Double, by device: VerifyingKey, now: UInt64) throws(RelayError) {
        var bucket = buckets[device] ?? (limits.appendBurst, now)
        let elapsed = Double(now >= bucket.at ? now - bucket.at : 0) / 1000
        bucket.tokens = min(limits.appendBurst, bucket.tokens + elapsed * limits.appendsPerSecond)
        bucket.at = now
        guard bucket.tokens >= cost else {
            buckets[device] = bucket
            throw .rateLimited
        }
        bucket.tokens -= cost
        buckets[device] = bucket
    }

    public func fetch(space: SpaceID, after vector: [WireDeviceID: UInt64], limit: Int, device: VerifyingKey) async throws -> (envelopes: [[UInt8]], complete: Bool) {
        guard let log = try await log(for: space) else { throw RelayError.unknownSpace }
        guard log.devices[device] != nil else { throw RelayError.notAMember }
        return try await storage.fetch(space: space, after: vector, limit: max(1, min(limit, 10_000)))
    }

    public func heads(space: SpaceID, device: VerifyingKey) async throws -> [WireDeviceID: UInt64] {
        guard let log = try await log(for: space) else { throw RelayError.unknownSpace }
        guard log.devices[device] != nil else { throw RelayError.notAMember }
        return try await storage.heads(space: space)
    }

    // MARK: - Recovery

    public func putRecovery(slot: [UInt8], body: [UInt8]) async throws {
        guard let (owner, blob) = Recovery.openPutBody(body, slot: slot) else {
            throw RelayError.malformed("identity (32) ‖ signature (64) over the slot and blob ‖ blob")
        }
        guard try await storage.putRecovery(slot: slot, owner: owner.bytes, blob: blob) else {
            throw RelayError.conflict("recovery-taken", "this recovery slot belongs to another identity")
        }
    }

    public func recovery(slot: [UInt8]) async throws -> [UInt8] {
        guard let blob = try await storage.recovery(slot: slot) else {
            throw RelayError(code: "unknown-recovery", status: 404, message: "nothing is kept under this recovery code")
        }
        return blob
    }

    // MARK: - Mailboxes

    public func putMailbox(_ id: [UInt8], _ blob: [UInt8], now: UInt64) throws(RelayError) {
        try mailboxes.put(id, blob, now: now)
    }

    public func takeMailbox(_ id: [UInt8], now: UInt64) throws(RelayError) -> [UInt8] {
        try mailboxes.take(id, now: now)
    }
}
