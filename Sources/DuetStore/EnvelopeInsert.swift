import Foundation
import GRDB
internal import GRDBSQLite

/// The insert every received envelope goes through, bound through SQLite's C API: the bytes are
/// bound in place (no `Data` copy, no `StatementArguments` boxing), which halves the cost of
/// the store's append next to raw SQLite (`duet-bench sqlite`). Errors come back as GRDB's
/// `DatabaseError`, so `Store.classify` still says "the disk is full" when it is.
struct EnvelopeInsert {
    private let statement: Statement

    init(_ db: GRDB.Database) throws {
        statement = try db.cachedStatement(sql: "INSERT INTO envelopes (space, device, seq, hash, bytes, pushed) VALUES (?, ?, ?, ?, ?, 1)")
    }

    func execute(space: [UInt8], device: [UInt8], seq: UInt64, hash: [UInt8], bytes: [UInt8]) throws {
        let handle = statement.sqliteStatement
        // SQLITE_STATIC (no destructor): each buffer is pinned until the step has run.
        let code = space.withUnsafeBytes { space in
            device.withUnsafeBytes { device in
                hash.withUnsafeBytes { hash in
                    bytes.withUnsafeBytes { bytes in
                        sqlite3_bind_blob(handle, 1, space.baseAddress, Int32(space.count), nil)
                        sqlite3_bind_blob(handle, 2, device.baseAddress, Int32(device.count), nil)
                        sqlite3_bind_int64(handle, 3, Int64(seq))
                        sqlite3_bind_blob(handle, 4, hash.baseAddress, Int32(hash.count), nil)
                        sqlite3_bind_blob(handle, 5, bytes.baseAddress, Int32(bytes.count), nil)
                        let code = sqlite3_step(handle)
                        sqlite3_reset(handle)
                        sqlite3_clear_bindings(handle)
                        return code
                    }
                }
            }
        }
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "could not store an envelope")
        }
    }
}
