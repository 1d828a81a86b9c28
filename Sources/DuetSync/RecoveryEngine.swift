public import DuetStore
public import DuetCrypto
public import DuetWire
import Foundation

/// The recovery blob (SPEC § 7.5): kept current at the relay by this person's devices, and
/// turned back into a device by `duet recover` with nothing but the code and the relay.
public enum RecoveryEngine {
    public typealias Failure = PairingEngine.Failure

    /// A new recovery code and the slot it names (`duet init` shows the code once).
    public static func newCode() -> (code: String, slot: RecoverySlot)? {
        let code = Recovery.makeCode()
        return Recovery.derive(code: code).map { (code, $0) }
    }

    public static func isWellFormed(code: String) -> Bool { Recovery.derive(code: code) != nil }

    /// The person's bundle as this device holds it now.
    static func bundle(_ unlocked: UnlockedStore, store: Store) throws -> IdentityBundle {
        let keystore = unlocked.keystore
        var couple: IdentityBundle.Couple?
        if let space = try store.space(.couple), let partner = try store.people().first(where: { !$0.isMe }) {
            couple = IdentityBundle.Couple(space: space.id, keys: try unlocked.spaceKeys(space.id), partner: partner.identity, partnerName: partner.name)
        }
        return IdentityBundle(identity: keystore.identity, name: keystore.name, personalSpace: keystore.personalSpace,
                              personalKeys: try unlocked.spaceKeys(keystore.personalSpace), couple: couple, recovery: keystore.recovery)
    }

    /// Uploads the blob when what it must hold changed since the last upload (first sync,
    /// pairing, a new epoch): which spaces and epochs, never the keys, decide staleness.
    static func refreshIfStale(_ unlocked: UnlockedStore, store: Store, transport: RelayTransport) async throws {
        guard let recovery = unlocked.keystore.recovery else { return }
        let bundle = try bundle(unlocked, store: store)
        let state = "p:\(bundle.personalKeys.keys.sorted());c:\(bundle.couple.map { "\($0.space):\($0.keys.keys.sorted())" } ?? "-")"
        guard try store.meta("recovery_state") != state else { return }
        try await transport.putRecovery(slot: recovery.slot, blob: try bundle.seal(using: recovery.key, purpose: "recovery"),
                                        identity: unlocked.keystore.identity)
        try store.setMeta("recovery_state", state)
    }

    /// On a new device: fetches and opens the blob, creates this device's store in `home` as a
    /// new device of the same person, certifies it into each space, and syncs. Nothing is
    /// created unless the blob opens.
    public static func recover(
        code: String, home: Home, deviceName: String, passphrase: SecretBytes, parameters: PassphraseKDFParameters,
        relay: String, now: @Sendable () -> UInt64
    ) async throws -> (store: Store, unlocked: UnlockedStore, sync: SyncEngine.Result) {
        guard let slot = Recovery.derive(code: code) else {
            throw Failure(message: "that is not a recovery code: it has 26 letters and digits (dashes and spaces are ignored)")
        }
        guard !home.exists else { throw StoreError(.alreadyInitialised, "\(home.path) already holds a Duet journal; choose another --home") }
        let device = SigningKey.generate()
        var transport = RelayTransport(base: relay, device: device)
        try await transport.authenticate()
        guard let sealed = try await transport.recovery(slot: slot.slot) else {
            throw Failure(message: "this relay keeps nothing under that recovery code: check the code and the relay (the blob is uploaded at the first `duet sync`)")
        }
        let bundle: IdentityBundle
        do { bundle = try IdentityBundle.open(sealed, using: slot.key, purpose: "recovery") } catch {
            throw Failure(message: "what the relay keeps under that code does not open with it; nothing was created")
        }
        let certificate = DeviceCertificate.issue(identity: bundle.identity, device: device.verifyingKey, created: now())
        // Read every space's log before creating anything: a relay that lost them stops here.
        var logs: [(SpaceInfo, [MembershipRecord])] = []
        var spaces = [SpaceInfo(id: bundle.personalSpace, kind: .personal, epoch: bundle.personalKeys.keys.max() ?? 1)]
        if let couple = bundle.couple { spaces.append(SpaceInfo(id: couple.space, kind: .couple, epoch: couple.keys.keys.max() ?? 1)) }
        var people: [(identity: VerifyingKey, name: String, isMe: Bool)] = [(bundle.identity.verifyingKey, bundle.name, true)]
        if let couple = bundle.couple { people.append((couple.partner, couple.partnerName, false)) }
        for space in spaces {
            let records = try await transport.membership(space.id, certificate: certificate)
            try SyncEngine.checkAdopted(records, space: space, people: people)
            logs.append((space, records))
        }
        let (store, unlocked) = try Store.createLinked(home: home, bundle: bundle, device: device, deviceName: deviceName,
                                                       passphrase: passphrase, parameters: parameters, recovery: slot)
        try store.setMeta("relay", relay)
        for (space, records) in logs {
            let log = try store.appendMembership(records, space: space.id)
            let add = log.nextRecord(.addDevice(certificate), by: bundle.identity)
            try await transport.postMembership(add)
            try store.appendMembership([add], space: space.id)
        }
        let result = try await SyncEngine.sync(unlocked, store: store, relay: relay, now: now())
        return (store, unlocked, result)
    }
}
