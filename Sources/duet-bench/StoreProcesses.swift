import Foundation

/// The everyday commands timed as a person meets them: whole `duet` processes on the
/// benchmark's journal (issue #16), unlocked once by `duet unlock` so that no Argon2id runs, and
/// once with the passphrase for contrast. `duet --version` is the baseline in the same run: the
/// cost of starting a Swift process, which no change to the journal can remove.
struct StoreProcesses {
    struct Report: Encodable {
        let versionBaselineMilliseconds: Summary
        let unlockedListNewest50Milliseconds: Summary
        let unlockedShowMilliseconds: Summary
        let unlockedListAllMilliseconds: Summary
        let passphraseListNewest50Milliseconds: Summary
    }

    let duet: String
    let home: String
    let passphrase: String
    let runs: Int

    /// The `duet` built beside this benchmark, if there is one.
    static func executable() -> String? {
        guard let own = Bundle.main.executableURL else { return nil }
        let path = own.deletingLastPathComponent().appendingPathComponent("duet").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    func measure(showPrefix: String) throws -> Report {
        let withPassphrase = ["DUET_HOME": home, "DUET_PASSPHRASE": passphrase]
        let version = try times(["--version"], environment: [:])
        let passphraseList = try times(["list", "--limit", "50"], environment: withPassphrase)
        guard try run(["unlock", "--for", "10m"], environment: withPassphrase) == 0 else {
            throw BenchFailure("duet unlock failed")
        }
        defer { _ = try? run(["lock"], environment: ["DUET_HOME": home]) }
        let unlocked = ["DUET_HOME": home]
        return Report(versionBaselineMilliseconds: Summary(version),
                      unlockedListNewest50Milliseconds: Summary(try times(["list", "--limit", "50"], environment: unlocked)),
                      unlockedShowMilliseconds: Summary(try times(["show", showPrefix], environment: unlocked)),
                      unlockedListAllMilliseconds: Summary(try times(["list"], environment: unlocked)),
                      passphraseListNewest50Milliseconds: Summary(passphraseList))
    }

    /// Wall milliseconds of `runs` runs (after one to warm the page cache); each must succeed.
    private func times(_ arguments: [String], environment: [String: String]) throws -> [Double] {
        _ = try run(arguments, environment: environment)
        return try (0..<runs).map { _ in
            let start = ContinuousClock.now
            guard try run(arguments, environment: environment) == 0 else { throw BenchFailure("duet \(arguments.joined(separator: " ")) failed") }
            let elapsed = ContinuousClock.now - start
            return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        }
    }

    private func run(_ arguments: [String], environment: [String: String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: duet)
        process.arguments = arguments
        // Nothing of the person's: no terminal prompt, no other home.
        process.environment = environment.merging(["PATH": "/usr/bin:/bin"]) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
