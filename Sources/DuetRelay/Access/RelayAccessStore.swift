public import DuetCrypto

/// What a relay holds about who is signed in and what is waiting to be picked up: the secret
/// challenges are MACed under, the challenges answered, sessions, and pairing mailboxes.
///
/// One relay process keeps these in memory (``MemoryAccessStore``); several processes on one
/// database share them there (``PostgresAccessStore``, issue #17), so that a challenge from one
/// is answered at another, a session opened at one works at all, and a pairing started through
/// one completes through another. Caps are decided inside the store, atomically.
public protocol RelayAccessStore: Sendable {
    /// The 32-byte key challenges are MACed under: the same for every process that shares this store.
    func challengeSecret() async throws -> [UInt8]

    /// Takes `challenge` as answered until `expires`; false when it was answered before.
    func answer(challenge: [UInt8], expires: UInt64, now: UInt64) async throws -> Bool

    /// Opens a session `token` for `device` until `expires`. Beyond `perDevice` sessions of that
    /// device its oldest ends; beyond `maximum` in all, the oldest anywhere ends.
    func openSession(token: [UInt8], device: VerifyingKey, expires: UInt64, now: UInt64, perDevice: Int, maximum: Int) async throws

    /// The device session `token` belongs to, if it is open at `now`.
    func device(session token: [UInt8], now: UInt64) async throws -> VerifyingKey?

    /// Ends every session of `device` (it was removed from a space).
    func endSessions(of device: VerifyingKey) async throws

    /// Keeps `blob` under mailbox `id` for ten minutes (SPEC § 6.5), within the byte caps.
    func putMailbox(_ id: [UInt8], _ blob: [UInt8], owner: VerifyingKey, now: UInt64) async throws

    /// Takes the blob out of mailbox `id`: a mailbox is read once.
    func takeMailbox(_ id: [UInt8], now: UInt64) async throws -> [UInt8]

    /// What is held now, for the operator's metrics and the hostile-traffic tests.
    func held(now: UInt64) async throws -> AccessHeld
}

public struct AccessHeld: Sendable {
    public let challenges: Int
    public let sessions: Int
    public let mailboxes: Int
    public let mailboxBytes: Int
}

/// The caps a mailbox put is judged against (RelayService.Limits gives them).
struct MailboxCaps: Sendable {
    let totalBytes: Int
    let bytesPerDevice: Int

    /// Mailboxes one device key may hold at once: a pairing or a link needs one or two. Without
    /// a count, empty blobs cost nothing against the byte caps and one session could fill the
    /// table with rows (review finding 5 of #17).
    static let countPerDevice = 64
    /// Mailboxes in all: one for every KiB the byte cap allows (65,536 at the default 64 MiB).
    var totalCount: Int { max(Self.countPerDevice, totalBytes >> 10) }

    func full() -> RelayError {
        RelayError(code: "mailboxes-full", status: 429, message: "the relay holds the most mailbox bytes it allows; retry in a minute",
                   retryAfterSeconds: 60)
    }

    func deviceCountFull() -> RelayError {
        RelayError(code: "mailboxes-full", status: 429,
                   message: "this device holds the most mailboxes it may (\(Self.countPerDevice)); they empty when read or after ten minutes",
                   retryAfterSeconds: 60)
    }

    func deviceFull() -> RelayError {
        RelayError(code: "mailboxes-full", status: 429,
                   message: "this device holds the most mailbox bytes it may (\(bytesPerDevice)); they empty when read or after ten minutes",
                   retryAfterSeconds: 60)
    }

    static let taken = RelayError.conflict("mailbox-taken", "this mailbox already holds a message; use a fresh code")
    static let unknown = RelayError(code: "unknown-mailbox", status: 404, message: "no message here (yet, any more, or ever); check the code")

    /// The shape every store checks before it holds anything.
    static func check(id: [UInt8], blob: [UInt8]) throws(RelayError) {
        guard id.count == 16 else { throw .malformed("a mailbox id is 32 lowercase hex characters") }
        guard blob.count <= Mailboxes.maximumBytes else { throw .tooLarge(limit: Mailboxes.maximumBytes) }
    }
}
