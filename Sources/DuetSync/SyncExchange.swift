public import DuetStore
public import DuetWire

extension SyncEngine {
    public struct Round: Sendable {
        public var summary = SyncSession.Summary()
        public var rolledBack = false
        /// Per device, the highest seq the relay's pages carried in this round (stored here by
        /// this round, or already stored by another of this device's processes meanwhile).
        public var delivered: [WireDeviceID: UInt64] = [:]
    }

    /// What a long round tells the person while it runs.
    public enum Progress: Sendable {
        case sending(sent: Int, of: Int)
    }

    /// The envelope exchange of one space (SPEC § 7.1). Needs no content key.
    ///
    /// Besides moving envelopes it checks the relay's word against what the relay then does,
    /// and warns only for what an honest relay cannot do, however this device's own processes
    /// (`duet` and `duetd`) and the relay's restarts interleave:
    /// - a page holding envelopes at or below what the fetch asked above is a replay (an
    ///   envelope above it that this device already holds was stored meanwhile by another of
    ///   its processes, which is not);
    /// - heads naming more than a complete fetch then delivers are withheld changes;
    /// - heads naming more of this device's own envelopes than it holds mean another device is
    ///   signing with its key, or the relay lies.
    public static func exchange(_ space: SpaceInfo, store: Store, transport: RelayTransport, ownDevice: WireDeviceID,
                                progress: (@Sendable (Progress) -> Void)? = nil) async throws -> Round {
        // What the relay was held to before the heads were asked for: a push `duetd`
        // records while this request is out is newer than these heads, not a rollback.
        let seenBefore = try store.relaySeen(space: space.id)
        let heads = try await transport.heads(space.id)
        var local = try store.localHeads(space: space.id)
        // What the relay is held to later is what it showed it holds: a claim of more than
        // this device has (from the relay, or its own) is not kept until a fetch bears it
        // out, so a false claim cannot make an honest answer look like a rollback.
        // Of this device's own envelopes the relay has shown only what it acknowledged (or
        // delivered back): holding more here is no proof the relay holds them.
        var proven = local
        proven[ownDevice] = seenBefore[ownDevice] ?? 0
        let rolledBack = try store.noteRelayHeads(heads, space: space.id, heldHere: proven, seenBefore: seenBefore)
        if !rolledBack.isEmpty {
            try store.addWarning("the relay holds fewer changes than it once did (rolled back or replaced); local state was kept")
        }
        let ownBefore = local[ownDevice, default: 0]
        var session = SyncSession(local: local, ownDevices: [ownDevice])
        var prefetch: (vector: [WireDeviceID: UInt64], task: Task<(envelopes: [[UInt8]], complete: Bool), any Error>)?
        var lastPageComplete = true
        var asked: [WireDeviceID: UInt64] = [:]
        // Devices some envelope of which this round refused: their heads are not held against the relay.
        var refusedDevices: Set<WireDeviceID> = []
        var membershipRead = false
        var delivered: [WireDeviceID: UInt64] = [:]
        defer { prefetch?.task.cancel() }
        var action = session.start()
        while true {
            switch action {
            case .requestHeads:
                action = session.handle(.heads(heads, rolledBack: rolledBack))
            case .push(let devices, let after):
                let envelopes = try store.envelopes(space: space.id, of: devices, after: after)
                var sent = 0
                progress?(.sending(sent: 0, of: envelopes.count))
                let count = try await transport.push(envelopes, to: space.id) { batch in
                    // Exactly what the relay acknowledged, batch by batch: the envelopes sent,
                    // not the store's heads read afterwards (a write committed during the push
                    // was not sent, and counting it made the next round see a "rollback" and
                    // stop syncing the space for good), and kept even if the push stops midway.
                    var acknowledged: [WireDeviceID: UInt64] = [:]
                    for bytes in batch {
                        guard let header = try? Envelope(bytes: bytes).header else { continue }
                        acknowledged[header.device] = max(acknowledged[header.device] ?? 0, header.seq)
                    }
                    // The relay acknowledged these durably: it must never answer with less again.
                    try store.notePushAcknowledged(space: space.id, upTo: acknowledged)
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
                    page = try await transport.fetch(space.id, after: after)
                }
                prefetch = nil
                asked = after
                lastPageComplete = page.complete
                action = session.handle(.fetched(page.envelopes, complete: page.complete))
            case .store(let envelopes):
                // Fetch the next page while this one is verified and stored: the network and
                // the disk overlap. If the store refuses something, the next fetch asks from
                // elsewhere and this guess is dropped.
                var guess = local
                var replayed = 0
                var inPage: [WireDeviceID: UInt64] = [:]
                for bytes in envelopes {
                    guard let header = try? Envelope(bytes: bytes).header else { continue }
                    guess[header.device] = max(guess[header.device] ?? 0, header.seq)
                    // Asked only for what lies above `asked`, each device's envelopes in seq
                    // order (they reached the relay in that order): an envelope at or below
                    // either is one sent again, a replay.
                    if header.seq <= max(asked[header.device, default: 0], inPage[header.device, default: 0]) { replayed += 1 }
                    inPage[header.device] = max(inPage[header.device, default: 0], header.seq)
                }
                delivered.merge(inPage) { max($0, $1) }
                if !lastPageComplete {
                    let next = guess
                    prefetch = (next, transport.prefetch(space.id, after: next))
                }
                var report = try store.storeVerified(envelopes, space: space.id)
                if report.refused.contains(IngestReport.notMember), !membershipRead {
                    // A device added after this device last read the log (its record and its
                    // first envelopes reached the relay since): read the log once more, then
                    // take the page again. Only what still fails is refused.
                    membershipRead = true
                    _ = try await reconcileMembership(space, unlocked: nil, store: store, transport: transport, now: 0)
                    let again = try store.storeVerified(envelopes, space: space.id)
                    report.stored += again.stored
                    report.refused = again.refused
                    report.heads.merge(again.heads) { max($0, $1) }
                }
                if !report.refused.isEmpty {
                    for bytes in envelopes {
                        if let header = try? Envelope(bytes: bytes).header, header.seq > (report.heads[header.device] ?? local[header.device, default: 0]) {
                            refusedDevices.insert(header.device)
                        }
                    }
                }
                for reason in Set(report.refused) { try store.addWarning("refused from the relay: \(reason)") }
                if replayed > 0 {
                    try store.addWarning("the relay sent envelopes this device already holds and did not ask for (a replay); they were ignored")
                }
                local.merge(report.heads) { max($0, $1) }
                session.noteLocal(local)
                action = session.handle(.stored(received: report.stored, refused: report.refused.count))
            case .finished(let summary):
                if summary.complete {
                    try checkHeadsDelivered(heads, held: local, space: space, store: store, ownDevice: ownDevice, ownBefore: ownBefore, refused: refusedDevices,
                                            ownShown: max(seenBefore[ownDevice] ?? 0, delivered[ownDevice] ?? 0))
                }
                return Round(summary: summary, delivered: delivered)
            case .rolledBack:
                return Round(rolledBack: true)
            }
        }
    }

