import Hummingbird
import NIOCore
import Synchronization

/// Reads request bodies within two bounds the relay as a whole needs (issue #12): a deadline for
/// the whole body (a client that sent 8 MiB less 64 bytes and then a byte every two seconds held
/// the memory for ever: the idle timer restarts on every byte), and a budget of body bytes in
/// flight across all connections, reserved before reading, so that many slow bodies at once
/// are refused (429) instead of filling memory.
struct BodyReader: Sendable {
    let budget: BodyBudget
    let timeout: Duration

    func read(_ request: Request, limit: Int) async throws -> [UInt8] {
        // A body declared larger than the route takes is refused before a byte of it is read
        // (clamping the declared length first made this check dead: a `Content-Length` of 9 MiB
        // on an 8 MiB route was read, and held in the budget, up to the limit before the 413).
        // Otherwise reserve what the body says it is, or the limit itself.
        let declaredLength = request.headers[.contentLength].flatMap { Int($0) }
        if let declaredLength, declaredLength > limit { throw RelayError.tooLarge(limit: limit) }
        let declared = declaredLength.map { max(0, $0) } ?? limit
        guard budget.reserve(declared) else {
            throw RelayError(code: "busy", status: 429, message: "the relay is reading as many request bodies as it allows; retry shortly",
                             retryAfterMilliseconds: 1000)
        }
        defer { budget.release(declared) }
        // The deadline is checked as each part arrives (no timer per request: that cost 9% of
        // the append rate); a body that stops arriving altogether is closed by the idle timeout.
        let deadline = ContinuousClock.now + timeout
        var collected = ByteBuffer()
        for try await part in request.body {
            guard collected.readableBytes + part.readableBytes <= limit else { throw RelayError.tooLarge(limit: limit) }
            collected.writeImmutableBuffer(part)
            guard ContinuousClock.now < deadline else {
                throw RelayError(code: "too-slow", status: 408, message: "the request body did not arrive in time")
            }
        }
        return Array(collected.readableBytesView)
    }
}

/// Body bytes being read, relay-wide.
final class BodyBudget: Sendable {
    let maximum: Int
    private let held = Atomic<Int>(0)

    init(maximum: Int) { self.maximum = maximum }

    func reserve(_ bytes: Int) -> Bool {
        var current = held.load(ordering: .relaxed)
        while true {
            guard current + bytes <= maximum else { return false }
            let (exchanged, original) = held.compareExchange(expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    func release(_ bytes: Int) { held.subtract(bytes, ordering: .relaxed) }
}
