public import DuetStore
public import DuetCrypto
public import DuetWire
import Foundation

/// The recovery blob (SPEC § 7.5): kept current at the relay by this person's devices, and
/// turned back into a device by `duet recover` with nothing but the code and the relay.
///
/// An unlocked command that changes what the blob must hold seals and signs a new one and
/// keeps it in the store as *pending* (ciphertext and a signature: nothing readable); whoever
/// next reaches the relay — that command, `duet sync`, or `duetd`, which holds no key — puts
/// it there. Each blob carries a generation one above any this device has seen, and every
/// unlocked sync reads the relay's back: one older than this device put or saw is a relay
/// serving an old blob (to a device that would then recover old keys and an old membership).
public enum RecoveryEngine {
    public typealias Failure = PairingEngine.Failure

    /// A new recovery code and the slot it names (`duet init` shows the code once).
    public static func newCode() -> (code: String, slot: RecoverySlot)? {
        let code = Recovery.makeCode()
        return Recovery.derive(code: code).map { (code, $0) }
    }

    public static func isWellFormed(code: String) -> Bool { Recovery.derive(code: code) != nil }

    /// The person's bundle as this device holds it now, with how far each space's log went.
    static func bundle(_ unlocked: UnlockedStore, store: Store) throws -> IdentityBundle {
        let keystore = unlocked.keystore
        var couple: IdentityBundle.Couple?
        if let space = try store.space(.couple), let partner = try store.people().first(where: { !$0.isMe }) {
            couple = IdentityBundle.Couple(space: space.id, keys: try unlocked.spaceKeys(space.id), partner: partner.identity, partnerName: partner.name)
        }
        var heads: [SpaceID: IdentityBundle.LogHead] = [:]
        for space in try store.spaces() {
            if let last = try store.membershipLog(space: space.id).records.last { heads[space.id] = IdentityBundle.LogHead(records: last.index, last: last.hash) }
        }
        return IdentityBundle(identity: keystore.identity, name: keystore.name, personalSpace: keystore.personalSpace,
                              personalKeys: try unlocked.spaceKeys(keystore.personalSpace), couple: couple, recovery: keystore.recovery,
                              logHeads: heads)
    }

    /// What decides that a blob is out of date: which spaces and epochs, and how long each
    /// log is — never the keys themselves.
    static func state(of bundle: IdentityBundle) -> String {
        let logs = bundle.logHeads.sorted { $0.key.description < $1.key.description }.map { "\($0.key):\($0.value.records)" }
        return "p:\(bundle.personalKeys.keys.sorted());c:\(bundle.couple.map { "\($0.space):\($0.keys.keys.sorted())" } ?? "-");l:\(logs)"
    }

    /// True when `blob` holds at least what `mine` does (every epoch, each log as long).
    static func covers(_ blob: IdentityBundle, _ mine: IdentityBundle) -> Bool {
        Set(blob.personalKeys.keys).isSuperset(of: mine.personalKeys.keys)
            && (mine.couple.map { couple in blob.couple?.space == couple.space && Set(blob.couple?.keys.keys ?? [:].keys).isSuperset(of: couple.keys.keys) } ?? true)
            && mine.logHeads.allSatisfy { space, head in (blob.logHeads[space]?.records ?? 0) >= head.records }
    }

    enum Meta {
        /// What the blob this device last put at the relay held (``state(of:)``).
        static let uploaded = "recovery_state"
        /// The highest generation this device put or saw at the relay.
        static let generation = "recovery_generation"
        /// A sealed, signed blob waiting to be put: slot (hex) and body (hex), and its state.
        static let pending = "recovery_pending"
        /// The digest of the blob this device last saw at the relay or put there.
        static let seen = "recovery_seen"
    }

    /// Seals and signs a new blob when what it must hold changed since the last one, and keeps
    /// it as pending. Returns whether one is pending now.
    @discardableResult
    public static func prepare(_ unlocked: UnlockedStore, store: Store) throws -> Bool {
        try prepare(unlocked, store: store, holding: try bundle(unlocked, store: store))
    }

