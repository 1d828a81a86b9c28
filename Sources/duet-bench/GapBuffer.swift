import DuetTesting

/// The floor for replaying a sequential trace: a plain gap buffer of scalars, no CRDT, no ids,
/// no history (`../shared/traces/README.md` measured one in Swift at ~2.9 ms for
/// automerge-paper). `duet-bench trace` replays it in the same process as Duet, each run.
struct GapBuffer {
    private var storage: [Unicode.Scalar]
    private var gapStart = 0
    private var gapEnd: Int

    init(capacity: Int = 1 << 16) {
        storage = Array(repeating: " ", count: capacity)
        gapEnd = capacity
    }

    var count: Int { storage.count - (gapEnd - gapStart) }

    private mutating func moveGap(to position: Int) {
        if position < gapStart {
            let moved = gapStart - position
            storage.withUnsafeMutableBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                (base + gapEnd - moved).update(from: base + position, count: moved)
            }
            gapStart -= moved; gapEnd -= moved
        } else if position > gapStart {
            let moved = position - gapStart
            storage.withUnsafeMutableBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                (base + gapStart).update(from: base + gapEnd, count: moved)
            }
            gapStart += moved; gapEnd += moved
        }
    }

    private mutating func grow(toFit extra: Int) {
        guard gapEnd - gapStart < extra else { return }
        let tail = storage.count - gapEnd
        let newCapacity = max(storage.count * 2, count + extra + 1024)
        var grown = Array(repeating: Unicode.Scalar(" "), count: newCapacity)
        grown.replaceSubrange(0..<gapStart, with: storage[0..<gapStart])
        grown.replaceSubrange(newCapacity - tail..<newCapacity, with: storage[gapEnd...])
        gapEnd = newCapacity - tail
        storage = grown
    }

    mutating func replace(at position: Int, deleting deleteCount: Int, inserting scalars: [Unicode.Scalar]) {
        moveGap(to: position)
        gapEnd += deleteCount
        grow(toFit: scalars.count)
        let start = gapStart
        storage.withUnsafeMutableBufferPointer { buffer in
            scalars.withUnsafeBufferPointer { source in
                guard let base = buffer.baseAddress, let from = source.baseAddress else { return }
                (base + start).update(from: from, count: source.count)
            }
        }
        gapStart += scalars.count
    }

    var string: String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: storage[0..<gapStart])
        view.append(contentsOf: storage[gapEnd...])
        return String(view)
    }

    /// Replays every patch of a sequential trace.
    static func replay(_ trace: EditingTrace) -> GapBuffer {
        var buffer = GapBuffer()
        for transaction in trace.transactions {
            for patch in transaction.patches {
                buffer.replace(at: patch.position, deleting: patch.deleteCount, inserting: patch.insert)
            }
        }
        return buffer
    }
}
