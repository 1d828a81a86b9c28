import DuetWire
import Synchronization

/// Bytes published to one live socket and not yet written to it.
final class QueuedBytes: Sendable {
    private let bytes = Atomic<Int>(0)
    func add(_ count: Int) -> Int { bytes.add(count, ordering: .relaxed).newValue }
    func written(_ count: Int) { bytes.subtract(count, ordering: .relaxed) }
}

/// Live push (SPEC § 6.5): every envelope stored in a space is sent at once to each connected
/// member device of that space. Each connection is an `AsyncStream` the WebSocket handler drains.
///
/// Revocation takes effect here at once (issue #12): a removal closes the device's sockets on
/// the space, and every publish re-checks the subscribers against the space's current members,
/// so a socket that slipped in around a removal is closed at the next envelope instead of
/// receiving it.
actor LiveFanOut {
    private let maximumConnectionsPerDevice: Int
    /// What one socket may have waiting to be written: a subscriber that falls further behind
    /// is closed and catches up by fetching (issue #12: a thousand queued 2 MiB envelopes per
    /// stalled socket was gigabytes).
    let maximumQueuedBytes: Int

    init(maximumConnectionsPerDevice: Int, maximumQueuedBytes: Int = 8 << 20) {
        self.maximumConnectionsPerDevice = maximumConnectionsPerDevice
        self.maximumQueuedBytes = maximumQueuedBytes
    }

    private struct Subscriber {
        let device: WireDeviceID
        let continuation: AsyncStream<[UInt8]>.Continuation
        let queued: QueuedBytes
    }

    private var subscribers: [SpaceID: [Int: Subscriber]] = [:]
    private var perDevice: [WireDeviceID: Int] = [:]
    private var nextID = 0
    private(set) var connections = 0

    /// Registers a connection; nil when the device already holds the maximum.
    func subscribe(space: SpaceID, device: WireDeviceID) -> (id: Int, stream: AsyncStream<[UInt8]>, queued: QueuedBytes)? {
        guard perDevice[device, default: 0] < maximumConnectionsPerDevice else { return nil }
        perDevice[device, default: 0] += 1
        connections += 1
        nextID += 1
        let id = nextID
        // Bounded in bytes (below) and in count: a subscriber that cannot keep up is closed and
        // catches up by fetching, rather than growing the relay's memory.
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let queued = QueuedBytes()
        subscribers[space, default: [:]][id] = Subscriber(device: device, continuation: continuation, queued: queued)
        return (id, stream, queued)
    }

    func unsubscribe(space: SpaceID, device: WireDeviceID, id: Int) {
        guard let subscriber = subscribers[space]?.removeValue(forKey: id) else { return }
        if subscribers[space]?.isEmpty == true { subscribers[space] = nil }
        subscriber.continuation.finish()
        let left = perDevice[device, default: 1] - 1
        perDevice[device] = left > 0 ? left : nil
        connections -= 1
    }

    /// Closes every socket `device` holds on `space` (it was removed from the space).
    func close(space: SpaceID, device: WireDeviceID) {
        for (id, subscriber) in subscribers[space] ?? [:] where subscriber.device == device {
            unsubscribe(space: space, device: device, id: id)
        }
    }

    /// Whether any socket is open on `space` (another process's appends are read only then).
    func hasSubscribers(space: SpaceID) -> Bool { subscribers[space] != nil }

    /// Closes the sockets on `space` of devices not in `members` (another process changed it).
    func prune(space: SpaceID, members: Set<WireDeviceID>) {
        for (id, subscriber) in subscribers[space] ?? [:] where !members.contains(subscriber.device) {
            unsubscribe(space: space, device: subscriber.device, id: id)
        }
    }

    /// Closes every socket: what was published meanwhile may not have reached them (the
    /// notifications from other processes were lost), and a client that reconnects fetches first.
    func closeAll() {
        for (space, targets) in subscribers {
            for (id, subscriber) in targets { unsubscribe(space: space, device: subscriber.device, id: id) }
        }
    }

    /// Sends `envelopes` to every subscriber of `space` whose device is in `members`; the
    /// others are closed.
    func publish(space: SpaceID, envelopes: [[UInt8]], members: Set<WireDeviceID>) {
        guard let targets = subscribers[space] else { return }
        for (id, subscriber) in targets {
            guard members.contains(subscriber.device) else {
                unsubscribe(space: space, device: subscriber.device, id: id)
                continue
            }
            for envelope in envelopes {
                guard subscriber.queued.add(envelope.count) <= maximumQueuedBytes else {
                    unsubscribe(space: space, device: subscriber.device, id: id)
                    break
                }
                subscriber.continuation.yield(envelope)
            }
        }
    }
}
