/// The body of an entry: a sequence CRDT over Unicode scalars with FugueMax's non-interleaving
/// order (see INTERNALS.md for the algorithm and why it is FugueMax).
///
/// Storage: the document order is a list of ``Span``s cut into ``Chunk``s of at most
/// ``maximumSpansPerChunk``. Scalars themselves live once, per agent, in typing order
/// (`content[agent][counter]`), so a span is 32 bytes whatever its length and deleted text stays
/// available as history. An ``IDIndex`` per agent finds the chunk of any id; a cursor cache makes
/// the next edit near the last one cost O(1), which is how real editing behaves.
///
/// A reference type for speed; ``Body`` wraps it with value semantics (copy on write).
///
/// Its stored properties (and `Chunk`'s) are `@exclusivity(unchecked)`: Swift would otherwise
/// check every access to a class's property at run time, 10–15% of a keystroke's cost. That is
/// sound here because only this type's own methods touch them, none calls outside code while an
/// access is open, and nothing mutates a storage that is not uniquely referenced (`Body`).
final class TextCRDT {
    static let maximumSpansPerChunk = 64

    /// Devices that typed into this body, in order of first appearance (document-local).
    @exclusivity(unchecked) fileprivate(set) var agents: [DeviceID] = []
    @exclusivity(unchecked) fileprivate var agentIndex: [DeviceID: UInt32] = [:]
    /// Every scalar ever inserted, per agent, indexed by counter.
    @exclusivity(unchecked) fileprivate(set) var content: [[Unicode.Scalar]] = []
    @exclusivity(unchecked) fileprivate var index: [IDIndex] = []

    @exclusivity(unchecked) fileprivate(set) var chunks: [Chunk]
    @exclusivity(unchecked) fileprivate(set) var visibleCount = 0
    @exclusivity(unchecked) fileprivate(set) var totalCount = 0

    /// The chunk the last visible lookup ended in and the visible position where it starts.
    @exclusivity(unchecked) fileprivate var cursorChunk = 0
    @exclusivity(unchecked) fileprivate var cursorVisibleStart = 0

    init() {
        chunks = [Chunk(spans: [], position: 0)]
    }

    // MARK: - Agents and ids

    /// The last device looked up: local typing asks for the same device keystroke after
    /// keystroke, and comparing 16 bytes is cheaper than hashing them.
    @exclusivity(unchecked) fileprivate var lastAgent: (device: DeviceID, agent: UInt32)?

    func agent(for device: DeviceID) -> UInt32 {
        if let lastAgent, lastAgent.device == device { return lastAgent.agent }
        if let existing = existingAgent(for: device) {
            lastAgent = (device, existing)
            return existing
        }
        let new = UInt32(agents.count)
        agents.append(device)
        agentIndex[device] = new
        content.append([])
        index.append(IDIndex())
        return new
    }

    /// A body is typed by a handful of devices (a couple's phones and laptops): comparing a
    /// few 16-byte ids beats hashing one, which every remote operation's origins would pay.
    /// The table takes over for bodies with many authors. Reads only: safe on shared storage.
    func existingAgent(for device: DeviceID) -> UInt32? {
        if agents.count <= 8 {
            for (number, known) in agents.enumerated() where known == device { return UInt32(number) }
            return nil
        }
        return agentIndex[device]
    }

    /// The counter the next scalar typed by `device` gets.
    func nextCounter(for device: DeviceID) -> UInt32 {
        guard let agent = existingAgent(for: device) else { return 0 }
        return UInt32(content[Int(agent)].count)
    }

    func charID(_ ref: ItemRef) -> CharID? {
        ref.isNone ? nil : CharID(device: agents[Int(ref.agent)], counter: ref.counter)
    }

