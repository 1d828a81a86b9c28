public import DuetCore
import DuetCrypto
public import DuetWire
import Foundation
import GRDB

/// What happened to envelopes received from the relay.
public struct IngestReport: Hashable, Sendable {
    public var stored = 0
    public var duplicates = 0
    /// Envelopes refused: not from a member, a bad signature, a broken chain, a fork, a gap.
    /// Never stored, never shown; reported so `duet status` can warn.
    public var refused: [String] = []
    /// Per device touched, the highest seq now held (so a sync needs no query to go on).
    public var heads: [WireDeviceID: UInt64] = [:]
    public init() {}

    /// The refusal of an envelope whose device this store does not know as a member (yet: the
    /// membership record may have reached the relay after this device last read the log).
    public static let notMember = "envelope from a device that is not a member"
}

extension Store {
    /// Verifies envelopes from the relay and stores those that hold up — without any content
    /// key, so the daemon can do it with the journal locked (DESIGN §6). Each must come from a
    /// member device of its space (public keys kept in the store), carry a valid signature, and
    /// extend that device's chain; one envelope per `(device, seq)`, ever.
    ///
    /// Parsing and signatures (the costly part) are checked before the write transaction, on
    /// every core; inside it, each device's chain head is read once per batch and followed in
    /// memory.
    public func storeVerified(_ batch: [[UInt8]], space: SpaceID) throws(StoreError) -> IngestReport {
        do {
            let spaceBytes = Data(space.bytes)
            let members: [WireDeviceID: Signer] = try database.read { db in
                var keys: [WireDeviceID: Signer] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT device, public_key, last_seq FROM members WHERE space = ?", arguments: [spaceBytes]) {
                    let device: Data = row["device"], key: Data = row["public_key"], lastSeq: Int64? = row["last_seq"]
                    if let id = try? WireDeviceID(bytes: [UInt8](device)), let verifying = try? VerifyingKey(bytes: [UInt8](key)) {
                        keys[id] = Signer(key: verifying, lastSeq: lastSeq.map { UInt64(clamping: $0) } ?? Envelope.maximumSeq)
                    }
                }
                return keys
            }
            return try append(Self.verify(batch, space: space, members: members), space: space)
        } catch let error as StoreError {
            throw error
        } catch {
            throw Store.classify(error, doing: "store received envelopes", home: home)
        }
    }

    /// The storage step of ``storeVerified(_:space:)`` alone (what `duet-bench sqlite` measures):
    /// envelopes already parsed and verified, appended in one transaction — one fsync for the
    /// whole batch (group commit) — each only if it extends its device's chain.
    package func append(_ checked: [Result<Verified, Refusal>], space: SpaceID) throws(StoreError) -> IngestReport {
        do {
            let spaceBytes = Data(space.bytes)
            return try database.write { db in
                var report = IngestReport()
                // Per device: the chain's head, read once and then followed. The device being
                // followed is kept aside: a page is mostly runs of one device, and comparing 16
                // bytes is cheaper than hashing them into the table per envelope.
                var chains: [WireDeviceID: EnvelopeChain.Head] = [:]
                var current: (device: WireDeviceID, head: EnvelopeChain.Head)?
                let insert = try EnvelopeInsert(db)
                let spaceRaw = space.bytes
                for outcome in checked {
                    let envelope: Envelope, hash: [UInt8]
                    switch outcome {
                    case .success(let verified): (envelope, hash) = (verified.envelope, verified.hash)
                    case .failure(let refusal): report.refused.append(refusal.reason); continue
                    }
                    let header = envelope.header
                    if current?.device != header.device {
                        if let current { chains[current.device] = current.head }
                        if let known = chains[header.device] {
                            current = (header.device, known)
                        } else {
                            let row = try Row.fetchOne(db, sql: "SELECT seq, hash FROM envelopes WHERE space = ? AND device = ? ORDER BY seq DESC LIMIT 1",
                                                       arguments: [spaceBytes, Data(header.device.bytes)])
                            // Clamped like the relay's: a damaged seq is judged, never trapped on.
                            // A NULL or non-integer column (a damaged file) reads as none held: judged, not trapped on.
                            current = (header.device, row.map {
                                EnvelopeChain.Head(seq: UInt64(clamping: Int64.fromDatabaseValue($0["seq"] as DatabaseValue) ?? 0),
                                                   hash: Data.fromDatabaseValue($0["hash"] as DatabaseValue).map { [UInt8]($0) } ?? Digest.zero.bytes)
                            } ?? .empty)
                        }
                    }
                    guard let chain = current else { continue }
                    // The rule the relay applies too (DuetWire); only what to do about it is ours.
                    let verdict = try EnvelopeChain.judge(envelope, head: chain.head) {
                        try Data.fetchOne(db, sql: "SELECT bytes FROM envelopes WHERE space = ? AND device = ? AND seq = ?",
                                          arguments: [spaceBytes, Data(header.device.bytes), Int64(clamping: header.seq)]).map { [UInt8]($0) }
                    }
                    switch verdict {
                    case .duplicate: report.duplicates += 1
                    case .fork: report.refused.append("fork: a second envelope for one seq")
                    case .gap: report.refused.append("gap in a device's envelopes")
                    case .brokenChain: report.refused.append("broken chain")
                    case .extends:
                        try insert.execute(space: spaceRaw, device: header.device.bytes, seq: header.seq, hash: hash, bytes: envelope.bytes)
                        current = (header.device, EnvelopeChain.Head(seq: header.seq, hash: hash))
                        report.stored += 1
                    }
                }
                if let current { chains[current.device] = current.head }
                report.heads = chains.mapValues(\.seq)
                return report
            }
        } catch {
            throw Store.classify(error, doing: "store received envelopes", home: home)
        }
    }

    package struct Refusal: Error {
        let reason: String
        package init(reason: String) { self.reason = reason }
    }

    /// An envelope whose signature held, with its hash (the link its device's next envelope
    /// must name) computed beside the signature check, on every core, rather than inside the
    /// single write transaction.
    package struct Verified: Sendable {
        let envelope: Envelope
        let hash: [UInt8]
        package init(_ envelope: Envelope) {
            self.envelope = envelope
            hash = envelope.hash.bytes
        }
    }

    /// A device whose envelopes verify in a space, up to `lastSeq` (a removed device's bound).
    typealias Signer = EnvelopeAdmission.Signer

    /// Parses each envelope and checks it is for `space`, from a member (or from a removed
    /// device, written while it was one), correctly signed — the admission the relay applies
    /// too (DuetWire), spread over the cores, in order.
    static func verify(_ batch: [[UInt8]], space: SpaceID, members: [WireDeviceID: Signer]) -> [Result<Verified, Refusal>] {
        @Sendable func check(_ bytes: [UInt8]) -> Result<Verified, Refusal> {
            switch EnvelopeAdmission.admit(bytes, to: space, signer: { members[$0] }) {
            case .success(let envelope): return .success(Verified(envelope))
            case .failure(.malformed): return .failure(Refusal(reason: "malformed envelope"))
            case .failure(.otherSpace): return .failure(Refusal(reason: "envelope of another space"))
            case .failure(.unknownSigner): return .failure(Refusal(reason: IngestReport.notMember))
            case .failure(.signedAfterRemoval): return .failure(Refusal(reason: "envelope a device signed after it was removed"))
            case .failure(.badSignature): return .failure(Refusal(reason: "envelope with a bad signature"))
            }
        }
        return Parallel.map(batch, check)
    }
}


