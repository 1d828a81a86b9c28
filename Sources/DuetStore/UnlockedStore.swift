public import DuetCore
import DuetCrypto
public import DuetWire
import Foundation
import GRDB

/// A store with its keystore open: reads and writes the journal.
public struct UnlockedStore: Sendable {
    let store: Store
    public let keystore: Keystore

    init(store: Store, keystore: Keystore) {
        self.store = store
        self.keystore = keystore
    }

    /// This device as DuetCore knows it.
    public var device: DeviceID {
        // A WireDeviceID is always 16 bytes.
        DeviceID(bytes: keystore.deviceID.bytes) ?? DeviceID(high: 0, low: 0)
    }

    // MARK: - Writing

    /// Makes one change to entry `id` (a new one when it does not exist), seals and signs it as
    /// an envelope, and stores envelope, vector, clock and the sealed entry in one transaction.
    /// Returns the change. Throws without writing anything if `edit` makes no operation.
    /// A new entry goes into the space of `kind`; an existing one stays in its own.
    @discardableResult
    public func commit(entry id: EntryID, in kind: SpaceKind = .personal, now: UInt64, _ edit: (inout EntryEditor) throws -> Void) throws -> Change {
        do {
            return try store.database.write { db in
                guard let space = try Store.spaces(db).first(where: { $0.kind == kind })?.id else {
                    throw StoreError(.notPaired, "shared entries need a partner")
                }
                var keys: [SpaceID: SpaceReading] = [:]
                return try commit(db, entry: id, space: space, now: now, keys: &keys, edit)
            }
        } catch {
            throw Store.classify(error, doing: "save the change", home: store.home)
        }
    }

    /// Makes one change per entry, all in one transaction: every one is stored, or none is
    /// (imports use this, so a failure half-way leaves nothing behind).
    @discardableResult
    public func commitAll(_ edits: [(EntryID, (inout EntryEditor) throws -> Void)], now: UInt64) throws -> [Change] {
        do {
            return try store.database.write { db in
                // Content keys are read once per space for the whole batch: each read replays
                // the space's membership log (verifying only records this store has not yet
                // seen, `MembershipReplays`) and opens the key wraps addressed to this device.
                var keys: [SpaceID: SpaceReading] = [:]
                return try edits.map { id, edit in try commit(db, entry: id, space: keystore.personalSpace, now: now, keys: &keys, edit) }
            }
        } catch {
            throw Store.classify(error, doing: "save the change", home: store.home)
        }
    }

    /// The same, each new entry in the space of its `kind` (a Duet import keeps which entries
    /// were shared). Refused whole when a shared one is asked for before pairing.
    @discardableResult
    public func commitAll(_ edits: [(EntryID, SpaceKind, (inout EntryEditor) throws -> Void)], now: UInt64) throws -> [Change] {
        do {
            return try store.database.write { db in
                let spaces = try Store.spaces(db)
                var keys: [SpaceID: SpaceReading] = [:]
                return try edits.map { id, kind, edit in
                    guard let space = spaces.first(where: { $0.kind == kind })?.id else {
                        throw StoreError(.notPaired, "shared entries need a partner")
                    }
                    return try commit(db, entry: id, space: space, now: now, keys: &keys, edit)
                }
            }
        } catch {
            throw Store.classify(error, doing: "save the change", home: store.home)
        }
    }

    /// Whether this device has a space of `kind` (the couple space exists once paired).
    public func hasSpace(_ kind: SpaceKind) throws(StoreError) -> Bool {
        do {
            return try store.database.read { db in try Store.spaces(db).contains { $0.kind == kind } }
        } catch {
            throw Store.classify(error, doing: "read the spaces", home: store.home)
        }
    }

