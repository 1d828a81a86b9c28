public import DuetCrypto
import DuetWire
import Foundation
import GRDB

/// What the sync daemon proves itself with, readable without the passphrase (DESIGN §6: the
/// daemon holds no content key). See ``SyncDelegation`` for why this key may sit unsealed: it
/// can open no envelope and sign none, only hold a relay session for this device.
public struct SyncCredential: Sendable {
    public let device: VerifyingKey
    public let key: SigningKey
    public let delegation: Signature
}

extension Store {
    /// The daemon's credential, once an unlocked command has made it.
    public func syncCredential() throws(StoreError) -> SyncCredential? {
        do {
            return try database.read { db in
                guard let seed = try Data.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = 'sync_key'"),
                      let delegation = try Data.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = 'sync_delegation'"),
                      let device = try Data.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = 'device_key'") else { return nil }
                guard let key = try? SigningKey(seed: SecretBytes(copying: [UInt8](seed))),
                      let signature = try? Signature(bytes: [UInt8](delegation)),
                      let deviceKey = try? VerifyingKey(bytes: [UInt8](device)),
                      SyncDelegation.isValid(signature, delegate: key.verifyingKey, device: deviceKey) else {
                    throw StoreError.corrupt("the sync daemon's credential")
                }
                return SyncCredential(device: deviceKey, key: key, delegation: signature)
            }
        } catch {
            throw Store.classify(error, doing: "read the sync credential", home: home)
        }
    }
}

extension UnlockedStore {
    /// Makes the daemon's credential if this store has none yet (stores made before `duetd`).
    public func ensureSyncCredential() throws(StoreError) {
        guard try store.syncCredential() == nil else { return }
        let key = SigningKey.generate()
        let delegation = SyncDelegation.sign(delegate: key.verifyingKey, by: keystore.device)
        do {
            try store.database.write { db in
                for (name, value) in [("sync_key", key.seed.withUnsafeBytes { Data($0) }), ("sync_delegation", Data(delegation.bytes)),
                                      ("device_key", Data(keystore.device.verifyingKey.bytes))] {
                    try db.execute(sql: "INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                                   arguments: [name, value])
                }
            }
        } catch {
            throw Store.classify(error, doing: "save the sync credential", home: store.home)
        }
    }
}
