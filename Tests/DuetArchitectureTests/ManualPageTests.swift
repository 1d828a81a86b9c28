import DuetTesting
import Foundation
import Testing

/// The committed manual pages (Documentation/man, made by swift-argument-parser's GenerateManual
/// plugin) name every command and option the built tools have: a page that drifts from the
/// commands fails here, and `bash Documentation/man/regenerate.sh` brings it back.
@Suite("Manual pages")
struct ManualPageTests {
    @Test("Each tool's page names every command, its abstract and every long option", arguments: ["duet", "duetd", "duet-relay"])
    func pageMatchesCommands(tool: String) async throws {
        let page = try String(contentsOf: RepositoryLayout.root.appendingPathComponent("Documentation/man/\(tool).1"), encoding: .utf8)
        let dump = try await ProcessRun.run(tool, ["--experimental-dump-help"])
        #expect(dump.status == 0, "\(dump.stderr)")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
        let command = try #require(root["command"] as? [String: Any])
        var missing: [String] = []
        Self.check(command, isRoot: true, page: page, path: tool, missing: &missing)
        #expect(missing.isEmpty, "\(tool).1 lacks \(missing.joined(separator: "; ")): run `bash Documentation/man/regenerate.sh`")
    }

    private static func check(_ command: [String: Any], isRoot: Bool, page: String, path: String, missing: inout [String]) {
        guard command["shouldDisplay"] as? Bool ?? true else { return }
        let name = command["commandName"] as? String ?? ""
        if !isRoot, !page.contains(".It Em \(name)\n") { missing.append("the command `\(path)`") }
        if let abstract = command["abstract"] as? String, !abstract.isEmpty, !page.contains(abstract) {
            missing.append("the abstract of `\(path)`")
        }
        for argument in command["arguments"] as? [[String: Any]] ?? [] where argument["shouldDisplay"] as? Bool ?? true {
            for option in argument["names"] as? [[String: Any]] ?? [] where option["kind"] as? String == "long" {
                if let long = option["name"] as? String, !page.contains("Fl -\(long)") { missing.append("`\(path) --\(long)`") }
            }
        }
        for subcommand in command["subcommands"] as? [[String: Any]] ?? [] where subcommand["commandName"] as? String != "help" {
            check(subcommand, isRoot: false, page: page, path: path + " " + (subcommand["commandName"] as? String ?? ""), missing: &missing)
        }
    }
}
