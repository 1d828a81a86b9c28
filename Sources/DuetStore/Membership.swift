public import DuetCore
public import DuetCrypto
public import DuetWire
import Foundation
import GRDB

/// What a space is to this device.
public enum SpaceKind: String, Sendable {
    /// Only this person's devices are members.
    case personal
    /// This person and their partner.
    case couple
}

/// A space this device belongs to.
public struct SpaceInfo: Hashable, Sendable {
    public let id: SpaceID
    public let kind: SpaceKind
    public let epoch: UInt64

    public init(id: SpaceID, kind: SpaceKind, epoch: UInt64) {
        self.id = id
        self.kind = kind
        self.epoch = epoch
    }
}

extension Store {
    /// The spaces this device belongs to, personal first.
    public func spaces() throws(StoreError) -> [SpaceInfo] {
        do {
            return try database.read { db in try Self.spaces(db) }
        } catch {
            throw Store.classify(error, doing: "read the store", home: home)
        }
    }

    static func spaces(_ db: GRDB.Database) throws -> [SpaceInfo] {
        try Row.fetchAll(db, sql: "SELECT space, kind, epoch FROM spaces ORDER BY kind DESC").compactMap { row in
            let bytes: Data = row["space"], kind: String = row["kind"]
            guard let id = try? SpaceID(bytes: [UInt8](bytes)), let kind = SpaceKind(rawValue: kind) else { return nil }
            return SpaceInfo(id: id, kind: kind, epoch: UInt64(clamping: row["epoch"] as Int64))
        }
    }

    public func space(_ kind: SpaceKind) throws(StoreError) -> SpaceInfo? {
        try spaces().first { $0.kind == kind }
    }

    /// The space's membership log as stored here, replayed (every record was verified before it
    /// was kept, so a failure here is damage on disk). What this store already verified of it is
    /// not verified again while the file holds the same bytes (``MembershipReplays``).
    public func membershipLog(space: SpaceID) throws(StoreError) -> MembershipLog {
        do {
            return try database.read { db in try membershipLog(db, space: space) }
        } catch {
            throw Store.classify(error, doing: "read the membership log", home: home)
        }
    }

    func membershipLog(_ db: GRDB.Database, space: SpaceID) throws -> MembershipLog {
        try membershipReplays.log(of: space, from: storedMembership(db, space: space))
    }

    /// The bytes of `space`'s records as the file holds them, in order: read in full every time,
    /// so that nothing changed on disk is taken for what was verified.
    private func storedMembership(_ db: GRDB.Database, space: SpaceID) throws -> [[UInt8]] {
        try Data.fetchAll(db, sql: "SELECT bytes FROM membership WHERE space = ? ORDER BY idx", arguments: [Data(space.bytes)]).map { [UInt8]($0) }
    }

    /// Verifies `records` as the continuation of the stored log and keeps them, with the member
    /// devices they imply, in one transaction. A record that does not follow refuses the whole
    /// batch and changes nothing.
    /// With `notify`, each change someone else made (a device added or removed) becomes a notice
    /// for `duet status`.
    @discardableResult
    public func appendMembership(_ records: [MembershipRecord], space: SpaceID, notify: Bool = false) throws(StoreError) -> MembershipLog {
        do {
            return try database.write { db in
                // Only what a notice tells of (a device or person added or removed, a new key):
                // a directory record alone (names) is not news, and must not read as such.
                if notify, let first = records.first(where: { record in
                    switch record.action {
                    case .addDevice, .removeDevice, .rotateKey, .addIdentity: true
                    default: false
                    }
                }) { try Self.markForNotices(db, space: space, from: Int(clamping: first.index) - 1) }
                return try appendMembership(db, records, space: space)
            }
        } catch {
            throw Store.classify(error, doing: "record the membership log", home: home)
        }
    }

