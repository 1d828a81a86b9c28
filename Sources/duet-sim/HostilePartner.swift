import DuetCore
import DuetCrypto
import DuetStore
import DuetSync
import DuetWire

/// The partner as an adversary (`--adversary partner`): one more of Sam's devices, a full member
/// linked like any other, signs what a hostile Sam would and pushes it through the relay. Each
/// seed draws one attack; every honest device must warn of it, refuse what it must, and go on.
enum PartnerAttack: String, CaseIterable, Sendable {
    /// A change adopting a snapshot of an entry "written by Alex" (issue #13's forged adoption).
    case forgedAdoption
    /// A signed envelope whose plaintext is not a change (issue #13's poisoned envelope).
    case poisonedEnvelope
    /// A membership record, signed by Sam's identity, removing one of Alex's devices (issue
    /// #13: an identity removes only devices it certified). The relay refuses it and keeps it
    /// as evidence; every honest device replays it against its own log and warns.
    case evictDevice
    /// A membership record adding a third identity to the couple space (a reader neither
    /// person is): refused by the same rule on the relay and on every device.
    case thirdReader

    var warning: String {
        switch self {
        case .forgedAdoption: "another device"
        case .poisonedEnvelope: "could not be read"
        case .evictDevice, .thirdReader: "was refused and not followed"
        }
    }

    /// The relay's refusal the attack must meet (what the log's rule says, SPEC § 6.2).
    var refusal: String? {
        switch self {
        case .evictDevice: "membership-not-own-device"
        case .thirdReader: "membership-identity-limit"
        case .forgedAdoption, .poisonedEnvelope: nil
        }
    }
}

/// What the hostile device needs to extend its own chain.
struct HostileChain {
    var seq: UInt64 = 1
    var previous: Digest = .zero
    /// Sealed but not yet acknowledged: sent again as the same bytes (a new seal would fork).
    var pending: Envelope?
}

extension World {
    /// Links Sam's hostile device (not one of the workload's devices: it writes only attacks).
    func linkHostile() async throws {
        let name = "sam-hostile"
        let device = Device(index: -1, person: 1, name: name, home: Home(path: "\(directory)/\(name)"),
                            random: SeededRandomStream(seed: seed, name: name))
        // Its network index is past the honest devices' (the scheduler keys waits by index).
        let indexed = Device(index: 1000, person: 1, name: name, home: device.home, random: device.random)
        hostile = indexed
        connect(indexed)
        try await link(indexed, from: devices(of: 1)[0])
    }

    /// The hostile device signs and pushes one attack of the seed's kind.
    func attackAsPartner() async {
        guard adversary == .partner, let kind = partnerAttack, let device = hostile, let unlocked = device.unlocked,
              let store = device.store, let couple = try? store.space(.couple), let keys = try? unlocked.spaceKeys(couple.id),
              let epoch = keys.keys.max(), let key = keys[epoch] else { return }
        if kind.refusal != nil {
            await attackMembership(kind, device: device, unlocked: unlocked, store: store, couple: couple)
            return
        }
        let wire = unlocked.keystore.deviceID
        let author = unlocked.device
        var chain = hostileChain
        if chain.pending == nil {
            let plaintext: [UInt8]
            switch kind {
            case .forgedAdoption:
                // Alex's first device, named as the creator inside the snapshot.
                guard let alex = devices(of: 0).first?.unlocked?.device else { return }
                let forged = EntryID.random(using: &random)
                var forger = Journal()
                forger.commit(entry: forged, by: alex, at: HLC(milliseconds: scheduler.now, counter: 0)) {
                    $0.create()
                    $0.insertText(Array("I never loved you.".unicodeScalars), at: 0)
                }
                guard let entry = forger.entries[forged] else { return }
                forgedEntries.append(forged)
                plaintext = ChangeCodec.encode(Change(device: author, seq: chain.seq, hlc: HLC(milliseconds: scheduler.now, counter: 0),
                                                      dependencies: [], entry: forged, operations: [.adoptSnapshot(EntrySnapshot.encode(entry))]))
            case .poisonedEnvelope:
                plaintext = (0..<200).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            case .evictDevice, .thirdReader:
                return
            }
            let header = Envelope.Header(space: couple.id, epoch: epoch, device: wire, seq: chain.seq, previous: chain.previous)
            chain.pending = RandomBytes.$simulated.withValue(device.random) {
                Envelope.seal(plaintext, header: header, contentKey: key, signingKey: unlocked.keystore.device)
            }
        }
        guard let envelope = chain.pending else { return }
        hostileChain = chain
        let environment = self.environment(device), origin = self.origin, events = self.events
        let pushed = EventFlag()
        await start(device) {
            var transport = environment.transport(origin, .device(unlocked.keystore.device))
            do {
                try await transport.authenticate()
                _ = try await transport.push([envelope.bytes], to: couple.id)
                pushed.set()
            } catch {
                events.withLock { $0.failures["hostile: " + World.kind(of: error), default: 0] += 1 }
            }
        }
        try? await drive(until: { pushed.isSet })
        guard pushed.isSet else { return }
        hostileChain = HostileChain(seq: chain.seq + 1, previous: envelope.hash, pending: nil)
        // Every honest device of the couple space receives it: each must warn.
        events.withLock { events in
            for honest in devices { events.attacks.append(.init(device: honest.index, kind: kind.rawValue, warning: kind.warning)) }
        }
    }
}

extension World {
    /// The hostile device posts a membership record its identity signed that the log's rules
    /// refuse. Counted once the relay refused it by that rule (it then keeps it as evidence):
    /// every honest device of the couple must warn at its next sync, and nothing changes.
    func attackMembership(_ kind: PartnerAttack, device: Device, unlocked: UnlockedStore, store: Store, couple: SpaceInfo) async {
        guard let log = try? store.membershipLog(space: couple.id) else { return }
        let action: MembershipRecord.Action
        switch kind {
        case .evictDevice:
            let alex = devices(of: 0).compactMap { $0.unlocked?.keystore.device.verifyingKey }
            guard !alex.isEmpty else { return }
            action = .removeDevice(alex[random.below(alex.count)])
        case .thirdReader:
            let stranger = RandomBytes.$simulated.withValue(device.random) { SigningKey.generate() }
            action = .addIdentity(stranger.verifyingKey)
        case .forgedAdoption, .poisonedEnvelope:
            return
        }
        let records = log.nextRecords([action], by: unlocked.keystore.identity)
        let environment = self.environment(device), origin = self.origin, events = self.events
        let refused = EventFlag(), finished = EventFlag()
        await start(device) {
            var transport = environment.transport(origin, .device(unlocked.keystore.device))
            do {
                try await transport.authenticate()
                try await transport.postMembership(records)
                events.withLock { $0.defencesBroken.append("the relay accepted Sam's \(kind.rawValue) record") }
            } catch let failure as RelayTransport.Failure where failure.code == kind.refusal {
                refused.set()
            } catch {
                events.withLock { $0.failures["hostile: " + World.kind(of: error), default: 0] += 1 }
            }
            finished.set()
        }
        try? await drive(until: { finished.isSet })
        guard refused.isSet else { return }
        events.withLock { events in
            for honest in devices { events.attacks.append(.init(device: honest.index, kind: kind.rawValue, warning: kind.warning)) }
        }
    }
}

/// A flag a device task sets and the loop reads.
final class EventFlag: Sendable {
    private let state = EventLog()
    var isSet: Bool { state.withLock { !$0.failures.isEmpty } }
    func set() { state.withLock { $0.failures["set"] = 1 } }
}
