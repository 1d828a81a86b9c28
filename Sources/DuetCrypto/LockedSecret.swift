// Touches C: sodium_malloc, sodium_free, sodium_memzero.
internal import CSodium

/// A secret that outlives a command: the unlock agent's key (issue #16). Its memory comes from
/// `sodium_malloc`: locked (`mlock`, so it is never written to swap), left out of core dumps,
/// fenced by guard pages, and zeroed by `sodium_free` when the value is released, on every path
/// that releases it (``wipe()`` does it early).
///
/// A class, so there is one copy: a struct's bytes would be copied wherever it went. Sendable
/// because the bytes are written only by `init` and read only through ``withUnsafeBytes(_:)``.
public final class LockedSecret: @unchecked Sendable, CustomStringConvertible {
    private var memory: UnsafeMutableRawPointer?
    public let count: Int

    /// Copies `count` bytes from `source` into locked memory; nil when there is none left.
    public init?(copying source: UnsafeRawBufferPointer) {
        Sodium.ready()
        guard source.count > 0, let memory = sodium_malloc(source.count) else { return nil }
        memory.copyMemory(from: source.cBytes, byteCount: source.count)
        self.memory = memory
        count = source.count
    }

    /// Lends the bytes to `body`, or an empty buffer once wiped. Do not let the pointer escape.
    public func withUnsafeBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        guard let memory else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return try body(UnsafeRawBufferPointer(start: memory, count: count))
    }

    /// Zeroes and frees the memory now.
    public func wipe() {
        guard let memory else { return }
        sodium_free(memory)
        self.memory = nil
    }

    deinit { wipe() }

    public var description: String { "LockedSecret(\(count) bytes, redacted)" }
}
