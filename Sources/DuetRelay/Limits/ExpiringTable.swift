/// A table whose entries all live for the same span, expired by a queue in insertion order
/// (which is expiry order, since the relay's clock only moves forward) instead of a filter over
/// everything on every request (issue #12: with 100,000 mailboxes held, each put walked them all).
///
/// Removing an entry early leaves its queue slot behind; the slot is skipped when it comes up.
/// The queue is compacted once it holds mostly such slots, so its size stays proportional to
/// what is held plus what was removed within one lifetime.
struct ExpiringTable<Key: Hashable, Value> {
    private var entries: [Key: (value: Value, expires: UInt64)] = [:]
    private var queue: [(key: Key, expires: UInt64)] = []
    private var head = 0

    var count: Int { entries.count }

    /// The value under `key` if it has not expired at `now`.
    func value(_ key: Key, now: UInt64) -> Value? {
        guard let entry = entries[key], entry.expires > now else { return nil }
        return entry.value
    }

    /// Whether `key` is held (expired or not, until `expire` drops it).
    func contains(_ key: Key) -> Bool { entries[key] != nil }

    mutating func insert(_ key: Key, _ value: Value, expires: UInt64) {
        entries[key] = (value, expires)
        queue.append((key, expires))
    }

    /// Takes `key` out, whether or not it expired; nil when it is not held.
    @discardableResult
    mutating func remove(_ key: Key) -> (value: Value, expires: UInt64)? {
        let removed = entries.removeValue(forKey: key)
        compactIfMostlyStale()
        return removed
    }

    /// Drops every entry expired at `now`, oldest first, telling `dropped` about each.
    mutating func expire(now: UInt64, dropped: (Key, Value) -> Void = { _, _ in }) {
        while head < queue.count, queue[head].expires <= now {
            let slot = queue[head]
            head += 1
            // The slot is live only if the entry still held is the one it was queued for.
            if let entry = entries[slot.key], entry.expires == slot.expires {
                entries[slot.key] = nil
                dropped(slot.key, entry.value)
            }
        }
        if head > 1024, head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
    }

    /// Takes out the entry that would expire first (a full table makes room this way).
    mutating func removeOldest() -> (key: Key, value: Value)? {
        while head < queue.count {
            let slot = queue[head]
            head += 1
            if let entry = entries[slot.key], entry.expires == slot.expires {
                entries[slot.key] = nil
                return (slot.key, entry.value)
            }
        }
        return nil
    }

    private mutating func compactIfMostlyStale() {
        let queued = queue.count - head
        guard queued > 4096, queued > 4 * entries.count else { return }
        queue = queue[head...].filter { slot in entries[slot.key].map { $0.expires == slot.expires } ?? false }
        head = 0
    }
}
