/// For one agent: which chunk holds each of its scalars, as runs of counters.
///
/// Entry i covers counters `starts[i] ..< starts[i + 1]` (the last one up to the agent's count),
/// all held by `chunks[i]`. New scalars always get the agent's next counter, so the common
/// update is an append; chunk splits reassign ranges in the middle.
struct IDIndex {
    private(set) var starts: [UInt32] = []
    private(set) var chunks: [Chunk] = []

    /// The chunk holding `counter`, which must be below the agent's count.
    func chunk(for counter: UInt32) -> Chunk? {
        // Last entry whose start ≤ counter.
        var low = 0, high = starts.count
        while low < high {
            let mid = (low + high) / 2
            if starts[mid] <= counter { low = mid + 1 } else { high = mid }
        }
        return low == 0 ? nil : chunks[low - 1]
    }

    /// Records that the agent's next scalars, from `counter` on, live in `chunk`.
    mutating func append(from counter: UInt32, in chunk: Chunk) {
        if let last = chunks.last, last === chunk { return }
        starts.append(counter)
        chunks.append(chunk)
    }

    /// Records that counters `range` now live in `chunk`. `count` is the agent's number of scalars.
    mutating func assign(_ range: Range<UInt32>, to chunk: Chunk, count: UInt32) {
        guard !range.isEmpty else { return }
        let after: Chunk? = range.upperBound < count ? self.chunk(for: range.upperBound) : nil
        let low = firstIndex(atLeast: range.lowerBound)
        let high = firstIndex(atLeast: range.upperBound + 1)
        // Entries low..<high start inside the range; they give way to at most two: the range
        // itself (unless the entry before already names `chunk`) and what follows it.
        let first: (UInt32, Chunk)? = low == 0 || chunks[low - 1] !== chunk ? (range.lowerBound, chunk) : nil
        let second: (UInt32, Chunk)? = after.flatMap { $0 !== chunk ? (range.upperBound, $0) : nil }
        let replacement = (first == nil ? 0 : 1) + (second == nil ? 0 : 1)
        // Make room (or close the gap) once, then write in place: no temporary arrays (a chunk
        // split reassigns every span it moves).
        let existing = high - low
        if replacement > existing {
            let extra = replacement - existing
            starts.insert(contentsOf: repeatElement(0, count: extra), at: high)
            chunks.insert(contentsOf: repeatElement(chunk, count: extra), at: high)
        } else if replacement < existing {
            starts.removeSubrange(low + replacement..<high)
            chunks.removeSubrange(low + replacement..<high)
        }
        var slot = low
        if let (start, owner) = first {
            starts[slot] = start
            chunks[slot] = owner
            slot += 1
        }
        if let (start, owner) = second {
            starts[slot] = start
            chunks[slot] = owner
        }
        // Drop an entry made redundant by an equal neighbour after the replacement.
        let end = low + replacement
        if end < chunks.count, end > 0, chunks[end] === chunks[end - 1] {
            starts.remove(at: end)
            chunks.remove(at: end)
        }
    }

    private func firstIndex(atLeast value: UInt32) -> Int {
        var low = 0, high = starts.count
        while low < high {
            let mid = (low + high) / 2
            if starts[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

extension IDIndex {
    /// Every agent's index at once, from the chunks as they are (a rebuilt or copied body):
    /// each agent's spans sorted by counter, neighbours in one chunk merged into one entry.
    /// Nil unless the spans place each agent's scalars `0 ..< counts[agent]` exactly once.
    ///
    /// Linear after one sort, where assigning span by span moved the arrays' tails each time.
    static func build(chunks: [Chunk], counts: [Int]) -> [IDIndex]? {
        // Plain values to sort (no references to retain while sorting).
        var runs = Array(repeating: [(start: UInt32, end: UInt32, chunk: Int)](), count: counts.count)
        for (position, chunk) in chunks.enumerated() {
            for span in chunk.spans {
                let agent = Int(span.agent)
                guard agent < runs.count else { return nil }
                runs[agent].append((span.counter, span.end, position))
            }
        }
        var indexes: [IDIndex] = []
        indexes.reserveCapacity(counts.count)
        for (agent, var list) in runs.enumerated() {
            list.sort { $0.start < $1.start }
            var index = IDIndex()
            var next: UInt32 = 0
            var lastChunk = -1
            for run in list {
                guard run.start == next else { return nil }
                next = run.end
                if run.chunk != lastChunk {
                    index.starts.append(run.start)
                    index.chunks.append(chunks[run.chunk])
                    lastChunk = run.chunk
                }
            }
            guard next == UInt32(counts[agent]) else { return nil }
            indexes.append(index)
        }
        return indexes
    }
}
