public import DuetWire

/// Where a relay keeps envelopes. The embedded SQLite backend is the default; a PostgreSQL one
/// follows, so nothing here relies on SQLite-only behaviour: every rule below is decided inside
/// the backend's write transaction.
///
/// Append rules (Protocol/SPEC.md § 6, relay):
/// - `seq` must be the device's next one in the space: a gap is refused (`gap`);
/// - `previous` must be the hash of the device's envelope `seq − 1` (`brokenChain`);
/// - the exact same bytes again are acknowledged without storing twice (`duplicate`);
/// - different bytes for a `(space, device, seq)` already held are a fork: refused (`fork`),
///   and kept as evidence;
/// - an acknowledgement is given only after the transaction holding the envelope is durable.
public protocol RelayStorage: Sendable {
    /// Appends envelopes (already parsed and verified by the caller), each judged on its own,
    /// in order; returns one outcome per envelope.
    func append(_ envelopes: [Envelope]) async throws -> [AppendOutcome]

    /// Every envelope of `space` the holder of `vector` lacks: for each device, those with a seq
    /// above the vector's entry (all of them for a device it does not name), in seq order per
    /// device, at most `limit`. `complete` is false when the limit cut the answer short.
    func fetch(space: SpaceID, after vector: [WireDeviceID: UInt64], limit: Int) async throws -> (envelopes: [[UInt8]], complete: Bool)

    /// For each device of `space`, the highest seq held.
    func heads(space: SpaceID) async throws -> [WireDeviceID: UInt64]

    /// Forks reported so far for `space` (both envelopes), for audit.
    func forks(space: SpaceID) async throws -> [ForkEvidence]

    /// Stores membership record `index` of `space` if it is the next one; false if another
    /// record already holds that index (the caller verified the record against the log).
    func appendMembership(space: SpaceID, index: UInt64, record: [UInt8]) async throws -> Bool

    /// The space's membership records from `index` on, in order.
    func membership(space: SpaceID, from index: UInt64) async throws -> [[UInt8]]

    /// The recovery blob kept in `slot` (SPEC § 7.5), if any.
    func recovery(slot: [UInt8]) async throws -> [UInt8]?

    /// Keeps `blob` in `slot` for `owner` (an identity key); false, storing nothing, when the
    /// slot already belongs to another identity.
    func putRecovery(slot: [UInt8], owner: [UInt8], blob: [UInt8]) async throws -> Bool
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
}

/// Two different envelopes a device signed for one `(space, device, seq)`.
public struct ForkEvidence: Hashable, Sendable {
    public let device: WireDeviceID
    public let seq: UInt64
    public let held: [UInt8]
    public let offered: [UInt8]
}
