import Testing
@testable import DuetCore

@Suite("Text CRDT")
struct TextCRDTTests {
    static let alice = DeviceID(high: 1, low: 1)
    static let bob = DeviceID(high: 2, low: 2)

    @Test("Sequential random edits match a plain array of scalars after every step")
    func sequentialAgainstOracle() throws {
        for seed in 0..<20 {
            var random = SplitMix64(seed: UInt64(seed))
            let text = TextCRDT()
            var oracle: [Unicode.Scalar] = []
            for step in 0..<600 {
                if oracle.isEmpty || random.next(upperBound: 3) > 0 {
                    let position = Int(random.next(upperBound: UInt64(oracle.count + 1)))
                    let scalars = randomScalars(&random, count: 1 + Int(random.next(upperBound: 4)))
                    _ = text.localInsert(at: position, scalars, by: Self.alice)
                    oracle.insert(contentsOf: scalars, at: position)
                } else {
                    let position = Int(random.next(upperBound: UInt64(oracle.count)))
                    let count = 1 + Int(random.next(upperBound: UInt64(min(5, oracle.count - position))))
                    _ = text.localDelete(at: position, count: count)
                    oracle.removeSubrange(position..<position + count)
                }
                #expect(text.scalars == oracle, "seed \(seed) step \(step)")
                if let violation = text.invariantViolation() {
                    Issue.record("seed \(seed) step \(step): \(violation)")
                    return
                }
            }
        }
    }

    @Test("Two replicas editing concurrently converge after exchanging operations")
    func twoReplicasConverge() throws {
        for seed in 0..<40 {
            var random = SplitMix64(seed: UInt64(seed) &+ 1000)
            let a = TextCRDT(), b = TextCRDT()
            for _ in 0..<30 {
                // Both edit without seeing each other, then exchange.
                let opsA = randomEdits(a, by: Self.alice, &random, count: Int(random.next(upperBound: 6)))
                let opsB = randomEdits(b, by: Self.bob, &random, count: Int(random.next(upperBound: 6)))
                try replay(opsA, into: b)
                try replay(opsB, into: a)
                #expect(a.scalars == b.scalars, "seed \(seed)")
                #expect(a.invariantViolation() == nil && b.invariantViolation() == nil)
            }
        }
    }

    @Test("Concurrently typed words at one place appear whole, one after the other")
    func noInterleaving() throws {
        let a = TextCRDT(), b = TextCRDT()
        let base = a.localInsert(at: 0, Array("Dear  ,".unicodeScalars), by: Self.alice)
        try b.apply(base)
        var opsA: [TextOp] = [], opsB: [TextOp] = []
        // Each types a word one keystroke at a time at position 5.
        for (index, scalar) in "Sam".unicodeScalars.enumerated() {
            opsA.append(.insert(a.localInsert(at: 5 + index, [scalar], by: Self.alice)))
        }
        for (index, scalar) in "Alex".unicodeScalars.enumerated() {
            opsB.append(.insert(b.localInsert(at: 5 + index, [scalar], by: Self.bob)))
        }
        try replay(opsA, into: b)
        try replay(opsB, into: a)
        #expect(a.string == b.string)
        #expect(a.string == "Dear SamAlex ," || a.string == "Dear AlexSam ,", "got \(a.string)")
    }

    @Test("Concurrent typing backwards (prepending) does not interleave either")
    func noInterleavingBackwards() throws {
        let a = TextCRDT(), b = TextCRDT()
        try b.apply(a.localInsert(at: 0, Array("[]".unicodeScalars), by: Self.alice))
        var opsA: [TextOp] = [], opsB: [TextOp] = []
        for scalar in "olleh".unicodeScalars { opsA.append(.insert(a.localInsert(at: 1, [scalar], by: Self.alice))) }
        for scalar in "dlrow".unicodeScalars { opsB.append(.insert(b.localInsert(at: 1, [scalar], by: Self.bob))) }
        try replay(opsA, into: b)
        try replay(opsB, into: a)
        #expect(a.string == b.string)
        #expect(a.string == "[helloworld]" || a.string == "[worldhello]", "got \(a.string)")
    }

    @Test("Duplicate delivery changes nothing")
    func duplicates() throws {
        let a = TextCRDT(), b = TextCRDT()
        let insert = a.localInsert(at: 0, Array("safety".unicodeScalars), by: Self.alice)
        let deletes = a.localDelete(at: 1, count: 2)
        try b.apply(insert)
        for delete in deletes { try b.apply(delete) }
        try b.apply(insert)
        for delete in deletes { try b.apply(delete) }
        #expect(b.string == "sety")
        #expect(b.invariantViolation() == nil)
    }

