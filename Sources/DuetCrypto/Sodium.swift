// Touches C: libsodium initialisation.
internal import CSodium

/// libsodium must be initialised once before any other call. Swift initialises a global `let`
/// lazily and exactly once, even with many threads racing for it, which is what `sodium_init`
/// needs. Every public entry point of DuetCrypto calls `Sodium.ready()` first.
enum Sodium {
    private static let initialised: Bool = {
        // 0: initialised now; 1: already initialised; -1: the library cannot work (no entropy source).
        sodium_init() >= 0
    }()

    @inline(__always)
    static func ready() {
        // Without a working random source no key Duet makes would be safe; continuing would be
        // worse than stopping. This is a property of the machine, never of input.
        precondition(initialised, "libsodium could not initialise (no system random source)")
    }
}
