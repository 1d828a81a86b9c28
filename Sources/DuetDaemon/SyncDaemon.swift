public import DuetStore
import DuetCrypto
public import DuetSync
import DuetWire
import Foundation
public import Logging
public import ServiceLifecycle

/// `duetd`'s work (CLI.md): keeps this device in step with the relay while the journal stays
/// locked. It holds no content key and needs no passphrase: it authenticates with the delegated
/// sync key, pushes envelopes `duet` sealed and signed, and verifies and stores what arrives;
/// the next unlocked `duet` command opens and applies it.
public struct SyncDaemon: Service {
    public struct Options: Sendable {
        /// How often to look for local writes where the home folder cannot be watched (a
        /// `PRAGMA data_version` read: microseconds).
        public var localPollInterval: Duration = .milliseconds(25)
        /// How often to look anyway where it is watched (a missed wake costs at most this).
        public var watchedPollInterval: Duration = .seconds(1)
        /// Longest wait between reconnection attempts (jittered exponential backoff below it).
        public var maximumBackoff: Duration = .seconds(30)
        /// How often to run a round with nothing else to prompt one: a membership change (a
        /// device added or removed elsewhere) sends no envelope, so no socket tells of it.
        public var quietRoundInterval: Duration = .seconds(30)
        /// How long the live sockets may take to open before the attempt counts as failed.
        public var liveConnectTimeout: Duration = .seconds(30)
        /// How often the live socket pings the relay; two missed pongs end it.
        public var livePingInterval: Duration = .seconds(20)
        public init() {}
    }

    let home: Home
    let logger: Logger
    let options: Options
    /// Called once each time the daemon is connected and in step (for `duetd`'s ready line).
    let onConnected: @Sendable (String) -> Void
    /// The network and clocks (the system's, but for tests and the simulator).
    let environment: SyncEnvironment

