public import DuetWire

/// Where a relay keeps envelopes. The embedded SQLite backend is the default; a PostgreSQL one
/// follows, so nothing here relies on SQLite-only behaviour: every rule below is decided inside
/// the backend's write transaction.
///
/// Append rules (Protocol/SPEC.md § 6.4, relay):
/// - the chain rule is DuetWire's `EnvelopeChain`, the one every device applies to what it
///   receives: a gap (`gap`), a wrong `previous` (`brokenChain`), the same bytes again
///   (`duplicate`, acknowledged without storing twice), different bytes for a held seq (`fork`);
///   a backend judges with it and never restates it;
/// - the relay's own policy around that rule: after a fork the first offered envelope is kept as
///   evidence (counted against the space quota, and only while it fits), and the device is
///   refused every append after that (`device-forked`); an envelope past the space's quota is
///   refused (`quotaExceeded`);
/// - an acknowledgement is given only after the transaction holding the envelope is durable.
public protocol RelayStorage: Sendable {
    /// Appends envelopes (already parsed and verified by the caller), each judged on its own,
    /// in order; returns one outcome per envelope.
    func append(_ envelopes: [Envelope]) async throws -> [AppendOutcome]

    /// Every envelope of `space` the holder of `vector` lacks: for each device, those with a seq
    /// above the vector's entry (all of them for a device it does not name), in seq order per
    /// device, at most `limit` envelopes and `maximumBytes` bytes (always at least one envelope
    /// when any is lacking). `complete` is false when a limit cut the answer short.
    func fetch(space: SpaceID, after vector: [WireDeviceID: UInt64], limit: Int, maximumBytes: Int) async throws -> (envelopes: [[UInt8]], complete: Bool)

    /// For each device of `space`, the highest seq held.
    func heads(space: SpaceID) async throws -> [WireDeviceID: UInt64]

    /// Forks reported so far for `space` (both envelopes), for audit.
    func forks(space: SpaceID) async throws -> [ForkEvidence]

    /// Stores `records` as membership records `index`, `index + 1`, … of `space`, in one
    /// transaction, if `index` is the next one (the caller verified the records against the
    /// log). `creator`, for a space's first record, is the identity that creates it: refused
    /// when it already created `maximumSpacesPerCreator` spaces.
    func appendMembership(space: SpaceID, from index: UInt64, records: [[UInt8]], creator: [UInt8]?,
                          maximumSpacesPerCreator: Int) async throws -> MembershipAppendOutcome

    /// Keeps a record a member signed that the log's rules refused, as evidence for the space's
    /// other members, unless `maximumPerSpace` are kept already.
    func keepRefusedMembership(space: SpaceID, record: [UInt8], maximumPerSpace: Int) async throws

    /// The refused records kept for `space`, oldest first.
    func refusedMembership(space: SpaceID) async throws -> [[UInt8]]

    /// The space's membership records from `index` on, in order.
    func membership(space: SpaceID, from index: UInt64) async throws -> [[UInt8]]

    /// The recovery blob kept in `slot` (SPEC § 7.5), if any.
    func recovery(slot: [UInt8]) async throws -> [UInt8]?

    /// Keeps `blob` in `slot` for `owner` (an identity key); stores nothing when the slot
    /// belongs to another identity, or is new and `owner` already holds `maximumSlotsPerOwner`.
    func putRecovery(slot: [UInt8], owner: [UInt8], blob: [UInt8], maximumSlotsPerOwner: Int, maximumSlots: Int) async throws -> RecoveryPutOutcome
}

public enum MembershipAppendOutcome: Hashable, Sendable {
    case stored
    /// Another record already holds that index.
    case outOfOrder
    /// The creating identity holds the most spaces allowed.
    case creatorFull
}

public enum RecoveryPutOutcome: Hashable, Sendable {
    case stored
    /// The slot belongs to another identity.
    case taken
    /// The owner holds the most slots allowed.
    case ownerFull
    /// The relay holds the most slots allowed.
    case relayFull
}

public enum AppendOutcome: Hashable, Sendable {
    /// Stored durably; `position` is the envelope's place in the space's arrival order.
    case stored(position: UInt64)
    /// The same bytes were already held.
    case duplicate
    case refused(RelayRefusal)
}

/// Why the relay refuses an append. Each has a stable code in the spec and maps to a 4xx.
public enum RelayRefusal: String, Hashable, Sendable, CaseIterable {
    case gap
    case brokenChain = "broken-chain"
    case fork
    case quotaExceeded = "quota-exceeded"
    /// The device signed two different envelopes for one seq before: nothing more is taken
    /// from it (its key is copied or its store was restored; the person revokes it).
    case deviceForked = "device-forked"
}

/// Two different envelopes a device signed for one `(space, device, seq)`.
public struct ForkEvidence: Hashable, Sendable {
    public let device: WireDeviceID
    public let seq: UInt64
    public let held: [UInt8]
    public let offered: [UInt8]
}
