import DuetCrypto
import DuetStore
import DuetSync

/// What a sync moved.
public struct SyncReport: Sendable, Equatable {
    public let relay: String
    public let sent: Int
    public let received: Int
    /// Membership records learnt (a partner's new device, a revocation).
    public let deviceChanges: Int
    /// Envelopes refused (the status lists why).
    public let refused: Int
}

/// A pairing done: the partner's name and the safety number both compare.
public struct PartnerPairing: Sendable, Equatable {
    public let partner: String
    public let safetyNumber: String
}

/// How far a long push is.
public enum SyncProgress: Sendable, Equatable {
    case sending(sent: Int, of: Int)
}

extension UnlockedDevice {
    /// One full sync round with the relay (`relay`, or the one remembered). A relay that holds
    /// less than it once did is refused: nothing is exchanged there and nothing changes here.
    public func sync(relay given: String? = nil, progress: (@Sendable (SyncProgress) -> Void)? = nil) async throws(DeviceError) -> SyncReport {
        let relay = try device.relay(given: given)
        var forward: (@Sendable (SyncEngine.Progress) -> Void)?
        if let progress {
            forward = { @Sendable (step: SyncEngine.Progress) -> Void in
                if case .sending(let sent, let total) = step { progress(.sending(sent: sent, of: total)) }
            }
        }
        let result: SyncEngine.Result = try await translatingErrors {
            try await SyncEngine.sync(unlocked, store: store, relay: relay, now: environment.now, environment: environment.sync,
                                      progress: forward)
        }
        // A relay that holds less than this device saw is not the one to use from now on: it
        // may be another relay altogether (a mistyped port looks just like a rollback; the
        // adversarial review found it remembered, against "nothing was changed here").
        if !result.rolledBack.isEmpty { throw .relayRolledBack }
        try device.remember(relay: relay)
        return SyncReport(relay: relay, sent: result.pushed, received: result.received, deviceChanges: result.membershipRecords,
                          refused: result.refused)
    }

    /// Invites the partner: creates the couple space, hands the one-time code to `show`, waits
    /// up to `timeout` for the partner's answer.
    public func invitePartner(relay given: String? = nil, timeout: Duration, show: (String) -> Void) async throws(DeviceError) -> PartnerPairing {
        let relay = try device.relay(given: given)
        let paired = try await translatingErrors {
            try await PairingEngine.invite(unlocked, store: store, relay: relay, timeout: timeout, environment: environment.sync, show: show)
        }
        try device.remember(relay: relay)
        return PartnerPairing(partner: paired.partnerName, safetyNumber: paired.safetyNumber)
    }

    /// Joins the couple space from the partner's code.
    public func acceptPartner(code: String, relay given: String? = nil, timeout: Duration) async throws(DeviceError) -> PartnerPairing {
        guard PairingEngine.isWellFormed(code: code) else { throw .invalidCode(.pairing) }
        let relay = try device.relay(given: given)
        let paired = try await translatingErrors {
            try await PairingEngine.accept(code: code, unlocked, store: store, relay: relay, timeout: timeout, environment: environment.sync)
        }
        try device.remember(relay: relay)
        return PartnerPairing(partner: paired.partnerName, safetyNumber: paired.safetyNumber)
    }

    /// Adds another device of this person's: hands a one-time code to `show`, waits for
    /// ``Device/join(code:home:deviceName:passphrase:relay:timeout:environment:)`` on it. Returns its name.
    public func link(relay given: String? = nil, timeout: Duration, show: (String) -> Void) async throws(DeviceError) -> String {
        let relay = try device.relay(given: given)
        let name = try await translatingErrors {
            try await DeviceEngine.link(unlocked, store: store, relay: relay, timeout: timeout, environment: environment.sync, show: show)
        }
        try device.remember(relay: relay)
        return name
    }

    /// Removes one of this person's devices everywhere and moves its spaces to new keys it
    /// never sees. Returns the spaces it was removed from.
    public func revoke(_ target: RevocableDevice, relay given: String? = nil) async throws(DeviceError) -> Int {
        let relay = try device.relay(given: given)
        let spaces = try await translatingErrors {
            try await DeviceEngine.revoke(device: target.publicKey, unlocked, store: store, relay: relay, environment: environment.sync)
        }
        try device.remember(relay: relay)
        return spaces
    }
}

/// A device a revocation can act on.
public struct RevocableDevice: Sendable, Equatable {
    public let id: String
    public let name: String
    let publicKey: VerifyingKey
}

extension Device {
    /// The one device of this person's that `reference` names (its exact name, or 4+ characters
    /// of its id), among those a revocation can still act on: a device removed from one space
    /// but still a member of another (a revocation cut short) is one. This device is offered
    /// too, so that asking to revoke it gets the reason it cannot.
    public func revocableDevice(_ reference: String) throws(DeviceError) -> RevocableDevice {
        try translatingErrors {
            guard let me = try store.people().first(where: \.isMe), let thisDevice = try store.devicePublicKey() else {
                throw DeviceError.noIdentity
            }
            let revocable = try DeviceEngine.revocable(store, identity: me.identity, this: thisDevice)
            let mine = try store.directory().devices.values.filter { $0.isMine && (revocable.contains($0.publicKey) || $0.publicKey == thisDevice) }
            let wanted = reference.lowercased()
            let matches = mine.filter { $0.name == reference || (wanted.count >= 4 && $0.id.description.hasPrefix(wanted)) }
            guard matches.count == 1, let target = matches.first else {
                throw matches.isEmpty ? DeviceError.noSuchDevice(reference) : DeviceError.ambiguousDevice(reference)
            }
            return RevocableDevice(id: target.id.description, name: target.displayName, publicKey: target.publicKey)
        }
    }
}
