import DuetTesting
import Foundation
import Testing

/// The README's main job: the two-partner story in `Examples/`, run as a user would run it.
@Suite("Examples")
struct ExampleTests {
    @Test("Examples/two-partners.sh tells the whole story and every check in it holds")
    func twoPartners() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent("Examples/two-partners.sh").path
        // The script builds nothing when DUET_BIN names the folder holding the built products.
        let run = try await ProcessRun.run("/bin/bash", [script], environment: ["DUET_BIN": BuildProducts.folder.path, "DUET_KDF": "minimum"])
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("The numbers match"))
        #expect(run.stdout.contains("text by Sam: Sam: I noticed it too."))
        #expect(run.stdout.contains("No journal text in the relay's files"))
        #expect(run.stdout.hasSuffix("== done: the story held\n"), "\(run.stdout)")
    }
}
