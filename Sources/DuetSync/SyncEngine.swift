public import DuetStore
import DuetCrypto
import DuetWire
import Foundation

/// Drives a ``SyncSession`` with a store and a relay transport.
public enum SyncEngine {
    public struct Result: Sendable {
        public let summary: SyncSession.Summary
        public let applied: Int
        public let rolledBack: Bool
    }

    /// One full round for this device's personal space: registers the space at the relay the
    /// first time (its membership log: create, then this device), pushes, fetches, verifies,
    /// stores, and materialises.
    public static func syncPersonalSpace(_ unlocked: UnlockedStore, store: Store, relay: String, now: UInt64) async throws -> Result {
        let keystore = unlocked.keystore
        let space = keystore.personalSpace
        var transport = RelayTransport(base: relay, device: keystore.device)
        try await transport.authenticate()
        var heads: [WireDeviceID: UInt64]
        do {
            heads = try await transport.heads(space)
        } catch let failure as RelayTransport.Failure where failure.code == "unknown-space" {
            let create = MembershipRecord.sign(space: space, index: 1, previous: .zero,
                                               action: .create(identity: keystore.identity.verifyingKey), signer: keystore.identity)
            let certificate = DeviceCertificate.issue(identity: keystore.identity, device: keystore.device.verifyingKey,
                                                      name: keystore.name, created: now)
            let add = MembershipRecord.sign(space: space, index: 2, previous: create.hash, action: .addDevice(certificate), signer: keystore.identity)
            try await transport.postMembership(create)
            try await transport.postMembership(add)
            heads = try await transport.heads(space)
        }
        let rolledBack = try store.noteRelayHeads(heads, space: space)
        if !rolledBack.isEmpty {
            try store.addWarning("the relay holds fewer changes than it once did (rolled back or replaced); local state was kept")
        }
        var session = SyncSession(local: try store.localHeads(space: space), ownDevices: [keystore.deviceID])
        var action = session.start()
        while true {
            switch action {
            case .requestHeads:
                action = session.handle(.heads(heads, rolledBack: rolledBack))
            case .push(let devices, let after):
                let envelopes = try store.envelopes(space: space, of: devices, after: after)
                let count = try await transport.push(envelopes, to: space)
                let acknowledged = try store.localHeads(space: space).filter { devices.contains($0.key) }
                try store.markPushed(space: space, upTo: acknowledged)
                // The relay acknowledged these durably: it must never answer with less again.
                _ = try store.noteRelayHeads(heads.merging(acknowledged) { max($0, $1) }, space: space)
                action = session.handle(.pushed(count: count))
            case .fetch(let after):
                let (envelopes, complete) = try await transport.fetch(space, after: after)
                action = session.handle(.fetched(envelopes, complete: complete))
            case .store(let envelopes):
                let report = try store.storeVerified(envelopes, space: space)
                for reason in Set(report.refused) { try store.addWarning("refused from the relay: \(reason)") }
                session.noteLocal(try store.localHeads(space: space))
                action = session.handle(.stored(received: report.stored, refused: report.refused.count))
            case .finished(let summary):
                let applied = try unlocked.materialise().count
                try store.setMeta("last_sync", String(now))
                return Result(summary: summary, applied: applied, rolledBack: false)
            case .rolledBack:
                return Result(summary: .init(), applied: 0, rolledBack: true)
            }
        }
    }
}
