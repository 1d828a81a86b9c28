import DuetCrypto

/// Key bytes a front end holds for a while (the unlock agent's key): locked memory, out of swap
/// and core dumps, zeroed when released or wiped (``LockedSecret``). The front ends see no
/// lower module (ImportRulesTests), so what they hold comes from here.
public final class LockedKey: Sendable, CustomStringConvertible {
    private let secret: LockedSecret

    /// Copies `bytes` into locked memory; nil when there is none left.
    public init?(copying bytes: UnsafeRawBufferPointer) {
        guard let secret = LockedSecret(copying: bytes) else { return nil }
        self.secret = secret
    }

    public var count: Int { secret.count }

    /// Lends the bytes (an empty buffer once wiped). Do not let the pointer escape.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result { secret.withUnsafeBytes(body) }

    /// Zeroes and frees the memory now. Not for use while another thread reads it.
    public func wipe() { secret.wipe() }

    public var description: String { "LockedKey(redacted)" }
}

/// A buffer for secret bytes in flight (a frame that carries a key), zeroed when released.
public struct ZeroingBuffer: Sendable, CustomStringConvertible {
    private let bytes: SecretBytes

    /// `count` zeroed bytes, written once by `initializer`.
    public init(count: Int, initializer: (UnsafeMutableRawBufferPointer) -> Void) {
        bytes = SecretBytes(count: max(count, 0), initializer: initializer)
    }

    public var count: Int { bytes.count }

    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result { bytes.withUnsafeBytes(body) }

    public var description: String { "ZeroingBuffer(\(count) bytes, redacted)" }
}

extension UnlockKey {
    /// A key received from the agent; nil unless exactly ``byteCount`` bytes.
    public init?(copying raw: UnsafeRawBufferPointer) {
        self.init(bytes: SecretBytes(copying: raw))
    }

    /// Lends the raw bytes, for the agent to copy into locked memory.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result { key.bytes.withUnsafeBytes(body) }
}