    /// The local reference for a remote id, if this replica has that scalar.
    func ref(for id: CharID?) throws(TextError) -> ItemRef {
        guard let id else { return .none }
        guard let agent = existingAgent(for: id.device), id.counter < UInt32(content[Int(agent)].count) else {
            throw .unknownCharacter(id)
        }
        return ItemRef(agent: agent, counter: id.counter)
    }

    // MARK: - Reading

    var scalars: [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(visibleCount)
        for chunk in chunks {
            for span in chunk.spans where !span.deleted {
                let start = Int(span.counter)
                out.append(contentsOf: content[Int(span.agent)][start..<start + Int(span.length)])
            }
        }
        return out
    }

    /// The visible text as runs of consecutive scalars typed by one device, in order.
    var authoredRuns: [(device: DeviceID, scalars: [Unicode.Scalar])] {
        var runs: [(device: DeviceID, scalars: [Unicode.Scalar])] = []
        for chunk in chunks {
            for span in chunk.spans where !span.deleted {
                let start = Int(span.counter)
                let text = content[Int(span.agent)][start..<start + Int(span.length)]
                let device = agents[Int(span.agent)]
                if let last = runs.indices.last, runs[last].device == device {
                    runs[last].scalars.append(contentsOf: text)
                } else {
                    runs.append((device, Array(text)))
                }
            }
        }
        return runs
    }

    /// The visible text, encoded straight into the string's UTF-8 storage: a list of 20,000
    /// entries spent a third of its time building each body through an array of scalars and a
    /// scalar view.
    var string: String {
        var byteCount = 0
        forEachVisibleRun { run in for scalar in run { byteCount += UTF8.width(scalar) } }
        return String(unsafeUninitializedCapacity: byteCount) { buffer in
            var written = 0
            forEachVisibleRun { run in
                for scalar in run {
                    for byte in scalar.utf8 where written < buffer.count {
                        buffer[written] = byte
                        written += 1
                    }
                }
            }
            return written
        }
    }

    /// Calls `body` with each visible run of scalars, in order.
    private func forEachVisibleRun(_ body: (ArraySlice<Unicode.Scalar>) -> Void) {
        for chunk in chunks {
            for span in chunk.spans where !span.deleted {
                let start = Int(span.counter)
                body(content[Int(span.agent)][start..<start + Int(span.length)])
            }
        }
    }

    // MARK: - Local edits

    /// Inserts `scalars` so that they start at visible position `position`, typed by `device`.
    /// Returns the operation to send to other replicas.
    func localInsert(at position: Int, _ scalars: [Unicode.Scalar], by device: DeviceID) -> TextInsert {
        precondition(position >= 0 && position <= visibleCount, "insert position out of range")
        precondition(!scalars.isEmpty)
        let agent = agent(for: device)
        let counter = UInt32(content[Int(agent)].count)
        var point: Point
        let originLeft: ItemRef
        if position == 0 {
            point = Point(chunk: 0, span: 0, offset: 0)
            originLeft = .none
        } else {
            // Right after the visible scalar before the position, ahead of any tombstones.
            let (chunk, span, offset) = findVisible(position - 1)
            originLeft = chunks[chunk].spans[span].ref(at: offset)
            point = Point(chunk: chunk, span: span, offset: offset + 1)
        }
        point = normalised(point)
        let originRight = item(at: point)
        let span = Span(
            agent: agent, counter: counter, length: UInt32(scalars.count), deleted: false,
            originLeft: originLeft, originRight: originRight)
        content[Int(agent)].append(contentsOf: scalars)
        insert(span, at: point)
        return TextInsert(
            id: CharID(device: device, counter: counter), originLeft: charID(originLeft),
            originRight: charID(originRight), scalars: scalars)
    }

