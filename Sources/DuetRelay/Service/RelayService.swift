public import DuetCrypto
public import DuetWire

/// The relay's logic, free of HTTP (the server is a thin layer over it): sessions from signed
/// challenges, membership logs verified record by record, envelopes accepted only from member
/// devices with valid signatures, fetches only by members. Time is passed in.
///
/// A session costs nothing (any freshly generated key gets one), so everything a session can
/// make the relay keep is capped and everything it can make the relay do is rate-limited
/// (``Limits``; SPEC § 6.6 argues each default).
public actor RelayService {
    public struct Limits: Sendable {
        public var maximumEnvelopeBytes = Envelope.maximumSealedBytes + 256
        public var maximumBatch = 256
        public var challengeLifetime: UInt64 = 60_000
        public var sessionLifetime: UInt64 = 3_600_000
        /// Appends per second a device may make on average, and the burst it may save up.
        public var appendsPerSecond = 100.0
        public var appendBurst = 200.0
        /// Sessions one device may hold at once; a new one beyond that ends its oldest.
        public var sessionsPerDevice = 16
        /// Sessions held in all; a new one beyond that ends the oldest anywhere (its device
        /// signs in again), so strangers' sessions cannot lock anyone out.
        public var maximumSessions = 200_000
        /// Mailbox bytes held in all, and per device that put them.
        public var mailboxBytes = 64 << 20
        public var mailboxBytesPerDevice = 256 << 10
        /// Recovery slots one identity may own, and in all.
        public var recoverySlotsPerIdentity = 4
        public var maximumRecoverySlots = 100_000
        /// Spaces one identity may create.
        public var spacesPerIdentity = 8
        /// Membership records one space may hold (clients read at most 10,000).
        public var membershipRecordsPerSpace = 10_000
        /// Membership records per second a device may post on average, and its burst.
        public var membershipPerSecond = 2.0
        public var membershipBurst = 64.0
        /// Spaces created per second over the whole relay, and the burst.
        public var spacesPerSecond = 5.0
        public var spacesBurst = 100.0
        /// The most envelope bytes one fetch reply carries (it always carries at least one).
        public var maximumPageBytes = 8 << 20
        public init() {}
    }

    /// The most envelopes one fetch may ask for.
    public static let maximumFetchCount = 10_000

    private let storage: any RelayStorage
    private var origin: String
    private nonisolated let limits: Limits
    /// Sessions, answered challenges, mailboxes and the challenge secret: this process's memory
    /// for a relay alone, the database for several on one (issue #17).
    private let access: any RelayAccessStore
    private var challengeSecret: [UInt8]?
    private var logs: [SpaceID: MembershipLog] = [:]
    /// Each space's member device ids, derived from its log when first asked (publish asks on
    /// every append; hashing every key each time would cost more than the append). Dropped
    /// with that space's log only, in `cache(_:for:)`.
    private var memberIDs: [SpaceID: Set<WireDeviceID>] = [:]

    /// Keeps (or, with nil, forgets) `space`'s log, and forgets the member ids derived from it.
    private func cache(_ log: MembershipLog?, for space: SpaceID) {
        logs[space] = membershipCacheTrusted ? log : nil
        memberIDs[space] = nil
    }

    /// False while another relay process may change a log without this one hearing of it (the
    /// shared backend's listener is down): every log is then read from storage.
    private var membershipCacheTrusted = true

    public func trustMembershipCache(_ trusted: Bool) {
        membershipCacheTrusted = trusted
        if !trusted { forgetAllMembership() }
    }

    /// Whether a live socket may open now: not while this process cannot hear what the others
    /// store (a socket opened then would miss their appends without being told; review of #17).
    public var acceptsLiveSockets: Bool { membershipCacheTrusted }

    /// Counts every forgetting: a log read from storage is cached only if nothing was forgotten
    /// while the read was suspended (the actor runs other work meanwhile, and a removal heard
    /// then must not be undone by the older log the read brings back).
    private var forgotten: UInt64 = 0
    private var appendBuckets: TokenBuckets<VerifyingKey>
    private var membershipBuckets: TokenBuckets<VerifyingKey>
    /// The same limits per space, five times wider: fresh devices added to one's own space
    /// must not multiply what a device may spend.
    private var spaceAppendBuckets: TokenBuckets<SpaceID>
    private var spaceMembershipBuckets: TokenBuckets<SpaceID>
    private var spaceBucket: TokenBuckets<Int>
    /// New recovery slots relay-wide (each is kept until replaced): the same rate as spaces.
    private var recoveryBucket: TokenBuckets<Int>

    /// - Parameter access: where sessions and mailboxes are kept; nil for this process's memory.
    public init(storage: any RelayStorage, origin: String, limits: Limits = Limits(), access: (any RelayAccessStore)? = nil) {
        self.storage = storage
        self.origin = origin
        self.limits = limits
        self.access = access ?? MemoryAccessStore(mailboxBytes: limits.mailboxBytes, mailboxBytesPerDevice: limits.mailboxBytesPerDevice)
        appendBuckets = TokenBuckets(rate: limits.appendsPerSecond, burst: limits.appendBurst)
        membershipBuckets = TokenBuckets(rate: limits.membershipPerSecond, burst: limits.membershipBurst)
        spaceBucket = TokenBuckets(rate: limits.spacesPerSecond, burst: limits.spacesBurst)
        recoveryBucket = TokenBuckets(rate: limits.spacesPerSecond, burst: limits.spacesBurst)
        spaceAppendBuckets = TokenBuckets(rate: limits.appendsPerSecond * 5, burst: limits.appendBurst * 5)
        spaceMembershipBuckets = TokenBuckets(rate: limits.membershipPerSecond * 5, burst: limits.membershipBurst * 5)
    }

    // MARK: - Authentication

    /// The origin signatures are bound to: the URL clients use to reach this relay. Set once the
    /// port is known when listening on port 0.
    public func setOrigin(_ origin: String) { self.origin = origin }

    /// A fresh challenge for `device` to sign: issued time (8 bytes, big-endian ms) ‖ nonce (8)
    /// ‖ BLAKE2b-128 under the relay's secret of device key ‖ time ‖ nonce. Nothing is stored.
    public func challenge(for device: VerifyingKey, now: UInt64) async throws -> [UInt8] {
        let issued = (0..<8).map { UInt8(truncatingIfNeeded: now >> (56 - 8 * UInt64($0))) }
        let prefix = issued + RandomBytes.make(count: 8)
        return prefix + challengeMAC(device: device, prefix: prefix, secret: try await secret())
    }

    /// The access store's challenge secret, read once.
    private func secret() async throws -> [UInt8] {
        if let challengeSecret { return challengeSecret }
        let secret = try await access.challengeSecret()
        challengeSecret = secret
        return secret
    }

    private func challengeMAC(device: VerifyingKey, prefix: [UInt8], secret: [UInt8]) -> [UInt8] {
        Hash.blake2b([Array("duet relay challenge v1".utf8), device.bytes, prefix], byteCount: 16, key: secret)
    }

    /// Whether `challenge` is one this relay (or one sharing its access store) issued to
    /// `device` within its lifetime.
    private func isFresh(_ challenge: [UInt8], for device: VerifyingKey, now: UInt64) async throws -> Bool {
        guard challenge.count == 32 else { return false }
        let prefix = Array(challenge[0..<16])
        guard challengeMAC(device: device, prefix: prefix, secret: try await secret()) == Array(challenge[16..<32]) else { return false }
        let issued = prefix[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return issued <= now && now - issued < limits.challengeLifetime
    }

    /// Exchanges a signed challenge for a session token. A challenge is good once.
    /// With `delegate`, the challenge was signed by the device's sync daemon key, which the device
    /// key vouched for (SPEC § 6.3); the session is the device's either way.
    public func session(device: VerifyingKey, challenge: [UInt8], signature: Signature,
                        delegate: (key: VerifyingKey, delegation: Signature)? = nil, now: UInt64) async throws -> [UInt8] {
        guard try await isFresh(challenge, for: device, now: now) else { throw RelayError.unauthenticated }
        let signer = delegate?.key ?? device
        if let delegate, !SyncDelegation.isValid(delegate.delegation, delegate: delegate.key, device: device) {
            throw RelayError.unauthenticated
        }
        guard signer.isValidSignature(signature, for: RelayMessages.authenticationMessage(origin: origin, challenge: challenge)) else {
            // The likeliest honest cause is a URL mismatch (a proxy in front, localhost for
            // 127.0.0.1): name the origin this relay expects. It is public by definition.
            throw RelayError(code: "unauthenticated", status: 401,
                             message: "the signature does not cover this relay's origin \(origin): clients must use exactly that URL, or the operator sets --public-url to the one they use",
                             expectedOrigin: origin)
        }
        // A challenge is good once, at whichever process it is answered.
        guard try await access.answer(challenge: challenge, expires: now + limits.challengeLifetime, now: now) else { throw RelayError.unauthenticated }
        let token = RandomBytes.make(count: 32)
        try await access.openSession(token: token, device: device, expires: now + limits.sessionLifetime, now: now,
                                     perDevice: limits.sessionsPerDevice, maximum: limits.maximumSessions)
        return token
    }

    /// The device a session token belongs to.
    public func device(for token: [UInt8], now: UInt64) async throws -> VerifyingKey {
        guard let device = try await access.device(session: token, now: now) else { throw RelayError.unauthenticated }
        return device
    }

    /// Whether `device` is a member of `space` now (the live fan-out asks before each push).
    public func isMember(_ device: VerifyingKey, of space: SpaceID) async -> Bool {
        guard let log = try? await log(for: space) else { return false }
        return log.devices[device] != nil
    }

    /// The device ids of `space`'s current members (empty for an unknown space).
    public func memberDeviceIDs(of space: SpaceID) async -> Set<WireDeviceID> {
        if let known = memberIDs[space] { return known }
        let before = forgotten
        guard let log = try? await log(for: space) else { return [] }
        let ids = log.memberDeviceIDs
        if membershipCacheTrusted, forgotten == before { memberIDs[space] = ids }
        return ids
    }

    // MARK: - Membership

    private func log(for space: SpaceID) async throws -> MembershipLog? {
        if let cached = logs[space] { return cached }
        let before = forgotten
        let records = try await storage.membership(space: space, from: 1)
        guard !records.isEmpty else { return nil }
        var log = MembershipLog(space: space)
        for bytes in records {
            // Records were verified before they were stored; a failure here means a damaged store.
            try log.append(try MembershipRecord(bytes: bytes))
        }
        // A cache, not a record: bounded so that spaces made at the creation rate for ever do
        // not grow the relay's memory with them. An evicted log is read again when asked.
        guard forgotten == before else { return log }
        if logs.count >= Self.maximumCachedLogs, let first = logs.keys.first { cache(nil, for: first) }
        cache(log, for: space)
        return log
    }

    static let maximumCachedLogs = 4096

    /// What appending membership records changed that the server must act on.
    public struct MembershipAppend: Sendable {
        /// The index of the last record appended.
        public let index: UInt64
        /// Devices the records removed: their live sockets on the space are closed.
        public let removedDevices: [VerifyingKey]
    }

    /// The most records one batch may carry: a rotation wraps to every member device, and a
    /// couple has a handful; more would only be a way to hold the actor.
    public static let maximumMembershipBatch = 256

    /// Appends one membership record (a batch of one).
    public func appendMembership(_ bytes: [UInt8], from device: VerifyingKey, now: UInt64 = 0) async throws -> MembershipAppend {
        try await appendMembership(batch: [bytes], from: device, now: now)
    }

    /// Appends membership records as one batch, all or nothing. The first record of a space
    /// creates it (anyone may create a space, within the per-identity and relay-wide caps;
    /// only its members may change it). Every record must follow the log's rules (SPEC § 6.2:
    /// each person controls only their own devices, a space has two identities, one wrap per
    /// epoch and device, a rotation carries every wrap in the same batch); after the batch the
    /// sender must be a member device — which a device joining with its own `addDevice` is.
    public func appendMembership(batch: [[UInt8]], from device: VerifyingKey, now: UInt64 = 0) async throws -> MembershipAppend {
        guard !batch.isEmpty else { throw RelayError.malformed("an empty batch of membership records") }
        guard batch.count <= Self.maximumMembershipBatch else { throw RelayError.tooLarge(items: Self.maximumMembershipBatch) }
        var records: [MembershipRecord] = []
        for bytes in batch {
            do { records.append(try MembershipRecord(bytes: bytes)) } catch { throw RelayError.malformed("\(error)") }
        }
        let space = records[0].space
        guard records.allSatisfy({ $0.space == space }) else { throw RelayError.malformed("a batch of records names more than one space") }
        let before = try await log(for: space) ?? MembershipLog(space: space)
        guard before.records.count + records.count <= limits.membershipRecordsPerSpace else {
            throw RelayError.conflict("membership-full", "the space holds the most membership records this relay keeps (\(limits.membershipRecordsPerSpace))")
        }
        // Only members (or a device joining itself) spend the space's buckets: a stranger's
        // refused records must not lock the couple out of changing their own space.
        let joining = records.contains { record in
            if case .addDevice(let certificate) = record.action { return certificate.device == device }
            return false
        }
        if !before.records.isEmpty, before.devices[device] == nil, !joining { throw RelayError.notAMember }
        // A batch larger than a bucket's burst could never pass: say so, not "retry later".
        guard Double(records.count) <= limits.membershipBurst else {
            throw RelayError(code: "batch-too-large", status: 413,
                             message: "at most \(Int(max(0, min(limits.membershipBurst, 1e6)))) membership records per batch at this relay")
        }
        try spend(&membershipBuckets, Double(records.count), by: device, now: now)
        var creator: VerifyingKey?
        if before.records.isEmpty, case .create(let identity, _) = records[0].action {
            creator = identity
            let (spent, wait) = spaceBucket.spend(1, by: 0, now: now)
            guard spent else { throw RelayError.rateLimited(retryAfterMilliseconds: wait ?? 60_000) }
        }
        var log = before
        do { try log.append(batch: records) } catch {
            if let evidence = Self.refusedByRule(records, after: before, refusal: error) {
                // A member signed it: the other member is shown what was attempted (SPEC § 6.2).
                try await storage.keepRefusedMembership(space: space, record: evidence.encoded, maximumPerSpace: Self.maximumRefusedPerSpace)
            }
            throw RelayError.conflict("membership-\(error.rawValue)", error.explanation)
        }
        if !before.records.isEmpty, log.devices[device] == nil { throw RelayError.notAMember }
        // The space's shared bucket is spent only by records the rules accept: one member's
        // refused attempts (spent from their own device's bucket) cannot starve the other's.
        let (spaceSpent, spaceWait) = spaceMembershipBuckets.spend(Double(records.count), by: space, now: now)
        guard spaceSpent else { throw RelayError.rateLimited(retryAfterMilliseconds: spaceWait ?? 60_000) }
        switch try await storage.appendMembership(space: space, from: records[0].index, records: batch, creator: creator?.bytes,
                                                  maximumSpacesPerCreator: limits.spacesPerIdentity) {
        case .stored: break
        case .outOfOrder:
            cache(nil, for: space)
            throw RelayError.conflict("membership-out-of-order", "another record took this index; fetch the log and retry")
        case .creatorFull:
            throw RelayError.conflict("too-many-spaces", "this identity created the most spaces this relay allows (\(limits.spacesPerIdentity))")
        }
        cache(log, for: space)
        var removed: [VerifyingKey] = []
        for record in records {
            if case .removeDevice(let device, _) = record.action {
                removed.append(device)
                // It must authenticate again, and is then refused wherever it is no longer a member.
                try await access.endSessions(of: device)
            }
        }
        return MembershipAppend(index: records[records.count - 1].index, removedDevices: removed)
    }

    /// Refused records kept per space as evidence: the first ones show what was attempted; more
    /// would only be a way to fill the disk.
    static let maximumRefusedPerSpace = 32

    /// The record of `batch` a rule of the log refused (not a bad signature, a stranger or a
    /// stale index: those prove nothing about a member), signed by a member identity.
    static func refusedByRule(_ batch: [MembershipRecord], after log: MembershipLog, refusal: MembershipLog.Refusal) -> MembershipRecord? {
        guard refusal.isRule else { return nil }
        var probe = log
        for record in batch {
            do { try probe.append(record) } catch { return record }
        }
        // Every record applied, and the batch left a rotation open: the rotation is the culprit.
        return batch.first { if case .rotateKey = $0.action { return true }; return false }
    }

    /// The refused records kept for `space`, for a member device.
    public func refusedMembership(space: SpaceID, device: VerifyingKey) async throws -> [[UInt8]] {
        guard let log = try await log(for: space) else { throw RelayError.unknownSpace }
        guard log.devices[device] != nil else { throw RelayError.notAMember }
        return try await storage.refusedMembership(space: space)
    }


    /// Member devices read the log; so does a device not yet added whose certificate (for the
    /// session's own key) is signed by a member identity — a recovered device must read the log
    /// to append its own `addDevice` (SPEC § 7.5). A device the log removed cannot use that
    /// door: its old certificate is still validly signed.
    public func membership(space: SpaceID, from index: UInt64, device: VerifyingKey, certificate: DeviceCertificate? = nil) async throws -> [[UInt8]] {
        guard let log = try await log(for: space) else { throw RelayError.unknownSpace }
        let certified = certificate.map { certificate in
            certificate.device == device && !log.removedDevices.contains(device)
                && log.identities.contains(certificate.identity) && (try? certificate.verify()) != nil
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
        // The admission every device applies too (DuetWire); here the only signer is the
        // session's own device, a current member (`admit` checked that above).
        let signer = EnvelopeAdmission.Signer(key: device)
        for bytes in batch {
            guard bytes.count <= maximumBytes else { throw RelayError.tooLarge(limit: maximumBytes) }
            switch EnvelopeAdmission.admit(bytes, to: space, signer: { $0 == sender ? signer : nil }) {
            case .success(let envelope): envelopes.append(envelope)
            case .failure(.malformed(let error)): throw RelayError.malformed("\(error)")
            case .failure(.otherSpace): throw RelayError.malformed("an envelope names another space")
            case .failure(.unknownSigner): throw RelayError.malformed("a device appends only its own envelopes")
            // A current member has no removal bound; answered like a bad signature, should one come.
            case .failure(.signedAfterRemoval), .failure(.badSignature): throw RelayError.malformed("an envelope's signature does not verify")
            }
        }
        return try await storage.append(envelopes)
    }

    /// The serialised part of an append: batch size, membership, rate.
    private func admit(batchSize: Int, to space: SpaceID, from device: VerifyingKey, now: UInt64) async throws {
        guard batchSize <= limits.maximumBatch else { throw RelayError.tooLarge(items: limits.maximumBatch) }
        guard let log = try await log(for: space) else { throw RelayError.unknownSpace }
        guard let certificate = log.devices[device], certificate.isValid(at: now) else { throw RelayError.notAMember }
        // A batch larger than the bucket can ever hold would be refused for ever: say so, with
        // the size that fits, instead of asking the client to come back later.
        guard Double(batchSize) <= limits.appendBurst else {
            throw RelayError(code: "batch-too-large", status: 413,
                             message: "at most \(limits.appendBurst.isFinite ? Int(max(0, min(limits.appendBurst, 1e9))) : 0) envelopes per request at this relay")
        }
        try spend(&appendBuckets, Double(batchSize), by: device, now: now)
        let (spaceSpent, spaceWait) = spaceAppendBuckets.spend(Double(batchSize), by: space, now: now)
        guard spaceSpent else { throw RelayError.rateLimited(retryAfterMilliseconds: spaceWait ?? 60_000) }
    }

    private func spend(_ buckets: inout TokenBuckets<VerifyingKey>, _ cost: Double, by device: VerifyingKey, now: UInt64) throws(RelayError) {
        let (spent, wait) = buckets.spend(cost, by: device, now: now)
        guard spent else { throw .rateLimited(retryAfterMilliseconds: wait ?? 60_000) }
    }

    public func fetch(space: SpaceID, after vector: [WireDeviceID: UInt64], limit: Int, device: VerifyingKey, now: UInt64 = 0) async throws -> (envelopes: [[UInt8]], complete: Bool) {
        guard let log = try await log(for: space) else { throw RelayError.unknownSpace }
        guard let certificate = log.devices[device], now == 0 || certificate.isValid(at: now) else { throw RelayError.notAMember }
        return try await storage.fetch(space: space, after: vector, limit: max(1, min(limit, Self.maximumFetchCount)),
                                       maximumBytes: limits.maximumPageBytes)
    }

    public func heads(space: SpaceID, device: VerifyingKey, now: UInt64 = 0) async throws -> [WireDeviceID: UInt64] {
        guard let log = try await log(for: space) else { throw RelayError.unknownSpace }
        guard let certificate = log.devices[device], now == 0 || certificate.isValid(at: now) else { throw RelayError.notAMember }
        return try await storage.heads(space: space)
    }

    // MARK: - Recovery

    public func putRecovery(slot: [UInt8], body: [UInt8], from device: VerifyingKey, now: UInt64 = 0) async throws {
        guard let (owner, blob) = Recovery.openPutBody(body, slot: slot) else {
            throw RelayError.malformed("identity (32) ‖ signature (64) over the slot and blob ‖ blob")
        }
        try spend(&membershipBuckets, 1, by: device, now: now)
        let (spent, wait) = recoveryBucket.spend(1, by: 0, now: now)
        guard spent else { throw RelayError.rateLimited(retryAfterMilliseconds: wait ?? 60_000) }
        switch try await storage.putRecovery(slot: slot, owner: owner.bytes, blob: blob, maximumSlotsPerOwner: limits.recoverySlotsPerIdentity,
                                             maximumSlots: limits.maximumRecoverySlots) {
        case .stored: break
        case .taken: throw RelayError.conflict("recovery-taken", "this recovery slot belongs to another identity")
        case .ownerFull:
            throw RelayError.conflict("too-many-recovery-slots", "this identity holds the most recovery slots this relay allows (\(limits.recoverySlotsPerIdentity))")
        case .relayFull:
            throw RelayError(code: "recovery-full", status: 429, message: "the relay holds the most recovery slots it allows; ask its operator",
                             retryAfterSeconds: 3600)
        }
    }

    public func recovery(slot: [UInt8]) async throws -> [UInt8] {
        guard let blob = try await storage.recovery(slot: slot) else {
            throw RelayError(code: "unknown-recovery", status: 404, message: "nothing is kept under this recovery code")
        }
        return blob
    }

    // MARK: - Mailboxes

    public func putMailbox(_ id: [UInt8], _ blob: [UInt8], from device: VerifyingKey, now: UInt64) async throws {
        try await access.putMailbox(id, blob, owner: device, now: now)
    }

    public func takeMailbox(_ id: [UInt8], now: UInt64) async throws -> [UInt8] {
        try await access.takeMailbox(id, now: now)
    }

    /// Forgets what is cached of `space`'s membership (another relay process changed it).
    public func forgetMembership(of space: SpaceID) {
        forgotten &+= 1
        cache(nil, for: space)
    }

    /// Forgets every cached membership log (the notifications that would say what changed were lost).
    public func forgetAllMembership() {
        forgotten &+= 1
        logs = [:]
        memberIDs = [:]
    }

    /// What the relay holds in memory, for the operator's metrics and the hostile-traffic tests.
    public struct Held: Sendable {
        public let challenges: Int
        public let sessions: Int
        public let mailboxes: Int
        public let mailboxBytes: Int
        public let rateBuckets: Int
    }

    public func held(now: UInt64 = 0) async -> Held {
        let access = (try? await access.held(now: now)) ?? AccessHeld(challenges: 0, sessions: 0, mailboxes: 0, mailboxBytes: 0)
        return Held(challenges: access.challenges, sessions: access.sessions, mailboxes: access.mailboxes, mailboxBytes: access.mailboxBytes,
                    rateBuckets: appendBuckets.count + membershipBuckets.count)
    }
}