    /// After a complete fetch this device holds everything the relay held when it answered
    /// with `heads` (the relay only appends): heads naming more were a false claim, or the
    /// relay withholds what it claims. Of this device's own envelopes the relay can hold
    /// nothing this device did not write, unless another device signs with its key.
    ///
    /// `held` is what the round tracked (the store's heads at its start, raised by every page
    /// stored; a page's duplicates count, so envelopes another process stored meanwhile are in
    /// it for every device a page touched): no second read of the store.
    static func checkHeadsDelivered(_ heads: [WireDeviceID: UInt64], held: [WireDeviceID: UInt64], space: SpaceInfo, store: Store,
                                    ownDevice: WireDeviceID, ownBefore: UInt64, refused: Set<WireDeviceID>, ownShown: UInt64) throws {
        // What the fetch bore out, the relay must never answer with less again (of this
        // device's own, only what it acknowledged or handed back).
        var proven = held
        proven[ownDevice] = ownShown
        _ = try store.noteRelayHeads(heads, space: space.id, heldHere: proven)
        let place = space.kind == .couple ? "your shared space" : "your private journal"
        let claimedOwn = heads[ownDevice, default: 0]
        if claimedOwn > held[ownDevice, default: 0] {
            try store.addWarning("""
                the relay claims to hold \(claimedOwn - held[ownDevice, default: 0]) more change(s) of this device in \(place) than this device \
                ever wrote, and delivers none of them: another device is using this device's key, or the relay lies; \
                new writes cannot be sent until this is resolved
                """)
        } else if claimedOwn > ownBefore, held[ownDevice, default: 0] > ownBefore {
            try store.addWarning("""
                the relay held change(s) in \(place) signed with this device's key that were not written here: another device \
                is using this device's key (a copied home folder?), or this home was restored from an older backup
                """)
        }
        let withheld = heads.filter { device, seq in device != ownDevice && !refused.contains(device) && seq > held[device, default: 0] }
        if !withheld.isEmpty {
            // Saturating: heads are the relay's word, up to 2⁶³ − 1 each.
            let missing = withheld.reduce(UInt64(0)) { sum, head in
                let (total, overflow) = sum.addingReportingOverflow(head.value - held[head.key, default: 0])
                return overflow ? .max : total
            }
            try store.addWarning("the relay announced \(missing) change(s) in \(place) that it then did not deliver; it may be withholding them")
        }
    }
}