extension UnlockedStore {
    /// Opens every stored envelope not yet applied, in every space, in causal order, and applies
    /// the changes to the entries (one transaction). Changes whose causal past is missing, or
    /// sealed under an epoch whose key has not reached this device yet, wait for the next call.
    /// Returns the dots applied. `now` is this device's wall clock (ms since the epoch): the
    /// device's clock moves past each change received, unless it is dated too far ahead of it.
    @discardableResult
    public func materialise(now: UInt64 = WallClock.milliseconds) throws -> [Dot] { try materialiseReporting(now: now).applied }

    /// What ``materialise()`` did, and what still waits.
    public struct Materialised: Sendable {
        public var applied: [Dot] = []
        /// Per space, changes still held whose causal past names an envelope this store does not
        /// hold at all (not one merely waiting for its key): `waiting` needs `needs`.
        public var missing: [SpaceID: [(waiting: Dot, needs: Dot)]] = [:]
    }

    /// ``materialise()``, telling also which held changes wait for envelopes never received.
    public func materialiseReporting(now: UInt64 = WallClock.milliseconds) throws -> Materialised {
        // Names and notices from directory records first (a count when nothing changed).
        try refreshDirectory()
        do {
            // Read first: with nothing waiting (the usual case) no write transaction is opened,
            // so reading commands work on a read-only home and never touch the file.
            let pending = try store.database.read { db in
                try Bool.fetchOne(db, sql: """
                    SELECT EXISTS (SELECT 1 FROM envelopes e LEFT JOIN vectors v ON v.space = e.space AND v.device = e.device
                                   WHERE e.seq > coalesce(v.seq, 0))
                    """) ?? false
            }
            guard pending else { return Materialised() }
            var refusals: [(Dot, Entry.InvalidOperation)] = []
            var ahead: [Dot] = []
            let outcome = try store.database.write { db in
                refusals = []
                ahead = []
                var outcome = Materialised()
                var clock = try StoredClock.read(db)
                let read = clock
                for space in try Store.spaces(db) {
                    var missing: [(waiting: Dot, needs: Dot)] = []
                    var received = Received(clock: clock, now: now)
                    outcome.applied += try materialise(db, space: space.id, refusals: &refusals, missing: &missing, received: &received)
                    clock = received.clock
                    ahead += received.ahead
                    if !missing.isEmpty { outcome.missing[space.id] = missing }
                }
                if clock != read { try StoredClock.write(clock, db) }
                return outcome
            }
            if !refusals.isEmpty { try noteRefusals(refusals) }
            if !ahead.isEmpty { try noteClockAhead(ahead) }
            return outcome
        } catch {
            throw Store.classify(error, doing: "apply received changes", home: store.home)
        }
    }

