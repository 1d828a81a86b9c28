import ArgumentParser
import DuetCrypto
import DuetTesting
import Foundation

/// Runs seeds one after another in this process, printing `begin S` and `ok S` or
/// `violation seed S: …` for the supervisor.
struct Worker {
    let first: UInt64
    let count: Int
    let stride: UInt64
    let adversary: Adversary
    let verbose: Bool
    let failSeed: UInt64?
    let dieAtSeed: UInt64?

    func run() async throws {
        // Before anything touches libsodium: every draw comes from the seed from here on.
        guard RandomBytes.installSimulatedSource() else { throw ValidationError("libsodium was in use before the simulator's source was installed") }
        PassphraseKDF.installSimulationCache()
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let root = "\(base)/duet-sim-\(ProcessInfo.processInfo.processIdentifier)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        for index in 0..<count {
            let seed = first + UInt64(index) * stride
            say("begin \(seed)")
            let directory = "\(root)/\(seed)"
            if seed == dieAtSeed { kill(getpid(), SIGKILL) }
            do {
                let figures = try await Self.simulate(seed: seed, adversary: adversary, directory: directory)
                if seed == failSeed { throw Violation("the violation --fail-seed asked for") }
                if verbose { say("seed \(seed): \(figures)") }
                say("ok \(seed)")
            } catch {
                say("violation seed \(seed): \(error) — replay: duet-sim --seeds 1 --from \(seed) --adversary \(adversary.rawValue) --jobs 1")
            }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// One seed: set up, work, heal, check. Returns a line of figures.
    static func simulate(seed: UInt64, adversary: Adversary, directory: String) async throws -> String {
        let world = try World(seed: seed, adversary: adversary, directory: directory)
        do {
            let perPerson = [1 + world.random.below(3), 1 + world.random.below(3)]
            try await world.setUp(devicesPerPerson: perPerson)
            try await world.work(steps: 60 + world.random.below(240))
            try await world.heal()
            try world.check()
        } catch {
            await world.close()
            throw error
        }
        await world.close()
        let events = world.events.withLock { $0 }
        return "digest \(String(world.digest, radix: 16)), \(world.devices.count) devices, \(events.commits.count) writes, \(world.delivered) requests, "
            + "\(world.deviceCrashes) device and \(world.relayCrashes) relay crashes, \(events.attacks.count) attack(s) \(world.relayAttack?.rawValue ?? world.partnerAttack?.rawValue ?? ""), \(world.silentAttacks) silent, failures \(events.failures.sorted { $0.key < $1.key })"
    }
}
