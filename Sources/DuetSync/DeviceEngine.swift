public import DuetStore
public import DuetCrypto
import DuetWire
import Foundation

/// Linking a new device of the same person and revoking one (SPEC §§ 7.3–7.4).
public enum DeviceEngine {
    public typealias Failure = PairingEngine.Failure

    /// On an existing device: shows a code, waits for the new device's request, certifies it
    /// in every space (with the current content key sealed to it), then hands it the person's
    /// keys sealed under the code. Returns the new device's name.
    public static func link(
        _ unlocked: UnlockedStore, store: Store, relay: String, timeout: Duration, environment: SyncEnvironment = .system,
        show: (String) -> Void
    ) async throws -> String {
        let keystore = unlocked.keystore
        let now = environment.now
        var transport = environment.transport(relay, .device(keystore.device))
        try await transport.authenticate()
        // Certify into the logs as the relay holds them, so the new records follow.
        for space in try store.spaces() {
            _ = try await SyncEngine.reconcileMembership(space, unlocked: unlocked, store: store, transport: transport, now: now())
        }
        let code = Pairing.makeCode()
        guard let derived = Pairing.derive(code: code) else { throw Failure(.codeNotDerived) }
        show(code)
        guard let sealedRequest = try await transport.awaitMailbox(derived.replyMailbox, timeout: timeout, interval: PairingEngine.pollInterval) else {
            throw Failure(.linkUnanswered, next: .linkAgain)
        }
        let request: LinkRequest
        do { request = try LinkRequest.open(sealedRequest, using: derived.key) } catch {
            throw Failure(.linkRequestInvalid(cause: String(describing: error)))
        }
        let certificate = DeviceCertificate.issue(identity: keystore.identity, device: request.device, created: now())
        var couple: IdentityBundle.Couple?
        var heads: [SpaceID: IdentityBundle.LogHead] = [:]
        for space in try store.spaces() {
            let log = try store.membershipLog(space: space.id)
            guard let key = try unlocked.spaceKeys(space.id)[log.epoch] else {
                throw Failure(.lacksSpaceKey, next: .syncThenRetry)
            }
            var records = log.nextRecords([.addDevice(certificate),
                                           .wrapKey(epoch: log.epoch, device: request.device, box: try PairingEngine.wrap(key, for: request.device))],
                                          by: keystore.identity)
            // The new device's name, sealed in this person's directory, in the same batch: the
            // partner's notice names it, and the relay reads no name.
            var grown = log
            try grown.append(batch: records)
            let directory = try DirectoryEngine.current(space, log: grown, unlocked: unlocked, store: store, extra: [request.device: request.deviceName])
            records.append(grown.nextRecord(.directory(epoch: grown.epoch, sealed: try directory.seal(space: space.id, signer: keystore.identity.verifyingKey,
                                                                                                    contentKey: key)), by: keystore.identity))
            try await transport.postMembership(records, signedHere: store)
            let now = try store.appendMembership(records, space: space.id)
            // The new device must be shown at least this much of the log (SPEC § 7.3).
            if let last = now.records.last { heads[space.id] = IdentityBundle.LogHead(records: last.index, last: last.hash) }
            try unlocked.refreshDirectory()
            if space.kind == .couple, let partner = try store.people().first(where: { !$0.isMe }) {
                couple = IdentityBundle.Couple(space: space.id, keys: try unlocked.spaceKeys(space.id), partner: partner.identity, partnerName: partner.name)
            }
        }
        let bundle = IdentityBundle(identity: keystore.identity, name: keystore.name, personalSpace: keystore.personalSpace,
                                    personalKeys: try unlocked.spaceKeys(keystore.personalSpace), couple: couple, recovery: keystore.recovery,
                                    logHeads: heads)
        try await transport.putMailbox(derived.inviteMailbox, try bundle.seal(using: derived.key, purpose: "link"))
        return request.deviceName
    }