    /// Deletes `count` visible scalars from visible position `position`. Returns the operations.
    func localDelete(at position: Int, count: Int) -> [TextDelete] {
        precondition(position >= 0 && count >= 0 && position + count <= visibleCount, "delete range out of bounds")
        var deletes: [TextDelete] = []
        var remaining = count
        while remaining > 0 {
            let (chunk, spanIndex, offset) = findVisible(position)
            let span = chunks[chunk].spans[spanIndex]
            let taken = min(UInt32(remaining), span.length - offset)
            let start = CharID(device: agents[Int(span.agent)], counter: span.counter + offset)
            if let last = deletes.last, last.start.device == start.device,
               last.start.counter + last.count == start.counter {
                deletes[deletes.count - 1] = TextDelete(start: last.start, count: last.count + taken)
            } else {
                deletes.append(TextDelete(start: start, count: taken))
            }
            markDeleted(chunk: chunk, span: spanIndex, offset: offset, count: taken)
            remaining -= Int(taken)
        }
        return deletes
    }

    // MARK: - Remote operations

    /// Integrates an insert made elsewhere. Its origins must already be here (causal delivery).
    func apply(_ op: TextInsert) throws(TextError) {
        guard !op.scalars.isEmpty else { throw .emptyOperation }
        let left = try ref(for: op.originLeft)
        let right = try ref(for: op.originRight)
        let agent = agent(for: op.id.device)
        let expected = UInt32(content[Int(agent)].count)
        if op.id.counter < expected {
            // Already integrated (a duplicate delivery): applying twice must change nothing.
            return
        }
        guard op.id.counter == expected else {
            throw .counterOutOfSequence(expected: expected, got: op.id.counter)
        }
        let point = integrationPoint(device: op.id.device, left: left, right: right)
        let span = Span(
            agent: agent, counter: expected, length: UInt32(op.scalars.count), deleted: false,
            originLeft: left, originRight: right)
        content[Int(agent)].append(contentsOf: op.scalars)
        insert(span, at: point)
    }

    /// Marks the scalars of a remote delete as deleted (idempotent).
    func apply(_ op: TextDelete) throws(TextError) {
        guard op.count > 0 else { throw .emptyOperation }
        let first = try ref(for: op.start)
        _ = try ref(for: CharID(device: op.start.device, counter: op.start.counter + op.count - 1))
        var counter = first.counter
        let end = first.counter + op.count
        while counter < end {
            let target = ItemRef(agent: first.agent, counter: counter)
            let (chunk, spanIndex) = locate(target)
            let span = chunks[chunk].spans[spanIndex]
            let offset = counter - span.counter
            let taken = min(end - counter, span.length - offset)
            if !span.deleted {
                markDeleted(chunk: chunk, span: spanIndex, offset: offset, count: taken)
            }
            counter += taken
        }
    }

    // MARK: - Integration (FugueMax)

