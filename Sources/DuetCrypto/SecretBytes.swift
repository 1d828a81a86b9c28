// Touches C: sodium_memzero, sodium_memcmp.
internal import CSodium

/// Bytes that must never leak: keys, seeds, passphrases.
///
/// - The storage is zeroed (`sodium_memzero`, which the compiler may not elide) when the last copy
///   is released.
/// - `==` compares in constant time.
/// - `description`, `debugDescription`, string interpolation and `dump` show only the length.
/// - The bytes are reachable only inside ``withUnsafeBytes(_:)``; the type is deliberately not
///   `Codable`, `Hashable` or a `Collection`, so it cannot be serialised or logged by accident.
public struct SecretBytes: Sendable {
    private let storage: Storage

    /// Makes `count` bytes, written once by `initializer`. The buffer passed in is already zeroed.
    public init<Failure: Error>(
        count: Int,
        initializer: (UnsafeMutableRawBufferPointer) throws(Failure) -> Void
    ) throws(Failure) {
        precondition(count >= 0, "SecretBytes count must not be negative")
        let storage = Storage(count: count)
        try initializer(storage.mutableBuffer)
        self.storage = storage
    }

    /// Copies `bytes`. The caller's copy is not erased: prefer building secrets in place with
    /// ``init(count:initializer:)`` where the source can be avoided.
    public init(copying bytes: some Collection<UInt8>) {
        self.init(count: bytes.count) { buffer in
            _ = buffer.initializeMemory(as: UInt8.self, from: bytes)
        }
    }

    /// Copies `bytes` and then zeroes the caller's array, so that only this value holds them.
    public init(consuming bytes: inout [UInt8]) {
        self.init(copying: bytes)
        bytes.withUnsafeMutableBytes { raw in
            if let base = raw.baseAddress { sodium_memzero(base, raw.count) }
        }
        bytes.removeAll()
    }

    /// The UTF-8 bytes of a passphrase or other secret text.
    public init(utf8 text: String) {
        var text = text
        self = text.withUTF8 { SecretBytes(copying: $0) }
    }

    public var count: Int { storage.mutableBuffer.count }

    /// Lends the bytes to `body`. Do not let the pointer escape.
    public func withUnsafeBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(UnsafeRawBufferPointer(storage.mutableBuffer))
    }

    /// The first `count` bytes, as a new secret.
    public func prefix(_ count: Int) -> SecretBytes {
        let count = min(max(count, 0), self.count)
        return withUnsafeBytes { source in
            SecretBytes(copying: UnsafeRawBufferPointer(rebasing: source[0..<count]))
        }
    }
}

extension SecretBytes: Equatable {
    /// Constant-time for equal lengths; the length itself is not secret.
    public static func == (lhs: SecretBytes, rhs: SecretBytes) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs.count == 0 { return true }
        return lhs.withUnsafeBytes { left in
            rhs.withUnsafeBytes { right in
                sodium_memcmp(left.cBytes, right.cBytes, left.count) == 0
            }
        }
    }
}

extension SecretBytes: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "SecretBytes(\(count) bytes, redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

extension SecretBytes {
    /// The one owner of the memory. Immutable after `SecretBytes.init` returns, which is why
    /// sharing it across threads is safe (`@unchecked Sendable`).
    private final class Storage: @unchecked Sendable {
        let mutableBuffer: UnsafeMutableRawBufferPointer

        init(count: Int) {
            // Always allocate at least one byte so the base address is never nil.
            let allocation = UnsafeMutableRawBufferPointer.allocate(
                byteCount: max(count, 1), alignment: 16)
            allocation.initializeMemory(as: UInt8.self, repeating: 0)
            mutableBuffer = UnsafeMutableRawBufferPointer(rebasing: allocation[0..<count])
            allocationBase = allocation
        }

        private let allocationBase: UnsafeMutableRawBufferPointer

        deinit {
            if let base = allocationBase.baseAddress { sodium_memzero(base, allocationBase.count) }
            allocationBase.deallocate()
        }
    }
}
