import DuetCrypto
import Testing
@testable import DuetRelay

/// A migration that shipped is never edited: a database a relay already brought to it would not
/// run it again, and would miss whatever the edit added (the append fast path's functions were
/// first written into v2 after v2 had landed; they are v3). Each shipped migration's text is
/// recorded here by its digest when it lands; a change to one fails this test, a new migration
/// at the end is recorded when it ships.
@Suite("PostgreSQL migrations: shipped ones unchanged")
struct PostgresMigrationsFrozenTests {
    /// The BLAKE2b of each shipped migration's name, statements and functions.
    static let shipped: [(name: String, digest: String)] = [
        ("v1", "2d2f2fff2e3dfc228beb53f5d94af1371fc742f5bab27b8c8a6e2731fdbe87ed"),
        ("v2", "6de7dfc3bf4cefc6178415557fa8c9f2db251b13c667d157d27d9c631fa9ef90"),
        ("v3", "d502bb215c6211a30b648651b5d58b40142e6045ef44f6c5ad75623a38ad0e88"),
    ]

    static func digest(_ migration: (name: String, sql: String, functions: [String])) -> String {
        let text = ([migration.name, migration.sql] + migration.functions).joined(separator: "\u{0}")
        return Hash.digest(Array(text.utf8)).description
    }

    @Test("every shipped migration is as it shipped, in its place")
    func shippedMigrationsUnchanged() {
        let all = PostgresMigrations.all
        #expect(all.count >= Self.shipped.count)
        for (index, shipped) in Self.shipped.enumerated() where index < all.count {
            #expect(all[index].name == shipped.name)
            #expect(Self.digest(all[index]) == shipped.digest, "migration \(shipped.name) was edited after it shipped: add a new one instead")
        }
    }

    @Test("names are unique and in order")
    func namesInOrder() {
        let names = PostgresMigrations.all.map(\.name)
        #expect(names == names.indices.map { "v\($0 + 1)" })
    }
}
