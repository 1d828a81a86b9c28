/// Length hiding before sealing (DESIGN §5): the relay must not learn how long an entry is.
///
/// Padmé (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files and Communication with
/// PURBs", PETS 2019) rounds a length L up so that only the top ⌊log₂ log₂ L⌋ + 1 bits stay
/// significant. It leaks O(log log L) bits about the length and costs at most ~12% in size,
/// where power-of-two buckets cost up to 100%. Every padded message is at least
/// ``minimumPaddedCount`` bytes, so short edits of different sizes all look alike.
///
/// Layout: `message ‖ 0x80 ‖ 0x00…` (ISO/IEC 7816-4), to exactly `paddedCount(message.count)`
/// bytes. Unpadding accepts only that exact form: a marker missing, a non-zero byte after it, or
/// any total length other than the canonical one is ``CryptoError/malformedPadding``.
public enum Padding {
    public static let minimumPaddedCount = 64
    private static let marker: UInt8 = 0x80

    /// The padded size for a message of `count` bytes (the marker byte included).
    public static func paddedCount(forMessageCount count: Int) -> Int {
        max(minimumPaddedCount, padme(count + 1))
    }

    /// Padmé rounding of a length `length ≥ 1`.
    static func padme(_ length: Int) -> Int {
        precondition(length >= 1)
        if length < 2 { return length }
        // E = ⌊log₂ L⌋, S = ⌊log₂ E⌋ + 1; the low E − S bits are cleared by rounding up.
        let exponent = Int.bitWidth - 1 - length.leadingZeroBitCount
        let significantBits = (Int.bitWidth - 1 - exponent.leadingZeroBitCount) + 1
        let clearedBits = exponent - significantBits
        guard clearedBits > 0 else { return length }
        let mask = (1 << clearedBits) - 1
        return (length + mask) & ~mask
    }

    public static func pad(_ message: [UInt8]) -> [UInt8] {
        var padded = message
        let total = paddedCount(forMessageCount: message.count)
        padded.reserveCapacity(total)
        padded.append(marker)
        padded.append(contentsOf: repeatElement(0, count: total - padded.count))
        return padded
    }

    public static func unpad(_ padded: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard let markerIndex = padded.lastIndex(where: { $0 != 0 }), padded[markerIndex] == marker else {
            throw .malformedPadding
        }
        guard paddedCount(forMessageCount: markerIndex) == padded.count else { throw .malformedPadding }
        return Array(padded[..<markerIndex])
    }
}