    /// Where a remote run with these origins goes. This is the YjsMod/FugueMax scan: between the
    /// left and right origins, concurrent runs are ordered so that a run never lands inside
    /// another run typed concurrently at the same place (INTERNALS.md, "Integration").
    private func integrationPoint(device: DeviceID, left: ItemRef, right: ItemRef) -> Point {
        var cursor: Point
        if left.isNone {
            cursor = Point(chunk: 0, span: 0, offset: 0)
        } else {
            let (chunk, span) = locate(left)
            cursor = Point(chunk: chunk, span: span, offset: left.counter - chunks[chunk].spans[span].counter + 1)
        }
        cursor = normalised(cursor)
        let start = cursor
        var destination = cursor
        var scanning = false
        // An item whose left origin was passed over during the scan was inserted after our left
        // origin (the "bottom row" of the YjsMod table). The scan passes over one contiguous
        // stretch of the document, from `start` to `cursor`, so "passed over" is a comparison
        // of positions — not a search through every run scanned, which made a long scan (a
        // replica's first insert landing after the other replica's whole text) quadratic.
        var lastScanned = ItemRef.none
        func wasScanned(_ ref: ItemRef) -> Bool {
            if ref.isNone { return false }
            // Usually the scalar just before: typing.
            if ref == lastScanned { return true }
            let (chunk, span) = locate(ref)
            let at = (chunk, span, ref.counter - chunks[chunk].spans[span].counter)
            return at >= (start.chunk, start.span, start.offset) && at < (cursor.chunk, cursor.span, cursor.offset)
        }
        var rightPosition: Int?  // computed lazily, only for true siblings

        while true {
            if !scanning { destination = cursor }
            guard cursor.chunk < chunks.count, cursor.span < chunks[cursor.chunk].spans.count else { break }
            let span = chunks[cursor.chunk].spans[cursor.span]
            let here = span.ref(at: cursor.offset)
            if here == right { break }
            let otherLeft = span.originLeft(at: cursor.offset)
            if otherLeft == left {
                // Middle row: the same left origin; order by right origin, then by device.
                let otherRight = span.originRight
                if otherRight == right {
                    if device < agents[Int(span.agent)] { break }
                    scanning = false
                } else {
                    if rightPosition == nil { rightPosition = rawPosition(of: right) }
                    let otherRightPosition = rawPosition(of: otherRight)
                    scanning = otherRightPosition < (rightPosition ?? Int.max)
                }
            } else if !wasScanned(otherLeft) {
                // Top row: the other item's left origin is before ours.
                break
            }
            // Advance by one scalar; the rest of this span all have an in-span left origin
            // (bottom row), so skip them at once unless our right origin is among them.
            let spanEnd = span.length
            var next = cursor.offset + 1
            if next < spanEnd {
                if !right.isNone, span.contains(right), right.counter > span.counter + cursor.offset {
                    next = right.counter - span.counter
                } else {
                    next = spanEnd
                }
            }
            lastScanned = span.ref(at: next - 1)
            cursor = normalised(Point(chunk: cursor.chunk, span: cursor.span, offset: next))
        }
        return destination
    }

    /// The index of `ref` in document order counting every scalar, deleted or not;
    /// `Int.max` for the end of the document.
    private func rawPosition(of ref: ItemRef) -> Int {
        if ref.isNone { return Int.max }
        let (chunk, spanIndex) = locate(ref)
        var position = 0
        for index in 0..<chunk { position += chunks[index].total }
        let spans = chunks[chunk].spans
        for index in 0..<spanIndex { position += Int(spans[index].length) }
        return position + Int(ref.counter - spans[spanIndex].counter)
    }

    // MARK: - Points and lookups

    /// A place between scalars: before the scalar at `offset` of span `span` of chunk `chunk`.
    struct Point: Equatable {
        var chunk: Int
        var span: Int
        var offset: UInt32
    }

    /// Moves a point past span and chunk ends so it names an existing scalar, or the very end.
    private func normalised(_ point: Point) -> Point {
        var point = point
        while point.chunk < chunks.count {
            let spans = chunks[point.chunk].spans
            if point.span < spans.count {
                if point.offset < spans[point.span].length { return point }
                point.span += 1
                point.offset = 0
            } else if point.chunk + 1 < chunks.count {
                point = Point(chunk: point.chunk + 1, span: 0, offset: 0)
            } else {
                return point
            }
        }
        return point
    }

    /// The scalar just after a normalised point, or `.none` at the end.
    private func item(at point: Point) -> ItemRef {
        let spans = chunks[point.chunk].spans
        guard point.span < spans.count else { return .none }
        return spans[point.span].ref(at: point.offset)
    }

    /// The chunk and span holding `ref`, which must exist.
    private func locate(_ ref: ItemRef) -> (chunk: Int, span: Int) {
        guard let chunk = index[Int(ref.agent)].chunk(for: ref.counter),
              let spanIndex = chunk.spans.firstIndex(where: { $0.contains(ref) }) else {
            preconditionFailure("id index out of step with the spans")
        }
        return (chunk.position, spanIndex)
    }

