import DuetCore
import Testing

/// `Journal.receive(_:clock:now:)`: the one receive the store's ingest and the test network
/// share (issue #15 item 3).
@Suite("Receiving into journal and clock")
struct JournalClockTests {
    static let now: UInt64 = 1_767_225_600_000
    static let author = DeviceID(high: 1, low: 0), reader = DeviceID(high: 2, low: 0)

    static func change(at milliseconds: UInt64, entry: UInt64 = 1) -> Change {
        var journal = Journal()
        return journal.commit(entry: EntryID(high: entry, low: 0), by: author, at: HLC(milliseconds: milliseconds, counter: 0)) { $0.create() }
    }

    @Test("The change is applied and the clock moves past it")
    func appliesAndAdvances() {
        var journal = Journal(), clock = HybridLogicalClock()
        let change = Self.change(at: Self.now + 2_000)
        let received = journal.receive(change, clock: &clock, now: Self.now)
        #expect(received.outcome == .applied)
        #expect(received.applied == [change.dot])
        #expect(received.clock == .accepted)
        #expect(clock.tick(now: Self.now) > change.hlc)
    }

    @Test("A change dated more than a day ahead is applied, but the clock does not follow and says so")
    func farAheadIsClamped() {
        var journal = Journal(), clock = HybridLogicalClock()
        let change = Self.change(at: Self.now + 3 * 86_400_000)
        let received = journal.receive(change, clock: &clock, now: Self.now)
        #expect(received.outcome == .applied, "nothing is lost")
        #expect(received.clock == .clampedAhead(milliseconds: 3 * 86_400_000))
        #expect(clock.tick(now: Self.now) < change.hlc)
    }

    @Test("A change received again leaves the clock alone and reports nothing")
    func duplicateIsNotNews() {
        var journal = Journal(), clock = HybridLogicalClock()
        let change = Self.change(at: Self.now + 3 * 86_400_000)
        journal.receive(change, clock: &clock, now: Self.now)
        let before = clock
        let again = journal.receive(change, clock: &clock, now: Self.now)
        #expect(again.outcome == .duplicate)
        #expect(again.clock == .accepted)
        #expect(clock == before)
    }
}