    /// What a stored envelope turned out to hold.
    private enum Opened: Sendable {
        case change(Change)
        /// Sealed under an epoch whose key has not reached this device yet.
        case waiting
        /// Another device's envelope that does not open or decode, or names another change.
        case unreadable(Dot)
        /// A change dated at or after its device's certificate expired.
        case expired(Dot)
    }

    /// The device's clock while changes are received, and the changes dated too far ahead of it.
    private struct Received {
        var clock: HybridLogicalClock
        let now: UInt64
        var ahead: [Dot] = []
    }

    private func materialise(_ db: GRDB.Database, space: SpaceID, refusals: inout [(Dot, Entry.InvalidOperation)],
                             missing: inout [(waiting: Dot, needs: Dot)], received: inout Received) throws -> [Dot] {
        let spaceBytes = Data(space.bytes)
        let reading = try reading(db, space: space)
        let keys = reading.keys, expiries = reading.expiries
        var vector: [DeviceID: UInt64] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT device, seq FROM vectors WHERE space = ?", arguments: [spaceBytes]) {
            let device: Data = row["device"]
            if let id = DeviceID(bytes: [UInt8](device)) { vector[id] = UInt64(row["seq"] as Int64) }
        }
        // Only envelopes above the applied vector: the join lets the unique index do the work,
        // so a store with 100,000 applied changes reads none of them.
        let pending: [(device: DeviceID, seq: UInt64, bytes: [UInt8])] = try Row.fetchAll(db, sql: """
            SELECT e.device, e.seq, e.bytes FROM envelopes e
            LEFT JOIN vectors v ON v.space = e.space AND v.device = e.device
            WHERE e.space = ? AND e.seq > coalesce(v.seq, 0) ORDER BY e.device, e.seq
            """, arguments: [spaceBytes]).compactMap { row in
                let device: Data = row["device"], bytes: Data = row["bytes"]
                return DeviceID(bytes: [UInt8](device)).map { ($0, UInt64(row["seq"] as Int64), [UInt8](bytes)) }
            }
        // Opening and decoding is most of the work of a catch-up: on every core.
        let own = device
        // What this device itself wrote here: no honest change can depend on more of it. (A
        // change that names a dot of ours we never made would wait for ever, and everything
        // its author writes after it with it.)
        let ownHead = vector[own, default: 0]
        let opened = Parallel.map(pending) { item -> Result<Opened, StoreError> in
            // Stored envelopes were parsed and verified on arrival: one that no longer parses
            // was damaged on disk.
            guard let envelope = try? Envelope(bytes: item.bytes) else { return .failure(.corrupt("a stored envelope does not parse")) }
            // Not our key yet (a rotation whose wrapped key is still on its way): wait.
            guard let contentKey = keys[envelope.header.epoch] else { return .success(.waiting) }
            // The change must be the one its signed header announces.
            guard let plaintext = try? envelope.open(contentKey: contentKey),
                  let change = try? ChangeCodec.decode(plaintext),
                  change.device == item.device, change.seq == item.seq, change.entry.bytes.count == 16 else {
                // This device's own envelope was sealed here: failing to open is local damage.
                // Another device's was only verified as signed by it; a partner can sign any
                // bytes and a newer Duet can send what this one cannot read. Such a change is
                // consumed (SPEC § 3.2), its bytes kept, and the person told.
                if item.device == own { return .failure(.corrupt("a stored envelope does not open or does not match its header")) }
                return .success(.unreadable(Dot(device: item.device, seq: item.seq)))
            }
            if item.device != own, change.dependencies.contains(where: { $0.device == own && $0.seq > ownHead }) {
                return .success(.unreadable(Dot(device: item.device, seq: item.seq)))
            }
            // Dated by its author at or after its certificate's expiry: refused, by the change's
            // own time, so every replica refuses the same ones (SPEC § 6.2).
            if let expires = expiries[item.device], change.hlc.milliseconds >= expires {
                return .success(.expired(Dot(device: item.device, seq: item.seq)))
            }
            return .success(.change(change))
        }
        var changes: [Change] = []
        var unreadable: [(Dot, Entry.InvalidOperation)] = []
        changes.reserveCapacity(opened.count)
        for result in opened {
            switch try result.get() {
            case .change(let change): changes.append(change)
            case .unreadable(let dot): unreadable.append((dot, .unreadable))
            case .expired(let dot): unreadable.append((dot, .expiredCertificate))
            case .waiting: break
            }
        }
        guard !changes.isEmpty || !unreadable.isEmpty else { return [] }
        // Entries of this space only: a change can never reach an entry of another space.
        var entries: [Entry] = []
        for id in Set(changes.map(\.entry)) {
            if let stored = try loadStoredEntry(db, id: id), stored.space == space { entries.append(stored.entry) }
        }
        var journal = Journal(restoring: vector, entries: entries)
        var applied: [Dot] = []
        for (dot, reason) in unreadable { applied += journal.receiveRefused(dot, reason).applied }
        for change in changes.sorted(by: { ($0.hlc, $0.device, $0.seq) < ($1.hlc, $1.device, $1.seq) }) {
            let outcome = journal.receive(change, clock: &received.clock, now: received.now)
            applied += outcome.applied
            if case .clampedAhead = outcome.clock { received.ahead.append(change.dot) }
        }
        for dot in applied { if let reason = journal.refused[dot] { refusals.append((dot, reason)) } }
        if journal.pendingCount > 0 {
            // What is held but waits on a dot stored here (sealed under a key still on its
            // way) is not missing; only a dot above its device's stored head is.
            var stored: [DeviceID: UInt64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT device, max(seq) AS seq FROM envelopes WHERE space = ? GROUP BY device", arguments: [spaceBytes]) {
                let device: Data = row["device"]
                if let id = DeviceID(bytes: [UInt8](device)), let seq = row["seq"] as Int64?, let held = UInt64(exactly: seq) { stored[id] = held }
            }
            missing += journal.missingPast.filter { $0.needs.seq > stored[$0.needs.device, default: 0] }
        }
        let appliedSet = Set(applied)
        let appliedChanges = changes.filter { appliedSet.contains($0.dot) }
        try Receipts.note(db, appliedChanges, space: space)
        let touched = Set(appliedChanges.map(\.entry)).compactMap { journal.entries[$0] }
        try saveEntries(db, touched, space: space)
        for (device, seq) in journal.vector where seq > vector[device, default: 0] {
            try db.execute(sql: "INSERT INTO vectors (space, device, seq) VALUES (?, ?, ?) ON CONFLICT (space, device) DO UPDATE SET seq = excluded.seq",
                           arguments: [spaceBytes, Data(device.bytes), Int64(seq)])
        }
        return applied
    }
}

