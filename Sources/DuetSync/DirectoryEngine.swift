import DuetStore
import DuetCrypto
import DuetWire
import Foundation

/// Keeps this person's directory record in each space current (SPEC § 6.2, action 7): their
/// name and their devices' names, sealed under the space's key, and — in the personal space —
/// the couple space they joined, so their other devices find it. Certificates carry no names:
/// the relay learns none.
enum DirectoryEngine {
    /// What this person's directory in `space` should say now. `extra` names devices this
    /// device knows by a name not yet stored (a device being linked).
    static func current(_ space: SpaceInfo, log: MembershipLog, unlocked: UnlockedStore, store: Store,
                        extra: [VerifyingKey: String] = [:]) throws -> SpaceDirectory {
        let me = unlocked.keystore.identity.verifyingKey
        let directory = try store.directory()
        var names: [VerifyingKey: String] = [:]
        for (device, certificate) in log.devices where certificate.identity == me {
            // `Store.directory()` already names this device from its own record of its name.
            let known = extra[device] ?? directory.devices.values.first { $0.publicKey == device }?.name
            if let known, (1...64).contains(known.utf8.count) { names[device] = known }
        }
        var couple: SpaceDirectory.Couple?
        if space.kind == .personal {
            if let shared = try store.space(.couple), let partner = try store.people().first(where: { !$0.isMe }) {
                couple = SpaceDirectory.Couple(space: shared.id, partner: partner.identity, partnerName: partner.name)
            } else {
                // Not joined here yet: keep what another device announced, never erase it.
                couple = try unlocked.announcedCouple()
            }
        }
        return SpaceDirectory(personName: unlocked.keystore.name, deviceNames: names, couple: couple)
    }

    /// Posts this person's directory for `space` when it differs from the one the log holds.
    static func publish(_ space: SpaceInfo, unlocked: UnlockedStore, store: Store, transport: RelayTransport,
                        extra: [VerifyingKey: String] = [:]) async throws {
        let log = try store.membershipLog(space: space.id)
        let me = unlocked.keystore.identity
        guard log.identities.contains(me.verifyingKey), log.openRotation == nil, let key = try unlocked.spaceKeys(space.id)[log.epoch] else { return }
        let wanted = try current(space, log: log, unlocked: unlocked, store: store, extra: extra)
        if let held = log.directories[me.verifyingKey], let keyThen = try unlocked.spaceKeys(space.id)[held.epoch],
           (try? SpaceDirectory.open(held.sealed, space: space.id, signer: me.verifyingKey, contentKey: keyThen)) == wanted {
            return
        }
        let record = log.nextRecord(.directory(epoch: log.epoch, sealed: try wanted.seal(space: space.id, signer: me.verifyingKey, contentKey: key)), by: me)
        try await transport.postMembership([record], signedHere: store)
        try store.appendMembership([record], space: space.id)
        try unlocked.refreshDirectory()
    }
}