    public init(home: Home, logger: Logger, options: Options = Options(), environment: SyncEnvironment = .system,
                onConnected: @escaping @Sendable (String) -> Void = { _ in }) {
        self.home = home
        self.logger = logger
        self.options = options
        self.environment = environment
        self.onConnected = onConnected
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            var failures = 0
            // One store for the daemon's whole life, not one per connection: opening checks the
            // file's header through a descriptor of its own, and closing any descriptor of a
            // database file drops the POSIX locks SQLite holds on it in this process. With a
            // connection of a previous session still using its store (an abandoned socket task),
            // that let the CLI write unlocked, and SQLite then reported the file corrupt.
            var store: Store?
            while !Task.isCancelled {
                do {
                    let opened = try store ?? Store.open(home: home)
                    store = opened
                    try await connectedSession(store: opened) { failures = 0 }
                } catch is CancellationError where Task.isCancelled {
                    // Only our own shutdown ends the daemon; a cancellation error from a
                    // library with nothing cancelled is one more fault to retry after.
                    return
                } catch let error as DaemonError where error.isPermanent {
                    logger.error("duetd cannot run", metadata: ["reason": "\(error.message)"])
                    throw error
                } catch let failure as RelayTransport.Failure where failure.deviceRemoved {
                    // Revoked: retrying for ever would only hide it. `duet status` says so too.
                    if let store { try? DaemonStatus.retrying(store, reason: "stopped: \(failure.message)", now: environment.now()) }
                    logger.error("duetd cannot run", metadata: ["reason": "\(failure.message)"])
                    throw DaemonError(message: failure.message, isPermanent: true)
                } catch {
                    failures += 1
                    if let store { try? DaemonStatus.retrying(store, reason: Self.reason(error), now: environment.now()) }
                    let delay = Self.backoff(failures: failures, maximum: options.maximumBackoff)
                    logger.warning("sync interrupted; retrying", metadata: ["reason": "\(Self.reason(error))", "retryInMs": "\(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)"])
                    do { try await environment.sleep(delay) } catch { return }
                }
            }
        }
    }

    /// 250 ms doubling per failure up to `maximum`, each wait drawn uniformly from its upper
    /// half (jitter: devices that lost the relay together do not return in lockstep).
    static func backoff(failures: Int, maximum: Duration) -> Duration {
        let base = Duration.milliseconds(250) * (1 << min(failures - 1, 16))
        let ceiling = min(base, maximum)
        return ceiling * Double.random(in: 0.5...1.0)
    }

    /// What to log about a failure: the relay's code or the transport's, never bytes or tokens.
    static func reason(_ error: any Error) -> String {
        if let failure = error as? RelayTransport.Failure { return failure.status == 0 ? "relay unreachable" : "relay refused: \(failure.code)" }
        // Store messages are written to be shown: they name what failed, never a secret.
        if let error = error as? StoreError { return "store: \(error.code.rawValue): \(error.message)" }
        if let error = error as? DaemonError { return error.message }
        return String(describing: type(of: error))
    }

    /// One connection: a full round, then live sockets per space and a watch on local writes,
    /// until something fails (then the caller backs off and reconnects).
    func connectedSession(store: Store, connected: () -> Void) async throws {
        guard let relay = try store.meta("relay") else {
            throw DaemonError(message: "no relay is configured", isPermanent: true, next: .giveRelay)
        }
        guard let credential = try store.syncCredential() else {
            throw DaemonError(message: "this device has no sync credential yet", isPermanent: true, next: .syncOnceWithPassphrase)
        }
        var transport = environment.transport(relay, .delegated(credential))
        try await transport.authenticate()
        let ownDevice = WireDeviceID(verifyingKey: credential.device)
        let spaces = try store.spaces()
        // Nothing may fall between the cracks: local writes are noticed from this version on,
        // and the first rounds run only once every live socket is up, so an envelope stored
        // at the relay either precedes a round's fetch or is pushed on a socket.
        let startVersion = try store.dataVersion()
        // Membership first: a space the relay does not know yet (never synced) is registered
        // here, and only then can a live socket for it be opened.
        for space in spaces { _ = try await SyncEngine.reconcileMembership(space, unlocked: nil, store: store, transport: transport, now: 0) }
        let authorized = transport
        let (ready, readySignal) = AsyncStream<Void>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for space in spaces {
                group.addTask {
                    defer { readySignal.finish() }
                    try await live(space, store: store, transport: authorized, ownDevice: ownDevice) { readySignal.yield() }
                }
            }
            // A live socket that neither opens nor fails (an upgrade the relay never answers)
            // must not hold the daemon: after the connect timeout the wait ends as a failure.
            let readyTimer = Task { [environment] in
                try? await environment.sleep(options.liveConnectTimeout)
                readySignal.finish()
            }
            defer { readyTimer.cancel() }
            var up = 0
            for await _ in ready {
                up += 1
                if up == spaces.count { break }
            }
            readyTimer.cancel()
            guard up == spaces.count else {
                throw DaemonError(message: "the relay refused or did not open a live connection")
            }
            for space in spaces { try await round(space, store: store, transport: authorized, ownDevice: ownDevice) }
            try await afterRounds(store: store, transport: authorized)
            try DaemonStatus.connected(store, now: environment.now())
            connected()
            onConnected(relay)
            group.addTask { try await watchLocalWrites(spaces: spaces, since: startVersion, store: store, transport: authorized, ownDevice: ownDevice) }
            try await group.next()
            group.cancelAll()
        }
        throw DaemonError(message: "the relay closed the live connection")
    }

    /// One space's round; `membership` false when a local write prompted it: `duet` posted any
    /// record it made itself, so only the envelopes need to go (issue #15: a local write cost six
    /// requests, the membership read and heads of every space and a fetch after the push).
    func round(_ space: SpaceInfo, store: Store, transport: RelayTransport, ownDevice: WireDeviceID, membership: Bool = true) async throws {
        if membership { _ = try await SyncEngine.reconcileMembership(space, unlocked: nil, store: store, transport: transport, now: 0) }
        let round = try await SyncEngine.exchange(space, store: store, transport: transport, ownDevice: ownDevice)
        if round.rolledBack { throw DaemonError(message: "the relay rolled back", next: .seeStatus) }
        if round.summary.pushed + round.summary.received > 0 {
            logger.debug("synced", metadata: ["pushed": "\(round.summary.pushed)", "received": "\(round.summary.received)"])
        }
    }

    /// What follows rounds: a recovery blob an unlocked command prepared is put at the relay
    /// (the daemon holds no key, but needs none for that), and the time is noted for `duet status`.
    func afterRounds(store: Store, transport: RelayTransport) async throws {
        do { try await RecoveryEngine.uploadPending(store: store, transport: transport, onlyOverWhatWasSeen: true) } catch {
            // Not a reason to drop the connection: it is tried again after the next round.
            logger.warning("the recovery blob could not be stored at the relay", metadata: ["reason": "\(Self.reason(error))"])
        }
        try DaemonStatus.synced(store, now: environment.now())
    }

    /// Envelopes pushed by the relay as they are stored. Each is verified and stored; one that
    /// does not follow (a gap after a missed push, a device added since) triggers a full round.
    func live(_ space: SpaceInfo, store: Store, transport: RelayTransport, ownDevice: WireDeviceID, ready: @escaping @Sendable () -> Void) async throws {
        let daemon = self
        try await transport.live(space.id, pingInterval: options.livePingInterval, opened: ready) { envelope in
            let report = try store.storeVerified([envelope], space: space.id)
            if !report.refused.isEmpty {
                try await daemon.round(space, store: store, transport: transport, ownDevice: ownDevice)
            }
            try DaemonStatus.synced(store, now: daemon.environment.now())
        }
    }

    /// Pushes what `duet` writes: SQLite's data version moves on every commit by another
    /// process; then each space's round pushes the new envelopes (and fetches anything missed).
    /// A change in the home folder wakes the check at once (`FolderWatch`); the watch exists
    /// before the first check, so a write just after a check always wakes the next wait.
    func watchLocalWrites(spaces: [SpaceInfo], since startVersion: Int, store: Store, transport: RelayTransport, ownDevice: WireDeviceID) async throws {
        let watch = FolderWatch(path: home.path)
        let interval = watch.isWatching ? options.watchedPollInterval : options.localPollInterval
        let clock = ContinuousClock()
        var seen = startVersion
        var lastRound = clock.now
        // A wake comes with the commit's first write to the WAL, before the commit is visible
        // (SQLite publishes it through the memory-mapped index, which raises no event): after a
        // wake, look again every few milliseconds for a short while.
        var settlingUntil: ContinuousClock.Instant?
        while true {
            let version = try store.dataVersion()
            if version != seen {
                seen = version
                settlingUntil = nil
                // Pairing adds a space: reconnect to follow it live.
                guard try store.spaces() == spaces else { throw DaemonError(message: "the device joined a space") }
                // Only where this device wrote: what others write comes on the live sockets.
                for space in spaces where try store.hasUnpushed(space: space.id, device: ownDevice) {
                    try await round(space, store: store, transport: transport, ownDevice: ownDevice, membership: false)
                }
                try await afterRounds(store: store, transport: transport)
                lastRound = clock.now
            } else if clock.now - lastRound >= options.quietRoundInterval {
                for space in spaces { try await round(space, store: store, transport: transport, ownDevice: ownDevice) }
                try await afterRounds(store: store, transport: transport)
                lastRound = clock.now
            }
            if let until = settlingUntil, clock.now < until {
                try await Task.sleep(for: .milliseconds(2))
                continue
            }
            settlingUntil = try await watch.wait(timeout: interval) ? clock.now + .milliseconds(250) : nil
        }
    }
}

extension SyncDaemon: CustomStringConvertible {
    /// How ServiceLifecycle names the service in its logs: no paths, no state.
    public var description: String { "SyncDaemon" }
}

/// Why the daemon stopped or reconnects. Permanent ones need the person to act first.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var isPermanent = false
    /// What the person can do, for `duetd` (or an app) to word.
    public var next: NextStep?
    public init(message: String, isPermanent: Bool = false, next: NextStep? = nil) {
        self.message = message
        self.isPermanent = isPermanent
        self.next = next
    }
    public var description: String { message }
}
