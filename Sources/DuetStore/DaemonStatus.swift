/// What `duetd` last did, kept in the store for `duet status` (the daemon is another process):
/// when it last finished a round or stored what the relay pushed, and whether it is connected
/// or retrying (and why). Written on the daemon's own connection, so its local-write watch
/// (SQLite's `data_version`, which counts other connections' commits) does not wake on it.
public enum DaemonStatus {
    static let syncedKey = "daemon_sync"
    static let stateKey = "daemon_state"

    public enum State: Equatable, Sendable {
        case connected(since: UInt64)
        case retrying(since: UInt64, reason: String)
    }

    /// Notes a finished round: at most one write a second (a busy live socket stores often).
    public static func synced(_ store: Store, now: UInt64) throws(StoreError) {
        if let last = try lastSync(store), now >= last, now - last < 1_000 { return }
        try store.setMeta(syncedKey, String(now))
    }

    public static func connected(_ store: Store, now: UInt64) throws(StoreError) {
        try store.setMeta(stateKey, "connected \(now)")
    }

    /// Notes why the daemon is reconnecting; the first failure's time is kept while it retries.
    public static func retrying(_ store: Store, reason: String, now: UInt64) throws(StoreError) {
        let since: UInt64 = if case .retrying(let since, _) = try state(store) { since } else { now }
        try store.setMeta(stateKey, "retrying \(since) \(Sanitise.line(reason))")
    }

    public static func lastSync(_ store: Store) throws(StoreError) -> UInt64? {
        try store.meta(syncedKey).flatMap { UInt64($0) }
    }

    public static func state(_ store: Store) throws(StoreError) -> State? {
        guard let text = try store.meta(stateKey) else { return nil }
        let parts = text.split(separator: " ", maxSplits: 2).map(String.init)
        guard parts.count >= 2, let since = UInt64(parts[1]) else { return nil }
        switch parts[0] {
        case "connected": return .connected(since: since)
        case "retrying": return .retrying(since: since, reason: parts.count == 3 ? parts[2] : "")
        default: return nil
        }
    }
}
