import DuetCrypto
public import DuetWire
import Foundation
import GRDB

/// Names and announcements from the spaces' directory records (SPEC § 6.2, action 7), which
/// only an unlocked device can open: device names into the `devices` table, the couple space
/// this person joined on another device, and the notices for membership changes that waited
/// for those names.
extension UnlockedStore {
    /// Applies every directory record not yet applied. Cheap when nothing changed: one count.
    public func refreshDirectory() throws(StoreError) {
        do {
            let (total, applied, noticesWaiting) = try store.database.read { db in
                (try Int.fetchOne(db, sql: "SELECT count(*) FROM membership") ?? 0,
                 try Data.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = 'directory_applied'").flatMap { Int(String(decoding: $0, as: UTF8.self)) },
                 try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM store_meta WHERE key LIKE 'notices_from_%')") ?? false)
            }
            guard total != applied || noticesWaiting else { return }
            try store.database.write { db in
                for space in try Store.spaces(db) { try apply(db, space: space) }
                try db.execute(sql: "INSERT INTO store_meta (key, value) VALUES ('directory_applied', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                               arguments: [Data(String(total).utf8)])
            }
        } catch {
            throw Store.classify(error, doing: "read the spaces' directories", home: store.home)
        }
    }

    /// The couple space another of this person's devices joined, as this person's own
    /// directory in the personal space announces it, when this device is not in it yet.
    public func announcedCouple() throws(StoreError) -> SpaceDirectory.Couple? {
        do {
            return try store.database.read { db in
                guard try Store.spaces(db).contains(where: { $0.kind == .couple }) == false else { return nil }
                let log = try store.membershipLog(db, space: keystore.personalSpace)
                return try directory(db, of: keystore.identity.verifyingKey, in: log)?.couple
            }
        } catch {
            throw Store.classify(error, doing: "read the spaces' directories", home: store.home)
        }
    }

    /// `signer`'s directory in `log`'s space, opened, if this device holds its key.
    func directory(_ db: GRDB.Database, of signer: VerifyingKey, in log: MembershipLog) throws -> SpaceDirectory? {
        guard let held = log.directories[signer], let key = try contentKeys(db, space: log.space)[held.epoch] else { return nil }
        return try? SpaceDirectory.open(held.sealed, space: log.space, signer: signer, contentKey: key)
    }

    private func apply(_ db: GRDB.Database, space: SpaceInfo) throws {
        let log = try store.membershipLog(db, space: space.id)
        let keys = try contentKeys(db, space: space.id)
        // Every directory in order, not only each person's latest: a device removed since keeps
        // the name it had (what it wrote is still shown under it).
        for record in log.records {
            guard case .directory(let epoch, let sealed) = record.action, let key = keys[epoch],
                  let directory = try? SpaceDirectory.open(sealed, space: space.id, signer: record.signer, contentKey: key) else { continue }
            // A person names only the devices they certified: a partner's directory cannot
            // rename the other's devices.
            for (device, name) in directory.deviceNames where log.certifiers[device] == record.signer {
                try db.execute(sql: "UPDATE devices SET name = ? WHERE public_key = ?", arguments: [name, Data(device.bytes)])
            }
        }
        let key = "notices_from_\(space.id.description)"
        if let from = try Data.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = ?", arguments: [key]).flatMap({ Int(String(decoding: $0, as: UTF8.self)) }) {
            try Store.noteMembershipChanges(db, Array(log.records.dropFirst(max(0, from))), log: log, space: space.id)
            try db.execute(sql: "DELETE FROM store_meta WHERE key = ?", arguments: [key])
        }
    }
}
