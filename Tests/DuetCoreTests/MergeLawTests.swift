import Testing
import DuetCore
import DuetTesting

/// The CRDT laws, stated over replicas that merge by receiving each other's changes:
/// merge is commutative, associative and idempotent, compared as canonical bytes.
/// Each law runs on 1,000 generated histories.
@Suite("Merge laws")
struct MergeLawTests {
    static let cases = 1_000

    /// Three replicas that each made a few concurrent edits, some after partial exchanges, so
    /// that their logs overlap, are concurrent, and depend on each other.
    static func histories(seed: UInt64) -> (ReplicaLog, ReplicaLog, ReplicaLog) {
        var random = SeededRandom(seed: seed)
        var network = TestNetwork(replicaCount: 3, seed: seed)
        var logs = [ReplicaLog(), ReplicaLog(), ReplicaLog()]
        for _ in 0..<(2 + random.below(8)) {
            let who = random.below(3)
            let change = network.edit(who, entry: random.pick(RandomEdits.entries)) { editor in
                RandomEdits.edit(&editor, &random)
            }
            logs[who].receive([change])
            // Sometimes a replica hears what another did before editing on.
            if random.chance(40) {
                let to = random.below(3)
                if to != who { logs[to].receive([change]); network.deliverNow(change, to: to) }
            }
        }
        return (logs[0], logs[1], logs[2])
    }

    @Test("merge(a, b) == merge(b, a)")
    func commutative() {
        var nonTrivial = 0
        for seed in 0..<UInt64(Self.cases) {
            let (a, b, _) = Self.histories(seed: seed)
            let ab = a.merged(with: b).canonicalState
            #expect(ab == b.merged(with: a).canonicalState, "seed \(seed)")
            if ab != a.canonicalState && ab != b.canonicalState { nonTrivial += 1 }
        }
        // The generator must produce real concurrency, or the law is tested on nothing.
        #expect(nonTrivial > Self.cases / 2, "only \(nonTrivial) cases had both sides contribute")
    }

    @Test("merge(merge(a, b), c) == merge(a, merge(b, c))")
    func associative() {
        for seed in 0..<UInt64(Self.cases) {
            let (a, b, c) = Self.histories(seed: seed &+ 1_000_000)
            #expect(a.merged(with: b).merged(with: c).canonicalState
                    == a.merged(with: b.merged(with: c)).canonicalState, "seed \(seed)")
        }
    }

    @Test("merge(a, a) == a, and receiving anything twice changes nothing")
    func idempotent() {
        for seed in 0..<UInt64(Self.cases) {
            let (a, b, _) = Self.histories(seed: seed &+ 2_000_000)
            #expect(a.merged(with: a).canonicalState == a.canonicalState, "seed \(seed)")
            let ab = a.merged(with: b)
            #expect(ab.merged(with: b).merged(with: a).canonicalState == ab.canonicalState, "seed \(seed)")
        }
    }

    @Test("Any delivery order of the same changes gives the same bytes")
    func anyOrder() {
        for seed in 0..<UInt64(200) {
            let (a, b, c) = Self.histories(seed: seed &+ 3_000_000)
            let all = a.log + b.log + c.log
            var random = SeededRandom(seed: seed)
            let reference = ReplicaLog(all).canonicalState
            for _ in 0..<5 {
                var shuffled = all + all.filter { _ in random.chance(30) }
                shuffled.shuffle(using: &random)
                #expect(ReplicaLog(shuffled).canonicalState == reference, "seed \(seed)")
            }
        }
    }
}
