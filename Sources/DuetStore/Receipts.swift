public import DuetCore
import DuetWire
import Foundation
import GRDB

/// Delivery receipts from the vectors changes carry (SPEC § 7.1): when a device writes, its
/// change names how far it had applied every other device's changes.
enum Receipts {
    /// Records, for `changes` just applied or made: each entry's last change per device, and
    /// each device's view of the others. Folded in memory first: a catch-up of 100,000 changes
    /// writes one row per key, not one per change.
    static func note(_ db: GRDB.Database, _ changes: [Change], space: SpaceID) throws {
        struct Pair: Hashable { let a: [UInt8], b: [UInt8] }
        var latest: [Pair: UInt64] = [:], seen: [Pair: UInt64] = [:]
        for change in changes {
            let key = Pair(a: change.entry.bytes, b: change.device.bytes)
            latest[key] = max(latest[key] ?? 0, change.seq)
            for dependency in change.dependencies {
                let view = Pair(a: change.device.bytes, b: dependency.device.bytes)
                seen[view] = max(seen[view] ?? 0, dependency.seq)
            }
        }
        let entry = try db.cachedStatement(sql: """
            INSERT INTO entry_changes (entry, device, seq) VALUES (?, ?, ?)
            ON CONFLICT (entry, device) DO UPDATE SET seq = max(seq, excluded.seq)
            """)
        for (key, seq) in latest { try entry.execute(arguments: [Data(key.a), Data(key.b), Int64(clamping: seq)]) }
        let receipt = try db.cachedStatement(sql: """
            INSERT INTO receipts (space, reader, author, seq) VALUES (?, ?, ?, ?)
            ON CONFLICT (space, reader, author) DO UPDATE SET seq = max(seq, excluded.seq)
            """)
        for (key, seq) in seen { try receipt.execute(arguments: [Data(space.bytes), Data(key.a), Data(key.b), Int64(clamping: seq)]) }
    }
}

extension UnlockedStore {
    /// The devices known to have applied this device's latest change to `entry` (they wrote
    /// something afterwards that names it). Empty when this device never changed the entry.
    public func deliveredTo(_ entry: EntryID) throws(StoreError) -> [DeviceID] {
        do {
            return try store.database.read { db in
                let me = Data(keystore.deviceID.bytes)
                guard let mine = try Int64.fetchOne(db, sql: "SELECT seq FROM entry_changes WHERE entry = ? AND device = ?",
                                                    arguments: [Data(entry.bytes), me]),
                      let space = try Data.fetchOne(db, sql: "SELECT space FROM entries WHERE id = ?", arguments: [Data(entry.bytes)]) else { return [] }
                return try Data.fetchAll(db, sql: "SELECT reader FROM receipts WHERE space = ? AND author = ? AND seq >= ? AND reader != ?",
                                         arguments: [space, me, mine, me]).compactMap { DeviceID(bytes: [UInt8]($0)) }
            }
        } catch {
            throw Store.classify(error, doing: "read delivery receipts", home: store.home)
        }
    }
}
