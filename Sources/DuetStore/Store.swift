import DuetCore
public import DuetCrypto
public import DuetWire
import Foundation
import GRDB

/// A device's store: one SQLite file in the home folder (WAL, `synchronous=FULL`), shared by the
/// CLI and the daemon.
///
/// One connection per process (a `DatabaseQueue`), with WAL switched on by hand: GRDB's pool sets
/// `synchronous=NORMAL` and writes a throwaway table on every open when the WAL file is absent,
/// and a command that fails must leave the file byte for byte as it was. Locked, it gives access to envelopes and public facts; unlocked with the
/// passphrase (``unlock(passphrase:)``), it reads and writes the journal.
public final class Store: Sendable {
    public let home: Home
    let database: DatabaseQueue
    /// Membership logs already verified here, reused while the file holds the same records.
    let membershipReplays = MembershipReplays()

    private init(home: Home, database: DatabaseQueue) {
        self.home = home
        self.database = database
    }

    // MARK: - Creating and opening

    /// Creates a new store for `name`, sealing fresh keys under `passphrase`.
    /// The personal space's membership log starts here too (`create`, then this device's
    /// certificate named `deviceName`), so the space is whole before it ever meets a relay.
    public static func create(
        home: Home, name: String, deviceName: String, passphrase: SecretBytes, parameters: PassphraseKDFParameters, now: UInt64,
        recovery: RecoverySlot? = nil
    ) throws(StoreError) -> (Store, UnlockedStore) {
        try initialise(home: home, keystore: Keystore.create(name: name, recovery: recovery), deviceName: deviceName,
                       passphrase: passphrase, parameters: parameters, personalEpoch: 1) { store, db, keystore in
            try store.appendMembership(db, Self.personalLog(keystore, deviceName: deviceName, now: now), space: keystore.personalSpace)
        }
    }

    /// A new device of the person `bundle` describes (linking or recovery): their identity and
    /// spaces with this device's own key, storage key and passphrase. The spaces' membership
    /// logs come from the relay at the first sync, checked against the bundle's identities.
    public static func createLinked(
        home: Home, bundle: IdentityBundle, device: SigningKey, deviceName: String, passphrase: SecretBytes,
        parameters: PassphraseKDFParameters, recovery: RecoverySlot? = nil
    ) throws(StoreError) -> (Store, UnlockedStore) {
        try initialise(home: home, keystore: Keystore.create(from: bundle, device: device, recovery: recovery), deviceName: deviceName,
                       passphrase: passphrase, parameters: parameters, personalEpoch: bundle.personalKeys.keys.max() ?? 1) { _, db, _ in
            // How far each log went at the device that made the bundle: the log this device
            // adopts from the relay must reach that far (SyncEngine.reconcileMembership).
            for (space, head) in bundle.logHeads {
                try db.execute(sql: "INSERT INTO store_meta (key, value) VALUES (?, ?)",
                               arguments: [Self.logFloorKey(space), Data("\(head.records) \(Hex.encode(head.last.bytes))".utf8)])
            }
            guard let couple = bundle.couple else { return }
            try db.execute(sql: "INSERT INTO spaces (space, kind, epoch) VALUES (?, 'couple', ?)",
                           arguments: [Data(couple.space.bytes), Int64(couple.keys.keys.max() ?? 1)])
            try db.execute(sql: "INSERT INTO people (identity, name, role) VALUES (?, ?, 'partner')",
                           arguments: [Data(couple.partner.bytes), couple.partnerName])
        }
    }

    /// The part of creating a store that every way shares: the sealed keystore, the personal
    /// space, this device's facts and person, then `more`, all in one transaction.
    static func logFloorKey(_ space: SpaceID) -> String { "log_floor_\(space.description)" }

    /// How far `space`'s membership log went at the device that linked or recovered this one
    /// (nil when it said nothing: an older Duet, or a store made by `init`).
    public func logFloor(space: SpaceID) throws(StoreError) -> IdentityBundle.LogHead? {
        guard let text = try meta(Self.logFloorKey(space)) else { return nil }
        let parts = text.split(separator: " ")
        guard parts.count == 2, let records = UInt64(parts[0]), let digest = try? Digest(bytes: Hex.decode(String(parts[1])) ?? []) else { return nil }
        return IdentityBundle.LogHead(records: records, last: digest)
    }

