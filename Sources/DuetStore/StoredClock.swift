import DuetCore
import DuetWire
import Foundation
import GRDB

/// The device's hybrid logical clock as the store keeps it: the last reading, 8 bytes
/// big-endian under `store_meta` key `hlc`. Written and applied changes both move it, in the
/// transaction that stores them, so a reading is never reused and every local change orders
/// after the changes this device had applied when it was made (DESIGN §4).
enum StoredClock {
    static func read(_ db: GRDB.Database) throws -> HybridLogicalClock {
        let stored = try Data.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = 'hlc'") ?? Data(count: 8)
        // Shifts, never arithmetic: a damaged value of another length reads as some clock, never a trap.
        return HybridLogicalClock(last: HLC(raw: stored.reduce(0) { $0 << 8 | UInt64($1) }))
    }

    static func write(_ clock: HybridLogicalClock, _ db: GRDB.Database) throws {
        let raw = clock.last.raw
        try db.execute(sql: "UPDATE store_meta SET value = ? WHERE key = 'hlc'",
                       arguments: [Data((0..<8).map { UInt8(truncatingIfNeeded: raw >> (56 - 8 * UInt64($0))) })])
    }
}

extension UnlockedStore {
    /// Tells the person which devices sent changes dated more than a day ahead of this device's
    /// clock (``HybridLogicalClock/maximumSkewMilliseconds``): the changes were applied, but
    /// this clock did not jump to their time, so a poisoned clock cannot make every later write
    /// of this device lose to it. One warning per device, kept until `duet status` shows it.
    func noteClockAhead(_ dots: [Dot]) throws(StoreError) {
        let directory = try store.directory()
        for device in Set(dots.map(\.device)).sorted() {
            let sender = (try? WireDeviceID(bytes: device.bytes)).map(directory.sender) ?? "an unknown device"
            try store.addWarning("a change from \(sender) is dated more than a day ahead of this device's clock; this device did not move its clock to match (check the date and time on both devices)")
        }
    }
}