    /// ``prepare(_:store:)`` for a bundle already read (each read replays every space's log).
    @discardableResult
    static func prepare(_ unlocked: UnlockedStore, store: Store, holding current: IdentityBundle) throws -> Bool {
        guard let recovery = unlocked.keystore.recovery else { return false }
        let state = state(of: current)
        let known = UInt64(try store.meta(Meta.generation) ?? "0") ?? 0
        // A pending blob holding the same is kept, unless a newer generation was seen since it
        // was made (another device put one): it must name more than any seen, or it reads old.
        if let pending = try store.meta(Meta.pending), pending.hasSuffix(" " + state),
           let generation = pending.split(separator: " ").dropFirst(2).first.flatMap({ UInt64($0) }), generation > known { return true }
        guard try store.meta(Meta.uploaded) != state else {
            // The relay holds what this device holds: an older pending blob must not replace it.
            try store.deleteMeta(Meta.pending)
            return false
        }
        // A counter no honest run reaches (someone holding the code raised it): stay at it.
        let generation = known == .max ? known : known + 1
        let blob = try current.with(generation: generation).seal(using: recovery.key, purpose: "recovery")
        let body = Recovery.putBody(slot: recovery.slot, blob: blob, identity: unlocked.keystore.identity)
        try store.setMeta(Meta.pending, "\(Hex.encode(recovery.slot)) \(Hex.encode(body)) \(generation) \(state)")
        return true
    }

    /// Puts the pending blob at the relay, if there is one (needs no key: `duetd` does this),
    /// then reads it back: a relay that answers yes and keeps nothing is caught at once.
    /// With `onlyOverWhatWasSeen` (the daemon, which cannot open the relay's blob to compare
    /// generations), it is put only over the blob this device last saw or put there: another
    /// device's newer one is left for the next unlocked sync to weigh.
    public static func uploadPending(store: Store, transport: RelayTransport, onlyOverWhatWasSeen: Bool = false) async throws {
        guard let pending = try store.meta(Meta.pending) else { return }
        let parts = pending.split(separator: " ", maxSplits: 3).map(String.init)
        guard parts.count == 4, let slot = Hex.decode(parts[0]), let body = Hex.decode(parts[1]), body.count > 96,
              let generation = UInt64(parts[2]) else {
            try store.deleteMeta(Meta.pending)   // damaged: the next unlocked command makes it again
            return
        }
        let blob = Array(body[96...])
        if onlyOverWhatWasSeen {
            let there = try await transport.recovery(slot: slot).map(digestText)
            guard there == (try store.meta(Meta.seen)) else { return }
        }
        try await transport.putRecovery(slot: slot, body: body)
        guard try await transport.recovery(slot: slot) == blob else {
            try store.addWarning("the relay accepted your recovery blob but does not keep it: your recovery code does not work there; it is tried again at the next sync")
            return
        }
        // Only if nothing newer was prepared meanwhile (another process of this device).
        guard try store.meta(Meta.pending) == pending else { return }
        try store.setMeta(Meta.uploaded, parts[3])
        try store.setMeta(Meta.seen, digestText(blob))
        if generation > UInt64(try store.meta(Meta.generation) ?? "0") ?? 0 { try store.setMeta(Meta.generation, String(generation)) }
        try store.deleteMeta(Meta.pending)
    }

    /// How a blob is remembered without keeping it: its BLAKE2b-256, in hex.
    static func digestText(_ blob: [UInt8]) -> String { Hex.encode(Hash.digest(blob).bytes) }

    /// The whole of an unlocked sync's part: reads the relay's blob and checks it against what
    /// this device put or saw, prepares a new one if needed, and puts it.
    static func refreshIfStale(_ unlocked: UnlockedStore, store: Store, transport: RelayTransport) async throws {
        guard let recovery = unlocked.keystore.recovery else { return }
        // Prepared first, so that a relay out of reach still leaves the blob pending for the
        // next sync or `duetd`.
        let mine = try bundle(unlocked, store: store)
        try prepare(unlocked, store: store, holding: mine)
        try await crossCheck(recovery, against: mine, store: store, transport: transport)
        try prepare(unlocked, store: store, holding: mine)
        try await uploadPending(store: store, transport: transport)
    }