    /// On the new device: asks through the code, receives the person's keys, creates this
    /// device's store in `home`, and syncs. Nothing is created unless the whole exchange holds.
    public static func join(
        code: String, home: Home, deviceName: String, passphrase: SecretBytes, parameters: PassphraseKDFParameters,
        relay: String, timeout: Duration, environment: SyncEnvironment = .system
    ) async throws -> (store: Store, unlocked: UnlockedStore, sync: SyncEngine.Result) {
        guard let derived = Pairing.derive(code: code) else {
            throw Failure(.malformedCode(.link))
        }
        guard !home.exists else { throw StoreError(.alreadyInitialised, "\(home.path) already holds a Duet journal") }
        let device = SigningKey.generate()
        var transport = environment.transport(relay, .device(device))
        try await transport.authenticate()
        try await transport.putMailbox(derived.replyMailbox, try LinkRequest(device: device.verifyingKey, deviceName: deviceName).seal(using: derived.key))
        guard let sealedBundle = try await transport.awaitMailbox(derived.inviteMailbox, timeout: timeout, interval: PairingEngine.pollInterval) else {
            throw Failure(.otherDeviceDidNotAnswer, next: .checkLinkIsWaiting)
        }
        let bundle: IdentityBundle
        do { bundle = try IdentityBundle.open(sealedBundle, using: derived.key, purpose: "link") } catch {
            throw Failure(.linkReplyInvalid(cause: String(describing: error)))
        }
        let (store, unlocked) = try Store.createLinked(home: home, bundle: bundle, device: device, deviceName: deviceName,
                                                       passphrase: passphrase, parameters: parameters)
        try store.setMeta("relay", relay)
        let result = try await SyncEngine.sync(unlocked, store: store, relay: relay, now: environment.now(), environment: environment)
        return (store, unlocked, result)
    }

    /// A rotation to the next epoch: a fresh key, its commitment, and the key wrapped to every
    /// member device but `excluded` (the one being removed), in one batch.
    static func rotation(of space: SpaceID, after log: MembershipLog, excluding excluded: VerifyingKey? = nil) throws -> [MembershipRecord.Action] {
        let next = log.epoch + 1
        let key = SymmetricKey.random()
        var actions: [MembershipRecord.Action] = [.rotateKey(epoch: next, keyCommitment: MembershipLog.keyCommitment(space: space, epoch: next, key: key))]
        for device in log.devices.keys.sorted(by: { $0.bytes.lexicographicallyPrecedes($1.bytes) }) where device != excluded {
            actions.append(.wrapKey(epoch: next, device: device, box: try PairingEngine.wrap(key, for: device)))
        }
        return actions
    }

    /// When the key this device was handed for the current epoch does not work (it does not
    /// open, or is not the one the rotation committed to), gives everyone a new one — the log
    /// allows answering an epoch the other person began, once — and says so. Returns whether
    /// it rotated.
    @discardableResult
    static func answerUnusableKey(_ space: SpaceInfo, unlocked: UnlockedStore, store: Store, transport: RelayTransport) async throws -> Bool {
        guard try unlocked.currentKeyIsUnusable(space: space.id) else { return false }
        let log = try store.membershipLog(space: space.id)
        let me = unlocked.keystore.identity.verifyingKey
        let who = log.epochBegunBy.flatMap { begun in try? store.people().first { $0.identity == begun } }
            .map { $0.isMe ? "Your other device" : Sanitise.line($0.name) } ?? "Someone"
        let place = space.kind == .couple ? "your shared space" : "your private journal"
        guard log.mayRotate(me) else {
            // Another device of this person may mend it (`rekeyOwnDevices`); meanwhile this
            // device writes under the newest epoch it holds that no removed device held.
            try store.addWarning("\(who) gave this device a key for \(place) that does not work (it does not open, or is not the key announced); it writes under the previous key until another of your devices gives it the right one")
            return false
        }
        let records = log.nextRecords(try rotation(of: space.id, after: log), by: unlocked.keystore.identity)
        do {
            try await transport.postMembership(records, signedHere: store)
        } catch let failure as RelayTransport.Failure where failure.code == "membership-out-of-order" {
            return false   // another device (of this person, answering too) was first: the next sync sees it
        }
        try store.appendMembership(records, space: space.id)
        try store.addWarning("\(who) gave this device a key for \(place) that does not work (it does not open, or is not the key announced); this device set a new key for every device in it")
        try? await RecoveryEngine.refreshIfStale(unlocked, store: store, transport: transport)
        return true
    }

    /// This person's devices that a revocation can still act on: a member of some space, or
    /// removed from one whose key was not rotated since (an interrupted revocation, or one that
    /// reached only some spaces). Not this device.
    public static func revocable(_ store: Store, identity: VerifyingKey, this device: VerifyingKey) throws -> Set<VerifyingKey> {
        var result = Set<VerifyingKey>()
        for space in try store.spaces() {
            let log = try store.membershipLog(space: space.id)
            for (key, certificate) in log.devices where certificate.identity == identity && key != device { result.insert(key) }
            for key in log.removedDevices where log.certifiers[key] == identity && removedWithoutRotation(key, in: log) { result.insert(key) }
        }
        return result
    }

