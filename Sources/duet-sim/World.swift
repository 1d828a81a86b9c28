import DuetCore
import DuetCrypto
import DuetRelay
import DuetStore
import DuetSync
import DuetTesting
import DuetWire
import Foundation
import Synchronization

/// One seed's world: two people with one to three devices each, a relay, a simulated network
/// and clock, all in this process and all driven by the seed (issue #15).
final class World: @unchecked Sendable {
    // @unchecked: everything mutable below is touched only by the loop's task (device tasks
    // run while the loop waits, and report through `events`, which is locked).

    let seed: UInt64
    let adversary: Adversary
    var random: SeededRandom
    let scheduler: Scheduler
    let directory: String
    let origin = "duet-sim://relay"
    private(set) var relay: InProcessRelay
    /// The relay's own draws (challenges, session tokens).
    let relayRandom: SeededRandomStream
    var devices: [Device] = []
    /// What happened that the checks judge: commits, failures, attacks.
    let events = EventLog()
    /// How often the network loses and repeats requests while faults are on (the scheduler
    /// reorders and delays: it answers waiting requests in the seed's order, at the seed's times).
    static let faultRates = NetworkFaultRates(loseRequest: 3, loseReply: 4, duplicate: 3)
    /// Whether the request being delivered was sent by a task since cancelled (nobody reads its reply).
    var deliveringCancelled = false
    /// Incremented for every heads reply a device is shown (``Device/heads`` numbers them).
    var headsShown = 0
    /// Crashed devices' waits, ended when the seed is over.
    var abandoned: [(requests: [Scheduler.Request], sleepers: [Scheduler.Sleeper])] = []
    /// Whether the network loses, repeats and delays (off while setting up and healing).
    var faults = false
    /// The relay's attack in this seed (`--adversary relay`), drawn at the start.
    var relayAttack: RelayAttack?
    /// The partner's attack in this seed (`--adversary partner`), its device and its chain.
    var partnerAttack: PartnerAttack?
    var hostile: Device?
    var hostileChain = HostileChain()
    /// Entries the hostile partner forged in Alex's name: no device may ever show them.
    var forgedEntries: [EntryID] = []
    var relayCrashes = 0, deviceCrashes = 0, delivered = 0
    /// Requests that changed what the relay holds for a space (``respond(_:)``): a device that
    /// synced after the last of them holds everything there is to learn.
    var relayWrites = 0
    /// Relay attacks carried out that the device cannot tell from an honest relay's doing.
    var silentAttacks = 0
    /// FNV-1a over every request the relay answered and its reply, in order: two runs of one
    /// seed with the same digest took the same path (`--verbose` prints it).
    var digest: UInt64 = 0xcbf2_9ce4_8422_2325

    func fold(_ bytes: [UInt8]) {
        // Through a buffer pointer and a local: the debug build CI runs makes a generic
        // sequence walk over every byte of every reply a few percent of a seed.
        var digest = self.digest
        bytes.withUnsafeBufferPointer { buffer in
            for byte in buffer { digest = (digest ^ UInt64(byte)) &* 0x100_0000_01b3 }
        }
        self.digest = digest
    }

    static let passphrase = "simulated passphrase"
    /// One salt for every device: the simulator's KDF cache then derives the key once per run.
    let parameters: PassphraseKDFParameters

    init(seed: UInt64, adversary: Adversary, directory: String) throws {
        self.seed = seed
        self.adversary = adversary
        self.directory = directory
        parameters = try PassphraseKDFParameters(opsLimit: 2, memoryBytes: 64 << 20, salt: [UInt8](repeating: 7, count: 16))
        random = SeededRandom(seed: seed)
        if adversary == .relay { relayAttack = RelayAttack.allCases[random.below(RelayAttack.allCases.count)] }
        if adversary == .partner { partnerAttack = PartnerAttack.allCases[random.below(PartnerAttack.allCases.count)] }
        // 2026-01-01 plus up to a year, so no seed depends on one date.
        let scheduler = Scheduler(start: 1_767_225_600_000 + UInt64(random.below(365 * 86_400)) * 1000)
        self.scheduler = scheduler
        let relayRandom = SeededRandomStream(seed: seed, name: "relay")
        self.relayRandom = relayRandom
        try FileManager.default.createDirectory(atPath: directory + "/relay", withIntermediateDirectories: true)
        relay = try RandomBytes.$simulated.withValue(relayRandom) {
            try InProcessRelay(directory: directory + "/relay", origin: "duet-sim://relay") { scheduler.now }
        }
    }

