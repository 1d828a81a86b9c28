public import DuetStore
import DuetCrypto
public import DuetWire
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
    public static func sync(_ unlocked: UnlockedStore, store: Store, relay: String, now: UInt64,
                            progress: (@Sendable (Progress) -> Void)? = nil) async throws -> Result {
        try unlocked.ensureSyncCredential()
        var transport = RelayTransport(base: relay, device: unlocked.keystore.device)
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
        for space in try store.spaces() {
            // The personal space's log was read just above: not a second request.
            if space.id != personal?.id {
                result.membershipRecords += try await reconcileMembership(space, unlocked: unlocked, store: store, transport: transport, now: now)
            }
            try await reportRefusedMembership(space, store: store, transport: transport)
            try await DeviceEngine.answerUnusableKey(space, unlocked: unlocked, store: store, transport: transport)
            do { try await DeviceEngine.rekeyOwnDevices(space, unlocked: unlocked, store: store, transport: transport) } catch let failure as RelayTransport.Failure
                where failure.code == "membership-out-of-order" || failure.code.hasPrefix("membership-wrap") {}   // another device mended it first
            let round = try await exchange(space.id, store: store, transport: transport, ownDevice: unlocked.keystore.deviceID, progress: progress)
            if round.rolledBack { result.rolledBack.append(space.kind); continue }
            try unlocked.refreshDirectory()
            try await DirectoryEngine.publish(space, unlocked: unlocked, store: store, transport: transport)
            result.pushed += round.summary.pushed
            result.received += round.summary.received
            result.refused += round.summary.refused
        }
        try await RecoveryEngine.refreshIfStale(unlocked, store: store, transport: transport)
        result.applied = try unlocked.materialise().count
        // After a complete round, a change still waiting names a past the relay did not hand
        // over although the author's device had it: the relay is withholding (or lost) it.
        result.waiting = try store.pendingIn()
        if result.waiting > 0, result.rolledBack.isEmpty {
            try store.addWarning("\(result.waiting) received change(s) wait for earlier changes the relay has not delivered; it may be withholding them")
        }
        try store.setMeta("last_sync", String(now))
        return result
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
            // this person's devices. Say so, rather than only what the relay said.
            throw RelayTransport.Failure(status: failure.status, code: failure.code, message: """
                this device is no longer a member of your \(space.kind == .personal ? "private journal" : "shared space"): \
                it was probably revoked from another of your devices; what it holds stays readable here
                """)
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

    public struct Round: Sendable {
        public var summary = SyncSession.Summary()
        public var rolledBack = false
    }

    /// The envelope exchange of one space (SPEC § 7.1). Needs no content key.
    /// What a long round tells the person while it runs.
    public enum Progress: Sendable {
        case sending(sent: Int, of: Int)
    }

    public static func exchange(_ space: SpaceID, store: Store, transport: RelayTransport, ownDevice: WireDeviceID,
                                progress: (@Sendable (Progress) -> Void)? = nil) async throws -> Round {
        let heads = try await transport.heads(space)
        let rolledBack = try store.noteRelayHeads(heads, space: space)
        if !rolledBack.isEmpty {
            try store.addWarning("the relay holds fewer changes than it once did (rolled back or replaced); local state was kept")
        }
        var local = try store.localHeads(space: space)
        var session = SyncSession(local: local, ownDevices: [ownDevice])
        var prefetch: (vector: [WireDeviceID: UInt64], task: Task<(envelopes: [[UInt8]], complete: Bool), any Error>)?
        var lastPageComplete = true
        defer { prefetch?.task.cancel() }
        var action = session.start()
        while true {
            switch action {
            case .requestHeads:
                action = session.handle(.heads(heads, rolledBack: rolledBack))
            case .push(let devices, let after):
                let envelopes = try store.envelopes(space: space, of: devices, after: after)
                var sent = 0
                progress?(.sending(sent: 0, of: envelopes.count))
                let count = try await transport.push(envelopes, to: space) { batch in
                    // Exactly what the relay acknowledged, batch by batch: the envelopes sent,
                    // not the store's heads read afterwards (a write committed during the push
                    // was not sent, and counting it made the next round see a "rollback" and
                    // stop syncing the space for good), and kept even if the push stops midway.
                    var acknowledged: [WireDeviceID: UInt64] = [:]
                    for bytes in batch {
                        guard let header = try? Envelope(bytes: bytes).header else { continue }
                        acknowledged[header.device] = max(acknowledged[header.device] ?? 0, header.seq)
                    }
                    try store.markPushed(space: space, upTo: acknowledged)
                    // The relay acknowledged these durably: it must never answer with less again.
                    _ = try store.noteRelayHeads(heads.merging(acknowledged) { max($0, $1) }, space: space)
                    sent += batch.count
                    progress?(.sending(sent: sent, of: envelopes.count))
                }
                action = session.handle(.pushed(count: count))
            case .fetch(let after):
                let page: (envelopes: [[UInt8]], complete: Bool)
                if let ahead = prefetch, ahead.vector == after {
                    page = try await ahead.task.value
                } else {
                    prefetch?.task.cancel()
                    page = try await transport.fetch(space, after: after)
                }
                prefetch = nil
                lastPageComplete = page.complete
                action = session.handle(.fetched(page.envelopes, complete: page.complete))
            case .store(let envelopes):
                // Fetch the next page while this one is verified and stored: the network and
                // the disk overlap. If the store refuses something, the next fetch asks from
                // elsewhere and this guess is dropped.
                if !lastPageComplete {
                    var guess = local
                    for bytes in envelopes {
                        if let header = try? Envelope(bytes: bytes).header { guess[header.device] = max(guess[header.device] ?? 0, header.seq) }
                    }
                    let next = guess
                    prefetch = (next, Task { try await transport.fetch(space, after: next) })
                }
                let report = try store.storeVerified(envelopes, space: space)
                for reason in Set(report.refused) { try store.addWarning("refused from the relay: \(reason)") }
                if report.duplicates > 0 {
                    // Asked only for what this device lacks: envelopes it already holds are a replay.
                    try store.addWarning("the relay sent envelopes this device already holds (a replay); they were ignored")
                }
                local.merge(report.heads) { max($0, $1) }
                session.noteLocal(local)
                action = session.handle(.stored(received: report.stored, refused: report.refused.count))
            case .finished(let summary):
                return Round(summary: summary)
            case .rolledBack:
                return Round(rolledBack: true)
            }
        }
    }
}
