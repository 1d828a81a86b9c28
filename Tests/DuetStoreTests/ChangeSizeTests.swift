import DuetCore
import DuetCrypto
import Foundation
import Testing
@testable import DuetStore

/// A change is sealed only if every other replica's decoder takes it (found by the adversarial
/// review): the core makes one delete per piece of text whose counters do not run on, so an
/// edit of a body typed (by a partner, say) one character at a time at its start can make more
/// operations than one change may carry. Sealed anyway, every other device refused it and the
/// copies diverged for good. The store refuses it instead, and writes nothing.
@Suite("Changes too large to send")
struct ChangeSizeTests {
    static let t0: UInt64 = 1_767_225_600_000

    @Test("An edit past the operation limit is refused whole; the entry, its seq and the next edit are as before")
    func operationLimit() throws {
        let (store, unlocked) = try Store.create(home: StoreTests.temporaryHome(), name: "A", deviceName: "laptop",
                                                 passphrase: IngestTests.passphrase, parameters: StoreTests.weakestAllowed, now: Self.t0)
        let id = EntryID(high: 3, low: 4)
        // Two changes within the limit, each character typed at the start: 70,000 pieces.
        _ = try unlocked.commit(entry: id, now: Self.t0) { editor in
            editor.create()
            for _ in 0..<35_000 { editor.insertText(["x"], at: 0) }
        }
        let second = try unlocked.commit(entry: id, now: Self.t0 + 1) { editor in
            for _ in 0..<35_000 { editor.insertText(["y"], at: 0) }
        }
        #expect(second.operations.count <= ChangeLimits.maximumOperations)

        #expect {
            _ = try unlocked.commit(entry: id, now: Self.t0 + 2) { editor in
                editor.replaceBody(with: Array("We talked it through.".unicodeScalars))
            }
        } throws: { ($0 as? StoreError)?.code == .changeTooLarge }
        #expect(try unlocked.entry(id)?.body.string.count == 70_000)
        // Nothing was sealed: the next change takes the next seq, and it is readable everywhere.
        let next = try unlocked.commit(entry: id, now: Self.t0 + 3) { editor in editor.insertText(Array("!".unicodeScalars), at: 0) }
        #expect(next.seq == second.seq + 1)
        #expect(throws: Never.self) { _ = try ChangeCodec.decode(ChangeCodec.encode(next)) }
        _ = store
    }
}
