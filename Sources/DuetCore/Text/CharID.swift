/// The identity of one Unicode scalar ever inserted into a body: the device that typed it and
/// that device's running count of scalars inserted into this body (0, 1, 2, …).
public struct CharID: Hashable, Sendable, CustomStringConvertible {
    public let device: DeviceID
    public let counter: UInt32

    public init(device: DeviceID, counter: UInt32) {
        self.device = device
        self.counter = counter
    }

    public var description: String { "\(device)@\(counter)" }
}

/// Inserts `scalars` with ids `id.counter`, `id.counter + 1`, … Each scalar's left origin is the
/// one before it in this run (the first one's is `originLeft`); all share `originRight`.
public struct TextInsert: Hashable, Sendable {
    public let id: CharID
    public let originLeft: CharID?
    public let originRight: CharID?
    /// Settable inside DuetCore so a run of typing can grow in place (`EntryEditor`).
    public internal(set) var scalars: [Unicode.Scalar]

    public init(id: CharID, originLeft: CharID?, originRight: CharID?, scalars: [Unicode.Scalar]) {
        self.id = id
        self.originLeft = originLeft
        self.originRight = originRight
        self.scalars = scalars
    }
}

/// Deletes the scalars `start.counter ..< start.counter + count` typed by `start.device`.
public struct TextDelete: Hashable, Sendable {
    public let start: CharID
    public let count: UInt32

    public init(start: CharID, count: UInt32) {
        self.start = start
        self.count = count
    }
}

/// Why a remote text operation cannot be applied. Every replica refuses the same operations,
/// because the checks depend only on the operation's causal past.
public enum TextError: Error, Hashable, Sendable {
    /// An origin or delete target this replica has never seen.
    case unknownCharacter(CharID)
    /// A device's scalars must be numbered 0, 1, 2, … with no gap or reuse.
    case counterOutOfSequence(expected: UInt32, got: UInt32)
    case emptyOperation
}
