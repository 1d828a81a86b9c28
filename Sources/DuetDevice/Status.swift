import DuetCore
import DuetCrypto
import DuetStore
import DuetSync

/// What `status` reports: the relay, sync state, what waits, and every warning and notice.
public struct DeviceStatus: Sendable, Equatable {
    /// Who made the newest sync: a `duet` command (sync, pair, link, recover) or `duetd`.
    public enum Syncer: String, Sendable, Equatable { case duet, duetd }
    public enum DaemonState: Sendable, Equatable {
        case starting
        case connected
        case retrying(reason: String)
    }

    public struct LastSync: Sendable, Equatable {
        public let milliseconds: UInt64
        public let by: Syncer
    }

    public let home: String
    public let relay: String?
    public let lastSync: LastSync?
    /// While `duetd` runs; nil when it does not.
    public let daemon: DaemonState?
    /// False while the recovery code's blob waits to be stored at the relay; nil on a device
    /// that never held one (a store older than the recovery code).
    public let recoveryAtRelay: Bool?
    public let pendingOut: Int
    public let pendingIn: Int
    public let warnings: [String]
    /// Membership changes made elsewhere, until seen.
    public let notices: [String]
    /// `duetd`, which holds no key, learnt that who is in a space changed: an unlock says who.
    public let unreadMembershipChange: Bool
    public let entries: Int
    public let privateSpace: String?
    public let sharedSpace: String?
    public let partner: String?

}

/// One device of the couple, as the verified logs name it.
public struct DeviceRecord: Sendable, Equatable {
    public let id: String
    public let name: String
    public let person: String?
    public let isMine: Bool
    public let added: UInt64
    public let removed: UInt64?
    public let isThisDevice: Bool
}

/// The pairing as this device's verified logs show it.
public struct PairingReport: Sendable, Equatable {
    public struct Person: Sendable, Equatable { public let name: String; public let isMe: Bool }
    public struct Member: Sendable, Equatable {
        public let id: String
        /// Nil for a device no verified record has named yet.
        public let name: String?
        /// Nil for an identity this device knows no name of.
        public let person: String?
        public let isMine: Bool
        public let added: UInt64
        public let isRemoved: Bool
        /// When it was removed, if this device knows.
        public let removedAt: UInt64?
    }
    public let partner: String
    public let safetyNumber: String
    public let people: [Person]
    public let devices: [Member]
}

extension Device {
    public func status() throws(DeviceError) -> DeviceStatus {
        try translatingErrors {
            let counts = try store.counts()
            let running = store.home.isDaemonRunning
            let bySync = try store.meta("last_sync").flatMap(UInt64.init), byDaemon = try DaemonStatus.lastSync(store)
            let last: DeviceStatus.LastSync? = switch (bySync, byDaemon) {
            case (let sync?, let daemon?): daemon > sync ? .init(milliseconds: daemon, by: .duetd) : .init(milliseconds: sync, by: .duet)
            case (let sync?, nil): .init(milliseconds: sync, by: .duet)
            case (nil, let daemon?): .init(milliseconds: daemon, by: .duetd)
            case (nil, nil): nil
            }
            let daemon: DeviceStatus.DaemonState? = running ? try DaemonStatus.state(store).map { state in
                switch state {
                case .connected: .connected
                case .retrying(_, let reason): .retrying(reason: reason)
                }
            } ?? .starting : nil
            let spaces = try store.spaces()
            return DeviceStatus(
                home: store.home.path, relay: try store.meta("relay"), lastSync: last, daemon: daemon,
                // Put there and read back, and nothing newer waiting to go.
                recoveryAtRelay: try store.meta("recovery_pending") != nil ? false : store.meta("recovery_state").map { _ in true },
                pendingOut: counts.unpushed, pendingIn: try store.pendingIn(), warnings: try store.warnings(),
                notices: try store.notices(), unreadMembershipChange: try store.hasUnreadMembershipChanges(), entries: counts.entries,
                privateSpace: spaces.first { $0.kind == .personal }?.id.description,
                sharedSpace: spaces.first { $0.kind == .couple }?.id.description,
                partner: try store.people().first { !$0.isMe }?.name)
        }
    }

    /// Marks the notices shown (a read-only home keeps them for next time).
    public func markNoticesSeen() {
        try? store.markNoticesSeen()
    }

    /// Every device of both partners, this person's first, oldest first.
    public func devices() throws(DeviceError) -> [DeviceRecord] {
        try translatingErrors {
            let current = try store.deviceID()
            return try store.directory().devices.values
                .sorted { ($0.isMine ? 0 : 1, $0.created) < ($1.isMine ? 0 : 1, $1.created) }
                .map { DeviceRecord(id: $0.id.description, name: $0.displayName, person: $0.person, isMine: $0.isMine,
                                    added: $0.created, removed: $0.removed, isThisDevice: $0.id.description == current) }
        }
    }

    /// The partner, the safety number and every device of the couple space; nil when not paired.
    public func pairing() throws(DeviceError) -> PairingReport? {
        try translatingErrors {
            let people = try store.people()
            guard let me = people.first(where: \.isMe), let partner = people.first(where: { !$0.isMe }),
                  let couple = try store.space(.couple) else { return nil }
            let log = try store.membershipLog(space: couple.id)
            let directory = try store.directory()
            let names = Dictionary(people.map { ($0.identity, $0.name) }) { first, _ in first }
            var devices: [PairingReport.Member] = []
            for record in log.records {
                guard case .addDevice(let certificate) = record.action else { continue }
                let known = directory.devices.values.first { $0.publicKey == certificate.device }
                devices.append(PairingReport.Member(
                    id: known?.id.description ?? Hex.encode(certificate.device.bytes), name: known.flatMap { $0.name.isEmpty ? nil : $0.name },
                    person: names[certificate.identity], isMine: certificate.identity == me.identity, added: certificate.created,
                    isRemoved: log.removedDevices.contains(certificate.device), removedAt: known?.removed))
            }
            return PairingReport(
                partner: partner.name, safetyNumber: PairingEngine.safetyNumber(me.identity, partner.identity),
                people: log.identities.map { PairingReport.Person(name: names[$0] ?? "", isMe: $0 == me.identity) }
                    .sorted { ($0.isMe ? 0 : 1, $0.name) < ($1.isMe ? 0 : 1, $1.name) },
                devices: devices)
        }
    }
}