extension UnlockedStore {
    /// Tells the person which device of whom sent changes that were set aside: one warning per
    /// device and kind, kept until `duet status` shows it. The changes' bytes stay stored.
    func noteRefusals(_ refusals: [(Dot, Entry.InvalidOperation)]) throws(StoreError) {
        let directory = try store.directory()
        for (dot, reason) in refusals {
            let sender = (try? WireDeviceID(bytes: dot.device.bytes)).map(directory.sender) ?? "an unknown device"
            let what: String = switch reason {
            case .unreadable: "could not be read: it may come from a newer Duet, or be hostile; it was set aside and its bytes kept"
            case .foreignAuthor: "claimed writing by another device and was refused; nothing of it is shown"
            case .expiredCertificate: "was dated after that device's certificate expired and was refused; nothing of it is shown"
            default: "was not valid and was refused; nothing of it is shown"
            }
            try store.addWarning("a change from \(sender) \(what)")
        }
    }
}

extension Store {
    /// This store's envelopes of `space` by `devices` that the relay lacks, by its heads: per
    /// device, every seq above the relay's, in seq order (what a sync pushes). Reads only those.
    public func envelopes(space: SpaceID, of devices: Set<WireDeviceID>, after heads: [WireDeviceID: UInt64]) throws(StoreError) -> [[UInt8]] {
        do {
            return try database.read { db in
                var result: [[UInt8]] = []
                for device in devices.sorted() {
                    let rows = try Data.fetchAll(db, sql: "SELECT bytes FROM envelopes WHERE space = ? AND device = ? AND seq > ? ORDER BY seq",
                                                 arguments: [Data(space.bytes), Data(device.bytes), Int64(heads[device, default: 0])])
                    result += rows.map { [UInt8]($0) }
                }
                return result
            }
        } catch {
            throw Store.classify(error, doing: "read envelopes", home: home)
        }
    }

