/// Why bytes from the network or disk are not a valid wire structure. Authentication failures
/// are DuetCrypto's one opaque error, never this.
public enum WireError: Error, Hashable, Sendable, CustomStringConvertible {
    case truncated
    case malformed(String)
    case unsupportedVersion(UInt8)
    case tooLarge(limit: Int)

    /// The stable name used by test vectors.
    public var name: String {
        switch self {
        case .truncated: "truncated"
        case .malformed: "malformed"
        case .unsupportedVersion: "unsupportedVersion"
        case .tooLarge: "tooLarge"
        }
    }

    public var description: String {
        switch self {
        case .truncated: "the envelope ends too early; it was damaged in transit or storage"
        case .malformed(let what): "the envelope is malformed (\(what)); it was damaged or is not Duet's"
        case .unsupportedVersion(let version): "envelope version \(version) is not supported; upgrade Duet"
        case .tooLarge(let limit): "the envelope is larger than \(limit) bytes and was refused"
        }
    }
}
