import DuetTesting
import Foundation
import Testing

/// Issue #15 item 5: `duet-sim`, the deterministic simulator, run by CI (more on demand:
/// `duet-sim --seeds 200000`).
@Suite("Deterministic simulator")
struct SimulatorTests {
    /// The seeds CI runs, 2,000 in all: most with an honest relay and partner, the rest with
    /// each adversary (`DUET_SIM_SEEDS` scales all three).
    static let ciSeeds = Int(ProcessInfo.processInfo.environment["DUET_SIM_SEEDS"] ?? "") ?? 2000
    static let modes: [(adversary: String, seeds: Int)] = [("none", ciSeeds * 7 / 10), ("relay", ciSeeds * 15 / 100), ("partner", ciSeeds * 15 / 100)]

    /// The release build of `duet-sim` when the test command made one after the debug build
    /// (a debug seed costs twice a release one: the CI seeds took 383 s there, 185 s in release),
    /// else the debug build. A release build older than the debug one is not the code under test.
    static var simulator: String {
        let debug = BuildProducts.folder(holding: "duet-sim").appendingPathComponent("duet-sim")
        let release = debug.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("release/duet-sim")
        func modified(_ url: URL) -> Date? { try? FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate] as? Date }
        if let built = modified(release), let debugBuilt = modified(debug), built >= debugBuilt,
           FileManager.default.isExecutableFile(atPath: release.path) {
            return release.path
        }
        return debug.path
    }

    @Test("The CI seeds: two people, one to three devices each, a relay, loss, repeats, reordering, partitions and crashes, honest and with each adversary: no violation",
          arguments: Self.modes.map(\.adversary))
    func ciSeeds(_ adversary: String) async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.simulator), "duet-sim is not built beside the tests")
        let seeds = Self.modes.first { $0.adversary == adversary }?.seeds ?? 0
        let run = try await ProcessRun.run(Self.simulator, ["--seeds", String(seeds), "--adversary", adversary])
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.last == "\(seeds) seeds, 0 violations", "\(run.stdout.suffix(4000))\n\(run.stderr.suffix(2000))")
        #expect(run.status == 0)
    }

    @Test("A seed replays exactly: the same path, the same figures")
    func replay() async throws {
        let first = try await ProcessRun.run(Self.simulator, ["--seeds", "2", "--from", "41", "--jobs", "1", "--verbose"])
        let second = try await ProcessRun.run(Self.simulator, ["--seeds", "2", "--from", "41", "--jobs", "1", "--verbose"])
        let figures = first.stdout.split(separator: "\n").filter { $0.hasPrefix("seed ") }
        #expect(figures.count == 2 && figures.allSatisfy { $0.contains("digest ") }, "\(first.stdout)")
        #expect(figures == second.stdout.split(separator: "\n").filter { $0.hasPrefix("seed ") })
        // Another seed takes another path.
        #expect(Set(figures.map { $0.split(separator: ",").first ?? "" }).count == 2)
    }

    @Test("A violation names its seed and the command that replays it, and the run fails")
    func violationReported() async throws {
        let run = try await ProcessRun.run(Self.simulator, ["--seeds", "3", "--from", "7", "--fail-seed", "8"])
        #expect(run.status != 0)
        #expect(run.stdout.contains("violation seed 8: the violation --fail-seed asked for — replay: duet-sim --seeds 1 --from 8 --adversary none --jobs 1"), "\(run.stdout)")
        #expect(run.stdout.hasSuffix("3 seeds, 1 violations\n"), "\(run.stdout)")
    }

    @Test("A seed whose process dies is reported with its replay command, and the other seeds still run")
    func deathReported() async throws {
        let run = try await ProcessRun.run(Self.simulator, ["--seeds", "4", "--from", "20", "--jobs", "1", "--die-at-seed", "21"])
        #expect(run.status != 0)
        #expect(run.stdout.contains("violation seed 21: the process stopped"), "\(run.stdout)")
        #expect(run.stdout.contains("replay: duet-sim --seeds 1 --from 21"), "\(run.stdout)")
        #expect(run.stdout.hasSuffix("4 seeds, 1 violations\n"), "\(run.stdout)")
    }
}
