public import DuetSync
public import DuetWire
import Synchronization

/// What an unreliable network does with one request (issue #15).
public enum NetworkFate: Sendable, Equatable {
    /// Reaches the relay; the reply comes back.
    case deliver
    /// Lost on the way: the relay never sees it.
    case loseRequest
    /// The relay does it; its reply is lost.
    case loseReply
    /// Delivered, and the network repeats it later (its second reply reaches nobody).
    case duplicate
    /// Delivered after `Duration` (on the connection's injected sleep).
    case delay(Duration)
    /// Held back until another request through the connection has been answered (or the
    /// connection's hold limit passed): the two reach the relay swapped.
    case reorder
}

/// How often each fault happens, in percent of requests (the rest are delivered).
public struct NetworkFaultRates: Sendable, Equatable {
    public var loseRequest: Int
    public var loseReply: Int
    public var duplicate: Int
    public var delay: Int
    public var reorder: Int
    /// The longest delay drawn, in milliseconds.
    public var maximumDelayMilliseconds: Int

    public init(loseRequest: Int = 0, loseReply: Int = 0, duplicate: Int = 0, delay: Int = 0, reorder: Int = 0, maximumDelayMilliseconds: Int = 50) {
        self.loseRequest = loseRequest
        self.loseReply = loseReply
        self.duplicate = duplicate
        self.delay = delay
        self.reorder = reorder
        self.maximumDelayMilliseconds = maximumDelayMilliseconds
    }

    /// One fate drawn from `random`: always exactly one draw (two for a delay), so a seed's
    /// later draws do not depend on which fate came up.
    public func draw(_ random: inout SeededRandom) -> NetworkFate {
        var roll = random.below(100)
        for (rate, fate) in [(loseRequest, NetworkFate.loseRequest), (loseReply, .loseReply), (duplicate, .duplicate), (reorder, .reorder)] {
            if roll < rate { return fate }
            roll -= rate
        }
        if roll < delay { return .delay(.milliseconds(1 + random.below(max(1, maximumDelayMilliseconds)))) }
        return .deliver
    }
}

/// A ``RelayConnection`` over an unreliable network (issue #15): each request's fate —
/// delivered, lost either way, repeated later, delayed, held back — comes from `decide`
/// (a closure, or ``NetworkFaultRates`` drawn from a ``SeededRandom``). Wraps any connection:
/// ``InProcessConnection`` in tests, the simulator's relay in `duet-sim`.
///
/// A repeated request is sent again before the connection's next request (or, with
/// `repeatsBeforeNextRequest` false, when the owner calls ``deliverRepeat(at:)``): it reaches
/// the relay after its reply was used, as a retransmission does.
public final class FaultyConnection: RelayConnection {
    public let base: any RelayConnection
    private let decide: @Sendable (RelayRequest) -> NetworkFate
    private let sleep: @Sendable (Duration) async throws -> Void
    private let holdLimit: Duration
    private let repeatsBeforeNextRequest: Bool
    private let state = Mutex(State())

    private struct State {
        var repeats: [RelayRequest] = []
        var held: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextHold = 0
    }

    public var origin: String { base.origin }

    public init(_ base: any RelayConnection, holdLimit: Duration = .milliseconds(100), repeatsBeforeNextRequest: Bool = true,
                sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
                decide: @escaping @Sendable (RelayRequest) -> NetworkFate) {
        self.base = base
        self.decide = decide
        self.sleep = sleep
        self.holdLimit = holdLimit
        self.repeatsBeforeNextRequest = repeatsBeforeNextRequest
    }

    /// Fates drawn at `rates` from `random`, one per request in the order they are sent.
    public convenience init(_ base: any RelayConnection, rates: NetworkFaultRates, random: SeededRandom, holdLimit: Duration = .milliseconds(100),
                            sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }) {
        let source = Mutex(random)
        self.init(base, holdLimit: holdLimit, sleep: sleep) { _ in source.withLock { rates.draw(&$0) } }
    }

    public func send(_ request: RelayRequest, maximumReplyBytes: Int) async throws -> RelayReply {
        if repeatsBeforeNextRequest {
            while let next = takeRepeat(at: 0) { _ = try? await base.send(next, maximumReplyBytes: maximumReplyBytes) }
        }
        let fate = decide(request)
        switch fate {
        case .loseRequest:
            releaseHeld()
            throw RelayConnectionFailure.unreachable("simulated loss")
        case .delay(let duration):
            try await sleep(duration)
        case .reorder:
            await holdBack()
        case .deliver, .loseReply, .duplicate:
            break
        }
        let result: Result<RelayReply, any Error>
        do { result = .success(try await base.send(request, maximumReplyBytes: maximumReplyBytes)) } catch { result = .failure(error) }
        // Whatever was held back behind this request goes now.
        releaseHeld()
        switch fate {
        case .loseReply:
            throw RelayConnectionFailure.unreachable("simulated lost reply")
        case .duplicate:
            state.withLock { $0.repeats.append(request) }
        default:
            break
        }
        return try result.get()
    }

    /// Requests held back now (``NetworkFate/reorder``).
    public var heldBack: Int { state.withLock { $0.held.count } }

    /// Requests the network repeated and has not delivered again yet.
    public var repeatsWaiting: Int { state.withLock { $0.repeats.count } }

    /// Delivers the repeated request at `index` (of ``repeatsWaiting``) now; its reply reaches nobody.
    public func deliverRepeat(at index: Int) async {
        guard let request = takeRepeat(at: index) else { return }
        _ = try? await base.send(request, maximumReplyBytes: Int.max)
    }

    private func takeRepeat(at index: Int) -> RelayRequest? {
        state.withLock { $0.repeats.indices.contains(index) ? $0.repeats.remove(at: index) : nil }
    }

    private func holdBack() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let id = state.withLock { state in
                state.nextHold += 1
                state.held[state.nextHold] = continuation
                return state.nextHold
            }
            let sleep = self.sleep, limit = holdLimit
            Task {
                try? await sleep(limit)
                self.state.withLock { $0.held.removeValue(forKey: id) }?.resume()
            }
        }
    }

    private func releaseHeld() {
        let held = state.withLock { state in
            defer { state.held = [:] }
            return state.held.sorted { $0.key < $1.key }.map(\.value)
        }
        for continuation in held { continuation.resume() }
    }

    public func live(space: SpaceID, token: [UInt8], pingInterval: Duration, opened: @escaping @Sendable () -> Void,
                     receive: @escaping @Sendable ([UInt8]) async throws -> Void) async throws {
        try await base.live(space: space, token: token, pingInterval: pingInterval, opened: opened, receive: receive)
    }
}
