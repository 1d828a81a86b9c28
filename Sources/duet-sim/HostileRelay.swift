import DuetCrypto
import DuetStore
import DuetTesting
import DuetWire

/// The relay as an adversary (`--adversary relay`): between the real relay and a device, a
/// reply is altered the way a hostile relay would (``HostileRelayConnection``, DuetTesting).
/// Each seed draws one kind of attack. An attack the device can tell of by the sync engine's
/// rules must make it warn; one it cannot tell from an honest relay's doing is not counted, and
/// the device must then stay silent like every device the relay did not attack.
enum RelayAttack: String, CaseIterable, Sendable {
    /// One envelope's bytes altered: the device must refuse it and say so.
    case tamper
    /// An envelope sent twice in one page: the device must ignore the copy and say so.
    case replay
    /// A page's last envelopes of one device left out. On the last page of a fetch, of
    /// envelopes the heads of the same exchange named: the device must say the relay withholds
    /// them (`checkHeadsDelivered`). On a page with more to come it cannot tell: the next page
    /// starts above what it got, so they arrive, and it stays silent.
    case withhold
    /// A page's envelopes in another order. If one device's envelopes are out of seq order the
    /// device must say "a replay" (an envelope at or below one before it in the page); if only
    /// different devices' envelopes are interleaved otherwise, it cannot tell and stays silent.
    case reorder
    /// The heads answered as the relay gave them earlier (a remembered reply), lower than what
    /// the device holds the relay to: it must say the relay holds fewer changes than it did.
    case rollback

    /// What the attacked device's warnings must contain.
    var warning: String {
        switch self {
        case .tamper: "refused from the relay"
        case .replay, .reorder: "(a replay)"
        case .withhold: "withholding"
        case .rollback: "fewer changes than it once did"
        }
    }
}

/// What a device had been shown when one of its ops (a sync, a daemon round) began: every
/// exchange of that op asks for heads after it, and holds the relay to at least `seen`.
struct OpStart {
    /// ``World/headsShown`` then.
    let heads: Int
    /// Per space, what the device's store held the relay to (read for rollback seeds only).
    let seen: [SpaceID: [WireDeviceID: UInt64]]
}

extension World {
    func opStart(_ device: Device) -> OpStart {
        var seen: [SpaceID: [WireDeviceID: UInt64]] = [:]
        if adversary == .relay, relayAttack == .rollback, let store = device.store {
            for space in (try? store.spaces()) ?? [] { seen[space.id] = (try? store.relaySeen(space: space.id)) ?? [:] }
        }
        return OpStart(heads: headsShown, seen: seen)
    }

    /// The ops of `device` running now, as they began.
    func running(_ device: Device) -> [OpStart] {
        [device.syncing ? device.syncStart : nil, device.daemonRunning ? device.daemonStart : nil].compactMap { $0 }
    }

    /// What the relay does to a reply on its way to `device`: nil leaves it honest. Called by
    /// the device's ``HostileRelayConnection`` for every reply that reaches it.
    func alteration(_ observed: HostileRelayConnection.Observed, device: Device) -> RelayAlteration? {
        guard adversary == .relay, let kind = relayAttack else { return nil }
        // Only while the workload runs: the heal shows what honest replies then mend. A reply
        // to a task since cancelled reaches nobody: it is left alone.
        let alteration = faults && !deliveringCancelled ? choose(kind, observed, device: device) : nil
        if alteration == nil, observed.request.method == "GET", observed.reply.status == 200, observed.request.path.hasSuffix("/heads"),
           let space = Self.spacePart(observed.request), let heads = try? RelayMessages.decodeVector(observed.reply.body) {
            headsShown += 1
            // Heads shown before every running op began are no exchange's any more.
            let floor = running(device).map(\.heads).min() ?? headsShown
            device.heads[space, default: []].removeAll { $0.number <= floor }
            device.heads[space, default: []].append((headsShown, heads))
        }
        return alteration
    }

    /// The hex space id in a `/v1/spaces/{space}/…` path.
    static func spacePart(_ request: RelayRequest) -> String? {
        let parts = request.path.split(separator: "/")
        return parts.count >= 3 && parts[1] == "spaces" ? String(parts[2]) : nil
    }