    @Test("Operations with unknown origins or gaps are refused")
    func refusals() {
        let a = TextCRDT()
        let ghost = CharID(device: Self.bob, counter: 3)
        #expect(throws: TextError.unknownCharacter(ghost)) {
            try a.apply(TextInsert(id: CharID(device: Self.alice, counter: 0), originLeft: ghost, originRight: nil, scalars: ["x"]))
        }
        #expect(throws: TextError.counterOutOfSequence(expected: 0, got: 5)) {
            try a.apply(TextInsert(id: CharID(device: Self.alice, counter: 5), originLeft: nil, originRight: nil, scalars: ["x"]))
        }
        #expect(throws: TextError.unknownCharacter(ghost)) {
            try a.apply(TextDelete(start: ghost, count: 1))
        }
    }
}

enum TextOp {
    case insert(TextInsert)
    case delete(TextDelete)
}

func replay(_ ops: [TextOp], into text: TextCRDT) throws {
    for op in ops {
        switch op {
        case .insert(let insert): try text.apply(insert)
        case .delete(let delete): try text.apply(delete)
        }
    }
}

func randomEdits(_ text: TextCRDT, by device: DeviceID, _ random: inout SplitMix64, count: Int) -> [TextOp] {
    var ops: [TextOp] = []
    for _ in 0..<count {
        let length = text.visibleCount
        if length == 0 || random.next(upperBound: 3) > 0 {
            let position = Int(random.next(upperBound: UInt64(length + 1)))
            ops.append(.insert(text.localInsert(at: position, randomScalars(&random, count: 1 + Int(random.next(upperBound: 3))), by: device)))
        } else {
            let position = Int(random.next(upperBound: UInt64(length)))
            let count = 1 + Int(random.next(upperBound: UInt64(min(3, length - position))))
            ops += text.localDelete(at: position, count: count).map(TextOp.delete)
        }
    }
    return ops
}

/// Letters, an emoji, a combining mark and an astral CJK character, on purpose.
let testAlphabet: [Unicode.Scalar] = Array("abcdefghij ".unicodeScalars) + ["\u{1F60A}", "\u{0301}", "\u{20000}", "é"]

func randomScalars(_ random: inout SplitMix64, count: Int) -> [Unicode.Scalar] {
    (0..<count).map { _ in testAlphabet[Int(random.next(upperBound: UInt64(testAlphabet.count)))] }
}

/// A small seeded generator for tests (DuetTesting will provide the shared one).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func next(upperBound: UInt64) -> UInt64 { upperBound == 0 ? 0 : next() % upperBound }
}

@Suite("Non-interleaving, randomised")
struct NonInterleavingTests {
    /// 2–4 replicas each type a different word at the same place, forwards or backwards (by
    /// repeatedly inserting at the cursor's start), without seeing each other; after exchanging,
    /// every word must appear whole.
    @Test("Concurrently typed words never interleave (500 generated cases)")
    func wordsStayWhole() throws {
        let words = ["safety", "attune", "comfort", "delight"]
        for seed in 0..<500 {
            var random = SplitMix64(seed: UInt64(seed) &+ 77)
            let count = 2 + Int(random.next(upperBound: 3))
            let base = TextCRDT()
            let baseDevice = DeviceID(high: 99, low: 99)
            let prefix = base.localInsert(at: 0, Array("<>".unicodeScalars), by: baseDevice)
            var replicas: [TextCRDT] = []
            var opsByReplica: [[TextOp]] = []
            for index in 0..<count {
                let replica = TextCRDT()
                try replica.apply(prefix)
                let device = DeviceID(high: UInt64(index + 1) &* 0x1234_5678, low: random.next())
                let word = Array(words[index].unicodeScalars)
                var ops: [TextOp] = []
                if random.next(upperBound: 2) == 0 {
                    for (offset, scalar) in word.enumerated() {
                        ops.append(.insert(replica.localInsert(at: 1 + offset, [scalar], by: device)))
                    }
                } else {
                    for scalar in word.reversed() { ops.append(.insert(replica.localInsert(at: 1, [scalar], by: device))) }
                }
                replicas.append(replica)
                opsByReplica.append(ops)
            }
            for (index, replica) in replicas.enumerated() {
                for (other, ops) in opsByReplica.enumerated() where other != index { try replay(ops, into: replica) }
            }
            let result = replicas[0].string
            for replica in replicas { #expect(replica.string == result, "seed \(seed)") }
            for word in words.prefix(count) {
                #expect(result.contains(word), "seed \(seed): \(word) interleaved in \(result)")
            }
        }
    }
}