    /// Records the relay's heads for `space` and returns the devices for which the relay now
    /// holds less than it was once seen to hold: a rollback (DESIGN §7), to be reported loudly.
    /// With `heldHere`, a head is recorded only up to what this store holds of that device:
    /// more is only the relay's word until a fetch delivers it.
    ///
    /// With `seenBefore` (what ``relaySeen(space:)`` read before the heads were asked for), the
    /// heads are held to that: another process of this device (`duetd` beside `duet sync`) may
    /// record a push the relay acknowledged after these heads left it, and heads older than
    /// that record are no rollback.
    public func noteRelayHeads(_ heads: [WireDeviceID: UInt64], space: SpaceID, heldHere: [WireDeviceID: UInt64]? = nil,
                               seenBefore: [WireDeviceID: UInt64]? = nil) throws(StoreError) -> [WireDeviceID] {
        var recording = heads
        if let heldHere { for (device, seq) in heads { recording[device] = min(seq, heldHere[device, default: 0]) } }
        return try noteRelayHeads(heads, recording: recording, space: space, seenBefore: seenBefore)
    }

    /// Per device, the highest seq the relay was recorded as holding in `space`.
    public func relaySeen(space: SpaceID) throws(StoreError) -> [WireDeviceID: UInt64] {
        do {
            return try database.read { db in try Self.relaySeen(db, space: space) }
        } catch {
            throw Store.classify(error, doing: "read the relay's heads", home: home)
        }
    }

    private static func relaySeen(_ db: GRDB.Database, space: SpaceID) throws -> [WireDeviceID: UInt64] {
        var seen: [WireDeviceID: UInt64] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT device, seq FROM relay_seen WHERE space = ?", arguments: [Data(space.bytes)]) {
            let device: Data = row["device"]
            if let id = try? WireDeviceID(bytes: [UInt8](device)), let value = row["seq"] as Int64?, let seq = UInt64(exactly: value) { seen[id] = seq }
        }
        return seen
    }

    private func noteRelayHeads(_ heads: [WireDeviceID: UInt64], recording: [WireDeviceID: UInt64], space: SpaceID,
                                seenBefore: [WireDeviceID: UInt64]?) throws(StoreError) -> [WireDeviceID] {
        func rolledBack(_ seen: [WireDeviceID: UInt64]) -> [WireDeviceID] {
            (seenBefore ?? seen).filter { heads[$0.key, default: 0] < $0.value }.map(\.key).sorted()
        }
        do {
            // Read first: a round that learns nothing new (a local write's round, a quiet
            // round) opens no write transaction (issue #15: four per local write before).
            let seen = try database.read { db in try Self.relaySeen(db, space: space) }
            guard recording.contains(where: { $0.value > seen[$0.key, default: 0] }) else { return rolledBack(seen) }
            return try database.write { db in
                // Again inside the transaction: another process may have recorded more meanwhile.
                let seen = try Self.relaySeen(db, space: space)
                try Self.record(recording, over: seen, space: space, db)
                return rolledBack(seen)
            }
        } catch {
            throw Store.classify(error, doing: "record the relay's heads", home: home)
        }
    }

    private static func record(_ recording: [WireDeviceID: UInt64], over seen: [WireDeviceID: UInt64], space: SpaceID, _ db: GRDB.Database) throws {
        for (device, seq) in recording where seq > seen[device, default: 0] {
            try db.execute(sql: "INSERT INTO relay_seen (space, device, seq) VALUES (?, ?, ?) ON CONFLICT (space, device) DO UPDATE SET seq = excluded.seq",
                           arguments: [Data(space.bytes), Data(device.bytes), Int64(clamping: seq)])
        }
    }

    /// What the relay acknowledged of a push, in one transaction: those envelopes are sent,
    /// and the relay must never answer with less of them again.
    public func notePushAcknowledged(space: SpaceID, upTo heads: [WireDeviceID: UInt64]) throws(StoreError) {
        guard !heads.isEmpty else { return }
        do {
            try database.write { db in
                for (device, seq) in heads {
                    try db.execute(sql: "UPDATE envelopes SET pushed = 1 WHERE space = ? AND device = ? AND seq <= ? AND pushed = 0",
                                   arguments: [Data(space.bytes), Data(device.bytes), Int64(clamping: seq)])
                }
                try Self.record(heads, over: try Self.relaySeen(db, space: space), space: space, db)
            }
        } catch {
            throw Store.classify(error, doing: "record what was sent", home: home)
        }
    }
}

