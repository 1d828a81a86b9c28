// swift-tools-version: 6.2
// Duet: an end-to-end encrypted, offline-first journal for couples.
// The module list is the architecture (DESIGN.md §3): imports only go down the layers.
import PackageDescription

/// Settings every Duet target shares: Swift 6 strict concurrency, no warnings, explicit re-exports.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("ExistentialAny"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "Duet",
    // Linux (glibc) is where Duet is built and tested. macOS 15 is the oldest macOS whose
    // standard library has `Synchronization.Mutex`, which the relay and the store use; the
    // Linux-only calls (inotify, /proc, MSG_NOSIGNAL, glibc's names) are guarded, each with a
    // fallback, so the libraries build there too (untested on macOS).
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "duet", targets: ["duet"]),
        .executable(name: "duet-relay", targets: ["duet-relay"]),
        .executable(name: "duetd", targets: ["duetd"]),
        .library(name: "DuetCore", targets: ["DuetCore"]),
        .library(name: "DuetCrypto", targets: ["DuetCrypto"]),
        .library(name: "DuetWire", targets: ["DuetWire"]),
        // What an app links to keep a journal and sync it (DESIGN §3, layers 1–2).
        .library(name: "DuetStore", targets: ["DuetStore"]),
        .library(name: "DuetSync", targets: ["DuetSync"]),
        .library(name: "DuetHTTP", targets: ["DuetHTTP"]),
        // A device's use cases as one Swift API: what an app embeds (README, "Embedding Duet").
        .library(name: "DuetDevice", targets: ["DuetDevice"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // Layer 0: libsodium from the system. Only DuetCrypto may import it.
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        // Layer 0: zlib from the system. Only DuetStore may import it (snapshots at rest).
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // Layer 0: Duet's canonical byte forms (LEB128 varints, fixed-width integers,
        // length-prefixed bytes), read from untrusted bytes without trapping. Pure, imports
        // nothing. The one reader and writer for both DuetCore and DuetWire (issue #15): its
        // own module so that DuetWire, and so the relay, need not link DuetCore.
        .target(
            name: "DuetEncoding",
            swiftSettings: strict
        ),
        // Layer 1: the CRDTs and their encoding. Pure: no I/O, no clock, no randomness.
        .target(
            name: "DuetCore",
            dependencies: ["DuetEncoding"],
            swiftSettings: strict
        ),
        // Layer 1: every cryptographic primitive Duet uses, and nothing else.
        .target(
            name: "DuetCrypto",
            dependencies: ["CSodium"],
            swiftSettings: strict
        ),
        // Layer 2: what the relay may see: envelopes and (later) relay messages.
        .target(
            name: "DuetWire",
            dependencies: ["DuetCrypto", "DuetEncoding"],
            swiftSettings: strict
        ),
        // Layer 1: the one HTTP client (AsyncHTTPClient) with a connect timeout, a whole-request
        // deadline and a reply-size cap on every call. FoundationNetworking is banned (issue #12).
        .target(
            name: "DuetHTTP",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Layer 2: the device's SQLite store (envelopes, vectors, sealed keystore, sealed view).
        .target(
            name: "DuetStore",
            dependencies: ["DuetCore", "DuetEncoding", "DuetWire", "DuetCrypto", "CZlib", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        // Layer 3: sync: a sans-I/O session, an engine over the store, a transport to the relay.
        .target(
            name: "DuetSync",
            dependencies: [
                "DuetStore", "DuetCore", "DuetWire", "DuetCrypto", "DuetHTTP",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Layer 3: the sync daemon's work: live feeds, local-write watch, reconnection.
        .target(
            name: "DuetDaemon",
            dependencies: [
                "DuetSync", "DuetStore", "DuetWire", "DuetCrypto", "DuetHTTP",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Layer 3: the relay: verifies and stores ciphertext it cannot read.
        .target(
            name: "DuetRelay",
            dependencies: [
                "DuetWire", "DuetCrypto", .product(name: "GRDB", package: "GRDB.swift"),
                // The shared backend (issue #17): several relay processes on one database.
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strict
        ),
        // Beside the layers: deterministic doubles and trace replay for tests, examples, benchmarks.
        .target(
            name: "DuetTesting",
            dependencies: ["DuetCore", "DuetWire", "DuetCrypto", "DuetHTTP", "DuetSync", "DuetRelay", "DuetStore", "CPseudoTerminal",
                           .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(name: "CHeapStatistics"),
        // Beside the layers: a pseudo-terminal for tests that drive a real terminal editor
        // (posix_openpt and POSIX_SPAWN_SETSID do not reach Swift's Glibc module). Tests only.
        .target(name: "CPseudoTerminal"),
        .executableTarget(
            name: "duet-bench",
            dependencies: [
                "DuetCore", "DuetTesting", "DuetStore", "DuetSync", "DuetCrypto", "DuetWire", "DuetDevice", "CHeapStatistics",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        // Layer 4: a device's use cases (create, write, edit, list, share, pair, sync, …) with
        // typed errors and an injected clock, random source and relay connection; no English.
        .target(
            name: "DuetDevice",
            dependencies: [
                // DuetWire is not imported (ImportRulesTests): it is listed because DuetDevice uses
                // DuetWire's structs through DuetStore's API, and without the edge an incremental
                // build did not recompile such a file when a struct gained a stored property; the
                // stale object's copy of the struct's destroy helper won at link time and crashed
                // the tests (swiftlang/swift#89636, swift-package-manager#10502).
                "DuetStore", "DuetSync", "DuetCore", "DuetCrypto", "DuetWire",
            ],
            swiftSettings: strict
        ),
        // Layer 5: the commands of `duet`: parse, call DuetDevice, render in English.
        .target(
            name: "DuetCLI",
            dependencies: [
                // The lower modules are listed only for the build edge explained above.
                "DuetDevice", "DuetStore", "DuetSync", "DuetCore", "DuetCrypto", "DuetWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // Layer 4: the relay server.
        .executableTarget(
            name: "duet-relay",
            dependencies: [
                "DuetRelay", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // Layer 4: the sync daemon.
        .executableTarget(
            name: "duetd",
            dependencies: [
                "DuetDaemon", "DuetStore", "DuetSync",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Beside the layers: the deterministic simulator (issue #15), devices and a relay in one
        // process on a simulated network and clock.
        .executableTarget(
            name: "duet-sim",
            dependencies: [
                "DuetTesting", "DuetSync", "DuetStore", "DuetRelay", "DuetCore", "DuetWire", "DuetCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // Layer 4: the command-line client.
        .executableTarget(
            name: "duet",
            dependencies: ["DuetCLI"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DuetCoreTests",
            dependencies: ["DuetCore", "DuetEncoding", "DuetTesting", "DuetCrypto"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DuetCLITests",
            dependencies: ["duet", "DuetCLI", "duet-relay", "duetd", "duet-sim", "DuetTesting", "DuetCore", "DuetStore", "DuetSync", "DuetWire", "DuetCrypto", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DuetStoreTests",
            dependencies: ["DuetStore", "DuetCore", "DuetEncoding", "DuetCrypto", "DuetWire", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DuetRelayTests",
            dependencies: ["DuetRelay", "DuetWire", "DuetCrypto", "DuetTesting", "duet-relay", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DuetSyncTests",
            dependencies: ["DuetSync", "DuetWire", "DuetDaemon", "DuetHTTP", "DuetTesting"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DuetDeviceTests",
            dependencies: ["DuetDevice", "DuetSync", "DuetStore", "DuetWire", "DuetCore", "DuetCrypto", "DuetRelay", "DuetTesting",
                           .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DuetEncodingTests",
            dependencies: ["DuetEncoding", "DuetTesting"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DuetWireTests",
            dependencies: ["DuetWire", "DuetCrypto"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DuetCryptoTests",
            dependencies: ["DuetCrypto"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DuetArchitectureTests",
            dependencies: ["duet", "DuetTesting"],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
