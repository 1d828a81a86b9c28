import DuetCore
import DuetCrypto
import DuetStore
import DuetSync
import DuetTesting
import DuetWire
import Synchronization

/// What the people in a world do: set up their journals, pair, link devices, then write,
/// share, edit and sync while the network and the machines fail under them.
extension World {
    // MARK: - Setting up

    /// Alex's and Sam's first devices, paired; then each person's other devices, linked. The
    /// network is honest while this runs (faults start after).
    func setUp(devicesPerPerson: [Int]) async throws {
        for person in 0..<2 {
            let device = addDevice(person: person)
            try await create(device)
        }
        try await pair(devices[0], devices[1])
        for person in 0..<2 {
            for _ in 1..<devicesPerPerson[person] {
                try await link(addDevice(person: person), from: devices(of: person)[0])
            }
        }
        if adversary == .partner { try await linkHostile() }
        // Everyone learns of everyone's devices before the workload begins.
        try await syncUntilSettled()
    }

    /// Syncs every device on an honest network until each has synced since the last change
    /// anyone made at the relay (every device at least once, in order): then each holds all
    /// the others sent. Fewer syncs than fixed rounds of every device (a round that moves
    /// nothing is not run), and more when a late round still moves something.
    func syncUntilSettled() async throws {
        var synced: [Int: Int] = [:]   // device index → relayWrites when its last sync ended
        var syncs = 0, next = 0
        func stale(_ device: Device) -> Bool { device.store != nil && synced[device.index].map { $0 < relayWrites } ?? true }
        // Round and round in order, from the device after the last one synced.
        while let position = devices.indices.map({ (next + $0) % devices.count }).first(where: { stale(devices[$0]) }) {
            syncs += 1
            guard syncs <= 8 * devices.count else { throw Violation("the devices did not settle in \(syncs - 1) syncs on an honest network") }
            try await syncNow(devices[position])
            synced[devices[position].index] = relayWrites
            next = position + 1
        }
    }

    func create(_ device: Device) async throws {
        let outcome = Mutex<Result<(Store, UnlockedStore), any Error>?>(nil)
        let now = scheduler.now, parameters = self.parameters
        await start(device) {
            do {
                let created = try Store.create(home: device.home, name: World.people[device.person], deviceName: device.name,
                                               passphrase: SecretBytes(utf8: World.passphrase), parameters: parameters, now: now)
                outcome.withLock { $0 = .success(created) }
            } catch {
                outcome.withLock { $0 = .failure(error) }
            }
        }
        guard let result = outcome.withLock({ $0 }) else { throw Violation("creating \(device.name) did not finish") }
        (device.store, device.unlocked) = try result.get()
        try await syncNow(device)
    }

    /// One full sync of `device` on an honest network, which must succeed.
    func syncNow(_ device: Device) async throws {
        let failure = Mutex<String?>(nil)
        let finished = Mutex(false)
        guard let store = device.store, let unlocked = device.unlocked else { return }
        let environment = self.environment(device), origin = self.origin, scheduler = self.scheduler
        await start(device) {
            do { _ = try await SyncEngine.sync(unlocked, store: store, relay: origin, now: scheduler.now, environment: environment) } catch {
                failure.withLock { $0 = "\(error)" }
            }
            finished.withLock { $0 = true }
        }
        try await drive(until: { finished.withLock { $0 } })
        if let failure = failure.withLock({ $0 }) { throw Violation("\(device.name) could not sync on an honest network: \(failure)") }
    }

    func pair(_ inviter: Device, _ invitee: Device) async throws {
        guard let inviterStore = inviter.store, let inviterUnlocked = inviter.unlocked,
              let inviteeStore = invitee.store, let inviteeUnlocked = invitee.unlocked else { throw Violation("pairing devices that do not exist") }
        let code = Mutex<String?>(nil)
        let results = Mutex<[String]>([])
        let origin = self.origin
        let inviterEnvironment = environment(inviter), inviteeEnvironment = environment(invitee)
        await start(inviter) {
            do {
                _ = try await PairingEngine.invite(inviterUnlocked, store: inviterStore, relay: origin, timeout: .seconds(600),
                                                   environment: inviterEnvironment) { shown in code.withLock { $0 = shown } }
                results.withLock { $0.append("ok") }
            } catch { results.withLock { $0.append("invite: \(error)") } }
        }
        try await drive(until: { code.withLock { $0 } != nil })
        guard let shown = code.withLock({ $0 }) else { throw Violation("the invitation showed no code") }
        await start(invitee) {
            do {
                _ = try await PairingEngine.accept(code: shown, inviteeUnlocked, store: inviteeStore, relay: origin, timeout: .seconds(600),
                                                   environment: inviteeEnvironment)
                results.withLock { $0.append("ok") }
            } catch { results.withLock { $0.append("accept: \(error)") } }
        }
        try await drive(until: { results.withLock { $0.count } == 2 })
        let outcome = results.withLock { $0 }
        guard outcome == ["ok", "ok"] else { throw Violation("pairing failed on an honest network: \(outcome)") }
    }

