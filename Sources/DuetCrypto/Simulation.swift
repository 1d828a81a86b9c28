// Touches C: randombytes_set_implementation, randombytes_buf_deterministic.
internal import CSodium
import Synchronization

/// A stream of random bytes drawn from a seed, for the deterministic simulator only (issue #15):
/// a failing seed must replay exactly, so every key, nonce and id a simulated device makes has
/// to come from the seed. Each draw is libsodium's ChaCha20 stream under
/// BLAKE2b(seed ‖ counter): the same seed gives the same bytes in the same order.
public final class SeededRandomStream: Sendable {
    private let state: Mutex<(key: [UInt8], counter: UInt64)>

    /// `name` separates the streams of one seed (each device draws from its own, so one
    /// device's extra draw does not shift another's).
    public init(seed: UInt64, name: String) {
        Sodium.ready()
        let seedBytes = (0..<8).map { UInt8(truncatingIfNeeded: seed >> (8 * UInt64($0))) }
        state = Mutex((Hash.blake2b([Array("duet simulated random v1".utf8), seedBytes, Array(name.utf8)], byteCount: 32, key: nil), 0))
    }

    func fill(_ base: UnsafeMutableRawPointer, _ count: Int) {
        state.withLock { state in
            let counter = (0..<8).map { UInt8(truncatingIfNeeded: state.counter >> (8 * UInt64($0))) }
            var block = Hash.blake2b([state.key, counter], byteCount: 32, key: nil)
            randombytes_buf_deterministic(base, count, &block)
            state.counter &+= 1
        }
    }
}

extension RandomBytes {
    /// The stream the current task draws from once ``installSimulatedSource()`` has run; nil
    /// draws from the system. Set it with `RandomBytes.$simulated.withValue(stream) { … }`.
    @TaskLocal public static var simulated: SeededRandomStream?

    /// Routes every random draw in this process — Duet's own and libsodium's (a sealed box's
    /// ephemeral key) — through the current task's ``simulated`` stream when it has one, and to
    /// the system's source otherwise. Only the simulator calls this, first thing, before any
    /// other use of libsodium (libsodium requires it); a shipped program never does, and a
    /// test keeps it so (ImportRulesTests). Returns false when libsodium was already in use.
    public static func installSimulatedSource() -> Bool {
        guard !SimulatedSource.installed.exchange(true, ordering: .sequentiallyConsistent) else { return true }
        return SimulatedSource.install()
    }
}

/// libsodium's hook, filled with functions that consult the task-local stream.
private enum SimulatedSource {
    static let installed = Atomic<Bool>(false)

    static func install() -> Bool {
        let implementation = UnsafeMutablePointer<randombytes_implementation>.allocate(capacity: 1)
        implementation.initialize(to: randombytes_implementation(
            implementation_name: { UnsafeRawPointer(("duet-simulated" as StaticString).utf8Start).assumingMemoryBound(to: CChar.self) },
            random: {
                var value: UInt32 = 0
                withUnsafeMutableBytes(of: &value) { SimulatedSource.fill($0.baseAddress, $0.count) }
                return value
            },
            stir: nil,
            uniform: nil,
            buf: { base, count in SimulatedSource.fill(base, count) },
            close: nil))
        // Kept for the life of the process: libsodium holds the pointer.
        guard randombytes_set_implementation(implementation) == 0 else { return false }
        return sodium_init() == 0
    }

    static func fill(_ base: UnsafeMutableRawPointer?, _ count: Int) {
        guard let base, count > 0 else { return }
        if let stream = RandomBytes.simulated {
            stream.fill(base, count)
        } else {
            duet_sysrandom_buf(base, count)
        }
    }
}

extension PassphraseKDF {
    /// For the simulator only: remembers each derivation for the life of the process. Every
    /// simulated device seals its keystore under one passphrase and salt, and Argon2id's 64 MiB
    /// per unlock would otherwise be most of a seed's time. A shipped program never calls this
    /// (ImportRulesTests), so none keeps a passphrase-derived key past its use.
    public static func installSimulationCache() {
        SimulatedDerivations.enabled.store(true, ordering: .sequentiallyConsistent)
    }

    /// The remembered key for these inputs, or derives and (when the cache is on) keeps it.
    static func remembering(passphrase: SecretBytes, parameters: PassphraseKDFParameters,
                            derive: () throws(CryptoError) -> SymmetricKey) throws(CryptoError) -> SymmetricKey {
        guard SimulatedDerivations.enabled.load(ordering: .relaxed) else { return try derive() }
        let name = passphrase.withUnsafeBytes { password in
            Hash.blake2b([Array(password), parameters.salt, (0..<8).map { UInt8(truncatingIfNeeded: parameters.opsLimit >> (8 * UInt64($0))) },
                          (0..<8).map { UInt8(truncatingIfNeeded: UInt64(clamping: parameters.memoryBytes) >> (8 * UInt64($0))) }],
                         byteCount: 32, key: nil)
        }
        if let key = SimulatedDerivations.keys.withLock({ $0[name] }) { return key }
        let key = try derive()
        SimulatedDerivations.keys.withLock { $0[name] = key }
        return key
    }
}

private enum SimulatedDerivations {
    static let enabled = Atomic<Bool>(false)
    static let keys = Mutex<[[UInt8]: SymmetricKey]>([:])
}
