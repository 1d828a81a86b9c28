/// A last-writer-wins register that keeps every value it ever had.
///
/// Order is causal first: a write names the writes it saw (`supersedes`), and those lose to it
/// whatever the clocks say. Only writes that nothing supersedes compete, and among those the
/// greatest ``Stamp`` (HLC, then device) wins. A device with a clock far in the future can
/// therefore win only against writes made concurrently with its own; the next edit by anyone
/// who saw its value replaces it. Nothing is discarded: losing values stay as history.
public struct Register<Value: Hashable & Sendable>: Hashable, Sendable {
    public struct Write: Hashable, Sendable {
        public let dot: Dot
        public let stamp: Stamp
        public let value: Value
        public let supersedes: [Dot]
    }

    /// Every write ever applied, in stamp order.
    public private(set) var history: [Write] = []
    private var superseded: Set<Dot> = []

    public init() {}

    init(history: [Write]) {
        for write in history { apply(write) }
    }

    /// The writes nothing supersedes (more than one while concurrent writes are unresolved).
    public var heads: [Write] { history.filter { !superseded.contains($0.dot) } }

    /// The winning value, or nil if the register was never written.
    public var value: Value? { heads.last?.value }

    /// Dots a new local write must name to supersede the current state.
    public var headDots: [Dot] { heads.map(\.dot).sorted() }

    /// Applies a write; applying the same write twice changes nothing.
    mutating func apply(_ write: Write) {
        guard !history.contains(where: { $0.dot == write.dot }) else { return }
        // Stamp order; a faulty device could repeat a stamp, so the dot settles ties.
        let position = history.firstIndex { (write.stamp, write.dot) < ($0.stamp, $0.dot) } ?? history.endIndex
        history.insert(write, at: position)
        superseded.formUnion(write.supersedes)
    }
}

/// An add-wins observed-remove set that keeps its history.
///
/// An element is present while some addition of it has not been removed. A removal names the
/// additions it observed, so an addition made concurrently with a removal survives it.
public struct ObservedRemoveSet<Element: Hashable & Comparable & Sendable>: Hashable, Sendable {
    private var additions: [Element: Set<Dot>] = [:]
    private var removed: Set<Dot> = []
    /// Every operation in arrival-independent order, for `show --history`.
    public private(set) var history: Set<HistoryItem> = []

    public struct HistoryItem: Hashable, Comparable, Sendable {
        public let element: Element
        public let added: Bool
        public let stamp: Stamp

        public static func < (lhs: HistoryItem, rhs: HistoryItem) -> Bool {
            (lhs.stamp, lhs.element, lhs.added ? 1 : 0) < (rhs.stamp, rhs.element, rhs.added ? 1 : 0)
        }
    }

    /// The history in a replica-independent order.
    public var orderedHistory: [HistoryItem] { history.sorted() }

    /// Additions per element and removed dots, for the snapshot encoding.
    var parts: (additions: [(Element, [Dot])], removed: [Dot]) {
        (additions.keys.sorted().map { ($0, additions[$0, default: []].sorted()) }, removed.sorted())
    }

    init(additions: [Element: Set<Dot>], removed: Set<Dot>, history: Set<HistoryItem>) {
        self.additions = additions
        self.removed = removed
        self.history = history
    }

    public init() {}

    public var elements: [Element] {
        additions.compactMap { element, dots in dots.isSubset(of: removed) ? nil : element }.sorted()
    }

    public func contains(_ element: Element) -> Bool {
        guard let dots = additions[element] else { return false }
        return !dots.isSubset(of: removed)
    }

    /// The live additions of `element`, which a local removal must name.
    public func liveDots(of element: Element) -> [Dot] {
        (additions[element] ?? []).subtracting(removed).sorted()
    }

    mutating func add(_ element: Element, dot: Dot, stamp: Stamp) {
        // Strings that are canonically equivalent ("é" and "e" U+0301) are one element, and a
        // dictionary keeps the spelling that came first: keep the smallest in UTF-8 instead, so
        // that replicas which received the same changes in any order encode the same bytes.
        if let index = additions.index(forKey: element), Self.spelledBefore(element, additions.keys[index]) {
            let dots = additions.remove(at: index).value
            additions[element] = dots
        }
        additions[element, default: []].insert(dot)
        history.insert(HistoryItem(element: element, added: true, stamp: stamp))
    }

    /// Whether `a` is a string spelled before the equal string `b` (other elements have one
    /// spelling).
    private static func spelledBefore(_ a: Element, _ b: Element) -> Bool {
        guard let a = a as? String, let b = b as? String else { return false }
        return a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    mutating func remove(_ element: Element, observed: [Dot], stamp: Stamp) {
        removed.formUnion(observed)
        history.insert(HistoryItem(element: element, added: false, stamp: stamp))
    }
}
