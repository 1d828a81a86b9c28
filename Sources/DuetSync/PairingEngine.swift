public import DuetStore
public import DuetCrypto
import DuetWire
import Foundation

/// Pairing through the relay's mailboxes (SPEC § 7.2): the inviter creates the couple space and
/// seals its key to the invitee's device once the invitee answers; both then hold the same
/// verified membership log and compute the same safety number.
public enum PairingEngine {
    public struct Paired: Sendable {
        public let partnerName: String
        public let safetyNumber: String
    }

    /// Why pairing stopped. Nothing is kept on this device in any of these cases.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let reason: ExchangeFailure
        /// What the person can do next, for the client to word.
        public let next: NextStep?
        public init(_ reason: ExchangeFailure, next: NextStep? = nil) {
            self.reason = reason
            self.next = next
        }
        /// For logs: the reason's name and facts (a client words it for people).
        public var description: String { "exchange stopped: \(reason)" }
    }

    static let pollInterval: Duration = .milliseconds(200)

    /// Creates the couple space, shows a code through `show`, waits up to `timeout` for the
    /// partner's answer, then adds the partner and seals the space key to their device.
    public static func invite(
        _ unlocked: UnlockedStore, store: Store, relay: String, timeout: Duration, environment: SyncEnvironment = .system,
        show: (String) -> Void
    ) async throws -> Paired {
        try requireUnpaired(store)
        let keystore = unlocked.keystore
        var transport = environment.transport(relay, .device(keystore.device))
        try await transport.authenticate()
        try await requireUnpairedElsewhere(unlocked, store: store, transport: transport, now: environment.now())

        let space = SpaceID.random()
        let spaceKey = SymmetricKey.random()
        // Every device of this person joins the couple space, not only this one (SPEC § 7.2):
        // the certificates of the personal space, each device keyed.
        let certificates = try ownCertificates(store, unlocked)
        guard let certificate = certificates.first(where: { $0.device == keystore.device.verifyingKey }) else {
            throw Failure(.notInOwnLog, next: .syncThenRetry)
        }
        // The log as this device builds it; each step is checked by the same replay the relay
        // and the partner run before anything is posted.
        var log = MembershipLog(space: space)
        func extend(_ actions: [MembershipRecord.Action]) throws -> [MembershipRecord] {
            let records = log.nextRecords(actions, by: keystore.identity)
            do { try log.append(batch: records) } catch { throw Failure(.coupleLogNotBuilt(cause: error.rawValue)) }
            return records
        }
        var creation = try extend([.create(identity: keystore.identity.verifyingKey, keyCommitment: MembershipLog.keyCommitment(space: space, epoch: 1, key: spaceKey))]
            + certificates.map { .addDevice($0) }
            + (try certificates.map { .wrapKey(epoch: 1, device: $0.device, box: try wrap(spaceKey, for: $0.device)) }))
        let names = try DirectoryEngine.current(SpaceInfo(id: space, kind: .couple, epoch: 1), log: log, unlocked: unlocked, store: store)
        creation += try extend([.directory(epoch: 1, sealed: try names.seal(space: space, signer: keystore.identity.verifyingKey, contentKey: spaceKey))])
        try await transport.postMembership(creation, signedHere: store)

        let code = Pairing.makeCode()
        guard let derived = Pairing.derive(code: code) else { throw Failure(.codeNotDerived) }
        let invite = PairingMessages.Invite(space: space, identity: keystore.identity.verifyingKey, certificate: certificate,
                                            name: keystore.name, logHead: creation[creation.count - 1].hash, logLength: UInt64(creation.count))
        try await transport.putMailbox(derived.inviteMailbox, PairingMessages.seal(invite, key: derived.key))
        show(code)

        guard let sealedReply = try await transport.awaitMailbox(derived.replyMailbox, timeout: timeout, interval: pollInterval) else {
            throw Failure(.invitationUnanswered, next: .inviteAgain)
        }
        let reply: PairingMessages.Reply
        do { reply = try PairingMessages.openReply(sealedReply, key: derived.key) } catch {
            throw Failure(.answerInvalid(cause: String(describing: error)))
        }
        guard reply.identity != keystore.identity.verifyingKey else {
            throw Failure(.acceptedByOwnIdentity)
        }
        // The partner joins the couple, then certifies and posts their own devices (each person
        // controls only their own devices, SPEC § 6.2); this device gives each the key.
        try await transport.postMembership(try extend([.addIdentity(reply.identity)]), signedHere: store)
        let deadline = environment.elapsed() + timeout
        while log.devices[reply.certificate.device] == nil {
            guard environment.elapsed() < deadline else {
                throw Failure(.partnerDidNotJoin)
            }
            try await environment.sleep(pollInterval)
            for record in try await transport.membership(space, after: UInt64(log.records.count)) {
                do { try log.append(record) } catch {
                    throw Failure(.coupleLogDoesNotVerify(cause: error.rawValue))
                }
            }
        }
        let wraps: [MembershipRecord.Action] = try log.devices.sorted(by: { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) })
            .filter { $0.value.identity == reply.identity && log.wraps[1]?[$0.key] == nil }
            .map { .wrapKey(epoch: 1, device: $0.key, box: try wrap(spaceKey, for: $0.key)) }
        try await transport.postMembership(try extend(wraps), signedHere: store)
        let records = log.records
        try store.joinCoupleSpace(space, records: records, partner: reply.identity, partnerName: reply.name)
        await announce(unlocked, store: store, transport: transport)
        // The recovery blob now holds the couple space too (best effort: every sync retries).
        try? await RecoveryEngine.refreshIfStale(unlocked, store: store, transport: transport)
        return Paired(partnerName: reply.name, safetyNumber: Pairing.safetyNumber(keystore.identity.verifyingKey, reply.identity))
    }

    /// Answers the partner's invitation with this person's identity and device, waits until the
    /// inviter has added this device to the couple space, checks the log, and joins.
    public static func accept(
        code: String, _ unlocked: UnlockedStore, store: Store, relay: String, timeout: Duration, environment: SyncEnvironment = .system
    ) async throws -> Paired {
        try requireUnpaired(store)
        guard let derived = Pairing.derive(code: code) else {
            throw Failure(.malformedCode(.pairing))
        }
        let keystore = unlocked.keystore
        var transport = environment.transport(relay, .device(keystore.device))
        try await transport.authenticate()
        try await requireUnpairedElsewhere(unlocked, store: store, transport: transport, now: environment.now())
        guard let sealedInvite = try await transport.takeMailbox(derived.inviteMailbox) else {
            throw Failure(.noInvitation)
        }
        let invite: PairingMessages.Invite
        do { invite = try PairingMessages.openInvite(sealedInvite, key: derived.key) } catch {
            throw Failure(.invitationInvalid(cause: String(describing: error)))
        }
        guard invite.identity != keystore.identity.verifyingKey else {
            throw Failure(.ownInvitation)
        }
        let certificates = try ownCertificates(store, unlocked)
        guard let certificate = certificates.first(where: { $0.device == keystore.device.verifyingKey }) else {
            throw Failure(.notInOwnLog, next: .syncThenRetry)
        }
        let reply = PairingMessages.Reply(identity: keystore.identity.verifyingKey, certificate: certificate, name: keystore.name)
        try await transport.putMailbox(derived.replyMailbox, PairingMessages.seal(reply, key: derived.key))

        // Until the inviter has added this identity, the relay answers not-a-member; then this
        // device certifies itself into the log (no one else may), and waits for its key.
        let deadline = environment.elapsed() + timeout
        var records: [MembershipRecord] = []
        var added = false
        while true {
            do {
                records = try await transport.membership(invite.space, certificate: added ? nil : certificate)
                if !added, records.contains(where: { $0.action == .addIdentity(keystore.identity.verifyingKey) }) {
                    var log = MembershipLog(space: invite.space)
                    do { try log.append(batch: records) } catch {
                        throw Failure(.coupleLogDoesNotVerify(cause: error.rawValue))
                    }
                    // All of this person's devices, in one batch (this one among them).
                    let additions = log.nextRecords(certificates.map { .addDevice($0) }, by: keystore.identity)
                    do {
                        try await transport.postMembership(additions, signedHere: store)
                        added = true
                    } catch let failure as RelayTransport.Failure where failure.code == "membership-out-of-order" {
                        continue   // the inviter appended meanwhile: read the log again
                    }
                    continue
                }
                if records.contains(where: { record in
                    if case .wrapKey(_, let device, _) = record.action { return device == keystore.device.verifyingKey }
                    return false
                }) { break }
            } catch let failure as RelayTransport.Failure where failure.code == "not-a-member" || failure.code == "unknown-space" {}
            guard environment.elapsed() < deadline else {
                throw Failure(.partnerDidNotAdd)
            }
            try await environment.sleep(pollInterval)
        }
        try check(records, against: invite, me: keystore.device.verifyingKey)
        try store.joinCoupleSpace(invite.space, records: records, partner: invite.identity, partnerName: invite.name)
        await announce(unlocked, store: store, transport: transport)
        try? await RecoveryEngine.refreshIfStale(unlocked, store: store, transport: transport)
        return Paired(partnerName: invite.name, safetyNumber: Pairing.safetyNumber(keystore.identity.verifyingKey, invite.identity))
    }

    /// The log the relay handed over must be the inviter's: created by the identity in the
    /// invite, starting with exactly the records the invite named, and adding this device.
    static func check(_ records: [MembershipRecord], against invite: PairingMessages.Invite, me: VerifyingKey) throws {
        var log = MembershipLog(space: invite.space)
        for record in records {
            do { try log.append(record) } catch {
                throw Failure(.coupleLogDoesNotVerify(cause: error.rawValue))
            }
        }
        // The invite's length was bounded when it was opened; checked again, without a trap.
        guard let length = Int(exactly: invite.logLength), length >= 1, length <= records.count, records[length - 1].hash == invite.logHead,
              case .create(let creator, _) = records[0].action, creator == invite.identity,
              log.devices[invite.certificate.device] != nil, log.devices[me] != nil else {
            throw Failure(.wrongCoupleSpace)
        }
    }

    /// Whether `code` reads as a pairing code (26 Crockford characters, however grouped).
    public static func isWellFormed(code: String) -> Bool { Pairing.derive(code: code) != nil }

    /// The 60-digit number both partners compare (SPEC § 7.2).
    public static func safetyNumber(_ a: VerifyingKey, _ b: VerifyingKey) -> String { Pairing.safetyNumber(a, b) }

    static func requireUnpaired(_ store: Store) throws {
        if try store.space(.couple) != nil {
            throw Failure(.alreadyPaired(partner: try store.people().first { !$0.isMe }?.name), next: .showPairing)
        }
    }

    /// Refuses to pair a device whose person already paired on another device (found by a new
    /// user: a phone linked before pairing, not yet synced, could pair with a second partner).
    /// Reads the personal space's log first, where that device's directory announces it.
    static func requireUnpairedElsewhere(_ unlocked: UnlockedStore, store: Store, transport: RelayTransport, now: UInt64) async throws {
        guard let personal = try store.space(.personal) else { return }
        _ = try await SyncEngine.reconcileMembership(personal, unlocked: unlocked, store: store, transport: transport, now: now)
        try unlocked.refreshDirectory()
        if let couple = try unlocked.announcedCouple() {
            throw Failure(.pairedOnAnotherDevice(partner: couple.partnerName), next: .syncToBringCoupleSpace)
        }
    }

    /// This person's current devices, as the personal space's log certifies them: each joins the
    /// couple space at pairing (a certificate carries keys and times, no name).
    static func ownCertificates(_ store: Store, _ unlocked: UnlockedStore) throws -> [DeviceCertificate] {
        let me = unlocked.keystore.identity.verifyingKey
        return try store.membershipLog(space: unlocked.keystore.personalSpace).devices.values
            .filter { $0.identity == me }
            .sorted { $0.device.bytes.lexicographicallyPrecedes($1.device.bytes) }
    }

    /// After joining: this person's names, sealed for the couple space, and the couple space
    /// announced in the personal space so their other devices join it too. Best effort: every
    /// sync publishes what is missing.
    static func announce(_ unlocked: UnlockedStore, store: Store, transport: RelayTransport) async {
        for space in (try? store.spaces()) ?? [] {
            try? await DirectoryEngine.publish(space, unlocked: unlocked, store: store, transport: transport)
        }
    }

    /// The space key sealed to a device (its Ed25519 key converted to X25519).
    static func wrap(_ key: SymmetricKey, for device: VerifyingKey) throws -> [UInt8] {
        try SealedBox.seal(key.bytes, to: BoxPublicKey(converting: device))
    }
}
