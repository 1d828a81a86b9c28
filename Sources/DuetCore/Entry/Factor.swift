/// The five things partners give each other (DESIGN §1): the fixed vocabulary of `factors`.
public enum Factor: String, CaseIterable, Hashable, Comparable, Sendable {
    case safety, attunement, comfort, delight, exploration

    public static func < (lhs: Factor, rhs: Factor) -> Bool { lhs.code < rhs.code }

    /// The encoded form (0–4), in the order of DESIGN §1.
    var code: UInt8 {
        switch self {
        case .safety: 0
        case .attunement: 1
        case .comfort: 2
        case .delight: 3
        case .exploration: 4
        }
    }

    init?(code: UInt8) {
        guard let factor = Self.allCases.first(where: { $0.code == code }) else { return nil }
        self = factor
    }
}
