public import DuetStore
import DuetCore
import DuetCrypto
import DuetWire
import Foundation

/// Drives a ``SyncSession`` per space with a store and a relay transport.
public enum SyncEngine {
    /// What one round moved, over every space.
    public struct Result: Sendable {
        public var pushed = 0
        public var received = 0
        public var refused = 0
        public var applied = 0
        /// Membership records learnt from the relay (a partner's new device, a revocation).
        public var membershipRecords = 0
        /// Spaces where the relay held less than it once did: nothing was exchanged there.
        public var rolledBack: [SpaceKind] = []
        /// Changes stored but still waiting for their causal past after the round.
        public var waiting = 0
    }

    /// One full round: for each space this device belongs to, reconcile the membership log,
    /// push, fetch, verify and store; then open and apply what arrived.
    public static func sync(_ unlocked: UnlockedStore, store: Store, relay: String, now: UInt64, environment: SyncEnvironment = .system,
                            progress: (@Sendable (Progress) -> Void)? = nil) async throws -> Result {
        try unlocked.ensureSyncCredential()
        var transport = environment.transport(relay, .device(unlocked.keystore.device))
        try await transport.authenticate()
        var result = Result()
        // Another of this person's devices may have paired: its directory in the personal
        // space announces the couple space, which this device then joins (it was added there).
        let personal = try store.space(.personal)
        if let personal {
            result.membershipRecords += try await reconcileMembership(personal, unlocked: unlocked, store: store, transport: transport, now: now)
            try unlocked.refreshDirectory()
            if let couple = try unlocked.announcedCouple() { try await joinAnnounced(couple, unlocked: unlocked, store: store, transport: transport) }
        }
        // What each space held before this round, and then what the round's pages carried: a
        // change among them still waiting after a complete round for a past this store lacks
        // names a past the relay must have held (its author's device read it there, before
        // the change itself reached the relay) and did not hand over.
        var heldBefore: [SpaceID: [WireDeviceID: UInt64]] = [:]
        var complete: Set<SpaceID> = []
        for space in try store.spaces() { heldBefore[space.id] = try store.localHeads(space: space.id) }
        for space in try store.spaces() {
            // The personal space's log was read just above: not a second request.
            if space.id != personal?.id {
                result.membershipRecords += try await reconcileMembership(space, unlocked: unlocked, store: store, transport: transport, now: now)
            }
            try await reportRefusedMembership(space, store: store, transport: transport)
            try await DeviceEngine.answerUnusableKey(space, unlocked: unlocked, store: store, transport: transport)
            do { try await DeviceEngine.rekeyOwnDevices(space, unlocked: unlocked, store: store, transport: transport) } catch let failure as RelayTransport.Failure
                where failure.code == "membership-out-of-order" || failure.code.hasPrefix("membership-wrap") {}   // another device mended it first
            let round = try await exchange(space, store: store, transport: transport, ownDevice: unlocked.keystore.deviceID, progress: progress)
            if round.rolledBack { result.rolledBack.append(space.kind); continue }
            if round.summary.complete {
                complete.insert(space.id)
                heldBefore[space.id, default: [:]].merge(round.delivered) { max($0, $1) }
            }
            try unlocked.refreshDirectory()
            try await DirectoryEngine.publish(space, unlocked: unlocked, store: store, transport: transport)
            result.pushed += round.summary.pushed
            result.received += round.summary.received
            result.refused += round.summary.refused
        }
        try await RecoveryEngine.refreshIfStale(unlocked, store: store, transport: transport)
        let materialised = try unlocked.materialiseReporting(now: environment.now())
        result.applied = materialised.applied.count
        result.waiting = try store.pendingIn()
        try warnWithheld(materialised.missing, heldBefore: heldBefore, complete: complete, store: store)
        // A round that stopped at a rollback exchanged nothing there: not "synced".
        if result.rolledBack.isEmpty { try store.setMeta("last_sync", String(now)) }
        return result
    }

