public import DuetCore
import Foundation
import GRDB

/// Threads: the entries that answer an entry, found through the clear `reply_to` column
/// (migration v4-reply-to) instead of opening every snapshot.
extension UnlockedStore {
    /// The entries whose replyTo names one of `parents`, each with its space, whatever their
    /// state (deleted too: the caller decides); an entry naming itself is not among its own
    /// replies. Rows saved before the column existed are opened and checked as well, so the
    /// answer is whole before ``indexReplies()`` has run.
    public func replies(to parents: [EntryID]) throws(StoreError) -> [(entry: Entry, kind: SpaceKind)] {
        guard !parents.isEmpty else { return [] }
        let wanted = Set(parents)
        do {
            return try store.database.read { db in
                let spaces = try Store.spaces(db)
                let kinds = Dictionary(spaces.map { (Data($0.id.bytes), $0.kind) }) { first, _ in first }
                var found: [(entry: Entry, kind: SpaceKind)] = []
                var seen = Set<Data>()
                // At most 500 ids per statement: SQLite's bound-parameter limit is far above,
                // and a list shows at most what it was asked for.
                var rows: [Row] = []
                for chunk in stride(from: 0, to: parents.count, by: 500).map({ Array(parents[$0..<min($0 + 500, parents.count)]) }) {
                    let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
                    rows += try Row.fetchAll(db, sql: "SELECT id, space, snapshot FROM entries WHERE reply_to IN (\(marks))",
                                             arguments: StatementArguments(chunk.map { Data($0.bytes) }))
                }
                rows += try Row.fetchAll(db, sql: "SELECT id, space, snapshot FROM entries WHERE reply_known = 0")
                for row in rows {
                    let id: Data = row["id"], space: Data = row["space"], snapshot: Data = row["snapshot"]
                    guard seen.insert(id).inserted else { continue }
                    let entry = try openSnapshot(id: [UInt8](id), space: [UInt8](space), sealed: [UInt8](snapshot))
                    // Checked on the opened entry, not the column alone: the snapshot is what is shown.
                    guard let target = entry.replyTo.value ?? nil, wanted.contains(target), target != entry.id else { continue }
                    found.append((entry, kinds[space] ?? .personal))
                }
                return found
            }
        } catch {
            throw Store.classify(error, doing: "read the replies")
        }
    }

    /// Fills in `reply_to` for rows saved before the column existed, once (a read finds none
    /// afterwards, so a read-only home is never written to when there is nothing to do).
    public func indexReplies() throws(StoreError) {
        do {
            let unknown = try store.database.read { db in
                try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM entries WHERE reply_known = 0)") ?? false
            }
            guard unknown else { return }
            try store.database.write { db in
                let rows = try Row.fetchAll(db, sql: "SELECT id, space, snapshot FROM entries WHERE reply_known = 0")
                for row in rows {
                    let id: Data = row["id"], space: Data = row["space"], snapshot: Data = row["snapshot"]
                    let entry = try openSnapshot(id: [UInt8](id), space: [UInt8](space), sealed: [UInt8](snapshot))
                    let replyTo = (entry.replyTo.value ?? nil).map { Data($0.bytes) }
                    try db.execute(sql: "UPDATE entries SET reply_to = ?, reply_known = 1 WHERE id = ?", arguments: [replyTo, id])
                }
            }
        } catch {
            throw Store.classify(error, doing: "index the replies", home: store.home)
        }
    }
}