    @discardableResult
    func appendMembership(_ db: GRDB.Database, _ records: [MembershipRecord], space: SpaceID) throws -> MembershipLog {
        var stored = try storedMembership(db, space: space)
        var log = try membershipReplays.log(of: space, from: stored)
        var remembering = true
        for record in records {
            do { try log.append(record) } catch {
                throw StoreError(.integrity, "a membership record for this space was refused (\(error.rawValue)); nothing was changed")
            }
            let encoded = record.encoded
            try db.execute(sql: "INSERT INTO membership (space, idx, bytes) VALUES (?, ?, ?)",
                           arguments: [Data(space.bytes), Int64(record.index), Data(encoded)])
            // The memo below stands for a replay of these bytes: only when they parse back to
            // this record (a record that does not would fail the next replay, as it did before).
            if remembering, (try? MembershipRecord(bytes: encoded)) == record { stored.append(encoded) } else { remembering = false }
            if case .removeDevice(let device, _) = record.action {
                // The record carries no time: the removal is dated when this device learns it.
                try db.execute(sql: "UPDATE devices SET removed = coalesce(removed, ?) WHERE public_key = ?",
                               arguments: [Int64(Date().timeIntervalSince1970 * 1000), Data(device.bytes)])
            }
            if case .addDevice(let certificate) = record.action {
                // No name yet: names come sealed, in directory records (see `refreshDirectory`).
                try db.execute(sql: """
                    INSERT INTO devices (device, public_key, identity, name, created) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (device) DO NOTHING
                    """, arguments: [Data(WireDeviceID(verifyingKey: certificate.device).bytes), Data(certificate.device.bytes),
                                     Data(certificate.identity.bytes), "", Int64(clamping: certificate.created)])
            }
        }
        // Devices whose envelopes verify, as the log now says: members, and removed devices up to
        // the last seq their removal names (what they wrote while members stays readable).
        try db.execute(sql: "DELETE FROM members WHERE space = ?", arguments: [Data(space.bytes)])
        for (id, signer) in log.envelopeSigners {
            let bound: Int64? = log.devices[signer.key] == nil ? Int64(clamping: signer.lastSeq) : nil
            try db.execute(sql: "INSERT INTO members (space, device, public_key, last_seq) VALUES (?, ?, ?, ?)",
                           arguments: [Data(space.bytes), Data(id.bytes), Data(signer.key.bytes), bound])
        }
        try db.execute(sql: "UPDATE spaces SET epoch = ? WHERE space = ?", arguments: [Int64(log.epoch), Data(space.bytes)])
        // The records were verified just above, on top of the stored ones: the next read needs
        // to verify none of them. (Should this transaction roll back, the file will not hold
        // these bytes, and the next read replays what it does hold.)
        if remembering { membershipReplays.remember(log, replayedFrom: stored) }
        return log
    }

    /// Joins the couple space: its verified log, the partner's name and the space itself, in one
    /// transaction (all or nothing).
    public func joinCoupleSpace(_ space: SpaceID, records: [MembershipRecord], partner: VerifyingKey, partnerName: String) throws(StoreError) {
        do {
            try database.write { db in
                guard try Self.spaces(db).contains(where: { $0.kind == .couple }) == false else {
                    throw StoreError(.invalidInput, "this journal is already paired; nothing was changed")
                }
                try db.execute(sql: "INSERT INTO spaces (space, kind, epoch) VALUES (?, 'couple', 1)", arguments: [Data(space.bytes)])
                try appendMembership(db, records, space: space)
                try db.execute(sql: "INSERT INTO people (identity, name, role) VALUES (?, ?, 'partner')",
                               arguments: [Data(partner.bytes), partnerName])
            }
        } catch {
            throw Store.classify(error, doing: "join the couple space", home: home)
        }
    }

    /// This person's and the partner's identity and name.
    public func people() throws(StoreError) -> [(identity: VerifyingKey, name: String, isMe: Bool)] {
        do {
            return try database.read { db in
                try Row.fetchAll(db, sql: "SELECT identity, name, role FROM people").compactMap { row in
                    let identity: Data = row["identity"], name: String = row["name"], role: String = row["role"]
                    guard let key = try? VerifyingKey(bytes: [UInt8](identity)) else { return nil }
                    return (key, name, role == "me")
                }
            }
        } catch {
            throw Store.classify(error, doing: "read the store", home: home)
        }
    }

    /// Who each known device belongs to, for showing authorship.
    public func directory() throws(StoreError) -> Directory {
        do {
            return try database.read { db in
                var people: [Data: (name: String, isMe: Bool)] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT identity, name, role FROM people") {
                    people[row["identity"] as Data] = (row["name"], (row["role"] as String) == "me")
                }
                var devices: [WireDeviceID: Directory.Device] = [:]
                let own = try Data.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = 'device'")
                let ownName = try Data.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = 'device_name'").map { String(decoding: $0, as: UTF8.self) }
                for row in try Row.fetchAll(db, sql: "SELECT device, public_key, identity, name, created, removed FROM devices") {
                    let device: Data = row["device"], identity: Data = row["identity"], publicKey: Data = row["public_key"]
                    guard let id = try? WireDeviceID(bytes: [UInt8](device)), let key = try? VerifyingKey(bytes: [UInt8](publicKey)) else { continue }
                    let person = people[identity]
                    var name: String = row["name"]
                    if name.isEmpty, device == own { name = ownName ?? "" }
                    devices[id] = Directory.Device(id: id, publicKey: key, name: name, person: person?.name, isMine: person?.isMe ?? false,
                                                   created: UInt64(clamping: row["created"] as Int64), removed: (row["removed"] as Int64?).map { UInt64(clamping: $0) })
                }
                return Directory(devices: devices)
            }
        } catch {
            throw Store.classify(error, doing: "read the store", home: home)
        }
    }
}

