/// A deterministic random source (SplitMix64): the same seed gives the same run, so a failure
/// found with a printed seed can be replayed exactly.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    public let seed: UInt64
    private var state: UInt64

    public init(seed: UInt64) {
        self.seed = seed
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<bound` (0 when bound is 0).
    public mutating func below(_ bound: Int) -> Int {
        bound <= 0 ? 0 : Int(next(upperBound: UInt64(bound)))
    }

    /// True with probability `percent`/100.
    public mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    public mutating func pick<T>(_ elements: [T]) -> T {
        precondition(!elements.isEmpty)
        return elements[below(elements.count)]
    }
}

/// A clock the test moves by hand: wall time in milliseconds since the epoch.
public struct ManualClock: Sendable {
    public private(set) var now: UInt64

    public init(now: UInt64 = 1_767_225_600_000) { self.now = now }  // 2026-01-01T00:00:00Z

    public mutating func advance(by milliseconds: UInt64) { now += milliseconds }
    public mutating func set(_ milliseconds: UInt64) { now = milliseconds }
}
