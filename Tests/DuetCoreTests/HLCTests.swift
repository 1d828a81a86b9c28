import Testing
import DuetCore
import DuetTesting

@Suite("Hybrid logical clock")
struct HLCTests {
    @Test("Readings strictly increase whatever the wall clock does (1,000 generated runs)")
    func monotonic() {
        for seed in 0..<1_000 {
            var random = SeededRandom(seed: UInt64(seed))
            var clock = HybridLogicalClock()
            var wall: UInt64 = 1_700_000_000_000
            var last = HLC.zero
            for _ in 0..<50 {
                switch random.below(4) {
                case 0: wall += UInt64(random.below(1000))
                case 1: wall -= UInt64(random.below(5000))  // the wall clock steps back
                case 2:
                    let remote = HLC(milliseconds: wall + UInt64(random.below(10_000)), counter: UInt16(random.below(100)))
                    clock.receive(remote, now: wall)
                    let next = clock.tick(now: wall)
                    #expect(next > remote, "seed \(seed): a reading after receiving orders after it")
                    #expect(next > last)
                    last = next
                    continue
                default: break
                }
                let next = clock.tick(now: wall)
                #expect(next > last, "seed \(seed)")
                last = next
            }
        }
    }

    @Test("The counter carries into the next millisecond instead of wrapping")
    func counterCarry() {
        var clock = HybridLogicalClock(last: HLC(milliseconds: 5, counter: .max))
        let next = clock.tick(now: 5)
        #expect(next == HLC(milliseconds: 6, counter: 0))
    }

    @Test("A remote clock more than a day ahead is reported and not adopted")
    func clampFarFuture() {
        var clock = HybridLogicalClock()
        let now: UInt64 = 1_767_225_600_000
        let poisoned = HLC(milliseconds: now + 400 * 86_400_000, counter: 0)
        let outcome = clock.receive(poisoned, now: now)
        #expect(outcome == .clampedAhead(milliseconds: 400 * 86_400_000))
        #expect(clock.tick(now: now) < poisoned)
        #expect(clock.receive(HLC(milliseconds: now + 3_600_000, counter: 0), now: now) == .accepted)
    }

    @Test("A poisoned clock wins a register only against concurrent writes, never against the next edit")
    func poisonedClockLosesToCausalSuccessor() {
        let now: UInt64 = 1_767_225_600_000
        let honest = DeviceID(high: 1, low: 0), liar = DeviceID(high: 2, low: 0)
        let id = EntryID(high: 9, low: 9)
        var a = Journal(), b = Journal()
        let create = a.commit(entry: id, by: honest, at: HLC(milliseconds: now, counter: 0)) { $0.create(); $0.setTitle("ours") }
        b.receive(create)
        let poisoned = b.commit(entry: id, by: liar, at: HLC(milliseconds: now + 1000 * 86_400_000, counter: 0)) { $0.setTitle("forever mine") }
        a.receive(poisoned)
        #expect(a.entries[id]?.title.value == "forever mine")
        // The honest device saw it and edits again with its ordinary clock: it wins.
        let fix = a.commit(entry: id, by: honest, at: HLC(milliseconds: now + 1, counter: 0)) { $0.setTitle("ours again") }
        b.receive(fix)
        #expect(a.entries[id]?.title.value == "ours again")
        #expect(b.entries[id]?.title.value == "ours again")
        #expect(a.entries[id]?.title.history.map(\.value) == ["ours", "ours again", "forever mine"], "nothing lost")
    }
}
