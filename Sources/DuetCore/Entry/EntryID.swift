/// An entry's identity: 128 random bits, drawn by the edges and passed in. Shown as 26
/// characters of Crockford base32, like a git hash; any unique prefix of 4+ characters names it.
public struct EntryID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// A fresh id from the caller's random source (DuetCore draws no randomness itself).
    public static func random(using generator: inout some RandomNumberGenerator) -> EntryID {
        EntryID(high: generator.next(), low: generator.next())
    }

    public static func < (lhs: EntryID, rhs: EntryID) -> Bool { (lhs.high, lhs.low) < (rhs.high, rhs.low) }

    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// 26 characters: 128 bits as two leading zero bits plus 26 groups of 5.
    public var description: String {
        var characters = [UInt8](repeating: 0, count: 26)
        for index in 0..<26 {
            // Bit offset of this group counted from the least significant end of 130 bits.
            let shift = (25 - index) * 5
            let group: UInt64
            if shift >= 64 {
                group = (high >> UInt64(shift - 64)) & 0x1f
            } else if shift > 59 {
                group = ((low >> UInt64(shift)) | (high << UInt64(64 - shift))) & 0x1f
            } else {
                group = (low >> UInt64(shift)) & 0x1f
            }
            characters[index] = Self.alphabet[Int(group)]
        }
        return String(decoding: characters, as: UTF8.self)
    }

    /// Parses the 26-character form (case-insensitive; `O`→0, `I`/`L`→1 as Crockford allows).
    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 26 else { return nil }
        var high: UInt64 = 0, low: UInt64 = 0
        for (index, character) in utf8.enumerated() {
            guard let value = Self.crockfordValue(character) else { return nil }
            if index == 0, value > 7 { return nil }  // only 3 bits fit above 125
            high = (high << 5) | (low >> 59)
            low = (low << 5) | UInt64(value)
        }
        self.init(high: high, low: low)
    }

    /// Whether `character` may appear in an id as typed (Crockford's letters and aliases).
    public static func isCrockfordCharacter(_ character: Character) -> Bool {
        guard let ascii = character.asciiValue else { return false }
        return crockfordValue(ascii) != nil
    }

    /// An id or prefix as typed, in the canonical alphabet (upper case, `O`→0, `I`/`L`→1).
    public static func normalisedCrockford(_ text: String) -> String {
        String(decoding: text.utf8.map { alphabet[Int(crockfordValue($0) ?? 0)] }, as: UTF8.self)
    }

    static func crockfordValue(_ character: UInt8) -> UInt8? {
        var c = character
        if c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") { c -= 32 }
        switch c {
        case UInt8(ascii: "O"): return 0
        case UInt8(ascii: "I"), UInt8(ascii: "L"): return 1
        default:
            guard let index = alphabet.firstIndex(of: c) else { return nil }
            return UInt8(index)
        }
    }

    /// From 16 bytes, big-endian; nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard let (high, low) = Bits128.split(bytes) else { return nil }
        self.init(high: high, low: low)
    }

    /// The bytes, big-endian.
    public var bytes: [UInt8] { Bits128.join(high, low) }
}