    private func commit(_ db: GRDB.Database, entry id: EntryID, space requested: SpaceID, now: UInt64,
                        keys readings: inout [SpaceID: SpaceReading], _ edit: (inout EntryEditor) throws -> Void) throws -> Change {
        let device = self.device
        let wireDevice = keystore.deviceID
        let existing = try loadStoredEntry(db, id: id)
        // An entry never changes space: an edit goes where the entry lives.
        let space = existing?.space ?? requested
        var epoch = UInt64(clamping: try Int64.fetchOne(db, sql: "SELECT epoch FROM spaces WHERE space = ?", arguments: [Data(space.bytes)]) ?? 1)
        if readings[space] == nil { readings[space] = try reading(db, space: space) }
        let keys = readings.mapValues(\.keys)
        if keys[space]?[epoch] == nil {
            // No working key for the current epoch (a rotation handed this device junk, or its
            // wrap is still on its way): write under the newest epoch that no removed device
            // held, as safe as the current one — never under one a removed device could open.
            let log = try store.membershipLog(db, space: space)
            let safe = log.oldestSafeEpoch
            if safe <= epoch, let usable = (safe...epoch).reversed().first(where: { keys[space]?[$0] != nil }) { epoch = usable }
        }
        guard let contentKey = keys[space]?[epoch] else {
            throw StoreError(.awaitingKey, "this device has no key for the space's current epoch yet")
        }
        let seq = try Int64.fetchOne(db, sql: "SELECT seq FROM vectors WHERE space = ? AND device = ?",
                                     arguments: [Data(space.bytes), Data(wireDevice.bytes)]) ?? 0
        let previous: Digest
        if seq == 0 {
            previous = .zero
        } else {
            let hash = try Data.fetchOne(db, sql: "SELECT hash FROM envelopes WHERE space = ? AND device = ? AND seq = ?",
                                         arguments: [Data(space.bytes), Data(wireDevice.bytes), seq])
            guard let hash, let digest = try? Digest(bytes: [UInt8](hash)) else {
                throw StoreError.corrupt("the previous envelope of this device is missing")
            }
            previous = digest
        }
        var clock = try StoredClock.read(db)
        let hlc = clock.tick(now: now)
        // Every client refuses what a device dates at or after its certificate's expiry
        // (SPEC § 6.2): written here, it would be shown here and nowhere else.
        if let expires = readings[space]?.expiries[device], hlc.milliseconds >= expires {
            throw StoreError(.certificateExpired, "this device's certificate has expired, so nothing it writes would be accepted")
        }
        // The whole applied vector of the space, not only this device's seq: the change names
        // what its author had seen (its dependencies), so a device that receives it before
        // that past holds it back instead of applying an edit to text it does not have yet.
        var vector: [DeviceID: UInt64] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT device, seq FROM vectors WHERE space = ?", arguments: [Data(space.bytes)]) {
            let deviceBytes: Data = row["device"]
            if let id = DeviceID(bytes: [UInt8](deviceBytes)) { vector[id] = UInt64(row["seq"] as Int64) }
        }
        vector[device] = UInt64(seq)
        var journal = Journal(restoring: vector, entries: existing.map { [$0.entry] } ?? [])
        var failure: (any Error)?
        let change = journal.commit(entry: id, by: device, at: hlc) { editor in
            do { try edit(&editor) } catch { failure = error }
        }
        if let failure { throw failure }
        guard !change.operations.isEmpty else {
            throw StoreError(.invalidInput, "nothing to change; the entry was left as it was")
        }
        guard let entry = journal.entries[id] else { throw StoreError.corrupt("the change made no entry") }
        // Sealed only if every other replica can read it, by the decoder they run, and the relay
        // can take it: an edit of text typed in many pieces can make more operations than one
        // change may carry, and a hostile export's entry more text. Sent anyway, the first was
        // refused on every other device (the copies diverged) and the second by the relay, at
        // the head of every push for good (found by the adversarial review).
        let plaintext = ChangeCodec.encode(change)
        do { _ = try ChangeCodec.decode(plaintext) } catch {
            throw StoreError(.changeTooLarge, "the change is larger than one change may be (\(error)); nothing was written")
        }
        let envelope = Envelope.seal(
            plaintext,
            header: Envelope.Header(space: space, epoch: epoch, device: wireDevice, seq: change.seq, previous: previous),
            contentKey: contentKey, signingKey: keystore.device)
        guard envelope.bytes.count <= Envelope.maximumSealedBytes + 256 else {
            throw StoreError(.changeTooLarge, "the change seals to more than a relay takes; nothing was written")
        }
        try db.execute(sql: "INSERT INTO envelopes (space, device, seq, hash, bytes) VALUES (?, ?, ?, ?, ?)",
                       arguments: [Data(space.bytes), Data(wireDevice.bytes), Int64(change.seq),
                                   Data(envelope.hash.bytes), Data(envelope.bytes)])
        try db.execute(sql: "INSERT INTO vectors (space, device, seq) VALUES (?, ?, ?) ON CONFLICT (space, device) DO UPDATE SET seq = excluded.seq",
                       arguments: [Data(space.bytes), Data(wireDevice.bytes), Int64(change.seq)])
        try StoredClock.write(clock, db)
        try saveEntry(db, entry, space: space)
        try Receipts.note(db, [change], space: space)
        return change
    }


    func saveEntry(_ db: GRDB.Database, _ entry: Entry, space: SpaceID) throws {
        try saveEntries(db, [entry], space: space)
    }

    /// Seals each entry's snapshot (on every core when there are many) and writes them.
    func saveEntries(_ db: GRDB.Database, _ entries: [Entry], space: SpaceID) throws {
        let storageKey = keystore.storageKey
        let sealed = Parallel.map(entries) { entry in
            AEAD.seal(StoredSnapshot.pack(EntrySnapshot.encode(entry)), using: storageKey, associatedData: entry.id.bytes + space.bytes)
        }
        let statement = try db.cachedStatement(sql: """
            INSERT INTO entries (id, code, space, created, updated, snapshot, reply_to, reply_known) VALUES (?, ?, ?, ?, ?, ?, ?, 1)
            ON CONFLICT (id) DO UPDATE SET created = excluded.created, updated = excluded.updated, snapshot = excluded.snapshot,
                reply_to = excluded.reply_to, reply_known = 1
            WHERE entries.space = excluded.space
            """)
        for (entry, snapshot) in zip(entries, sealed) {
            // Ordered by when the reflection was written: an imported date, else its creation.
            // Clamped: a date is the partner's bytes, and no value of it may trap here.
            let created = Int64(clamping: (entry.date.value ?? nil) ?? entry.creation?.hlc.milliseconds ?? 0)
            let updated = Int64(clamping: entry.lastChange?.hlc.milliseconds ?? 0)
            let replyTo = (entry.replyTo.value ?? nil).map { Data($0.bytes) }
            try statement.execute(arguments: [Data(entry.id.bytes), entry.id.description, Data(space.bytes), created, updated, Data(snapshot), replyTo])
        }
    }

    // MARK: - Reading

    func openSnapshot(id: [UInt8], space: [UInt8], sealed: [UInt8]) throws(StoreError) -> Entry {
        do {
            let plain = try AEAD.open(sealed, using: keystore.storageKey, associatedData: id + space)
            return try EntrySnapshot.decode(try StoredSnapshot.unpack(plain))
        } catch {
            throw StoreError.corrupt("an entry could not be opened")
        }
    }

    func loadEntry(_ db: GRDB.Database, id: EntryID) throws -> Entry? {
        try loadStoredEntry(db, id: id)?.entry
    }

    func loadStoredEntry(_ db: GRDB.Database, id: EntryID) throws -> (entry: Entry, space: SpaceID)? {
        guard let row = try Row.fetchOne(db, sql: "SELECT space, snapshot FROM entries WHERE id = ?", arguments: [Data(id.bytes)]) else {
            return nil
        }
        let space: Data = row["space"], snapshot: Data = row["snapshot"]
        guard let spaceID = try? SpaceID(bytes: [UInt8](space)) else { throw StoreError.corrupt("an entry's space") }
        return (try openSnapshot(id: id.bytes, space: [UInt8](space), sealed: [UInt8](snapshot)), spaceID)
    }

    /// The content keys of `space` by epoch: the personal space's from the keystore, and every
    /// space's from `wrapKey` records of its verified log addressed to this device (opened with
    /// the device's key; a box that does not open is ignored — it was not meant for us).
    func contentKeys(_ db: GRDB.Database, space: SpaceID) throws -> [UInt64: SymmetricKey] { try reading(db, space: space).keys }

    /// What writing and applying in a space need from its log, from one replay: the content
    /// keys this device holds, and the devices certified with an expiry.
    struct SpaceReading {
        var keys: [UInt64: SymmetricKey]
        var expiries: [DeviceID: UInt64]
    }

    func reading(_ db: GRDB.Database, space: SpaceID) throws -> SpaceReading {
        let log = try store.membershipLog(db, space: space)
        var expiries: [DeviceID: UInt64] = [:]
        for (device, expires) in log.expiries {
            if let id = DeviceID(bytes: WireDeviceID(verifyingKey: device).bytes) { expiries[id] = expires }
        }
        return SpaceReading(keys: contentKeys(log: log, space: space), expiries: expiries)
    }

    private func contentKeys(log: MembershipLog, space: SpaceID) -> [UInt64: SymmetricKey] {
        var keys = space == keystore.personalSpace ? keystore.personalKeys : keystore.otherKeys[space] ?? [:]
        let me = keystore.device.verifyingKey
        let boxKey = BoxSecretKey(converting: keystore.device)
        for (epoch, boxes) in log.wrappedKeys where keys[epoch] == nil {
            guard let box = boxes[me], let secret = try? boxKey.openSecret(box),
                  let key = try? SymmetricKey(bytes: secret) else { continue }
            // Only the key the epoch's creation or rotation committed to: a rotation cannot
            // hand this device junk, or a key its other devices do not share (SPEC § 6.2).
            guard let commitment = log.keyCommitments[epoch], commitment == MembershipLog.keyCommitment(space: space, epoch: epoch, key: key) else { continue }
            keys[epoch] = key
        }
        return keys
    }

    /// Whether the log wraps the current epoch's key to this device but what it wraps does not
    /// open, or is not the committed key (a partner's rotation handed it junk).
    public func currentKeyIsUnusable(space: SpaceID) throws(StoreError) -> Bool {
        do {
            return try store.database.read { db in
                let log = try store.membershipLog(db, space: space)
                guard log.wrappedKeys[log.epoch]?[keystore.device.verifyingKey] != nil else { return false }
                return try contentKeys(db, space: space)[log.epoch] == nil
            }
        } catch {
            throw Store.classify(error, doing: "read the keys", home: store.home)
        }
    }

    /// The kind of space entry `id` lives in. From the entry's `space` column, which is stored in
    /// the clear: nothing is opened (a `duet show` opened the snapshot a second time only for
    /// this). The column is also the seal's associated data, so a row whose space was changed
    /// on disk no longer opens.
    public func spaceKind(of id: EntryID) throws(StoreError) -> SpaceKind? {
        do {
            return try store.database.read { db in
                guard let space = try Data.fetchOne(db, sql: "SELECT space FROM entries WHERE id = ?", arguments: [Data(id.bytes)]) else { return nil }
                return try Store.spaces(db).first { Data($0.id.bytes) == space }?.kind
            }
        } catch {
            throw Store.classify(error, doing: "read the entry")
        }
    }

    /// Whether an entry with this id exists here.
    public func contains(_ id: EntryID) throws(StoreError) -> Bool {
        do {
            return try store.database.read { db in
                try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM entries WHERE id = ?)", arguments: [Data(id.bytes)]) ?? false
            }
        } catch {
            throw Store.classify(error, doing: "read the journal")
        }
    }

    /// One entry by id.
    public func entry(_ id: EntryID) throws(StoreError) -> Entry? {
        do { return try store.database.read { db in try loadEntry(db, id: id) } } catch {
            throw Store.classify(error, doing: "read the entry")
        }
    }

    /// Entries newest first (by when they were written), decrypted one by one; `body` returns
    /// false to stop. Rows are read a page at a time, so listing the newest few of twenty
    /// thousand entries reads and decrypts only those.
    ///
    /// `kind`, `from` and `before` narrow the scan in SQL, on the clear columns (the space, and
    /// when the entry was written) and their index: an entry outside them is never decrypted.
    public func forEachEntry(kind: SpaceKind? = nil, from: UInt64? = nil, before: UInt64? = nil,
                             _ body: (Entry, SpaceKind) throws -> Bool) throws {
        let pageSize = 64
        let spaces = try store.spaces()
        let kinds = Dictionary(spaces.map { (Data($0.id.bytes), $0.kind) }) { first, _ in first }
        var filters: [String] = []
        var filterArguments: [any DatabaseValueConvertible] = []
        if let kind {
            // A kind this device has no space of yet (not paired) holds no entry.
            guard let space = spaces.first(where: { $0.kind == kind }) else { return }
            filters.append("space = ?")
            filterArguments.append(Data(space.id.bytes))
        }
        if let from { filters.append("created >= ?"); filterArguments.append(Int64(clamping: from)) }
        if let before { filters.append("created < ?"); filterArguments.append(Int64(clamping: before)) }
        var after: (created: Int64, id: Data)?
        while true {
            let rows: [(Int64, Data, Data, Data)]
            do {
                rows = try store.database.read { db in
                    var conditions = filters
                    var arguments = filterArguments
                    if let after {
                        conditions.append("created <= ? AND (created < ? OR id > ?)")
                        arguments += [after.created, after.created, after.id]
                    }
                    let condition = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ") + " "
                    let sql = "SELECT created, id, space, snapshot FROM entries \(condition)ORDER BY created DESC, id LIMIT ?"
                    return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments + [pageSize]))
                        .map { ($0["created"], $0["id"], $0["space"], $0["snapshot"]) }
                }
            } catch {
                throw Store.classify(error, doing: "read the journal")
            }
            for (created, id, space, snapshot) in rows {
                let entry = try openSnapshot(id: [UInt8](id), space: [UInt8](space), sealed: [UInt8](snapshot))
                if try !body(entry, kinds[space] ?? .personal) { return }
                after = (created, id)
            }
            if rows.count < pageSize { return }
        }
    }

    /// The prefix as ids are written, and up to six entries whose id starts with it; nil when
    /// `text` cannot be part of an id (fewer than 4 or more than 26 Crockford characters).
    public func entries(matchingPrefix text: String) throws(StoreError) -> (normalised: String, matches: [EntryID])? {
        let prefix = text.uppercased()
        guard prefix.count >= 4, prefix.count <= 26, prefix.allSatisfy({ EntryID.isCrockfordCharacter($0) }) else { return nil }
        let normalised = EntryID.normalisedCrockford(prefix)
        let matches: [EntryID]
        do {
            // A range scan of the code index: every code starting with the prefix sorts between
            // the prefix and the prefix followed by a character above the alphabet.
            matches = try store.database.read { db in
                try String.fetchAll(db, sql: "SELECT code FROM entries WHERE code >= ? AND code < ? ORDER BY code LIMIT 6",
                                    arguments: [normalised, normalised + "~"]).compactMap { EntryID($0) }
            }
        } catch {
            throw Store.classify(error, doing: "read the journal")
        }
        return (normalised, matches)
    }

    /// The entry an id or unique prefix (4+ Crockford characters, any case) names.
    public func resolve(_ text: String) throws(StoreError) -> EntryID {
        guard let (normalised, matches) = try entries(matchingPrefix: text) else {
            throw StoreError(.invalidInput, "'\(Sanitise.line(text))' is not an entry id: an id is 4 to 26 letters and digits")
        }
        switch matches.count {
        case 1: return matches[0]
        case 0: throw StoreError(.unknownEntry, "no entry has an id starting with \(normalised)")
        default:
            let shown = matches.prefix(5).map(\.description).joined(separator: ", ")
            throw StoreError(.ambiguousEntry, "\(normalised) matches several entries (\(shown)\(matches.count > 5 ? ", …" : "")); type more characters")
        }
    }
}
