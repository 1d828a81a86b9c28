import DuetDevice
import DuetSync
import DuetTesting
import Foundation
import Testing

/// Review finding (adv2): a relay that answers but "rolled back" (holds less than this device
/// saw — what any *other* Duet relay looks like, e.g. a mistyped port or a staging relay) is
/// remembered by `sync(relay:)` before `.relayRolledBack` is thrown, although the error tells
/// the person "nothing was changed here". The next plain `duet sync` and `duetd` then use it.
@Suite("Adversarial: relay memory")
struct AdversarialRelayMemoryTests {
    @Test("A relay that answers with a rollback is not remembered")
    func rolledBackRelayIsNotRemembered() async throws {
        let folder = TwoPartners.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let working = try InProcessRelay(directory: folder + "/relay", origin: "http://relay.test") { SyncEnvironment.system.now() }
        let other = try InProcessRelay(directory: folder + "/other", origin: "http://other.test") { SyncEnvironment.system.now() }
        var environment = TwoPartners.environment(working)
        environment.sync.dialer = InProcessDialer { origin in
            origin == working.origin ? working.connection() : origin == other.origin ? other.connection() : nil
        }
        let alex = try await Device.create(home: folder + "/alex", name: "Alex", deviceName: "laptop", passphrase: TwoPartners.passphrase,
                                           relay: working.origin, environment: environment).device
        try alex.write(NewEntry(body: "Something the working relay holds."))
        _ = try await alex.sync()
        #expect(try alex.device.status().relay == working.origin)

        // The wrong relay answers, and holds none of it: a rollback, and an error exit.
        await #expect(throws: DeviceError.relayRolledBack) { try await alex.sync(relay: other.origin) }
        // "nothing was changed here" — but the remembered relay was replaced.
        #expect(try alex.device.status().relay == working.origin, "the working relay is kept after a rollback answer")
        #expect(try alex.device.relay(given: nil) == working.origin)
    }
}