    func link(_ device: Device, from existing: Device) async throws {
        guard let store = existing.store, let unlocked = existing.unlocked else { throw Violation("linking from a device that does not exist") }
        let code = Mutex<String?>(nil)
        let results = Mutex<[String]>([])
        let joined = Mutex<(Store, UnlockedStore)?>(nil)
        let origin = self.origin, parameters = self.parameters
        let existingEnvironment = environment(existing), newEnvironment = environment(device)
        await start(existing) {
            do {
                _ = try await DeviceEngine.link(unlocked, store: store, relay: origin, timeout: .seconds(600), environment: existingEnvironment) { shown in
                    code.withLock { $0 = shown }
                }
                results.withLock { $0.append("ok") }
            } catch { results.withLock { $0.append("link: \(error)") } }
        }
        try await drive(until: { code.withLock { $0 } != nil })
        guard let shown = code.withLock({ $0 }) else { throw Violation("linking showed no code") }
        await start(device) {
            do {
                let result = try await DeviceEngine.join(code: shown, home: device.home, deviceName: device.name,
                                                         passphrase: SecretBytes(utf8: World.passphrase), parameters: parameters,
                                                         relay: origin, timeout: .seconds(600), environment: newEnvironment)
                joined.withLock { $0 = (result.store, result.unlocked) }
                results.withLock { $0.append("ok") }
            } catch { results.withLock { $0.append("join: \(error)") } }
        }
        try await drive(until: { results.withLock { $0.count } == 2 })
        let outcome = results.withLock { $0 }
        guard outcome == ["ok", "ok"], let opened = joined.withLock({ $0 }) else { throw Violation("linking failed on an honest network: \(outcome)") }
        (device.store, device.unlocked) = opened
    }

    // MARK: - The workload

    /// `steps` choices drawn from the seed: people write, share, edit and sync; the network
    /// loses, repeats, reorders and delays; devices and the relay crash; devices go offline.
    func work(steps: Int) async throws {
        faults = true
        for _ in 0..<steps {
            await scheduler.settle()
            let roll = random.below(100)
            switch roll {
            case 0..<20:
                await act(devices[random.below(devices.count)])
            case 20..<90:
                let requests = scheduler.requests
                if !requests.isEmpty {
                    await deliver(requests[random.below(requests.count)])
                } else {
                    // A request the network repeated arrives late; nobody waits for its reply.
                    let repeating = devices.compactMap(\.network).filter { $0.repeatsWaiting > 0 }
                    if !repeating.isEmpty {
                        let network = repeating[random.below(repeating.count)]
                        await network.deliverRepeat(at: random.below(network.repeatsWaiting))
                    }
                }
            case 90..<95:
                if scheduler.sleeperCount > 0 { await scheduler.wakeNext() } else { scheduler.advance(by: UInt64(1 + random.below(5000))) }
            case 95..<97:
                try crash(devices[random.below(devices.count)])
            case 97..<98:
                try crashRelay()
            case 98 where adversary == .partner:
                await attackAsPartner()
            default:
                let device = devices[random.below(devices.count)]
                device.partitioned.toggle()
            }
        }
        faults = false
    }

