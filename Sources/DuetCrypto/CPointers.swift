/// libsodium's pointer parameters import as non-optional, but Swift gives a nil base address for
/// an empty buffer. These accessors give libsodium a valid pointer in every case; with a length
/// of zero it is never read or written.
private nonisolated(unsafe) let zeroLengthTarget = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)

extension UnsafeRawBufferPointer {
    var cBytes: UnsafePointer<UInt8> {
        guard let base = baseAddress else { return UnsafePointer(zeroLengthTarget) }
        return base.assumingMemoryBound(to: UInt8.self)
    }

    var cChars: UnsafePointer<CChar> {
        UnsafeRawPointer(cBytes).assumingMemoryBound(to: CChar.self)
    }
}

extension UnsafeMutableRawBufferPointer {
    var cBytes: UnsafeMutablePointer<UInt8> {
        guard let base = baseAddress else { return zeroLengthTarget }
        return base.assumingMemoryBound(to: UInt8.self)
    }
}
