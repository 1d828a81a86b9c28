public import DuetCrypto

/// The pure parts of pairing and linking (SPEC § 7.2): codes, the mailbox ids and key both sides
/// derive from a code, and the safety number partners compare in person.
public enum Pairing {
    /// A one-time code: 128 random bits as 26 Crockford characters, shown in groups of 5.
    public static func makeCode() -> String {
        group(crockford(RandomBytes.make(count: 16)))
    }

    /// What both sides derive from a code (spaces, dashes and case ignored; Crockford's
    /// `O`/`I`/`L` read as 0/1/1).
    public struct Derived: Sendable {
        public let inviteMailbox: [UInt8]
        public let replyMailbox: [UInt8]
        public let key: SymmetricKey
    }

    /// Nil when the text is not a well-formed code.
    public static func derive(code: String) -> Derived? {
        guard let normalised = normalise(code) else { return nil }
        let seed = Hash.digest(Array("duet pairing v1".utf8), Array(normalised.utf8))
        guard let master = try? SymmetricKey(bytes: SecretBytes(copying: seed.bytes)) else { return nil }
        func subkey(_ id: UInt64) -> SymmetricKey { KeyDerivation.deriveKey(from: master, subkeyID: id, context: .mailbox) }
        let invite = subkey(1).bytes.withUnsafeBytes { Array($0.prefix(16)) }
        let reply = subkey(2).bytes.withUnsafeBytes { Array($0.prefix(16)) }
        return Derived(inviteMailbox: invite, replyMailbox: reply, key: subkey(3))
    }

    /// The code's 26 characters, upper case, without separators; nil if it is not a code.
    static func normalise(_ code: String) -> String? {
        let normalised = code.uppercased().filter { !$0.isWhitespace && $0 != "-" }
            .map { $0 == "O" ? "0" : ($0 == "I" || $0 == "L") ? "1" : $0 }
        guard normalised.count == 26, normalised.allSatisfy({ alphabet.contains(String($0)) }) else { return nil }
        return String(normalised)
    }

    /// 60 digits in 12 groups of 5, from both identity keys in ascending order: the same on
    /// both devices, different for any other pair of keys.
    public static func safetyNumber(_ a: VerifyingKey, _ b: VerifyingKey) -> String {
        let (first, second) = a.bytes.lexicographicallyPrecedes(b.bytes) ? (a, b) : (b, a)
        let digest = Hash.blake2b([Array("duet safety number v1".utf8), first.bytes, second.bytes], byteCount: 60, key: nil)
        var groups: [String] = []
        for index in 0..<12 {
            // Five bytes per group, reduced to five decimal digits.
            let chunk = digest[(index * 5)..<(index * 5 + 5)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let value = chunk % 100_000
            groups.append(String(repeating: "0", count: 5 - String(value).count) + String(value))
        }
        return groups.joined(separator: " ")
    }

    static let alphabet = Set("0123456789ABCDEFGHJKMNPQRSTVWXYZ".map(String.init))
    private static let digits = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    static func crockford(_ bytes: [UInt8]) -> String {
        // 128 bits as 26 groups of 5 bits (the top two bits zero), most significant first.
        var value = bytes.reduce((UInt64(0), UInt64(0))) { acc, byte in
            ((acc.0 << 8) | (acc.1 >> 56), (acc.1 << 8) | UInt64(byte))
        }
        var out: [Character] = []
        for _ in 0..<26 {
            out.append(digits[Int(value.1 & 0x1f)])
            value = (value.0 >> 5, (value.1 >> 5) | (value.0 << 59))
        }
        return String(out.reversed())
    }

    static func group(_ text: String) -> String {
        var groups: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            groups.append(String(rest.prefix(5)))
            rest = rest.dropFirst(5)
        }
        return groups.joined(separator: "-")
    }
}
