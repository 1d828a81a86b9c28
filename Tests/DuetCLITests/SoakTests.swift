import DuetTesting
import Foundation
import Testing

/// Issue #14 item 6: the fault-injection soak, one short fixed seed in CI (longer runs on demand:
/// `duet-bench soak --seed S --seconds N`, BENCHMARKS.md).
@Suite("Fault-injection soak")
struct SoakTests {
    /// The seed CI runs. Any other seed replays exactly with the command the soak prints.
    static let seed = 14

    @Test("A 35 s soak of one relay, four devices and their daemons under kills and pauses: every acknowledged write where it belongs and nowhere else, replicas identical, no warning")
    func shortSoak() async throws {
        // Built beside the tests by `swift build --build-tests`.
        let folder = BuildProducts.folder(holding: "duet-bench")
        let bench = folder.appendingPathComponent("duet-bench").path
        try #require(FileManager.default.isExecutableFile(atPath: bench), "duet-bench is not built beside the tests (swift build --build-tests builds it)")
        // The soak bounds itself (its own deadlines, and it kills every process it started on
        // every way out), so waiting for it to exit cannot hang the suite.
        let run = try await ProcessRun.run(bench, ["soak", "--seed", String(Self.seed), "--seconds", "35", "--convergence-deadline", "120", "--json"])
        let report = try #require(try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any],
                                  "the soak printed no report (status \(run.status)): \(run.stderr.suffix(3000))")
        let violations = report["violations"] as? [String] ?? ["(no violations field)"]
        let warnings = report["warnings"] as? [String] ?? ["(no warnings field)"]
        let operations = report["operations"] as? [String: Any] ?? [:]
        let header = run.stderr.split(separator: "\n").first.map(String.init) ?? ""
        #expect(header.contains("seed \(Self.seed), schedule "), "the seed and the schedule's hash come first: \(header)")
        #expect(violations.isEmpty, "\(violations.count) violation(s), replay with \(report["command"] ?? ""):\n\(violations.prefix(30).joined(separator: "\n"))")
        #expect(warnings.isEmpty, "\(warnings.count) warning(s):\n\(warnings.joined(separator: "\n"))")
        #expect(report["convergenceSeconds"] is Double, "converged after healing")
        #expect((report["faultCount"] as? Int ?? 0) >= 8, "faults were injected: \(report["faults"] ?? "")")
        let written = (operations["privateWrites"] as? Int ?? 0) + (operations["sharedWrites"] as? Int ?? 0)
        let edited = (operations["bodyEdits"] as? Int ?? 0) + (operations["titleEdits"] as? Int ?? 0) + (operations["factorEdits"] as? Int ?? 0)
        #expect(written >= 20 && edited >= 20, "writes and edits were acknowledged: \(operations)")
        #expect(run.status == 0, "exit status \(run.status)")
    }
}
