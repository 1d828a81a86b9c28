import Hummingbird

/// Counters for `/metrics`, in Prometheus text format. Never labelled with ids, keys or content.
actor RelayMetrics {
    private var requests: [String: Int] = [:]
    private var refusals: [String: Int] = [:]
    private var appends = 0, appendedBytes = 0, duplicates = 0
    private var latencyBuckets: [Double: Int] = [:]
    private var latencyCount = 0
    private var latencySum = 0.0
    static let bounds: [Double] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1]

    func request(method: String, seconds: Double) {
        requests[method, default: 0] += 1
        latencyCount += 1
        latencySum += seconds
        for bound in Self.bounds where seconds <= bound { latencyBuckets[bound, default: 0] += 1 }
    }

    func refused(code: String) { refusals[code, default: 0] += 1 }

    func appended(outcomes: [AppendOutcome], bytes: Int) {
        for outcome in outcomes {
            switch outcome {
            case .stored: appends += 1
            case .duplicate: duplicates += 1
            case .refused: break
            }
        }
        appendedBytes += bytes
    }

    func prometheusText(liveConnections: Int) -> String {
        var lines: [String] = []
        lines.append("# TYPE duet_relay_live_connections gauge")
        lines.append("duet_relay_live_connections \(liveConnections)")
        lines.append("# TYPE duet_relay_requests_total counter")
        for (method, count) in requests.sorted(by: { $0.key < $1.key }) { lines.append("duet_relay_requests_total{method=\"\(method)\"} \(count)") }
        lines.append("# TYPE duet_relay_refusals_total counter")
        for (code, count) in refusals.sorted(by: { $0.key < $1.key }) { lines.append("duet_relay_refusals_total{code=\"\(code)\"} \(count)") }
        lines.append("# TYPE duet_relay_appends_total counter")
        lines.append("duet_relay_appends_total \(appends)")
        lines.append("# TYPE duet_relay_duplicate_appends_total counter")
        lines.append("duet_relay_duplicate_appends_total \(duplicates)")
        lines.append("# TYPE duet_relay_append_bytes_total counter")
        lines.append("duet_relay_append_bytes_total \(appendedBytes)")
        lines.append("# TYPE duet_relay_request_seconds histogram")
        for bound in Self.bounds { lines.append("duet_relay_request_seconds_bucket{le=\"\(bound)\"} \(latencyBuckets[bound, default: 0])") }
        lines.append("duet_relay_request_seconds_bucket{le=\"+Inf\"} \(latencyCount)")
        lines.append("duet_relay_request_seconds_sum \(latencySum)")
        lines.append("duet_relay_request_seconds_count \(latencyCount)")
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
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let method = request.method.rawValue
            Task { await metrics.request(method: method, seconds: seconds) }
        }
        return try await next(request, context)
    }
}
