import DuetWire
import Synchronization

/// The membership logs this store has already replayed, each kept with the exact bytes of the
/// records it was replayed from, so that a write or an apply does not verify every signature of
/// the log again (issue #15, item 4).
///
/// Replaying a log is a pure function of its records' bytes (parse, then `MembershipLog.append`,
/// which checks order, chain, signatures and rules), so a replay is remembered as a memo keyed
/// by its whole input. Every read still fetches every record from the file and compares them,
/// byte for byte, with the bytes remembered:
/// - the file holds those bytes and more after them (records appended since, by this process or
///   another): the remembered log continues, and only the new records are parsed and verified;
/// - the file holds exactly those bytes: the remembered log is the answer;
/// - anything else (a record changed on disk, records gone, a memo of a transaction that rolled
///   back): the whole log is replayed from its first record, as if nothing were remembered, and
///   a record that no longer verifies is reported as damage just as before.
/// Nothing is trusted for having been seen once: only for being the same bytes now. Comparing
/// bytes costs a memcmp per record; an Ed25519 check costs tens of microseconds.
///
/// One memo per space (a device holds two spaces). The memo doubles what a replayed log holds
/// (its records, and their bytes here), bounded as the log is (SPEC § 6.6).
final class MembershipReplays: Sendable {
    private struct Replay: Sendable {
        let bytes: [[UInt8]]
        let log: MembershipLog
    }

    private let replays = Mutex<[SpaceID: Replay]>([:])

    init() {}

    /// The log that `stored` (a space's records as the file holds them now, in index order)
    /// replays to. Throws, never traps, on a record that does not parse or does not follow.
    func log(of space: SpaceID, from stored: [[UInt8]]) throws(StoreError) -> MembershipLog {
        var log = MembershipLog(space: space)
        var verified = 0
        if let known = replays.withLock({ $0[space] }), Self.isPrefix(known.bytes, of: stored) {
            log = known.log
            verified = known.bytes.count
        }
        guard verified < stored.count else { return log }
        for bytes in stored[verified...] {
            guard let record = try? MembershipRecord(bytes: bytes) else { throw StoreError.corrupt("a stored membership record") }
            do { try log.append(record) } catch { throw StoreError.corrupt("the stored membership log (\(error.rawValue))") }
        }
        remember(log, replayedFrom: stored)
        return log
    }

    /// Keeps `log` as what `bytes` replay to. The caller vouches for that: it has just
    /// replayed them (a read, or records verified and inserted on top of a read).
    func remember(_ log: MembershipLog, replayedFrom bytes: [[UInt8]]) {
        replays.withLock { $0[log.space] = Replay(bytes: bytes, log: log) }
    }

    /// Whether `known` is `stored`'s first records, byte for byte.
    private static func isPrefix(_ known: [[UInt8]], of stored: [[UInt8]]) -> Bool {
        guard known.count <= stored.count else { return false }
        for index in known.indices where known[index] != stored[index] { return false }
        return true
    }
}
