/// One change's identity, `(device, seq)`: names a register write or a set addition, so later
/// operations can say which ones they saw and supersede.
public struct Dot: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let device: DeviceID
    public let seq: UInt64

    public init(device: DeviceID, seq: UInt64) {
        self.device = device
        self.seq = seq
    }

    public static func < (lhs: Dot, rhs: Dot) -> Bool { (lhs.device, lhs.seq) < (rhs.device, rhs.seq) }

    public var description: String { "\(device)#\(seq)" }
}
