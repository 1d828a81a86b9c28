public import DuetWire

/// One sync round for one space, as a value-type state machine with no I/O (sans-I/O, like
/// automerge's sync protocol): the driver performs each returned action and feeds back what it
/// got. Order: learn the relay's heads (and detect a rollback), push what the relay lacks of our
/// own devices' envelopes, fetch what we lack, store it, done.
public struct SyncSession: Sendable {
    public enum Action: Equatable, Sendable {
        /// Ask the relay for its heads of the space.
        case requestHeads
        /// Push this store's envelopes of `devices` that the relay lacks (above `heads`).
        case push(devices: Set<WireDeviceID>, after: [WireDeviceID: UInt64])
        /// Fetch everything the relay holds above `vector`.
        case fetch(after: [WireDeviceID: UInt64])
        /// Verify and store what was fetched.
        case store([[UInt8]])
        case finished(Summary)
        /// The relay holds less than it was once seen to hold for these devices: stop, keep
        /// local state, warn.
        case rolledBack([WireDeviceID])
    }

    public enum Event: Sendable {
        case heads([WireDeviceID: UInt64], rolledBack: [WireDeviceID])
        case pushed(count: Int)
        case fetched([[UInt8]], complete: Bool)
        case stored(received: Int, refused: Int)
    }

    public struct Summary: Equatable, Sendable {
        public var pushed = 0
        public var received = 0
        public var refused = 0
        /// The relay said its last page was complete: this device now holds everything the
        /// relay held when the round began (what integrity checks after a round rely on).
        public var complete = false

        public init(pushed: Int = 0, received: Int = 0, refused: Int = 0, complete: Bool = false) {
            self.pushed = pushed
            self.received = received
            self.refused = refused
            self.complete = complete
        }
    }

    private enum State: Equatable { case start, awaitingHeads, pushing, fetching, storing(complete: Bool), done }

    private var state = State.start
    private var local: [WireDeviceID: UInt64]
    /// What the last fetch asked above: a page that moves nothing past it ends the round.
    private var asked: [WireDeviceID: UInt64] = [:]
    private let ownDevices: Set<WireDeviceID>
    /// The relay's heads when the round began: after a push, a fetch only where they show a lack.
    private var heads: [WireDeviceID: UInt64] = [:]
    private var summary = Summary()

    /// - Parameters:
    ///   - local: per device, the highest seq this store holds for the space;
    ///   - ownDevices: the devices whose envelopes this one may push (its own).
    public init(local: [WireDeviceID: UInt64], ownDevices: Set<WireDeviceID>) {
        self.local = local
        self.ownDevices = ownDevices
    }

    public mutating func start() -> Action {
        precondition(state == .start, "a session runs once")
        state = .awaitingHeads
        return .requestHeads
    }

    public mutating func handle(_ event: Event) -> Action {
        switch (state, event) {
        case (.awaitingHeads, .heads(let heads, let rolledBack)):
            if !rolledBack.isEmpty {
                state = .done
                return .rolledBack(rolledBack)
            }
            self.heads = heads
            let behind = ownDevices.filter { local[$0, default: 0] > heads[$0, default: 0] }
            if !behind.isEmpty {
                state = .pushing
                return .push(devices: behind, after: heads)
            }
            return fetchOrFinish(heads: heads)
        case (.pushing, .pushed(let count)):
            summary.pushed += count
            // Nothing the heads showed is lacking here: no fetch after every push (issue #15:
            // the daemon asked for an empty page after each local write). What others append
            // meanwhile comes with the next round or the live socket.
            return fetchOrFinish(heads: heads)
        case (.fetching, .fetched(let envelopes, let complete)):
            if envelopes.isEmpty {
                // An empty page is complete whatever it says: nothing more is held above us.
                summary.complete = true
                state = .done
                return .finished(summary)
            }
            state = .storing(complete: complete)
            return .store(envelopes)
        case (.storing(let complete), .stored(let received, let refused)):
            summary.received += received
            summary.refused += refused
            // A page that moved nothing past what was asked (all refused) ends the round
            // instead of asking the same again. Duplicates do move it: this device stored them
            // meanwhile (its daemon's live socket), so the next page starts above them.
            let advanced = local.contains { device, seq in seq > asked[device, default: 0] }
            if complete || !advanced {
                summary.complete = complete
                state = .done
                return .finished(summary)
            }
            return fetch()
        default:
            preconditionFailure("event \(event) in state \(state): the driver broke the protocol")
        }
    }

    /// The driver tells the session what the store now holds (after storing a fetch), so the
    /// next fetch starts above it.
    public mutating func noteLocal(_ vector: [WireDeviceID: UInt64]) { local = vector }

    private mutating func fetchOrFinish(heads: [WireDeviceID: UInt64]) -> Action {
        let lacking = heads.contains { device, seq in seq > local[device, default: 0] }
        guard lacking else {
            summary.complete = true
            state = .done
            return .finished(summary)
        }
        return fetch()
    }

    private mutating func fetch() -> Action {
        asked = local
        state = .fetching
        return .fetch(after: local)
    }
}