    /// Warns of changes held before a complete round or carried by it that still wait for a past
    /// this store never received, when that past was written by a member device while it was
    /// one: the relay had it and withheld it. (Honest interleavings cannot do this: a change
    /// `duetd`'s live socket stored during the round, its past still on its way, was neither;
    /// a past written by no member can never come and blames its author, not the relay; a
    /// removed device's envelopes past its last seq are refused, and said so.)
    static func warnWithheld(_ missing: [SpaceID: [(waiting: Dot, needs: Dot)]], heldBefore: [SpaceID: [WireDeviceID: UInt64]],
                             complete: Set<SpaceID>, store: Store) throws {
        // Per author: a change naming a past that never came is the relay withholding it, or
        // its author naming changes never written (a partner can sign any dependency). This
        // device cannot tell which, so it says both, and whose change it is.
        var withheld: [WireDeviceID: Int] = [:]
        for (space, pairs) in missing where complete.contains(space) {
            let signers = try store.membershipLog(space: space).envelopeSigners
            for (waiting, needs) in pairs {
                guard let author = try? WireDeviceID(bytes: waiting.device.bytes), let past = try? WireDeviceID(bytes: needs.device.bytes),
                      waiting.seq <= heldBefore[space]?[author] ?? 0 else { continue }
                guard let signer = signers[past], needs.seq <= signer.lastSeq else { continue }
                withheld[author, default: 0] += 1
            }
        }
        guard !withheld.isEmpty else { return }
        let directory = try store.directory()
        for (author, count) in withheld.sorted(by: { $0.key < $1.key }) {
            let sender = directory.sender(author)
            try store.addWarning("""
                \(count) change(s) from \(sender) wait for earlier changes that never arrived: the relay may be withholding them, \
                or that device named changes that were never written
                """)
        }
    }

    /// Makes the local and relay membership logs of `space` agree: the relay's extra records are
    /// verified and kept; this device's extra records are posted. A relay whose log differs
    /// from ours in a record both hold is reported and not followed. Returns the records learnt.
    /// Locked (`unlocked` nil, as in the daemon), a personal space with no local log is left for
    /// the next unlocked sync to start.
    public static func reconcileMembership(_ space: SpaceInfo, unlocked: UnlockedStore?, store: Store, transport: RelayTransport, now: UInt64) async throws -> Int {
        var local = try store.membershipLog(space: space.id).records
        let remote: [MembershipRecord]
        do {
            remote = try await transport.membership(space.id)
        } catch let failure as RelayTransport.Failure where failure.code == "unknown-space" {
            remote = []
        } catch let failure as RelayTransport.Failure where failure.code == "not-a-member" && !local.isEmpty {
            // A space this device was in: it was removed, most likely revoked from another of
            // this person's devices. Say so, rather than only what the relay said, and keep it
            // for `duet status` (the daemon stops on it).
            let message = """
                this device is no longer a member of your \(space.kind == .personal ? "private journal" : "shared space"): \
                it was probably revoked from another of your devices; what it holds stays readable here
                """
            try store.addWarning(message)
            var removed = RelayTransport.Failure(status: failure.status, code: failure.code, message: message)
            removed.deviceRemoved = true
            throw removed
        }
        if local.isEmpty, let floor = try store.logFloor(space: space.id) {
            // A linked or recovered device: the relay's log must reach what its bundle named
            // — an empty or unknown one too (a relay siding with a revoked device could
            // otherwise have this device start a new log, and seal under a key it holds).
            try checkReaches(remote, floor: floor, space: space, store: store)
        }
        if local.isEmpty, remote.isEmpty, space.kind == .personal {
            // A store made before the log was kept locally: start it now.
            guard let unlocked else { return 0 }
            try unlocked.startPersonalLog(now: now)
            local = try store.membershipLog(space: space.id).records
        }
        for (mine, theirs) in zip(local, remote) where mine.encoded != theirs.encoded {
            try store.addWarning("the relay's membership log of your \(space.kind == .personal ? "private" : "shared") space differs from this device's; it was not followed")
            throw RelayTransport.Failure(status: 409, code: "membership-diverged", message: "the relay's membership log differs from this device's")
        }
        if local.isEmpty, !remote.isEmpty {
            // A linked or recovered device adopts the relay's log: it must be this person's
            // space (and, for the couple space, the partner's too), or the relay invented it.
            try checkAdopted(remote, space: space, people: try store.people())
        }
        if remote.count > local.count {
            // A log this device already kept grows: what others changed is shown until seen. A
            // log adopted whole (a new device) is its past, not news.
            try store.appendMembership(Array(remote[local.count...]), space: space.id, notify: !local.isEmpty)
            return remote.count - local.count
        }
        try await transport.postMembership(Array(local.dropFirst(remote.count)))
        return 0
    }

