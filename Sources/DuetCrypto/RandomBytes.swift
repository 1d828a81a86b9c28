// Touches C: randombytes_buf.
internal import CSodium

/// The system's cryptographic random source (libsodium's `randombytes`).
///
/// DuetCore never draws randomness itself; the edges pass a generator in. This is the one the
/// application passes; tests pass a seeded one from DuetTesting.
public enum RandomBytes {
    /// `count` random bytes for public values: nonces, salts, ids.
    public static func make(count: Int) -> [UInt8] {
        Sodium.ready()
        var bytes = [UInt8](repeating: 0, count: count)
        fill(&bytes)
        return bytes
    }

    /// `count` random bytes for a secret, generated in place inside zeroing storage.
    public static func secret(count: Int) -> SecretBytes {
        Sodium.ready()
        return SecretBytes(count: count) { buffer in
            if let base = buffer.baseAddress { randombytes_buf(base, buffer.count) }
        }
    }

    static func fill(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress { randombytes_buf(base, buffer.count) }
        }
    }
}

/// A `RandomNumberGenerator` backed by libsodium, to pass into code that takes a generator
/// (entry ids, shuffles) so that tests can substitute a seeded one.
public struct SystemRandomSource: RandomNumberGenerator, Sendable {
    public init() { Sodium.ready() }

    public mutating func next() -> UInt64 {
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { buffer in
            if let base = buffer.baseAddress { randombytes_buf(base, buffer.count) }
        }
        return value
    }
}