    // MARK: - Devices

    /// A simulated device: its home, its own random stream, and the store it has open.
    final class Device: @unchecked Sendable {
        let index: Int
        let person: Int
        let name: String
        let home: Home
        let random: SeededRandomStream
        var store: Store?
        var unlocked: UnlockedStore?
        /// An op is running (a device runs one sync at a time, as the daemon's lock makes it).
        var syncing = false
        /// Its `duetd` is in a round.
        var daemonRunning = false
        var partitioned = false
        /// Bumped on every crash: an op of an earlier life reports nothing.
        var life = 0
        /// Its network (losses, repeats) and, outside it, what the relay's attacks make of the
        /// replies that reach the device (set by ``World/connect(_:)``).
        var network: FaultyConnection?
        var relayView: (any RelayConnection)?
        /// What the running sync and daemon round had been shown when each began (the
        /// relay's attacks are chosen so that the device can tell, or cannot; HostileRelay.swift).
        var syncStart: OpStart?
        var daemonStart: OpStart?
        /// The heads replies this device was shown, by space path, each numbered by ``World/headsShown``.
        var heads: [String: [(number: Int, heads: [WireDeviceID: UInt64])]] = [:]

        init(index: Int, person: Int, name: String, home: Home, random: SeededRandomStream) {
            self.index = index
            self.person = person
            self.name = name
            self.home = home
            self.random = random
        }
    }

    func addDevice(person: Int) -> Device {
        let index = devices.count
        let name = "\(Self.people[person].lowercased())-\(devices.filter { $0.person == person }.count)"
        let device = Device(index: index, person: person, name: name, home: Home(path: "\(directory)/\(name)"),
                            random: SeededRandomStream(seed: seed, name: name))
        devices.append(device)
        connect(device)
        return device
    }

    /// `device`'s way to the relay: the simulated relay, behind the device's lossy network,
    /// behind the relay's attacks (outermost, so an attack counts only when its reply reaches
    /// the device). Every choice is drawn from the seed by the loop, which runs all three.
    func connect(_ device: Device) {
        let origin = self.origin
        let relay = SimulatedRelay(origin: origin) { [unowned self] request in await self.respond(request) }
        let network = FaultyConnection(relay, repeatsBeforeNextRequest: false) { [unowned self, unowned device] _ in
            self.faults && device.index != self.hostile?.index ? Self.faultRates.draw(&self.random) : .deliver
        }
        device.network = network
        device.relayView = HostileRelayConnection(network) { [unowned self, unowned device] observed in
            self.alteration(observed, device: device)
        }
    }

    static let people = ["Alex", "Sam"]

    func devices(of person: Int) -> [Device] { devices.filter { $0.person == person } }

    func environment(_ device: Device) -> SyncEnvironment { .simulated(device: device.index, scheduler: scheduler) }

    /// Runs `operation` as `device`'s task (its random stream, its life), and waits until every
    /// task is parked.
    func start(_ device: Device, _ operation: @escaping @Sendable () async -> Void) async {
        let stream = device.random
        await scheduler.run {
            await RandomBytes.$simulated.withValue(stream) { await operation() }
        }
    }

    // MARK: - Crashes

    /// Kills `device` at whatever await point its tasks are parked on: they never run again in
    /// this seed; the device starts again from what its store holds.
    func crash(_ device: Device) throws {
        deviceCrashes += 1
        abandoned.append(scheduler.abandon(device: device.index))
        device.life += 1
        device.syncing = false
        device.daemonRunning = false
        guard device.store != nil else { return }
        let store = try Store.open(home: device.home)
        device.store = store
        device.unlocked = try RandomBytes.$simulated.withValue(device.random) {
            try store.unlock(passphrase: SecretBytes(utf8: Self.passphrase))
        }
    }

