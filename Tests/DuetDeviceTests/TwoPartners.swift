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

    static func environment(_ relay: InProcessRelay, through wrap: (@Sendable (any RelayConnection) -> any RelayConnection)? = nil) -> DeviceEnvironment {
        var environment = DeviceEnvironment.system
        if let wrap {
            let connection = wrap(relay.connection())
            environment.sync.dialer = InProcessDialer { origin in origin == relay.origin ? connection : nil }
        } else {
            environment.sync.dialer = InProcessDialer(relay)
        }
        environment.passphraseHashing = .minimum
        return environment
    }

    static func folder() -> String {
        NSTemporaryDirectory() + "duet-device-tests-" + UUID().uuidString
    }

    /// Alex and Sam with journals at the relay; paired unless `paired` is false. With `wrap`,
    /// both reach the relay through the one connection it makes of the relay's (a fault wrapper).
    static func make(paired: Bool = true, through wrap: (@Sendable (any RelayConnection) -> any RelayConnection)? = nil) async throws -> TwoPartners {
        let folder = folder()
        let relay = try InProcessRelay(directory: folder + "/relay", origin: "http://relay.test") { SyncEnvironment.system.now() }
        let environment = environment(relay, through: wrap)
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

extension TwoPartners {
    /// A couple made of two devices already created (Alex's `inviter`, Sam's `accepter`): one
    /// pairing, both sides' answers.
    static func pair(_ inviter: UnlockedDevice, _ accepter: UnlockedDevice,
                     timeout: Duration = .seconds(60)) async throws -> (inviter: PartnerPairing, accepter: PartnerPairing) {
        let (codes, handOver) = AsyncStream.makeStream(of: String.self)
        async let invited = inviter.invitePartner(timeout: timeout) { handOver.yield($0); handOver.finish() }
        var code: String?
        for await given in codes { code = given }
        let accepted = try await accepter.acceptPartner(code: code ?? "", timeout: timeout)
        return (try await invited, accepted)
    }

    /// Pairs Alex and Sam (made with `paired: false`).
    func pair() async throws {
        let (inviter, accepter) = try await Self.pair(alex, sam)
        guard inviter.safetyNumber == accepter.safetyNumber else { throw PairingMismatch() }
    }

    /// A new device of `device`'s person in a fresh home, linked from `device`; returned once
    /// its join has synced.
    func link(_ device: UnlockedDevice, named name: String) async throws -> UnlockedDevice {
        let home = folder + "/" + UUID().uuidString
        let (codes, handOver) = AsyncStream.makeStream(of: String.self)
        async let linked = device.link(timeout: .seconds(60)) { handOver.yield($0); handOver.finish() }
        var code: String?
        for await given in codes { code = given }
        let joined = try await Device.join(code: code ?? "", home: home, deviceName: name, passphrase: Self.passphrase,
                                           relay: relay.origin, timeout: .seconds(60), environment: environment)
        guard try await linked == name else { throw PairingMismatch() }
        return joined.device
    }

    /// Alex, Sam, Alex: each syncs once.
    func syncBoth() async throws {
        for device in [alex, sam, alex] { _ = try await device.sync() }
    }

    /// Whether any file under `home` holds `bytes`.
    static func holds(_ bytes: [UInt8], under home: String) -> Bool {
        let needle = Data(bytes)
        for path in FileManager.default.subpaths(atPath: home) ?? [] {
            if let data = FileManager.default.contents(atPath: home + "/" + path), data.range(of: needle) != nil { return true }
        }
        return false
    }
}

extension UnlockedDevice {
    /// The person who wrote the entry `id`, as this device verified it.
    func author(of id: String) throws -> String? { try show(id).record.author?.person }
    func body(of id: String) throws -> String { try show(id).record.body }
}
