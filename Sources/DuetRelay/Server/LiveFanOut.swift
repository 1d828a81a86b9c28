import DuetWire

/// Live push (SPEC § 6.5): every envelope stored in a space is sent at once to each connected
/// member device of that space. Each connection is an `AsyncStream` the WebSocket handler drains.
actor LiveFanOut {
    private let maximumConnectionsPerDevice: Int

    init(maximumConnectionsPerDevice: Int) { self.maximumConnectionsPerDevice = maximumConnectionsPerDevice }

    private var subscribers: [SpaceID: [Int: AsyncStream<[UInt8]>.Continuation]] = [:]
    private var perDevice: [WireDeviceID: Int] = [:]
    private var nextID = 0
    private(set) var connections = 0

    /// Registers a connection; nil when the device already holds the maximum.
    func subscribe(space: SpaceID, device: WireDeviceID) -> (id: Int, stream: AsyncStream<[UInt8]>)? {
        guard perDevice[device, default: 0] < maximumConnectionsPerDevice else { return nil }
        perDevice[device, default: 0] += 1
        connections += 1
        nextID += 1
        let id = nextID
        // Bounded: a subscriber that cannot keep up loses the oldest pushes and catches up by
        // fetching, rather than growing the relay's memory.
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        subscribers[space, default: [:]][id] = continuation
        return (id, stream)
    }

    func unsubscribe(space: SpaceID, device: WireDeviceID, id: Int) {
        if let continuation = subscribers[space]?.removeValue(forKey: id) {
            continuation.finish()
            perDevice[device, default: 1] -= 1
            connections -= 1
        }
    }

    func publish(space: SpaceID, envelopes: [[UInt8]]) {
        guard let targets = subscribers[space] else { return }
        for continuation in targets.values {
            for envelope in envelopes { continuation.yield(envelope) }
        }
    }
}
