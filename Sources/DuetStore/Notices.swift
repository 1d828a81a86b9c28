import DuetCrypto
public import DuetWire
import Foundation
import GRDB

/// What changed in a space's membership that this device did not do itself — a device added,
/// removed and the key changed — shown by `duet status` until seen (issue #13: nothing changes
/// in the couple space unseen).
extension Store {
    /// The notices not yet seen, oldest first.
    public func notices() throws(StoreError) -> [String] {
        (try meta("notices")).map { $0.split(separator: "\n").map(String.init) } ?? []
    }

    /// Whether membership records wait to become notices (learnt by `duetd`, which cannot open
    /// the sealed names they need).
    public func hasUnreadMembershipChanges() throws(StoreError) -> Bool {
        do {
            return try database.read { db in
                try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM store_meta WHERE key LIKE 'notices\\_from\\_%' ESCAPE '\\')") ?? false
            }
        } catch {
            throw Store.classify(error, doing: "read the store", home: home)
        }
    }

    /// Marks every notice seen (after `duet status` has shown them).
    public func markNoticesSeen() throws(StoreError) {
        do {
            try database.write { db in try db.execute(sql: "DELETE FROM store_meta WHERE key = 'notices'") }
        } catch {
            throw Store.classify(error, doing: "write the store", home: home)
        }
    }

    /// Marks `records` (about to be appended from `from` on) for notices: they are written by
    /// the next unlocked refresh, once the directories naming their devices are open.
    static func markForNotices(_ db: GRDB.Database, space: SpaceID, from index: Int) throws {
        let key = "notices_from_\(space.description)"
        let held = try Data.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = ?", arguments: [key]).flatMap { Int(String(decoding: $0, as: UTF8.self)) }
        let from = min(held ?? index, index)
        try db.execute(sql: "INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                       arguments: [key, Data(String(from).utf8)])
    }

    /// Remembers records this device signed, before it posts them: if it stops between the
    /// relay taking them and keeping them itself (a relay or process killed), the next sync
    /// learns them from the relay, and they must not read as another device's doing. The
    /// newest 512 are kept (more than any one command signs).
    public func noteSignedHere(_ records: [MembershipRecord]) throws(StoreError) {
        guard !records.isEmpty else { return }
        do {
            try database.write { db in
                let held = try Data.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = 'signed_here'").map { String(decoding: $0, as: UTF8.self) } ?? ""
                let hashes = (held.split(separator: " ").map(String.init) + records.map { Hex.encode($0.hash.bytes) }).suffix(512)
                try db.execute(sql: "INSERT INTO store_meta (key, value) VALUES ('signed_here', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                               arguments: [Data(hashes.joined(separator: " ").utf8)])
            }
        } catch {
            throw Store.classify(error, doing: "write the store", home: home)
        }
    }

    /// Appends notices for `records`, applied to `log` (which includes them), leaving out those
    /// this device signed itself.
    static func noteMembershipChanges(_ db: GRDB.Database, _ records: [MembershipRecord], log: MembershipLog, space: SpaceID) throws {
        let signedHere = Set((try Data.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = 'signed_here'").map { String(decoding: $0, as: UTF8.self) } ?? "")
            .split(separator: " ").map(String.init))
        let records = records.filter { !signedHere.contains(Hex.encode($0.hash.bytes)) }
        guard !records.isEmpty else { return }
        var people: [Data: (name: String, isMe: Bool)] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT identity, name, role FROM people") {
            people[row["identity"] as Data] = (row["name"], (row["role"] as String) == "me")
        }
        let kind = try String.fetchOne(db, sql: "SELECT kind FROM spaces WHERE space = ?", arguments: [Data(space.bytes)])
        let place = kind == "couple" ? "your shared space" : "your private journal"
        func who(_ identity: VerifyingKey) -> String {
            guard let person = people[Data(identity.bytes)] else { return "someone unknown" }
            return person.isMe ? "You (on another device)" : Sanitise.line(person.name)
        }
        func name(_ device: VerifyingKey) -> String {
            // Names arrive sealed in directory records, applied before notices are written.
            let known = (try? String.fetchOne(db, sql: "SELECT name FROM devices WHERE public_key = ?", arguments: [Data(device.bytes)])) ?? nil
            return "“\(Sanitise.line(known.flatMap { $0.isEmpty ? nil : $0 } ?? "unnamed"))”"
        }
        var lines: [String] = []
        for (position, record) in records.enumerated() {
            switch record.action {
            case .addDevice(let certificate):
                lines.append("\(who(record.signer)) added a device, \(name(certificate.device)), to \(place)")
            case .removeDevice(let device, _):
                // A removal is followed by a rotation in the same batch when it was a revocation.
                let rotated = records.dropFirst(position + 1).contains { if case .rotateKey = $0.action { return $0.signer == record.signer }; return false }
                lines.append("\(who(record.signer)) removed the device \(name(device)) from \(place)\(rotated ? "; its key was changed" : "")")
            case .rotateKey(let epoch, _):
                let afterRemoval = records.prefix(position).contains { if case .removeDevice = $0.action { return $0.signer == record.signer }; return false }
                if !afterRemoval { lines.append("\(who(record.signer)) set a new key for \(place) (key \(epoch))") }
            case .addIdentity(let identity) where people[Data(identity.bytes)] == nil:
                lines.append("\(who(record.signer)) added a person this device does not know to \(place)")
            default:
                break
            }
        }
        guard !lines.isEmpty else { return }
        let held = try Data.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = 'notices'").map { String(decoding: $0, as: UTF8.self) }
        let all = (held.map { [$0] } ?? []) + lines
        try db.execute(sql: "INSERT INTO store_meta (key, value) VALUES ('notices', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                       arguments: [Data(all.joined(separator: "\n").utf8)])
    }
}
