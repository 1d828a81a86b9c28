/// A run of scalars typed consecutively by one agent, stored as one element (DESIGN §4):
/// scalar k of the run has id (agent, counter + k), left origin (agent, counter + k − 1) for
/// k > 0 (`originLeft` for k = 0), and right origin `originRight`. The run is all visible or
/// all deleted.
struct Span: Equatable {
    var agent: UInt32
    var counter: UInt32
    var length: UInt32
    var deleted: Bool
    /// Packed ``ItemRef``; ``ItemRef/none`` for "the start" (left) or "the end" (right).
    var originLeft: ItemRef
    var originRight: ItemRef

    var visibleLength: Int { deleted ? 0 : Int(length) }
    var end: UInt32 { counter + length }

    func ref(at offset: UInt32) -> ItemRef { ItemRef(agent: agent, counter: counter + offset) }
    var lastRef: ItemRef { ref(at: length - 1) }

    func contains(_ ref: ItemRef) -> Bool {
        ref.agent == agent && ref.counter >= counter && ref.counter < end
    }

    /// The left origin of the scalar at `offset`.
    func originLeft(at offset: UInt32) -> ItemRef {
        offset == 0 ? originLeft : ref(at: offset - 1)
    }

    /// Splits at `offset` (0 < offset < length): self keeps the head, the tail is returned.
    mutating func split(at offset: UInt32) -> Span {
        precondition(offset > 0 && offset < length)
        let tail = Span(
            agent: agent, counter: counter + offset, length: length - offset, deleted: deleted,
            originLeft: ref(at: offset - 1), originRight: originRight)
        length = offset
        return tail
    }

    /// Whether `next` continues this run exactly, so the two can be one span.
    func canAppend(_ next: Span) -> Bool {
        next.agent == agent && next.counter == end && next.deleted == deleted
            && next.originLeft == lastRef && next.originRight == originRight
    }
}

/// A document-local reference to one scalar: an index into the agent table and a counter,
/// packed in 64 bits. `none` stands for the start or the end of the document.
struct ItemRef: Hashable {
    let packed: UInt64

    init(agent: UInt32, counter: UInt32) { packed = UInt64(agent) << 32 | UInt64(counter) }
    private init(packed: UInt64) { self.packed = packed }

    static let none = ItemRef(packed: .max)

    var isNone: Bool { packed == .max }
    var agent: UInt32 { UInt32(truncatingIfNeeded: packed >> 32) }
    var counter: UInt32 { UInt32(truncatingIfNeeded: packed) }
}

/// A contiguous slice of the document: up to ``TextCRDT/maximumSpansPerChunk`` spans with their
/// visible and total scalar counts. A class so that the id index can point at it while chunks
/// move in the chunk array.
final class Chunk {
    @exclusivity(unchecked) var spans: [Span]
    @exclusivity(unchecked) var visible: Int
    @exclusivity(unchecked) var total: Int
    /// This chunk's index in the document's chunk array.
    @exclusivity(unchecked) var position: Int

    init(spans: [Span], position: Int) {
        self.spans = spans
        self.position = position
        visible = spans.reduce(0) { $0 + $1.visibleLength }
        total = spans.reduce(0) { $0 + Int($1.length) }
    }
}