    /// One thing a person does on `device`, drawn from the seed.
    func act(_ device: Device) async {
        guard let store = device.store, let unlocked = device.unlocked else { return }
        let hasCouple = (try? store.space(.couple)) != nil
        let shared = events.withLock { $0.sharedEntries.map(\.entry) }
        switch random.below(5) {
        case 0:
            await write(device, unlocked, shared: false)
        case 1 where hasCouple:
            await write(device, unlocked, shared: true)
        case 2 where hasCouple && !shared.isEmpty:
            await edit(device, unlocked, entry: shared[random.below(shared.count)])
        case 3 where !device.daemonRunning:
            // `duetd`'s round, locked, beside whatever `duet` does on the same home.
            device.daemonRunning = true
            device.daemonStart = opStart(device)
            let life = device.life, environment = self.environment(device), origin = self.origin, events = self.events
            await start(device) {
                do { try await World.daemonRound(store: store, origin: origin, environment: environment) } catch {
                    events.withLock { $0.failures["daemon: " + World.kind(of: error), default: 0] += 1 }
                }
                if device.life == life { device.daemonRunning = false }
            }
        default:
            guard !device.syncing else { return }
            device.syncing = true
            device.syncStart = opStart(device)
            let life = device.life, environment = self.environment(device), origin = self.origin, scheduler = self.scheduler
            let events = self.events
            await start(device) {
                do { _ = try await SyncEngine.sync(unlocked, store: store, relay: origin, now: scheduler.now, environment: environment) } catch {
                    events.withLock { $0.failures[World.kind(of: error), default: 0] += 1 }
                }
                if device.life == life { device.syncing = false }
            }
        }
    }

    /// What one round of `duetd` does, with the delegated key and no content key.
    static func daemonRound(store: Store, origin: String, environment: SyncEnvironment) async throws {
        guard let credential = try store.syncCredential() else { return }
        var transport = environment.transport(origin, .delegated(credential))
        try await transport.authenticate()
        let ownDevice = WireDeviceID(verifyingKey: credential.device)
        for space in try store.spaces() {
            _ = try await SyncEngine.reconcileMembership(space, unlocked: nil, store: store, transport: transport, now: 0)
            _ = try await SyncEngine.exchange(space, store: store, transport: transport, ownDevice: ownDevice)
        }
    }

    func write(_ device: Device, _ unlocked: UnlockedStore, shared: Bool) async {
        let id = EntryID.random(using: &random)
        let text = Array(words(2 + random.below(12)).unicodeScalars)
        let now = scheduler.now, events = self.events
        await start(device) {
            do {
                let change = try unlocked.commit(entry: id, in: shared ? .couple : .personal, now: now) { editor in
                    editor.create()
                    editor.insertText(text, at: 0)
                }
                events.withLock { events in
                    events.commits.append(.init(device: device.index, person: device.person, entry: id, shared: shared, seq: change.seq))
                    if shared { events.sharedEntries.append((id, device.person)) } else { events.privateEntries.append((id, device.person)) }
                }
            } catch {
                events.withLock { $0.failures["write: " + World.kind(of: error), default: 0] += 1 }
            }
        }
    }

    func edit(_ device: Device, _ unlocked: UnlockedStore, entry id: EntryID) async {
        let text = Array((" " + words(1 + random.below(4))).unicodeScalars)
        let position = random.below(1000), now = scheduler.now, events = self.events
        await start(device) {
            // An entry this device has not received yet cannot be edited here: as in `duet edit`.
            guard (try? unlocked.contains(id)) == true else { return }
            do {
                let change = try unlocked.commit(entry: id, now: now) { editor in
                    editor.insertText(text, at: min(position, editor.entry.body.count))
                }
                events.withLock { $0.commits.append(.init(device: device.index, person: device.person, entry: id, shared: true, seq: change.seq)) }
            } catch {
                events.withLock { $0.failures["edit: " + World.kind(of: error), default: 0] += 1 }
            }
        }
    }

    /// Every device syncs on an honest network with nothing offline until none has anything
    /// left to learn, so that each holds everything every other device wrote.
    func heal() async throws {
        for device in devices { device.partitioned = false }
        faults = false
        try await drive()
        try await syncUntilSettled()
    }

    func words(_ count: Int) -> String {
        let list = ["safety", "attunement", "comfort", "delight", "exploration", "today", "we", "talked", "walked", "listened",
                    "é", "你好", "🙂", "and", "then", "again"]
        return (0..<count).map { _ in list[random.below(list.count)] }.joined(separator: " ")
    }

    /// A failure's kind for the tally (never its bytes).
    static func kind(of error: any Error) -> String {
        if let failure = error as? RelayTransport.Failure { return failure.status == 0 ? "unreachable" : failure.code }
        if let error = error as? StoreError { return "store-\(error.code.rawValue)" }
        return String(describing: type(of: error))
    }
}
