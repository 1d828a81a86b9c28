import DuetCrypto

/// Pairing and linking mailboxes (SPEC § 6.5): opaque blobs the relay cannot read, stored
/// under an id both sides derive from a one-time code, readable once, gone after ten minutes.
/// Kept in memory (a relay restart only shortens a ten-minute window), so they are capped in
/// bytes twice: in all, and per device key that put them (issue #12: 100,000 × 64 KiB was
/// 6.4 GiB anyone could make the relay hold), and in count the same two ways (#17: empty blobs
/// cost no bytes). Expiry follows a queue, not a walk over all.
struct Mailboxes {
    static let maximumBytes = 64 << 10
    static let lifetime: UInt64 = 10 * 60_000

    let maximumTotalBytes: Int
    let maximumBytesPerDevice: Int
    private var held = ExpiringTable<[UInt8], (blob: [UInt8], owner: VerifyingKey)>()
    private var bytesByOwner: [VerifyingKey: Int] = [:]
    private var countByOwner: [VerifyingKey: Int] = [:]
    private(set) var bytes = 0

    init(maximumBytes: Int, maximumBytesPerDevice: Int) {
        maximumTotalBytes = maximumBytes
        self.maximumBytesPerDevice = maximumBytesPerDevice
    }

    var count: Int { held.count }

    mutating func put(_ id: [UInt8], _ blob: [UInt8], owner: VerifyingKey, now: UInt64) throws(RelayError) {
        try MailboxCaps.check(id: id, blob: blob)
        expire(now: now)
        guard !held.contains(id) else { throw MailboxCaps.taken }
        let caps = MailboxCaps(totalBytes: maximumTotalBytes, bytesPerDevice: maximumBytesPerDevice)
        guard bytes + blob.count <= maximumTotalBytes, held.count < caps.totalCount else { throw caps.full() }
        guard bytesByOwner[owner, default: 0] + blob.count <= maximumBytesPerDevice else { throw caps.deviceFull() }
        guard countByOwner[owner, default: 0] < MailboxCaps.countPerDevice else { throw caps.deviceCountFull() }
        held.insert(id, (blob, owner), expires: now + Self.lifetime)
        account(owner, blob.count, 1)
    }

    /// Takes the blob out: a mailbox is read once.
    mutating func take(_ id: [UInt8], now: UInt64) throws(RelayError) -> [UInt8] {
        expire(now: now)
        guard let entry = held.remove(id) else { throw MailboxCaps.unknown }
        account(entry.value.owner, -entry.value.blob.count, -1)
        return entry.value.blob
    }

    private mutating func expire(now: UInt64) {
        var freed: [(VerifyingKey, Int)] = []
        held.expire(now: now) { _, value in freed.append((value.owner, value.blob.count)) }
        for (owner, count) in freed { account(owner, -count, -1) }
    }

    private mutating func account(_ owner: VerifyingKey, _ delta: Int, _ countDelta: Int) {
        bytes += delta
        let left = bytesByOwner[owner, default: 0] + delta
        bytesByOwner[owner] = left > 0 ? left : nil
        let count = countByOwner[owner, default: 0] + countDelta
        countByOwner[owner] = count > 0 ? count : nil
    }
}