    /// Kills the relay between two requests and starts it again on its storage: sessions,
    /// challenges and mailboxes are gone, as after a real restart.
    func crashRelay() throws {
        relayCrashes += 1
        let scheduler = self.scheduler, directory = self.directory, origin = self.origin
        relay = try RandomBytes.$simulated.withValue(relayRandom) {
            try InProcessRelay(directory: directory + "/relay", origin: origin) { scheduler.now }
        }
    }

    // MARK: - The network

    /// Answers one waiting request, drawing its fate when faults are on.
    func deliver(_ pending: Scheduler.Request) async {
        guard let request = scheduler.take(pending.id) else { return }
        delivered += 1
        scheduler.advance(by: UInt64(1 + random.below(30)))
        guard let device = request.device == hostile?.index ? hostile
                : devices.indices.contains(request.device) ? devices[request.device] : nil else { return }
        if device.partitioned {
            await scheduler.answer(request, with: .failure(RelayConnectionFailure.unreachable("simulated partition")))
            return
        }
        guard let connection = device.relayView else { return }
        deliveringCancelled = scheduler.isCancelled(request.id)
        let result: Result<RelayReply, any Error>
        do {
            result = .success(try await connection.send(request.request, maximumReplyBytes: request.maximumReplyBytes))
        } catch {
            result = .failure(error)
        }
        await scheduler.answer(request, with: result)
    }

    /// The relay's answer, with its own random stream.
    func respond(_ request: RelayRequest) async -> RelayReply {
        let api = relay.api
        let reply = await RandomBytes.$simulated.withValue(relayRandom) { await api.respond(request) }
        fold(Array(request.method.utf8))
        fold(Array(request.target.utf8))
        fold(request.body)
        fold(reply.body)
        // What the relay now holds that a device may need to learn (a push, a membership record).
        if request.method != "GET", reply.status == 200, request.path.hasPrefix("/v1/spaces/") { relayWrites += 1 }
        return reply
    }

    /// Runs until every task is done or waits on nothing the loop can give (`until` true stops
    /// early): requests answered in a random order, timers fired when nothing else is left.
    func drive(until done: () -> Bool = { false }, maximumSteps: Int = 200_000) async throws {
        var steps = 0
        while !done() {
            steps += 1
            guard steps <= maximumSteps else { throw Violation("the world did not settle in \(maximumSteps) steps") }
            await scheduler.settle()
            let requests = scheduler.requests
            if !requests.isEmpty {
                await deliver(requests[random.below(requests.count)])
            } else if scheduler.sleeperCount > 0 {
                await scheduler.wakeNext()
            } else {
                return
            }
        }
    }

    /// Ends the seed: every task left waiting is woken with a failure and runs to its end.
    func close() async {
        await scheduler.close(abandoned: abandoned)
    }
}

/// The events, locked: device tasks report into it.
final class EventLog: Sendable {
    private let state = Mutex(Events())
    func withLock<T>(_ body: (inout Events) -> T) -> T { state.withLock { body(&$0) } }
}

/// What the workload did, as the checks need it.
struct Events {
    /// Every change a device's store accepted: it must be on every replica after the heal.
    struct Commit {
        let device: Int
        let person: Int
        let entry: EntryID
        let shared: Bool
        let seq: UInt64
    }
    var commits: [Commit] = []
    /// Shared entries by who created them.
    var sharedEntries: [(entry: EntryID, person: Int)] = []
    var privateEntries: [(entry: EntryID, person: Int)] = []
    /// An attack carried out (adversary modes), on whom, and what it must make them say.
    struct Attack {
        let device: Int
        let kind: String
        let warning: String
    }
    var attacks: [Attack] = []
    /// What an attack achieved that a defence should have stopped.
    var defencesBroken: [String] = []
    var failures: [String: Int] = [:]
}

/// An invariant that did not hold.
struct Violation: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum Adversary: String, CaseIterable, Sendable {
    case none, relay, partner
}