    private func choose(_ kind: RelayAttack, _ observed: HostileRelayConnection.Observed, device: Device) -> RelayAlteration? {
        guard let store = device.store, let own = device.unlocked?.keystore.deviceID, let part = Self.spacePart(observed.request) else { return nil }
        // Read from the store only for a reply about to be altered.
        func space() -> SpaceID? { ((try? store.spaces()) ?? []).first { Hex.encode($0.id.bytes) == part }?.id }
        var told = true
        let alteration: RelayAlteration
        if kind == .rollback {
            guard observed.request.method == "GET", observed.request.path.hasSuffix("/heads"), !observed.earlier.isEmpty, random.chance(25) else { return nil }
            // Every running op (and so the exchange that asked) holds the relay to at least this.
            let starts = running(device)
            guard !starts.isEmpty, let space = space() else { return nil }
            var floor: [WireDeviceID: UInt64] = [:]
            for id in (starts[0].seen[space] ?? [:]).keys { floor[id] = starts.map { $0.seen[space]?[id] ?? 0 }.min() }
            let lower = observed.earlier.indices.filter { index in
                guard let earlier = try? RelayMessages.decodeVector(observed.earlier[index].body) else { return false }
                return floor.contains { earlier[$0.key, default: 0] < $0.value }
            }
            guard !lower.isEmpty else { return nil }
            alteration = .rollBack(to: lower[random.below(lower.count)])
        } else {
            // Pages of two or more envelopes are few (devices sync often): every one is reordered.
            guard let page = observed.page, !page.envelopes.isEmpty, kind == .reorder ? page.envelopes.count >= 2 : random.chance(25) else { return nil }
            let headers = page.envelopes.map { try? Envelope(bytes: $0).header }
            switch kind {
            case .tamper:
                let victim = random.below(page.envelopes.count)
                alteration = .tamper(envelope: victim, byte: random.below(page.envelopes[victim].count), mask: UInt8(1 + random.below(255)))
            case .replay:
                alteration = .replay(envelope: random.below(page.envelopes.count))
            case .reorder:
                var order = Array(page.envelopes.indices)
                for index in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(index, random.below(index + 1)) }
                var highest: [WireDeviceID: UInt64] = [:]
                told = false
                for header in order.compactMap({ headers[$0] }) {
                    if header.seq <= highest[header.device, default: 0] { told = true }
                    highest[header.device] = max(highest[header.device, default: 0], header.seq)
                }
                alteration = .reorder(order)
            case .withhold:
                // Per other device, the seqs in the page that may be the first one left out.
                var eligible: [WireDeviceID: [UInt64]] = [:]
                if page.complete {
                    // Named by the heads of the exchange that asked (those shown since the
                    // earliest running op began are at most its own: heads only grow), and not
                    // held here already (another op of this device may have stored them).
                    guard let floor = running(device).map(\.heads).min(),
                          let named = device.heads[part]?.first(where: { $0.number > floor })?.heads,
                          let space = space(), let held = try? store.localHeads(space: space) else { return nil }
                    for case let header? in headers where header.device != own && header.seq <= named[header.device, default: 0]
                        && header.seq > held[header.device, default: 0] {
                        eligible[header.device, default: []].append(header.seq)
                    }
                } else {
                    told = false
                    for case let header? in headers where header.device != own { eligible[header.device, default: []].append(header.seq) }
                }
                let senders = eligible.keys.sorted()
                guard !senders.isEmpty else { return nil }
                let sender = senders[random.below(senders.count)]
                let seqs = eligible[sender] ?? []
                let first = seqs[random.below(seqs.count)]
                alteration = .withhold(headers.indices.filter { headers[$0]?.device == sender && headers[$0]?.seq ?? 0 >= first })
            case .rollback:
                return nil
            }
        }
        if told { events.withLock { $0.attacks.append(.init(device: device.index, kind: kind.rawValue, warning: kind.warning)) } } else { silentAttacks += 1 }
        return alteration
    }
}
