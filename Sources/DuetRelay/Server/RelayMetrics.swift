import Hummingbird
import Logging
import Synchronization

/// Counters for `/metrics`, in Prometheus text format. Never labelled with ids, keys or content.
/// A mutex rather than an actor: every request updates it, and a hop (or a task) per request
/// costs more than the counting.
final class RelayMetrics: Sendable {
    private struct Counters {
        var requests: [String: Int] = [:]
        var refusals: [String: Int] = [:]
        var appends = 0, appendedBytes = 0, duplicates = 0
        var latencyBuckets: [Double: Int] = [:]
        var latencyCount = 0
        var latencySum = 0.0
    }
    private let counters = Mutex(Counters())
    /// Refusals are logged by code only: never a key, token, id or byte of ciphertext.
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }
    static let bounds: [Double] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1]

    func request(method: String, seconds: Double) {
        counters.withLock { c in
            c.requests[method, default: 0] += 1
            c.latencyCount += 1
            c.latencySum += seconds
            for bound in Self.bounds where seconds <= bound { c.latencyBuckets[bound, default: 0] += 1 }
        }
    }

    /// Refusals honest clients meet all the time (a pairing mailbox polled before it is
    /// filled, a rate limit waited out, a space not yet created) are counted but logged only
    /// at debug level; refusals that point at damage or misbehaviour stay at notice.
    static let noteworthy: Set<String> = ["malformed", "fork", "device-forked", "broken-chain", "gap", "quota-exceeded",
                                          "too-large", "batch-too-large", "too-many-spaces", "too-many-recovery-slots",
                                          "membership-full", "mailboxes-full", "recovery-taken", "mailbox-taken"]

    func refused(code: String) {
        counters.withLock { $0.refusals[code, default: 0] += 1 }
        let level: Logger.Level = Self.noteworthy.contains(code) || code.hasPrefix("membership-") ? .notice : .debug
        logger.log(level: level, "refused", metadata: ["code": .string(code)])
    }

    func appended(outcomes: [AppendOutcome], bytes: Int) {
        counters.withLock { c in
            for outcome in outcomes {
                switch outcome {
                case .stored: c.appends += 1
                case .duplicate: c.duplicates += 1
                case .refused: break
                }
            }
            c.appendedBytes += bytes
        }
        logger.debug("appended", metadata: ["envelopes": .stringConvertible(outcomes.count), "bytes": .stringConvertible(bytes)])
    }

    func prometheusText(liveConnections: Int, connections: Int, held: RelayService.Held) -> String {
        let c = counters.withLock { $0 }
        var lines: [String] = []
        lines.append("# TYPE duet_relay_connections gauge")
        lines.append("duet_relay_connections \(connections)")
        lines.append("# TYPE duet_relay_live_connections gauge")
        lines.append("duet_relay_live_connections \(liveConnections)")
        // What strangers can make the relay hold in memory, each under its cap (SPEC § 6.6).
        for (name, value) in [("answered_challenges", held.challenges), ("sessions", held.sessions), ("mailboxes", held.mailboxes),
                              ("mailbox_bytes", held.mailboxBytes), ("rate_buckets", held.rateBuckets)] {
            lines.append("# TYPE duet_relay_held_\(name) gauge")
            lines.append("duet_relay_held_\(name) \(value)")
        }
        lines.append("# TYPE duet_relay_requests_total counter")
        for (method, count) in c.requests.sorted(by: { $0.key < $1.key }) { lines.append("duet_relay_requests_total{method=\"\(method)\"} \(count)") }
        lines.append("# TYPE duet_relay_refusals_total counter")
        for (code, count) in c.refusals.sorted(by: { $0.key < $1.key }) { lines.append("duet_relay_refusals_total{code=\"\(code)\"} \(count)") }
        lines.append("# TYPE duet_relay_appends_total counter")
        lines.append("duet_relay_appends_total \(c.appends)")
        lines.append("# TYPE duet_relay_duplicate_appends_total counter")
        lines.append("duet_relay_duplicate_appends_total \(c.duplicates)")
        lines.append("# TYPE duet_relay_append_bytes_total counter")
        lines.append("duet_relay_append_bytes_total \(c.appendedBytes)")
        lines.append("# TYPE duet_relay_request_seconds histogram")
        for bound in Self.bounds { lines.append("duet_relay_request_seconds_bucket{le=\"\(bound)\"} \(c.latencyBuckets[bound, default: 0])") }
        lines.append("duet_relay_request_seconds_bucket{le=\"+Inf\"} \(c.latencyCount)")
        lines.append("duet_relay_request_seconds_sum \(c.latencySum)")
        lines.append("duet_relay_request_seconds_count \(c.latencyCount)")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Times every request for the histogram.
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: RelayMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        defer {
            let elapsed = ContinuousClock.now - start
            metrics.request(method: request.method.rawValue,
                            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        return try await next(request, context)
    }
}