    /// Tells the person what a member attempted that the rules refused (another's device
    /// removed, a third person added, a key replaced): each record the relay kept as evidence is
    /// believed only if its signature holds, its signer is a member, and replaying this device's
    /// own log up to it refuses it by a rule. Each is told once.
    static func reportRefusedMembership(_ space: SpaceInfo, store: Store, transport: RelayTransport) async throws {
        let refused: [MembershipRecord]
        do { refused = try await transport.refusedMembership(space.id) } catch let failure as RelayTransport.Failure where failure.status == 404 {
            return   // an older relay keeps no evidence
        }
        let seenKey = "refused_seen_\(space.id.description)"
        let seen = Int(try store.meta(seenKey) ?? "0") ?? 0
        guard refused.count > seen else { return }
        let log = try store.membershipLog(space: space.id)
        let people = try store.people()
        for record in refused.dropFirst(seen) {
            guard record.index >= 1, record.index <= UInt64(log.records.count) + 1 else { continue }
            // A record the log holds at that index was accepted, whatever the relay claims.
            if record.index <= UInt64(log.records.count), log.records[Int(record.index - 1)] == record { continue }
            var prefix = MembershipLog(space: space.id)
            do { for earlier in log.records.prefix(Int(record.index - 1)) { try prefix.append(earlier) } } catch { continue }
            do {
                // As a batch of its own: a rotation kept without its wraps is incomplete.
                try prefix.append(batch: [record])
                continue   // it follows the rules: the relay's claim is false, nothing to tell
            } catch let refusal where refusal.isRule {
                let who = people.first { $0.identity == record.signer }.map { $0.isMe ? "You (on another device)" : Sanitise.line($0.name) } ?? "Someone"
                let place = space.kind == .couple ? "your shared space" : "your private journal"
                try store.addWarning("\(who) signed a change to \(place) that was refused and not followed: \(refusal.explanation)")
            } catch {
                continue
            }
        }
        try store.setMeta(seenKey, String(refused.count))
    }

    /// Joins the couple space another of this person's devices paired into, as this person's
    /// own directory announced it: only if the relay's log verifies, was created by this person
    /// or the announced partner, holds exactly those two, and names this device.
    static func joinAnnounced(_ couple: SpaceDirectory.Couple, unlocked: UnlockedStore, store: Store, transport: RelayTransport) async throws {
        let records: [MembershipRecord]
        do { records = try await transport.membership(couple.space) } catch let failure as RelayTransport.Failure
            where failure.code == "not-a-member" || failure.code == "unknown-space" {
            return   // not added yet (the pairing is still running), or the relay lost it: next time
        }
        let me = unlocked.keystore.identity.verifyingKey
        let space = SpaceInfo(id: couple.space, kind: .couple, epoch: 1)
        try checkAdopted(records, space: space, people: [(me, unlocked.keystore.name, true), (couple.partner, couple.partnerName, false)])
        var log = MembershipLog(space: couple.space)
        for record in records { try? log.append(record) }
        guard log.identities == [me, couple.partner], log.devices[unlocked.keystore.device.verifyingKey] != nil else { return }
        try store.joinCoupleSpace(couple.space, records: records, partner: couple.partner, partnerName: couple.partnerName)
    }

    /// A new device adopts the relay's log only if it reaches as far as the log the device that
    /// linked or recovered it knew: a shorter one, or another record at that index, is an old
    /// prefix (a relay siding with a revoked device would serve the log from before its
    /// removal, and this device would then hand that device its keys).
    static func checkReaches(_ records: [MembershipRecord], floor: IdentityBundle.LogHead, space: SpaceInfo, store: Store?) throws {
        guard !floor.isHeld(by: records) else { return }
        let place = space.kind == .couple ? "your shared space" : "your private journal"
        try store?.addWarning("the relay served an older membership log of \(place) than your other device knew (it may be hiding a revocation); it was not adopted")
        throw RelayTransport.Failure(status: 409, code: "membership-old-prefix", message: """
            the relay served an older membership log of \(place) than your other device knew (\(records.count) record(s), \
            \(floor.records) expected): it may be hiding a revocation, so none of it was adopted; try again later, or another relay
            """)
    }

    static func checkAdopted(_ records: [MembershipRecord], space: SpaceInfo, people: [(identity: VerifyingKey, name: String, isMe: Bool)]) throws {
        var log = MembershipLog(space: space.id)
        for record in records {
            do { try log.append(record) } catch {
                throw RelayTransport.Failure(status: 409, code: "membership-\(error.rawValue)", message: "the relay's membership log does not verify")
            }
        }
        let expected = Set(people.filter { $0.isMe || space.kind == .couple }.map(\.identity))
        guard case .create(let creator, _) = records.first?.action, expected.contains(creator), expected.isSubset(of: log.identities) else {
            throw RelayTransport.Failure(status: 409, code: "membership-foreign", message: "the relay's membership log is not this person's space")
        }
    }
}
