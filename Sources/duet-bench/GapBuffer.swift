import DuetTesting

/// The floor for replaying a sequential trace: a plain gap buffer of scalars, no CRDT, no ids,
/// no history (`../shared/traces/README.md` measured one in Swift at ~2.9 ms for
/// automerge-paper). `duet-bench trace` replays it in the same process as Duet, each run.
/// Written to be as fast as a gap buffer gets (raw memory, moves by memmove), so that "Duet is
/// N× the floor" does not flatter Duet.
final class GapBuffer {
    private var storage: UnsafeMutablePointer<Unicode.Scalar>
    private var capacity: Int
    private var gapStart = 0
    private var gapEnd: Int

    init(capacity: Int = 1 << 16) {
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
        gapEnd = capacity
    }

    deinit { storage.deallocate() }

    var count: Int { capacity - (gapEnd - gapStart) }

    private func moveGap(to position: Int) {
        if position < gapStart {
            let moved = gapStart - position
            (storage + gapEnd - moved).update(from: storage + position, count: moved)
            gapStart -= moved
            gapEnd -= moved
        } else if position > gapStart {
            let moved = position - gapStart
            (storage + gapStart).update(from: storage + gapEnd, count: moved)
            gapStart += moved
            gapEnd += moved
        }
    }

    private func grow(toFit extra: Int) {
        guard gapEnd - gapStart < extra else { return }
        let tail = capacity - gapEnd
        let newCapacity = max(capacity * 2, count + extra + 1024)
        let grown = UnsafeMutablePointer<Unicode.Scalar>.allocate(capacity: newCapacity)
        grown.initialize(from: storage, count: gapStart)
        (grown + newCapacity - tail).initialize(from: storage + gapEnd, count: tail)
        storage.deallocate()
        storage = grown
        gapEnd = newCapacity - tail
        capacity = newCapacity
    }

    func replace(at position: Int, deleting deleteCount: Int, inserting scalars: [Unicode.Scalar]) {
        moveGap(to: position)
        gapEnd += deleteCount
        grow(toFit: scalars.count)
        let start = gapStart
        scalars.withUnsafeBufferPointer { source in
            guard let from = source.baseAddress else { return }
            (storage + start).initialize(from: from, count: source.count)
        }
        gapStart += scalars.count
    }

    var string: String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: UnsafeBufferPointer(start: storage, count: gapStart))
        view.append(contentsOf: UnsafeBufferPointer(start: storage + gapEnd, count: capacity - gapEnd))
        return String(view)
    }

    /// Replays every patch of a sequential trace.
    static func replay(_ trace: EditingTrace) -> GapBuffer {
        let buffer = GapBuffer()
        for transaction in trace.transactions {
            for patch in transaction.patches {
                buffer.replace(at: patch.position, deleting: patch.deleteCount, inserting: patch.insert)
            }
        }
        return buffer
    }
}
