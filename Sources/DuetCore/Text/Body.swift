/// An entry's body: the text sequence CRDT with value semantics.
///
/// Copies share storage until one of them is changed (copy on write), like `Array`. Positions
/// are Unicode scalars, never grapheme clusters or UTF-16 units.
public struct Body: @unchecked Sendable {
    // @unchecked: the storage is only mutated after `isKnownUniquelyReferenced` proves no other
    // value (on any thread) can see it, the same discipline as the standard library's buffers.
    /// Nil until the body is first edited: an empty body (every new entry, and the placeholder
    /// the journal swaps in while an entry is being edited) holds no reference at all, so
    /// making and dropping one costs nothing — it happens twice per keystroke's change.
    private var stored: TextCRDT?

    /// The storage to read (an empty one for an empty body).
    var storage: TextCRDT { stored ?? TextCRDT() }

    public init() {}

    init(storage: TextCRDT) { stored = storage }

    private mutating func unique() -> TextCRDT {
        if isKnownUniquelyReferenced(&stored), let storage = stored { return storage }
        let fresh = stored?.copy() ?? TextCRDT()
        stored = fresh
        return fresh
    }

    /// Visible scalars.
    public var count: Int { stored?.visibleCount ?? 0 }
    /// Every scalar ever inserted, deleted ones included (history).
    public var totalCount: Int { stored?.totalCount ?? 0 }
    public var scalars: [Unicode.Scalar] { storage.scalars }
    public var string: String { storage.string }
    /// Who typed what: the visible text as consecutive runs by one device each.
    public var authoredRuns: [(device: DeviceID, scalars: [Unicode.Scalar])] { storage.authoredRuns }

    /// The counter `device`'s next scalar gets.
    public func nextCounter(for device: DeviceID) -> UInt32 { stored?.nextCounter(for: device) ?? 0 }

    public mutating func insert(_ scalars: [Unicode.Scalar], at position: Int, by device: DeviceID) -> TextInsert {
        unique().localInsert(at: position, scalars, by: device)
    }

    public mutating func delete(at position: Int, count: Int) -> [TextDelete] {
        unique().localDelete(at: position, count: count)
    }

    public mutating func apply(_ op: TextInsert) throws(TextError) { try unique().apply(op) }
    public mutating func apply(_ op: TextDelete) throws(TextError) { try unique().apply(op) }

    /// Structural self-check for tests: nil when every invariant holds.
    public var invariantViolation: String? { storage.invariantViolation() }

    /// Spans and chunks in use (benchmarks report them).
    public var shape: (spans: Int, chunks: Int) {
        (storage.chunks.reduce(0) { $0 + $1.spans.count }, storage.chunks.count)
    }
}

extension Body {
    /// Every deleted scalar, in document order: what was written and later removed.
    public var deletedScalars: [Unicode.Scalar] { storage.deletedScalars }
}

extension TextCRDT {
    var deletedScalars: [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        for chunk in chunks {
            for span in chunk.spans where span.deleted {
                let start = Int(span.counter)
                out.append(contentsOf: content[Int(span.agent)][start..<start + Int(span.length)])
            }
        }
        return out
    }
}
