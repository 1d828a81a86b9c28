public import DuetCore

/// Several replicas of one space exchanging changes over a deliberately bad network: messages
/// are delayed, duplicated, reordered, dropped (and retried later), and replicas disconnect and
/// reconnect. Everything is driven by one seed, printed by ``description`` so any failure can be
/// replayed. ``flush()`` heals the network and delivers everything.
public struct TestNetwork: CustomStringConvertible {
    public struct Replica {
        public let device: DeviceID
        public var journal = Journal()
        public var clock: HybridLogicalClock = HybridLogicalClock()
        public var wallClock: ManualClock
        public var connected = true
        /// Every change this replica made, for retries and resync.
        public var made: [Change] = []
    }

    private struct Message {
        let to: Int
        let change: Change
        var deliverAt: UInt64
    }

    public private(set) var replicas: [Replica]
    public private(set) var random: SeededRandom
    private var inFlight: [Message] = []
    private var tick: UInt64 = 0
    /// Counts, for assertions that the network really misbehaved.
    public private(set) var delivered = 0, duplicated = 0, dropped = 0, reconnects = 0

    public init(replicaCount: Int, seed: UInt64) {
        random = SeededRandom(seed: seed)
        var replicas: [Replica] = []
        for index in 0..<replicaCount {
            // Wall clocks disagree by up to a few seconds, as real devices do.
            let skew = UInt64(index) * 1_337
            replicas.append(Replica(
                device: DeviceID(high: UInt64(index + 1) &* 0x9E37_79B9, low: seed &+ UInt64(index)),
                wallClock: ManualClock(now: 1_767_225_600_000 + skew)))
        }
        self.replicas = replicas
    }

    public var description: String { "TestNetwork(seed: \(random.seed), replicas: \(replicas.count))" }

    /// Makes a local change on replica `index` and sends it to the others.
    @discardableResult
    public mutating func edit(_ index: Int, entry: EntryID, _ body: (inout EntryEditor) -> Void) -> Change {
        replicas[index].wallClock.advance(by: UInt64(random.below(500)))
        let hlc = replicas[index].clock.tick(now: replicas[index].wallClock.now)
        let change = replicas[index].journal.commit(
            entry: entry, by: replicas[index].device, at: hlc, body)
        replicas[index].made.append(change)
        broadcast(change, from: index)
        return change
    }

    private mutating func broadcast(_ change: Change, from sender: Int) {
        for target in replicas.indices where target != sender {
            send(change, to: target)
        }
    }

    private mutating func send(_ change: Change, to target: Int) {
        inFlight.append(Message(to: target, change: change, deliverAt: tick + UInt64(random.below(20))))
        if random.chance(10) {
            duplicated += 1
            inFlight.append(Message(to: target, change: change, deliverAt: tick + UInt64(random.below(40))))
        }
    }

    /// Advances time one tick: delivers some due messages in random order, drops some (they
    /// are sent again later), and occasionally disconnects or reconnects a replica.
    public mutating func step() {
        tick += 1
        if random.chance(3), !replicas.isEmpty {
            let index = random.below(replicas.count)
            if replicas[index].connected {
                replicas[index].connected = false
            } else {
                reconnect(index)
            }
        }
        var remaining: [Message] = []
        var due: [Message] = []
        for message in inFlight {
            if message.deliverAt <= tick { due.append(message) } else { remaining.append(message) }
        }
        due.shuffle(using: &random)
        for var message in due {
            if !replicas[message.to].connected || random.chance(5) {
                // Lost: the sender retries later.
                dropped += 1
                message.deliverAt = tick + 1 + UInt64(random.below(30))
                remaining.append(message)
            } else {
                deliver(message.change, to: message.to)
            }
        }
        inFlight = remaining
    }

    /// On reconnecting, a replica is sent everything others made that it lacks, in random order.
    private mutating func reconnect(_ index: Int) {
        replicas[index].connected = true
        reconnects += 1
        for other in replicas.indices where other != index {
            for change in replicas[other].made where change.seq > replicas[index].journal.vector[change.device, default: 0] {
                send(change, to: index)
            }
        }
    }

    /// Delivers a change to one replica at once, bypassing the network (for tests that shape
    /// histories by hand).
    public mutating func deliverNow(_ change: Change, to index: Int) { deliver(change, to: index) }

    private mutating func deliver(_ change: Change, to index: Int) {
        delivered += 1
        replicas[index].wallClock.advance(by: UInt64(random.below(50)))
        // The store's own receive (DuetStore's ingest calls the same function), so the clock
        // rules the simulations exercise are the ones people run. The clock is taken out for the
        // call: two inout accesses to one array element would overlap.
        var clock = replicas[index].clock
        replicas[index].journal.receive(change, clock: &clock, now: replicas[index].wallClock.now)
        replicas[index].clock = clock
    }

    /// Heals the network and delivers until every replica has every change.
    public mutating func flush() {
        for index in replicas.indices where !replicas[index].connected { reconnect(index) }
        var rounds = 0
        while !inFlight.isEmpty {
            rounds += 1
            precondition(rounds < 100_000, "\(description): flush does not terminate")
            var batch = inFlight
            inFlight = []
            batch.shuffle(using: &random)
            for message in batch { deliver(message.change, to: message.to) }
        }
        // Anything still missing (never sent to a replica that was away) goes now.
        for index in replicas.indices {
            for other in replicas.indices where other != index {
                for change in replicas[other].made { deliver(change, to: index) }
            }
        }
    }
}