    /// Gives this person's other devices the current epoch's key when they lack it, or hold
    /// one the other person wrapped (which may be junk: this device cannot open their boxes to
    /// tell) — once per epoch and device, as the log allows (SPEC § 6.2). What a hostile
    /// rotation or pairing left out or spoilt on one of this person's devices, another of them
    /// mends. Returns the wraps posted.
    @discardableResult
    static func rekeyOwnDevices(_ space: SpaceInfo, unlocked: UnlockedStore, store: Store, transport: RelayTransport) async throws -> Int {
        let log = try store.membershipLog(space: space.id)
        let me = unlocked.keystore.identity.verifyingKey
        guard log.identities.count > 1, log.openRotation == nil, let key = try unlocked.spaceKeys(space.id)[log.epoch] else { return 0 }
        var actions: [MembershipRecord.Action] = []
        for (device, certificate) in log.devices.sorted(by: { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) })
        where certificate.identity == me && device != unlocked.keystore.device.verifyingKey {
            let wrap = log.wraps[log.epoch]?[device]
            guard wrap == nil || wrap?.signer != me else { continue }
            actions.append(.wrapKey(epoch: log.epoch, device: device, box: try PairingEngine.wrap(key, for: device)))
        }
        guard !actions.isEmpty else { return 0 }
        let records = log.nextRecords(actions, by: unlocked.keystore.identity)
        try await transport.postMembership(records, signedHere: store)
        try store.appendMembership(records, space: space.id)
        return records.count
    }

    /// Whether the log removed `device` and has not rotated the key since.
    static func removedWithoutRotation(_ device: VerifyingKey, in log: MembershipLog) -> Bool {
        guard let removal = log.records.lastIndex(where: { if case .removeDevice(let removed, _) = $0.action { return removed == device }; return false }) else {
            return false
        }
        return !log.records[removal...].contains { if case .rotateKey = $0.action { return true }; return false }
    }

    /// Removes one of this person's other devices from every space it belongs to and moves each
    /// such space to a new content key sealed to the remaining member devices (the partner's
    /// included): the removed device cannot read anything written after. Returns the spaces done.
    public static func revoke(
        device target: VerifyingKey, _ unlocked: UnlockedStore, store: Store, relay: String, environment: SyncEnvironment = .system
    ) async throws -> Int {
        let keystore = unlocked.keystore
        guard target != keystore.device.verifyingKey else {
            throw Failure(.revokingThisDevice)
        }
        var transport = environment.transport(relay, .device(keystore.device))
        try await transport.authenticate()
        var revoked = 0
        for space in try store.spaces() {
            // The partner may append at the same moment (their own revocation): read the log
            // again and retry, a few times, rather than stop between spaces.
            for attempt in 1...3 {
                do {
                    if try await revoke(target, in: space, unlocked: unlocked, store: store, transport: transport, now: environment.now) { revoked += 1 }
                    break
                } catch let failure as RelayTransport.Failure where failure.code == "membership-out-of-order" && attempt < 3 {
                    continue
                }
            }
        }
        guard revoked > 0 else { throw Failure(.notOwnDevice, next: .listDevices) }
        // The recovery blob holds every epoch's key: after a rotation it must hold the new one,
        // or a device recovered before the next sync reads nothing written after this. Best
        // effort: the next sync tries again.
        try? await RecoveryEngine.refreshIfStale(unlocked, store: store, transport: transport)
        return revoked
    }

    /// Removes `target` from one space (when this person certified it there) and rotates the
    /// space's key; returns whether anything was posted.
    static func revoke(_ target: VerifyingKey, in space: SpaceInfo, unlocked: UnlockedStore, store: Store, transport: RelayTransport,
                       now: @Sendable () -> UInt64) async throws -> Bool {
        let keystore = unlocked.keystore
        _ = try await SyncEngine.reconcileMembership(space, unlocked: unlocked, store: store, transport: transport, now: now())
        let log = try store.membershipLog(space: space.id)
        var actions: [MembershipRecord.Action]
        if let certificate = log.devices[target], certificate.identity == keystore.identity.verifyingKey {
            // What the device wrote while it was a member stays readable everywhere — on a
            // device linked or recovered after this, too: the removal names its last seq.
            // Fetched first, so that is everything the relay took from it, each envelope
            // verified here (the relay's own word on its head is not taken: a relay siding
            // with the lost device could name a seq it has not yet signed).
            _ = try await SyncEngine.exchange(space, store: store, transport: transport, ownDevice: keystore.deviceID)
            let lastSeq = try store.localHeads(space: space.id)[WireDeviceID(verifyingKey: target)] ?? 0
            actions = [.removeDevice(target, lastSeq: lastSeq)]
        } else if Self.removedWithoutRotation(target, in: log) {
            // An earlier revoke stopped after the removal reached the relay: finish it.
            actions = []
        } else {
            return false
        }
        actions += try Self.rotation(of: space.id, after: log, excluding: target)
        let records = log.nextRecords(actions, by: keystore.identity)
        try await transport.postMembership(records, signedHere: store)
        try store.appendMembership(records, space: space.id)
        return true
    }
}