    /// The chunk, span and offset of the visible scalar at `position` (< visibleCount).
    private func findVisible(_ position: Int) -> (Int, Int, UInt32) {
        var chunk = min(cursorChunk, chunks.count - 1)
        var start = chunk == cursorChunk ? cursorVisibleStart : 0
        if chunk != cursorChunk { chunk = 0 }
        while position < start {
            chunk -= 1
            start -= chunks[chunk].visible
        }
        while position >= start + chunks[chunk].visible {
            start += chunks[chunk].visible
            chunk += 1
        }
        cursorChunk = chunk
        cursorVisibleStart = start
        var remaining = position - start
        for (spanIndex, span) in chunks[chunk].spans.enumerated() where !span.deleted {
            if remaining < Int(span.length) { return (chunk, spanIndex, UInt32(remaining)) }
            remaining -= Int(span.length)
        }
        preconditionFailure("chunk visible count out of step with its spans")
    }

    // MARK: - Structural edits

    /// Inserts a fresh (visible) span at a normalised point, extending the run before the point
    /// when the new span continues it.
    private func insert(_ span: Span, at point: Point) {
        var chunkIndex = point.chunk
        var spanIndex = point.span
        if point.offset > 0 {
            let tail = chunks[chunkIndex].spans[spanIndex].split(at: point.offset)
            chunks[chunkIndex].spans.insert(tail, at: spanIndex + 1)
            spanIndex += 1
        } else if let (previousChunk, previousSpan) = spanBefore(chunk: chunkIndex, span: spanIndex),
                  chunks[previousChunk].spans[previousSpan].canAppend(span) {
            chunks[previousChunk].spans[previousSpan].length += span.length
            index[Int(span.agent)].append(from: span.counter, in: chunks[previousChunk])
            adjustCounts(chunk: previousChunk, visible: span.visibleLength, total: Int(span.length))
            return
        }
        if spanIndex == 0, chunkIndex > 0, chunks[chunkIndex].spans.count >= Self.maximumSpansPerChunk,
           chunks[chunkIndex - 1].spans.count < Self.maximumSpansPerChunk {
            // At the front of a full chunk: append to the previous chunk instead.
            chunkIndex -= 1
            spanIndex = chunks[chunkIndex].spans.count
        }
        let chunk = chunks[chunkIndex]
        chunk.spans.insert(span, at: spanIndex)
        index[Int(span.agent)].append(from: span.counter, in: chunk)
        adjustCounts(chunk: chunkIndex, visible: span.visibleLength, total: Int(span.length))
        if chunk.spans.count > Self.maximumSpansPerChunk { splitChunk(chunkIndex) }
    }

    private func spanBefore(chunk: Int, span: Int) -> (Int, Int)? {
        if span > 0 { return (chunk, span - 1) }
        var chunk = chunk - 1
        while chunk >= 0 {
            if !chunks[chunk].spans.isEmpty { return (chunk, chunks[chunk].spans.count - 1) }
            chunk -= 1
        }
        return nil
    }

    /// Marks `count` scalars from `offset` of a visible span deleted, merging the new tombstone
    /// with neighbouring tombstones it continues.
    private func markDeleted(chunk chunkIndex: Int, span spanIndex: Int, offset: UInt32, count: UInt32) {
        let chunk = chunks[chunkIndex]
        var target = spanIndex
        if offset > 0 {
            let tail = chunk.spans[target].split(at: offset)
            chunk.spans.insert(tail, at: target + 1)
            target += 1
        }
        if count < chunk.spans[target].length {
            let tail = chunk.spans[target].split(at: count)
            chunk.spans.insert(tail, at: target + 1)
        }
        chunk.spans[target].deleted = true
        if target + 1 < chunk.spans.count, chunk.spans[target].canAppend(chunk.spans[target + 1]) {
            chunk.spans[target].length += chunk.spans[target + 1].length
            chunk.spans.remove(at: target + 1)
        }
        if target > 0, chunk.spans[target - 1].canAppend(chunk.spans[target]) {
            chunk.spans[target - 1].length += chunk.spans[target].length
            chunk.spans.remove(at: target)
        }
        adjustCounts(chunk: chunkIndex, visible: -Int(count), total: 0)
        if chunk.spans.count > Self.maximumSpansPerChunk { splitChunk(chunkIndex) }
    }

