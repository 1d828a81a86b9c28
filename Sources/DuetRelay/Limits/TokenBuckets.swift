/// A token bucket per key: `rate` tokens a second refill it up to `burst`. A full bucket is the
/// same as no bucket, so full ones are forgotten (swept every few thousand spends): the table
/// holds only keys that spent recently, not every key a stranger ever generated.
struct TokenBuckets<Key: Hashable> {
    let rate: Double
    let burst: Double
    private var buckets: [Key: (tokens: Double, at: UInt64)] = [:]
    private var spendsSinceSweep = 0

    init(rate: Double, burst: Double) {
        self.rate = max(0, rate)
        self.burst = max(0, burst)
    }

    var count: Int { buckets.count }

    /// What `key` holds at `now`.
    func tokens(_ key: Key, now: UInt64) -> Double {
        guard let bucket = buckets[key] else { return burst }
        return refilled(bucket, now: now)
    }

    /// Spends `cost` tokens of `key`'s bucket, or, when it holds fewer, spends nothing and
    /// returns the milliseconds until it will hold enough (nil: it never will, the cost is
    /// larger than the burst).
    mutating func spend(_ cost: Double, by key: Key, now: UInt64) -> (spent: Bool, retryAfterMilliseconds: Int?) {
        sweepOccasionally(now: now)
        let tokens = tokens(key, now: now)
        guard tokens >= cost else {
            buckets[key] = (tokens, now)
            guard cost <= burst, rate > 0 else { return (false, nil) }
            let wait = ((cost - tokens) * 1000 / rate).rounded(.up)
            return (false, Int(min(86_400_000, max(1, wait))))
        }
        buckets[key] = (tokens - cost, now)
        return (true, nil)
    }

    private func refilled(_ bucket: (tokens: Double, at: UInt64), now: UInt64) -> Double {
        let elapsed = Double(now >= bucket.at ? now - bucket.at : 0) / 1000
        return min(burst, bucket.tokens + elapsed * rate)
    }

    private mutating func sweepOccasionally(now: UInt64) {
        spendsSinceSweep += 1
        guard spendsSinceSweep >= 4096 || buckets.count > 65_536 && spendsSinceSweep >= 256 else { return }
        spendsSinceSweep = 0
        buckets = buckets.filter { refilled($0.value, now: now) < burst }
    }
}