extension Store {
    /// Per device, the highest seq stored for `space` (what this device holds, applied or not).
    public func localHeads(space: SpaceID) throws(StoreError) -> [WireDeviceID: UInt64] {
        do {
            return try database.read { db in
                var heads: [WireDeviceID: UInt64] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT device, max(seq) AS seq FROM envelopes WHERE space = ? GROUP BY device",
                                            arguments: [Data(space.bytes)]) {
                    let device: Data = row["device"]
                    if let id = try? WireDeviceID(bytes: [UInt8](device)) { heads[id] = UInt64(row["seq"] as Int64) }
                }
                return heads
            }
        } catch {
            throw Store.classify(error, doing: "read the store", home: home)
        }
    }

    /// Whether `device` wrote envelopes in `space` the relay has not acknowledged yet.
    public func hasUnpushed(space: SpaceID, device: WireDeviceID) throws(StoreError) -> Bool {
        do {
            return try database.read { db in
                try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM envelopes WHERE space = ? AND device = ? AND pushed = 0)",
                                  arguments: [Data(space.bytes), Data(device.bytes)]) ?? false
            }
        } catch {
            throw Store.classify(error, doing: "read what waits to be sent", home: home)
        }
    }

    /// A value kept in the store's metadata (the relay URL), or nil.
    public func meta(_ key: String) throws(StoreError) -> String? {
        do {
            return try database.read { db in
                try Data.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = ?", arguments: [key]).map { String(decoding: $0, as: UTF8.self) }
            }
        } catch {
            throw Store.classify(error, doing: "read the store", home: home)
        }
    }

    public func deleteMeta(_ key: String) throws(StoreError) {
        do {
            try database.write { db in try db.execute(sql: "DELETE FROM store_meta WHERE key = ?", arguments: [key]) }
        } catch {
            throw Store.classify(error, doing: "write the store", home: home)
        }
    }

    public func setMeta(_ key: String, _ value: String) throws(StoreError) {
        do {
            try database.write { db in
                try db.execute(sql: "INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                               arguments: [key, Data(value.utf8)])
            }
        } catch {
            throw Store.classify(error, doing: "write the store", home: home)
        }
    }
}

extension Store {
    /// Integrity warnings for `duet status` (rollback, refused envelopes): kept until read.
    public func addWarning(_ text: String) throws(StoreError) {
        var warnings = try self.warnings()
        guard !warnings.contains(text) else { return }
        warnings.append(text)
        try setMeta("warnings", warnings.joined(separator: "\n"))
    }

    public func warnings() throws(StoreError) -> [String] {
        (try meta("warnings")).map { $0.split(separator: "\n").map(String.init) } ?? []
    }
}

extension Store {
    /// SQLite's `data_version`: it changes whenever another connection (a `duet` command)
    /// commits to the file, so the daemon notices local writes without scanning anything.
    public func dataVersion() throws(StoreError) -> Int {
        do {
            return try database.read { db in try Int.fetchOne(db, sql: "PRAGMA data_version") ?? 0 }
        } catch {
            throw Store.classify(error, doing: "read the store", home: home)
        }
    }

    /// Envelopes stored but not yet applied (waiting for an unlocked command, or their past).
    public func pendingIn() throws(StoreError) -> Int {
        do {
            return try database.read { db in
                try Int.fetchOne(db, sql: """
                    SELECT count(*) FROM envelopes e LEFT JOIN vectors v ON v.space = e.space AND v.device = e.device
                    WHERE e.seq > coalesce(v.seq, 0)
                    """) ?? 0
            }
        } catch {
            throw Store.classify(error, doing: "read the store", home: home)
        }
    }
}