/// Names for devices: each device's own name (from the directory records its person sealed for
/// the space, SPEC § 6.2) and the person it belongs to (verified certificates and the pairing
/// exchange).
public struct Directory: Sendable {
    public struct Device: Sendable {
        public let id: WireDeviceID
        public let publicKey: VerifyingKey
        /// Empty until a directory record naming it has been opened here.
        public let name: String
        /// The name, or what to call a device whose name has not arrived yet.
        public var displayName: String { name.isEmpty ? "a device not yet named" : name }
        /// The person's name, when their identity is known here.
        public let person: String?
        public let isMine: Bool
        public let created: UInt64
        public let removed: UInt64?
    }

    public let devices: [WireDeviceID: Device]

    public init(devices: [WireDeviceID: Device]) { self.devices = devices }

    /// The device that signed a change (DuetCore names devices by the same 16 bytes).
    public func device(_ id: DeviceID) -> Device? {
        (try? WireDeviceID(bytes: id.bytes)).flatMap { devices[$0] }
    }

    /// How a warning names the device that sent something: "Sam's device “Sam's phone”".
    public func sender(_ id: WireDeviceID) -> String {
        devices[id].map { device in "\(Sanitise.line(device.person ?? "someone unknown"))'s device “\(Sanitise.line(device.name))”" }
            ?? "an unknown device"
    }
}

extension UnlockedStore {
    /// Starts the personal space's membership log for a store made before logs were kept on
    /// the device (it needs the identity key, hence unlocked).
    public func startPersonalLog(now: UInt64) throws(StoreError) {
        let deviceName = (try store.meta("device_name")) ?? keystore.name
        do {
            try store.database.write { db in
                guard try Int.fetchOne(db, sql: "SELECT count(*) FROM membership WHERE space = ?", arguments: [Data(keystore.personalSpace.bytes)]) == 0 else { return }
                try store.appendMembership(db, Store.personalLog(keystore, deviceName: deviceName, now: now), space: keystore.personalSpace)
                try db.execute(sql: "INSERT INTO people (identity, name, role) VALUES (?, ?, 'me') ON CONFLICT (identity) DO NOTHING",
                               arguments: [Data(keystore.identity.verifyingKey.bytes), keystore.name])
            }
        } catch {
            throw Store.classify(error, doing: "start the membership log", home: store.home)
        }
    }
}

extension UnlockedStore {
    /// Who each known device belongs to (see ``Store/directory()``).
    public func directory() throws(StoreError) -> Directory { try store.directory() }
}

extension UnlockedStore {
    /// Every content key of `space` this device holds, by epoch (for handing to a linked device).
    public func spaceKeys(_ space: SpaceID) throws(StoreError) -> [UInt64: SymmetricKey] {
        do {
            return try store.database.read { db in try contentKeys(db, space: space) }
        } catch {
            throw Store.classify(error, doing: "read the keys", home: store.home)
        }
    }
}

extension Store {
    /// This device's id as `duet device list` shows it.
    public func deviceID() throws(StoreError) -> String? {
        do {
            return try database.read { db in
                try Data.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = 'device'").flatMap { try? WireDeviceID(bytes: [UInt8]($0)) }?.description
            }
        } catch {
            throw Store.classify(error, doing: "read the store", home: home)
        }
    }

    /// This device's public key, from its certificate (no passphrase needed).
    public func devicePublicKey() throws(StoreError) -> VerifyingKey? {
        do {
            return try database.read { db in
                guard let id = try Data.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = 'device'") else { return nil }
                return try Data.fetchOne(db, sql: "SELECT public_key FROM devices WHERE device = ?", arguments: [id]).flatMap { try? VerifyingKey(bytes: [UInt8]($0)) }
            }
        } catch {
            throw Store.classify(error, doing: "read the store", home: home)
        }
    }
}
