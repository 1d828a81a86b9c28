/// A hybrid logical clock reading: 48 bits of milliseconds since the Unix epoch and a 16-bit
/// counter, packed so that comparing the packed values compares the readings. Ties between
/// devices are broken by ``DeviceID`` where an order is needed (``Stamp``).
public struct HLC: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let maxMilliseconds: UInt64 = (1 << 48) - 1
    public static let zero = HLC(raw: 0)

    public let raw: UInt64

    public init(raw: UInt64) { self.raw = raw }

    public init(milliseconds: UInt64, counter: UInt16) {
        raw = (min(milliseconds, Self.maxMilliseconds) << 16) | UInt64(counter)
    }

    public var milliseconds: UInt64 { raw >> 16 }
    public var counter: UInt16 { UInt16(truncatingIfNeeded: raw) }

    public static func < (lhs: HLC, rhs: HLC) -> Bool { lhs.raw < rhs.raw }

    public var description: String { "\(milliseconds).\(counter)" }
}

/// A totally ordered event stamp: clock reading, then device id.
public struct Stamp: Hashable, Comparable, Sendable {
    public let hlc: HLC
    public let device: DeviceID

    public init(hlc: HLC, device: DeviceID) {
        self.hlc = hlc
        self.device = device
    }

    public static func < (lhs: Stamp, rhs: Stamp) -> Bool {
        (lhs.hlc, lhs.device) < (rhs.hlc, rhs.device)
    }
}

/// One device's hybrid logical clock. Pure: the wall time is passed in on every call.
///
/// A remote reading more than ``maximumSkewMilliseconds`` ahead of local wall time is not
/// adopted: the local clock does not jump to it and the call reports it. Registers are ordered by
/// causality first (a write that saw another supersedes it whatever the clocks say, see
/// ``Register``), so a device with a poisoned clock can win only against writes made
/// concurrently with its own, never against the next edit that follows it.
public struct HybridLogicalClock: Sendable, Equatable {
    public static let maximumSkewMilliseconds: UInt64 = 24 * 60 * 60 * 1000

    public private(set) var last: HLC

    public init(last: HLC = .zero) { self.last = last }

    /// A reading for a local event at wall time `now` (ms since the epoch), strictly after every
    /// reading this clock has produced or accepted.
    public mutating func tick(now: UInt64) -> HLC {
        let physical = min(now, HLC.maxMilliseconds)
        if physical > last.milliseconds {
            last = HLC(milliseconds: physical, counter: 0)
        } else if last.counter < UInt16.max {
            last = HLC(milliseconds: last.milliseconds, counter: last.counter + 1)
        } else {
            // Counter exhausted within one millisecond: borrow the next millisecond.
            last = HLC(milliseconds: last.milliseconds + 1, counter: 0)
        }
        return last
    }

    /// What ``receive(_:now:)`` found.
    public enum ReceiveOutcome: Equatable, Sendable {
        case accepted
        /// The remote reading was this far ahead of local wall time and was not adopted.
        case clampedAhead(milliseconds: UInt64)
    }

    /// Takes a remote reading into account, so the next local reading orders after it.
    @discardableResult
    public mutating func receive(_ remote: HLC, now: UInt64) -> ReceiveOutcome {
        let physical = min(now, HLC.maxMilliseconds)
        if remote.milliseconds > physical, remote.milliseconds - physical > Self.maximumSkewMilliseconds {
            if physical > last.milliseconds { last = HLC(milliseconds: physical, counter: 0) }
            return .clampedAhead(milliseconds: remote.milliseconds - physical)
        }
        if remote > last { last = remote }
        return .accepted
    }
}
