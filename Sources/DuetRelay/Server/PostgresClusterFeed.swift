import DuetCrypto
import DuetWire
import Logging
import PostgresNIO

/// Live fan-out across relay processes on one database (issue #17). Each process LISTENs on
/// one channel; every transaction that stores envelopes or membership records sends a
/// notification in it (PostgreSQL delivers them at commit, in commit order, to every listener):
///
/// - `e:INSTANCE:SPACE:FIRST:LAST`: envelopes of SPACE at arrival positions FIRST…LAST were
///   stored. A process with sockets on SPACE reads them and pushes them as its own appends are.
/// - `m:INSTANCE:SPACE`: SPACE's membership log grew. Its cached log is forgotten, and sockets
///   of devices no longer members are closed.
/// - `s:INSTANCE:DEVICE`: DEVICE's sessions were ended (it was removed): forgotten here too.
/// - `t:INSTANCE:HASH,…` (or `*`): sessions a new one pushed out of a cap, forgotten here too.
///
/// A process skips what it sent itself (it pushed those already). When the listening connection
/// is lost, what was notified meanwhile is lost with it: every live socket is closed (clients
/// reconnect and fetch, so nothing is missed), cached membership is not trusted until the
/// listener is back, and it reconnects with a growing pause.
final class PostgresClusterFeed: Sendable {
    private let location: PostgresLocation
    private let storage: PostgresRelayStorage
    private let service: RelayService
    private let live: LiveFanOut
    private let access: PostgresAccessStore
    private let logger: Logger

    init(location: PostgresLocation, storage: PostgresRelayStorage, access: PostgresAccessStore, service: RelayService, live: LiveFanOut, logger: Logger) {
        self.location = location
        self.storage = storage
        self.access = access
        self.service = service
        self.live = live
        self.logger = logger
    }

    /// Listens until cancelled, reconnecting; `listening` is called each time LISTEN took effect.
    func run(listening: @escaping @Sendable () async -> Void = {}) async {
        var pause: Duration = .milliseconds(100)
        var connected = false
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(configuration: location.connectionConfiguration, id: 1, logger: logger)
                defer { Task { try? await connection.close() } }
                try await connection.listen(on: PostgresRelayStorage.channel) { notifications in
                    // LISTEN is in effect: from here on nothing committed is missed.
                    await service.trustMembershipCache(true)
                    access.trustCache(true)
                    // Sockets opened after the loss was noticed were refused; any opened before
                    // it was (while the stream had not yet failed) are closed now, once more.
                    if connected { await live.closeAll() }
                    if connected { logger.notice("the relay's notification listener is back") }
                    connected = true
                    pause = .milliseconds(100)
                    await listening()
                    for try await notification in notifications {
                        await handle(notification.payload)
                    }
                }
                throw PostgresRelayError("the notification stream ended")
            } catch {
                if Task.isCancelled { return }
                logger.warning("the relay's notification listener lost PostgreSQL (\(PostgresRelayStorage.reason(error))); live sockets are closed and clients fetch")
                await service.trustMembershipCache(false)
                access.trustCache(false)
                await live.closeAll()
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(2))
            }
        }
    }

    /// One notification. The database is shared, but its rows are another process's words:
    /// a payload that does not parse is skipped with a notice.
    private func handle(_ payload: String) async {
        let parts = payload.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts.count <= 5, parts[1].utf8.count <= 64 else { return skipped(payload) }
        guard parts[1] != Substring(storage.instance) else { return }
        if parts[0] == "t", parts.count == 3 {
            // Sessions a new one pushed out: named by their hashes, or all (`*`).
            guard parts[2] != "*" else { return access.forgetSessions(hashes: nil) }
            let hashes = parts[2].split(separator: ",").prefix(PostgresAccessStore.maximumNamedSessions).compactMap { Hex.decode(String($0)) }
            return access.forgetSessions(hashes: hashes)
        }
        guard let key = Hex.decode(String(parts[2])) else { return skipped(payload) }
        switch (parts[0], parts.count) {
        case ("e", 5):
            // A group stores at most AppendGroups.maximumGroup envelopes: a longer range is not
            // one of ours (any role that can connect may NOTIFY), and would load a whole space.
            guard let space = try? SpaceID(bytes: key), let first = Int64(parts[3]), let last = Int64(parts[4]), first >= 1, first <= last,
                  last - first < Int64(AppendGroups.maximumGroup) else {
                return skipped(payload)
            }
            guard await live.hasSubscribers(space: space) else { return }
            do {
                let envelopes = try await storage.envelopes(space: space, positions: first, last)
                await live.publish(space: space, envelopes: envelopes, members: await service.memberDeviceIDs(of: space))
            } catch {
                // Not pushed: the sockets on the space would miss them, so they are closed (their
                // clients reconnect and fetch).
                logger.warning("could not read envelopes another relay stored (\(PostgresRelayStorage.reason(error))); closing the space's live sockets")
                await live.prune(space: space, members: [])
            }
        case ("m", 3):
            guard let space = try? SpaceID(bytes: key) else { return skipped(payload) }
            await service.forgetMembership(of: space)
            await live.prune(space: space, members: await service.memberDeviceIDs(of: space))
        case ("s", 3):
            guard let device = try? VerifyingKey(bytes: key) else { return skipped(payload) }
            access.forgetSessions(of: device)
        default:
            skipped(payload)
        }
    }

    private func skipped(_ payload: String) {
        logger.notice("skipped a notification on the relay's channel that is not one of its own (\(payload.utf8.count) bytes)")
    }
}
