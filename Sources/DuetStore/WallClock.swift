import Foundation

/// The wall clock in milliseconds since the Unix epoch, as the processes (`duet`, `duetd`) read
/// it and hand it down (DuetCore takes time as a parameter). Never traps: a clock before 1970,
/// or one beyond the HLC's 48 bits, reads as the nearest bound.
public enum WallClock {
    public static var milliseconds: UInt64 {
        let now = Date().timeIntervalSince1970 * 1000
        guard now.isFinite, now > 0 else { return 0 }
        return UInt64(min(now, Double((1 << 48) - 1)))
    }
}