    /// Reads the blob the relay keeps and compares it with what this device knows: missing
    /// after this device put one, not opening, or of an older generation — each is said, and
    /// a current blob is put again. A newer one (another device of this person's) is noted.
    static func crossCheck(_ recovery: RecoverySlot, against mine: IdentityBundle, store: Store, transport: RelayTransport) async throws {
        let known = UInt64(try store.meta(Meta.generation) ?? "0") ?? 0
        let uploadedBefore = try store.meta(Meta.uploaded) != nil
        let fetched = try await transport.recovery(slot: recovery.slot)
        if let fetched { try store.setMeta(Meta.seen, digestText(fetched)) } else { try store.deleteMeta(Meta.seen) }
        guard let sealed = fetched else {
            if uploadedBefore {
                try store.addWarning("the relay no longer keeps your recovery blob (it lost it, or was replaced); this device put it there again")
                try store.deleteMeta(Meta.uploaded)
            }
            return
        }
        let blob: IdentityBundle
        do { blob = try IdentityBundle.open(sealed, using: recovery.key, purpose: "recovery") } catch {
            try store.addWarning("what the relay keeps under your recovery code does not open with it (altered or replaced); this device put a good one there")
            try store.deleteMeta(Meta.uploaded)
            return
        }
        if blob.generation < known {
            try store.addWarning("""
                the relay serves an older recovery blob (generation \(blob.generation); this device put or saw \(known)): a device \
                recovered from it would get old keys and an old membership; this device put the current one there again
                """)
            try store.deleteMeta(Meta.uploaded)
            return
        }
        if blob.generation > known { try store.setMeta(Meta.generation, String(blob.generation)) }
        if blob.generation == .max {
            // Only someone holding the recovery code (a lost device keeps it) seals that.
            try store.addWarning("the recovery blob at the relay carries a counter no device of yours would reach: someone else may hold your recovery code")
        }
        // Another of this person's devices put it: keep it, unless it lacks what this one holds.
        if covers(blob, mine) { try store.setMeta(Meta.uploaded, state(of: mine)) } else { try store.deleteMeta(Meta.uploaded) }
    }

    /// On a new device: fetches and opens the blob, creates this device's store in `home` as a
    /// new device of the same person, certifies it into each space, and syncs. Nothing is
    /// created unless the blob opens.
    public static func recover(
        code: String, home: Home, deviceName: String, passphrase: SecretBytes, parameters: PassphraseKDFParameters,
        relay: String, environment: SyncEnvironment = .system
    ) async throws -> (store: Store, unlocked: UnlockedStore, sync: SyncEngine.Result) {
        guard let slot = Recovery.derive(code: code) else {
            throw Failure(.malformedCode(.recovery))
        }
        guard !home.exists else { throw StoreError(.alreadyInitialised, "\(home.path) already holds a Duet journal") }
        let device = SigningKey.generate()
        var transport = environment.transport(relay, .device(device))
        try await transport.authenticate()
        guard let sealed = try await transport.recovery(slot: slot.slot) else {
            throw Failure(.nothingUnderRecoveryCode, next: .checkRecoveryOnAnotherDevice)
        }
        let bundle: IdentityBundle
        do { bundle = try IdentityBundle.open(sealed, using: slot.key, purpose: "recovery") } catch {
            throw Failure(.recoveryDoesNotOpen)
        }
        let certificate = DeviceCertificate.issue(identity: bundle.identity, device: device.verifyingKey, created: environment.now())
        // Read every space's log before creating anything: a relay that lost them stops here.
        var logs: [(SpaceInfo, [MembershipRecord])] = []
        var spaces = [SpaceInfo(id: bundle.personalSpace, kind: .personal, epoch: bundle.personalKeys.keys.max() ?? 1)]
        if let couple = bundle.couple { spaces.append(SpaceInfo(id: couple.space, kind: .couple, epoch: couple.keys.keys.max() ?? 1)) }
        var people: [(identity: VerifyingKey, name: String, isMe: Bool)] = [(bundle.identity.verifyingKey, bundle.name, true)]
        if let couple = bundle.couple { people.append((couple.partner, couple.partnerName, false)) }
        for space in spaces {
            let records = try await transport.membership(space.id, certificate: certificate)
            try SyncEngine.checkAdopted(records, space: space, people: people)
            if let floor = bundle.logHeads[space.id] { try SyncEngine.checkReaches(records, floor: floor, space: space, store: nil) }
            logs.append((space, records))
        }
        let (store, unlocked) = try Store.createLinked(home: home, bundle: bundle, device: device, deviceName: deviceName,
                                                       passphrase: passphrase, parameters: parameters, recovery: slot)
        try store.setMeta("relay", relay)
        // The blob this device came from: one older than it, served later, is caught.
        try store.setMeta(Meta.generation, String(bundle.generation))
        for (space, records) in logs {
            let log = try store.appendMembership(records, space: space.id)
            let add = log.nextRecord(.addDevice(certificate), by: bundle.identity)
            try await transport.postMembership([add], signedHere: store)
            try store.appendMembership([add], space: space.id)
        }
        let result = try await SyncEngine.sync(unlocked, store: store, relay: relay, now: environment.now(), environment: environment)
        return (store, unlocked, result)
    }
}
