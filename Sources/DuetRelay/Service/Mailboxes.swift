/// Pairing and linking mailboxes (SPEC § 6.5): opaque blobs the relay cannot read, stored
/// under an id both sides derive from a one-time code, readable once, gone after a few minutes.
/// Kept in memory: a relay restart only shortens a ten-minute window.
struct Mailboxes {
    static let maximumBytes = 64 << 10
    static let lifetime: UInt64 = 10 * 60_000
    static let maximumHeld = 100_000

    private var held: [[UInt8]: (blob: [UInt8], expires: UInt64)] = [:]

    mutating func put(_ id: [UInt8], _ blob: [UInt8], now: UInt64) throws(RelayError) {
        guard id.count == 16 else { throw .malformed("a mailbox id is 32 lowercase hex characters") }
        guard blob.count <= Self.maximumBytes else { throw .tooLarge(limit: Self.maximumBytes) }
        held = held.filter { $0.value.expires > now }
        guard held[id] == nil else { throw .conflict("mailbox-taken", "this mailbox already holds a message; use a fresh code") }
        guard held.count < Self.maximumHeld else { throw .rateLimited }
        held[id] = (blob, now + Self.lifetime)
    }

    /// Takes the blob out: a mailbox is read once.
    mutating func take(_ id: [UInt8], now: UInt64) throws(RelayError) -> [UInt8] {
        guard let entry = held.removeValue(forKey: id), entry.expires > now else {
            throw RelayError(code: "unknown-mailbox", status: 404, message: "no message here (yet, any more, or ever); check the code")
        }
        return entry.blob
    }
}