    private func adjustCounts(chunk: Int, visible: Int, total: Int) {
        chunks[chunk].visible += visible
        chunks[chunk].total += total
        visibleCount += visible
        totalCount += total
        if chunk < cursorChunk { cursorVisibleStart += visible }
    }

    private func splitChunk(_ chunkIndex: Int) {
        let chunk = chunks[chunkIndex]
        let half = chunk.spans.count / 2
        let moved = Array(chunk.spans[half...])
        chunk.spans.removeSubrange(half...)
        let newChunk = Chunk(spans: moved, position: chunkIndex + 1)
        chunk.visible -= newChunk.visible
        chunk.total -= newChunk.total
        chunks.insert(newChunk, at: chunkIndex + 1)
        for position in (chunkIndex + 2)..<chunks.count { chunks[position].position = position }
        // Re-point the index at the new chunk once per run of consecutive counters, not once
        // per span: a deletion cuts a run of typing into spans whose counters follow each other.
        var ranges = moved.map { (agent: $0.agent, start: $0.counter, end: $0.end) }
        ranges.sort { ($0.agent, $0.start) < ($1.agent, $1.start) }
        var next = 0
        while next < ranges.count {
            let first = ranges[next]
            var end = first.end
            next += 1
            while next < ranges.count, ranges[next].agent == first.agent, ranges[next].start == end {
                end = ranges[next].end
                next += 1
            }
            let agent = Int(first.agent)
            index[agent].assign(first.start..<end, to: newChunk, count: UInt32(content[agent].count))
        }
        if cursorChunk > chunkIndex { cursorChunk += 1 }
    }
}

// MARK: - Invariants (tests)

extension TextCRDT {
    /// Checks every structural invariant; a description of the first violation, or nil.
    func invariantViolation() -> String? {
        var visible = 0, total = 0
        for (position, chunk) in chunks.enumerated() {
            if chunk.position != position { return "chunk \(position) thinks it is at \(chunk.position)" }
            if chunk.spans.count > Self.maximumSpansPerChunk { return "chunk \(position) overfull" }
            let chunkVisible = chunk.spans.reduce(0) { $0 + $1.visibleLength }
            let chunkTotal = chunk.spans.reduce(0) { $0 + Int($1.length) }
            if chunkVisible != chunk.visible || chunkTotal != chunk.total { return "chunk \(position) counts stale" }
            for span in chunk.spans {
                if span.length == 0 { return "empty span in chunk \(position)" }
                if span.end > UInt32(content[Int(span.agent)].count) { return "span past its agent's content" }
                for counter in [span.counter, span.end - 1] {
                    if index[Int(span.agent)].chunk(for: counter) !== chunk {
                        return "index does not point at chunk \(position) for \(span.agent)@\(counter)"
                    }
                }
            }
            visible += chunkVisible
            total += chunkTotal
        }
        if visible != visibleCount || total != totalCount { return "document counts stale" }
        let typed = content.reduce(0) { $0 + $1.count }
        if typed != totalCount { return "\(typed) scalars typed but \(totalCount) placed" }
        return nil
    }
}

// MARK: - Copying

