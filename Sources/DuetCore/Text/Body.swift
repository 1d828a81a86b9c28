/// An entry's body: the text sequence CRDT with value semantics.
///
/// Copies share storage until one of them is changed (copy on write), like `Array`. Positions
/// are Unicode scalars, never grapheme clusters or UTF-16 units.
public struct Body: @unchecked Sendable {
    // @unchecked: the storage is only mutated after `isKnownUniquelyReferenced` proves no other
    // value (on any thread) can see it, the same discipline as the standard library's buffers.
    private(set) var storage: TextCRDT

    /// Every empty body shares one storage until it is first edited (`unique()` copies it
    /// then), so an empty entry costs no allocation: `EntryEditor.finish` makes one per change.
    /// nonisolated(unsafe): it is never mutated — nothing mutates a storage that is not
    /// uniquely referenced, and this one never is.
    private nonisolated(unsafe) static let emptyStorage = TextCRDT()

    public init() { storage = Body.emptyStorage }

    init(storage: TextCRDT) { self.storage = storage }

    private mutating func unique() -> TextCRDT {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return storage
    }

    /// Visible scalars.
    public var count: Int { storage.visibleCount }
    /// Every scalar ever inserted, deleted ones included (history).
    public var totalCount: Int { storage.totalCount }
    public var scalars: [Unicode.Scalar] { storage.scalars }
    public var string: String { storage.string }
    /// Who typed what: the visible text as consecutive runs by one device each.
    public var authoredRuns: [(device: DeviceID, scalars: [Unicode.Scalar])] { storage.authoredRuns }

    /// The counter `device`'s next scalar gets.
    public func nextCounter(for device: DeviceID) -> UInt32 { storage.nextCounter(for: device) }

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
