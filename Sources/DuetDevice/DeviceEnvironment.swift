import DuetCrypto
public import DuetSync

/// Everything a device takes from the world, passed in: the relay connection and clocks (the
/// sync environment), the random source for new ids and prompts, and how hard the passphrase
/// is hashed. `.system` is the real world; a test or the simulator passes its own.
///
/// Keys (device, space and content keys) are drawn by libsodium, not from `random`: they must
/// come from the operating system's generator. The simulator replaces that generator for a
/// whole process through DuetCrypto's simulation hook instead.
public struct DeviceEnvironment: Sendable {
    public var sync: SyncEnvironment
    /// 64 random bits at a time, for entry ids and the prompt chosen.
    public var random: @Sendable () -> UInt64
    public var passphraseHashing: PassphraseHashing

    public init(sync: SyncEnvironment, random: @escaping @Sendable () -> UInt64, passphraseHashing: PassphraseHashing) {
        self.sync = sync
        self.random = random
        self.passphraseHashing = passphraseHashing
    }

    public static let system = DeviceEnvironment(
        sync: .system,
        random: { var source = SystemRandomSource(); return source.next() },
        passphraseHashing: .standard)

    /// Milliseconds since the epoch, from the sync environment's wall clock.
    var now: UInt64 { sync.now() }

    /// The environment's random source as a generator.
    var generator: InjectedRandom { InjectedRandom(draw: random) }
}

/// How hard a new passphrase is hashed (Argon2id).
public enum PassphraseHashing: Sendable, Equatable {
    /// Duet's default: about 0.4 s and 256 MiB here.
    case standard
    /// The pinned minimum, for test suites that create many journals; nothing weaker exists.
    case minimum

    var parameters: PassphraseKDFParameters {
        let defaults = PassphraseKDFParameters.makeDefault()
        guard self == .minimum, let minimum = try? PassphraseKDFParameters(
            opsLimit: PassphraseKDFParameters.minimumOpsLimit,
            memoryBytes: PassphraseKDFParameters.minimumMemoryBytes, salt: defaults.salt) else { return defaults }
        return minimum
    }
}

struct InjectedRandom: RandomNumberGenerator {
    let draw: @Sendable () -> UInt64
    mutating func next() -> UInt64 { draw() }
}