extension TextCRDT {
    /// A deep copy (chunks are reference types and must not be shared between copies).
    func copy() -> TextCRDT {
        let copy = TextCRDT()
        copy.agents = agents
        copy.agentIndex = agentIndex
        copy.content = content
        copy.chunks = chunks.map { Chunk(spans: $0.spans, position: $0.position) }
        // The copy's chunks place every scalar exactly as this body's do.
        guard let index = IDIndex.build(chunks: copy.chunks, counts: content.map(\.count)) else {
            preconditionFailure("a body's own spans do not place its text")
        }
        copy.index = index
        copy.visibleCount = visibleCount
        copy.totalCount = totalCount
        copy.cursorChunk = cursorChunk
        copy.cursorVisibleStart = cursorVisibleStart
        return copy
    }
}

// MARK: - Canonical form

/// A span in replica-independent terms, for the snapshot encoding.
struct CanonicalSpan: Equatable {
    var device: DeviceID
    var counter: UInt32
    var length: UInt32
    var deleted: Bool
    var originLeft: CharID?
    var originRight: CharID?

    var firstID: CharID { CharID(device: device, counter: counter) }
    var lastID: CharID { CharID(device: device, counter: counter + length - 1) }
}

extension TextCRDT {
    /// The document order as maximal runs: however a replica happened to split its spans, the
    /// same set of operations gives the same list.
    func canonicalSpans() -> [CanonicalSpan] {
        var result: [CanonicalSpan] = []
        var previous: Span?
        for chunk in chunks {
            for span in chunk.spans {
                if var merged = previous, merged.canAppend(span) {
                    merged.length += span.length
                    previous = merged
                } else {
                    if let done = previous { result.append(canonical(done)) }
                    previous = span
                }
            }
        }
        if let done = previous { result.append(canonical(done)) }
        return result
    }

    private func canonical(_ span: Span) -> CanonicalSpan {
        CanonicalSpan(
            device: agents[Int(span.agent)], counter: span.counter, length: span.length, deleted: span.deleted,
            originLeft: charID(span.originLeft), originRight: charID(span.originRight))
    }

    /// Rebuilds a body from its canonical parts; nil if they are inconsistent (a span naming
    /// text that is not there, an origin that does not exist, text no span places).
    static func rebuild(content: [(DeviceID, [Unicode.Scalar])], spans: [CanonicalSpan]) -> TextCRDT? {
        let text = TextCRDT()
        for (device, scalars) in content {
            let agent = text.agent(for: device)
            text.content[Int(agent)] = scalars
        }
        var chunkSpans: [Span] = []
        let fill = maximumSpansPerChunk * 3 / 4
        func flush() {
            let chunk = Chunk(spans: chunkSpans, position: text.chunks.count)
            text.chunks.append(chunk)
            chunkSpans = []
        }
        text.chunks = []
        for canonical in spans {
            guard let agent = text.existingAgent(for: canonical.device), canonical.length > 0,
                  UInt64(canonical.counter) + UInt64(canonical.length) <= UInt64(text.content[Int(agent)].count)
            else { return nil }
            func localRef(_ id: CharID?) -> ItemRef? {
                guard let id else { return ItemRef.none }
                guard let agent = text.existingAgent(for: id.device),
                      id.counter < UInt32(text.content[Int(agent)].count) else { return nil }
                return ItemRef(agent: agent, counter: id.counter)
            }
            guard let left = localRef(canonical.originLeft), let right = localRef(canonical.originRight) else { return nil }
            chunkSpans.append(Span(
                agent: agent, counter: canonical.counter, length: canonical.length, deleted: canonical.deleted,
                originLeft: left, originRight: right))
            if chunkSpans.count == fill { flush() }
        }
        if !chunkSpans.isEmpty || text.chunks.isEmpty { flush() }
        // Every scalar typed must be placed exactly once (`build` checks it while it indexes).
        // With that, the rest of the structure holds by construction: chunks, counts and the
        // index are made here, not read from the bytes.
        guard let index = IDIndex.build(chunks: text.chunks, counts: text.content.map(\.count)) else { return nil }
        text.index = index
        for chunk in text.chunks {
            text.visibleCount += chunk.visible
            text.totalCount += chunk.total
        }
        return text
    }
}
