import DuetCore
import DuetCrypto
import DuetWire
import Foundation
import Testing
@testable import DuetStore

/// DESIGN §4 and §5: a device receiving a change advances its own clock past it, except that a
/// remote clock far ahead of local time (more than a day) is clamped and reported, so a poisoned
/// clock cannot win every last-writer-wins register forever. Through the store, the path `duet`
/// and `duetd` run (issue #15 item 3: only the test network did this before).
@Suite("Clock skew between partners")
struct ClockSkewTests {
    static let day: UInt64 = 24 * 60 * 60 * 1000

    @Test("A partner's change dated far in the future is applied, its clock is not adopted, and the person is warned")
    func farFutureClockIsClampedAndReported() throws {
        let couple = try PairedStores()
        let now = WallClock.milliseconds
        let poisoned = try couple.alex.unlocked.commit(entry: EntryID(high: 7, low: 1), in: .couple, now: now + 30 * Self.day) {
            $0.create(); $0.insertText(Array("from the future".unicodeScalars), at: 0)
        }
        #expect(try couple.deliver(from: couple.alex, to: couple.sam).stored == 1)
        #expect(try couple.sam.unlocked.materialise().count == 1, "the change itself is applied: nothing is lost")
        #expect(try couple.sam.unlocked.entry(poisoned.entry)?.body.string == "from the future")
        let warnings = try couple.sam.store.warnings()
        #expect(warnings.contains { $0.contains("Alex") && $0.contains("ahead of this device's clock") }, "\(warnings)")
        // Not adopted: Sam's next change is dated by Sam's clock, not after the poisoned one.
        let next = try couple.sam.unlocked.commit(entry: EntryID(high: 7, low: 2), in: .couple, now: now) { $0.create() }
        #expect(next.hlc < poisoned.hlc)
        #expect(next.hlc.milliseconds >= now)
    }

    @Test("A partner's clock a few seconds ahead is adopted: the next local change orders after it, and nothing is reported")
    func honestSkewIsAdoptedQuietly() throws {
        let couple = try PairedStores()
        let now = WallClock.milliseconds
        let ahead = try couple.alex.unlocked.commit(entry: EntryID(high: 8, low: 1), in: .couple, now: now + 5_000) { $0.create() }
        #expect(try couple.deliver(from: couple.alex, to: couple.sam).stored == 1)
        #expect(try couple.sam.unlocked.materialise().count == 1)
        #expect(try couple.sam.store.warnings().isEmpty)
        let next = try couple.sam.unlocked.commit(entry: EntryID(high: 8, low: 2), in: .couple, now: now) { $0.create() }
        #expect(next.hlc > ahead.hlc, "the local clock advanced past the received change")
    }
}
