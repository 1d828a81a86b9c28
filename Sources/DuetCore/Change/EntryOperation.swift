/// One step of a change. Register writes name the writes they supersede; set removals name the
/// additions they observed; text operations carry their own ids and origins.
public enum EntryOperation: Hashable, Sendable {
    /// Creates the entry. Its author and creation time come from the change that carries it
    /// (whose device the edges verified from the envelope signature), never from a payload.
    case create
    case setTitle(String, supersedes: [Dot])
    /// 1–5, or nil to clear.
    case setMood(UInt8?, supersedes: [Dot])
    case setDeleted(Bool, supersedes: [Dot])
    case setKind(String, supersedes: [Dot])
    case setReplyTo(EntryID?, supersedes: [Dot])
    /// When the reflection was written, in ms since the epoch, if not when it was created here
    /// (imports from other journals keep their dates); nil clears it.
    case setDate(UInt64?, supersedes: [Dot])
    /// Starred (jrnl's `*`, Day One's favourite). One register for the entry: on a shared entry
    /// it is one flag for both partners, and the last write wins (change version 2).
    case setStarred(Bool, supersedes: [Dot])
    /// An entry copied from another journal's export: who wrote the original there, by the name
    /// that export recorded ("" when it recorded none); nil clears it. A claim by the importing
    /// device, shown as such ("Sam imported this; the file says Alex wrote it"), never as authorship: the
    /// entry's author is still the device that signed its creation (change version 2).
    case setOriginalAuthor(String?, supersedes: [Dot])
    case addFactor(Factor)
    case removeFactor(Factor, observed: [Dot])
    case addTag(String)
    case removeTag(String, observed: [Dot])
    /// "I have read / heard this": the author of the change acknowledges the entry.
    case acknowledge
    case insertText(TextInsert)
    case deleteText(TextDelete)
    /// Adopts a whole entry with its history (an ``EntrySnapshot``), as `duet import --from duet`
    /// does. Applies only to an entry nothing has touched yet; otherwise it changes nothing.
    case adoptSnapshot([UInt8])
}

/// What one local action produced (one `write`, one `edit`): operations on one entry, stamped
/// with the author's `(device, seq)` and clock, and the author's vector at the time, which is
/// what makes causal delivery possible.
public struct Change: Hashable, Sendable {
    public let device: DeviceID
    /// 1, 2, 3, … per device and space, no gaps, never reused.
    public let seq: UInt64
    public let hlc: HLC
    /// The author's vector when it made this change, without its own entry: for each other
    /// device, the highest seq applied. Sorted by device.
    public let dependencies: [Dot]
    public let entry: EntryID
    public let operations: [EntryOperation]

    public init(device: DeviceID, seq: UInt64, hlc: HLC, dependencies: [Dot], entry: EntryID, operations: [EntryOperation]) {
        self.device = device
        self.seq = seq
        self.hlc = hlc
        self.dependencies = dependencies
        self.entry = entry
        self.operations = operations
    }

    public var dot: Dot { Dot(device: device, seq: seq) }
    public var stamp: Stamp { Stamp(hlc: hlc, device: device) }
}

/// Limits every replica enforces on what a change may hold; the decoder checks them before it
/// allocates (Protocol/SPEC.md, § operations).
public enum ChangeLimits {
    /// A body may hold at most this many visible scalars (about 100 pages), enforced where a
    /// change is made.
    public static let maximumBodyScalars = 1 << 18
    public static let maximumTitleBytes = 1024
    public static let maximumTagBytes = 64
    public static let maximumTags = 64
    public static let maximumKindBytes = 32
    /// An imported entry's original author's name (a person's name is at most 64 bytes).
    public static let maximumOriginalAuthorBytes = 64
    public static let maximumOperations = 1 << 16
    /// The largest seq a change, dependency or dot may name (2⁶³ − 1: stores keep signed 64-bit
    /// integers; SPEC § 3.2).
    public static let maximumSeq = UInt64(Int64.max)
    public static let maximumDevices = 256
    public static let maximumSupersededDots = 256
    /// One change's inserted text, in UTF-8 bytes (an envelope seals at most 2 MiB).
    public static let maximumInsertBytes = 1 << 20
    /// An adopted snapshot, in bytes (an envelope seals at most 2 MiB).
    public static let maximumSnapshotBytes = (2 << 20) - 4096
}