    private static func initialise(
        home: Home, keystore: Keystore, deviceName: String, passphrase: SecretBytes, parameters: PassphraseKDFParameters,
        personalEpoch: UInt64, more: (Store, GRDB.Database, Keystore) throws -> Void
    ) throws(StoreError) -> (Store, UnlockedStore) {
        guard !home.exists else {
            throw StoreError(.alreadyInitialised, "\(home.path) already holds a Duet journal; nothing was changed")
        }
        try home.create()
        let sealed = try keystore.seal(passphrase: passphrase, parameters: parameters)
        let store = try openPool(home: home)
        do {
            try store.database.write { db in
                try db.execute(sql: "INSERT INTO keystore (id, kdf_parameters, sealed) VALUES (1, ?, ?)",
                               arguments: [Data(parameters.encoded), Data(sealed)])
                try db.execute(sql: "INSERT INTO spaces (space, kind, epoch) VALUES (?, 'personal', ?)",
                               arguments: [Data(keystore.personalSpace.bytes), Int64(personalEpoch)])
                try db.execute(sql: "INSERT INTO store_meta (key, value) VALUES ('device', ?), ('personal_space', ?), ('hlc', ?), ('device_name', ?)",
                               arguments: [Data(keystore.deviceID.bytes), Data(keystore.personalSpace.bytes), Data(count: 8), Data(deviceName.utf8)])
                try db.execute(sql: "INSERT INTO people (identity, name, role) VALUES (?, ?, 'me')",
                               arguments: [Data(keystore.identity.verifyingKey.bytes), keystore.name])
                try more(store, db, keystore)
            }
        } catch {
            // A half-made store must not be mistaken for a journal: remove it.
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: home.databasePath + suffix) }
            throw classify(error, doing: "create the store")
        }
        let unlocked = UnlockedStore(store: store, keystore: keystore)
        try unlocked.ensureSyncCredential()
        home.tightenFiles()
        return (store, unlocked)
    }

    /// The first records of a personal space: its creation by this identity, this device, and
    /// the directory naming them (sealed: the relay never reads a name).
    static func personalLog(_ keystore: Keystore, deviceName: String, now: UInt64) -> [MembershipRecord] {
        let space = keystore.personalSpace
        let commitment = keystore.personalKeys[1].map { MembershipLog.keyCommitment(space: space, epoch: 1, key: $0) } ?? .zero
        let certificate = DeviceCertificate.issue(identity: keystore.identity, device: keystore.device.verifyingKey, created: now)
        var actions: [MembershipRecord.Action] = [.create(identity: keystore.identity.verifyingKey, keyCommitment: commitment), .addDevice(certificate)]
        if let key = keystore.personalKeys[1],
           let sealed = try? SpaceDirectory(personName: keystore.name, deviceNames: [keystore.device.verifyingKey: deviceName])
               .seal(space: space, signer: keystore.identity.verifyingKey, contentKey: key) {
            actions.append(.directory(epoch: 1, sealed: sealed))
        }
        return MembershipLog(space: space).nextRecords(actions, by: keystore.identity)
    }

    /// Opens an existing store. A missing, damaged or newer-format file is an error, and the
    /// file is never written in that case.
    public static func open(home: Home) throws(StoreError) -> Store {
        guard home.exists else { throw StoreError.notInitialised(home.path) }
        try checkHeader(home.databasePath)
        return try openPool(home: home)
    }

    private static func checkHeader(_ path: String) throws(StoreError) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw StoreError(.readOnly, "cannot read \(path): check its permissions")
        }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        guard header == Data("SQLite format 3\0".utf8) else { throw StoreError.corrupt("not a database") }
    }

    private static func openPool(home: Home) throws(StoreError) -> Store {
        var configuration = Configuration()
        // The daemon and the CLI share the file: wait for each other's short transactions.
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // WAL lets a reader and a writer (daemon and CLI) work at once. Switching is a no-op
            // when the file is already in WAL mode.
            guard try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") == "wal" else {
                throw StoreError(.io, "the store could not switch to WAL mode")
            }
            // An acknowledged write must survive a power cut: fsync the WAL on every commit.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        // Files the store creates are for this user only, whatever the umask.
        let previousMask = umask(0o077)
        defer { umask(previousMask) }
        do {
            let pool = try DatabaseQueue(path: home.databasePath, configuration: configuration)
            let migrator = Migrations.migrator
            // Read first: a store from a newer Duet is reported and never written to.
            let current = try pool.read { db in
                if try migrator.hasBeenSuperseded(db) { throw StoreError.newerVersion }
                return try migrator.hasCompletedMigrations(db)
            }
            // Migrate only when needed: even a no-op migration pass writes to the file, and a
            // failed command must leave the store byte for byte as it was.
            if !current { try migrator.migrate(pool) }
            let store = Store(home: home, database: pool)
            home.tightenFiles()
            return store
        } catch let error as StoreError {
            throw error
        } catch {
            throw classify(error, doing: "open the store", home: home)
        }
    }

    static func classify(_ error: any Error, doing action: String, home: Home? = nil) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? DatabaseError {
            switch error.resultCode {
            case .SQLITE_NOTADB, .SQLITE_CORRUPT: return StoreError.corrupt("SQLite reports corruption")
            case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM:
                return StoreError(.readOnly, "cannot \(action): the home folder is read-only or not yours")
            case .SQLITE_FULL: return StoreError(.diskFull, "cannot \(action): the disk is full; free some space and try again (nothing was written)")
            case .SQLITE_IOERR:
                // SQLite reports a full disk while growing its shared-memory file as an I/O
                // error; say what it really is when the disk has next to no room left.
                if let home, Home.freeBytes(at: home.path).map({ $0 < 1 << 20 }) == true {
                    return StoreError(.diskFull, "cannot \(action): the disk is full; free some space and try again (nothing was written)")
                }
                return StoreError(.io, "cannot \(action): an input/output error occurred; check the disk")
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                // Another process held the journal's write lock past the 10 s wait: a `duetd`
                // stopped mid-write (a suspended laptop, SIGSTOP), or a very long import.
                return StoreError(.io, "cannot \(action): the journal stayed busy in another Duet process (is `duetd` stopped or suspended?); nothing was written, try again")
            default: return StoreError(.io, "cannot \(action): database error \(error.resultCode.rawValue)")
            }
        }
        return Home.classify(error, doing: action)
    }

    // MARK: - Unlocking

    /// Derives the key from the passphrase (Argon2id, the slow part) and opens the keystore.
    public func unlock(passphrase: SecretBytes) throws(StoreError) -> UnlockedStore {
        let sealed = try sealedKeystore()
        let keystore = try Keystore.open(sealed: sealed.bytes, parameters: sealed.parameters, passphrase: passphrase)
        return UnlockedStore(store: self, keystore: keystore)
    }

    /// The key the passphrase unseals the keystore with, checked by opening it: what the unlock
    /// agent holds, so that later commands skip Argon2id (issue #16).
    public func keystoreKey(passphrase: SecretBytes) throws(StoreError) -> SymmetricKey {
        let sealed = try sealedKeystore()
        let key = try Keystore.deriveKey(passphrase: passphrase, parameters: sealed.parameters)
        _ = try Keystore.open(sealed: sealed.bytes, parameters: sealed.parameters, key: key)
        return key
    }

    /// Opens the keystore with a key from ``keystoreKey(passphrase:)``.
    public func unlock(keystoreKey key: SymmetricKey) throws(StoreError) -> UnlockedStore {
        let sealed = try sealedKeystore()
        let keystore = try Keystore.open(sealed: sealed.bytes, parameters: sealed.parameters, key: key)
        return UnlockedStore(store: self, keystore: keystore)
    }

    /// The sealed keystore and the validated parameters of the key that seals it.
    private func sealedKeystore() throws(StoreError) -> (bytes: [UInt8], parameters: PassphraseKDFParameters) {
        let row: (parameters: [UInt8], sealed: [UInt8])
        do {
            guard let fetched = try database.read({ db in
                try Row.fetchOne(db, sql: "SELECT kdf_parameters, sealed FROM keystore WHERE id = 1")
            }) else { throw StoreError.corrupt("no keystore") }
            let parameters: Data = fetched["kdf_parameters"]
            let sealed: Data = fetched["sealed"]
            row = ([UInt8](parameters), [UInt8](sealed))
        } catch {
            throw Store.classify(error, doing: "read the keystore")
        }
        let parameters: PassphraseKDFParameters
        do { parameters = try PassphraseKDFParameters(encoded: row.parameters) } catch {
            throw StoreError(.corrupt, "the keystore's passphrase parameters were refused (\(error)); the file may have been tampered with")
        }
        return (row.sealed, parameters)
    }

    /// Re-seals the keystore under a new passphrase (and fresh salt), in one transaction.
    public func changePassphrase(_ unlocked: UnlockedStore, to passphrase: SecretBytes, parameters: PassphraseKDFParameters) throws(StoreError) {
        let sealed = try unlocked.keystore.seal(passphrase: passphrase, parameters: parameters)
        do {
            try database.write { db in
                try db.execute(sql: "UPDATE keystore SET kdf_parameters = ?, sealed = ? WHERE id = 1",
                               arguments: [Data(parameters.encoded), Data(sealed)])
            }
        } catch {
            throw Store.classify(error, doing: "save the new passphrase")
        }
    }

    /// Counts for `duet status` (no passphrase needed: nothing is decrypted).
    public func counts() throws(StoreError) -> (entries: Int, envelopes: Int, unpushed: Int) {
        do {
            return try database.read { db in
                (try Int.fetchOne(db, sql: "SELECT count(*) FROM entries") ?? 0,
                 try Int.fetchOne(db, sql: "SELECT count(*) FROM envelopes") ?? 0,
                 try Int.fetchOne(db, sql: "SELECT count(*) FROM envelopes WHERE pushed = 0") ?? 0)
            }
        } catch {
            throw Store.classify(error, doing: "read the store")
        }
    }
}
