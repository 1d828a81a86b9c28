import Foundation
import Testing
import DuetCore
import DuetTesting

/// Replicas editing every field through a hostile network converge to identical bytes.
@Suite("Convergence")
struct ConvergenceTests {
    /// History lengths of the ladder; every one runs for 50 seeds in CI.
    static let ladder = [10, 100, 500, 2_000]
    static let seeds = 50

    static func run(seed: UInt64, steps: Int) -> TestNetwork {
        var random = SeededRandom(seed: seed)
        var network = TestNetwork(replicaCount: 2 + Int(seed % 4), seed: seed)
        for _ in 0..<steps {
            if random.chance(60) {
                let who = random.below(network.replicas.count)
                network.edit(who, entry: random.pick(RandomEdits.entries)) { RandomEdits.edit(&$0, &random) }
            }
            network.step()
        }
        network.flush()
        return network
    }

    @Test("2–5 replicas converge byte for byte after flush", arguments: ladder)
    func ladderOfHistories(steps: Int) {
        for seed in 0..<UInt64(Self.seeds) {
            let network = Self.run(seed: seed &* 7919 &+ UInt64(steps), steps: steps)
            let states = network.replicas.map(\.journal.canonicalState)
            #expect(Set(states).count == 1, "\(network) after \(steps) steps")
            for replica in network.replicas {
                #expect(replica.journal.pendingCount == 0, "\(network)")
                for entry in replica.journal.entries.values {
                    #expect(entry.body.invariantViolation == nil, "\(network)")
                }
            }
        }
    }

    @Test("The network really misbehaved: drops, duplicates and reconnects happened")
    func networkIsHostile() {
        let network = Self.run(seed: 42, steps: 2_000)
        #expect(network.dropped > 0)
        #expect(network.duplicated > 0)
        #expect(network.reconnects > 0)
        let entries = network.replicas[0].journal.entries.values
        #expect(entries.count == RandomEdits.entries.count)
        #expect(entries.contains { $0.body.count > 50 }, "bodies grew")
        #expect(entries.contains { $0.title.history.count > 5 }, "titles were rewritten")
    }

    @Test("Sequential editing through the network matches a plain array of scalars")
    func sequentialOracle() {
        for seed in 0..<UInt64(20) {
            var random = SeededRandom(seed: seed)
            var network = TestNetwork(replicaCount: 3, seed: seed)
            var oracle: [Unicode.Scalar] = []
            let entry = RandomEdits.entries[0]
            for step in 0..<300 {
                // One replica at a time, fully synced before the next edit: no concurrency.
                let who = random.below(3)
                let length = oracle.count
                network.edit(who, entry: entry) { editor in
                    if editor.entry.creation == nil { editor.create() }
                    if length > 0, random.chance(35) {
                        let position = random.below(length)
                        let count = 1 + random.below(min(3, length - position))
                        editor.deleteText(at: position, count: count)
                        oracle.removeSubrange(position..<position + count)
                    } else {
                        let position = random.below(length + 1)
                        let text = RandomEdits.scalars(&random, count: 1 + random.below(3))
                        editor.insertText(text, at: position)
                        oracle.insert(contentsOf: text, at: position)
                    }
                }
                network.flush()
                for replica in network.replicas {
                    #expect(replica.journal.entries[entry]?.body.scalars == oracle, "\(network) step \(step)")
                }
            }
        }
    }

    @Test("Long soak (DUET_SOAK_SECONDS, off by default)")
    func soak() throws {
        guard let seconds = ProcessInfo.processInfo.environment["DUET_SOAK_SECONDS"].flatMap(Double.init) else { return }
        let deadline = Date().addingTimeInterval(seconds)
        var seed = UInt64(Date().timeIntervalSince1970)
        while Date() < deadline {
            let network = Self.run(seed: seed, steps: 5_000)
            let states = Set(network.replicas.map(\.journal.canonicalState))
            #expect(states.count == 1, "\(network)")
            if states.count != 1 { return }
            seed &+= 1
        }
    }
}
