import DuetDevice
import DuetSync
import DuetTesting
import Foundation

/// Two partners, each with one device, paired through an in-process relay (the real
/// RelayService and RelayAPI on SQLite in a temporary folder) and the system's clocks: the use
/// cases exactly as an app embedding DuetDevice would call them.
struct TwoPartners {
    let folder: String
    let relay: InProcessRelay
    let environment: DeviceEnvironment
    let alex: UnlockedDevice
    let sam: UnlockedDevice

    static let passphrase = Passphrase("correct horse battery")

    static func environment(_ relay: InProcessRelay) -> DeviceEnvironment {
        var environment = DeviceEnvironment.system
        environment.sync.dialer = InProcessDialer(relay)
        environment.passphraseHashing = .minimum
        return environment
    }

    static func folder() -> String {
        NSTemporaryDirectory() + "duet-device-tests-" + UUID().uuidString
    }

    /// Alex and Sam with journals at the relay; paired unless `paired` is false.
    static func make(paired: Bool = true) async throws -> TwoPartners {
        let folder = folder()
        let relay = try InProcessRelay(directory: folder + "/relay", origin: "http://relay.test") { SyncEnvironment.system.now() }
        let environment = environment(relay)
        let alex = try await Device.create(home: folder + "/alex", name: "Alex", deviceName: "Alex's laptop", passphrase: passphrase,
                                           relay: relay.origin, environment: environment).device
        let sam = try await Device.create(home: folder + "/sam", name: "Sam", deviceName: "Sam's phone", passphrase: passphrase,
                                          relay: relay.origin, environment: environment).device
        if paired {
            let (codes, handOver) = AsyncStream.makeStream(of: String.self)
            async let invited = alex.invitePartner(timeout: .seconds(60)) { handOver.yield($0); handOver.finish() }
            var code: String?
            for await given in codes { code = given }
            let accepted = try await sam.acceptPartner(code: code ?? "", timeout: .seconds(60))
            let inviter = try await invited
            guard inviter.safetyNumber == accepted.safetyNumber, inviter.partner == "Sam", accepted.partner == "Alex" else {
                throw PairingMismatch()
            }
        }
        return TwoPartners(folder: folder, relay: relay, environment: environment, alex: alex, sam: sam)
    }

    struct PairingMismatch: Error {}

    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}
