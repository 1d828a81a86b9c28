import DuetTesting
import Foundation
import Testing

/// The conventions of the platform (issue #16 item 9): shell completions, the systemd user unit,
/// JSON that always has its keys.
@Suite("Platform conventions")
struct PlatformConventionTests {
    @Test("bash completion, sourced into a real bash, completes --factor with the five factors")
    func bashCompletesFactors() async throws {
        let journal = try await TemporaryJournal(initialise: false)
        let script = try await duet(["completions", "bash"])
        #expect(script.status == 0, "\(script.stderr)")
        let path = journal.root + "/duet.bash"
        try script.stdout.write(toFile: path, atomically: true, encoding: .utf8)
        // What bash does on <Tab> after `duet write --factor `: the registered function fills COMPREPLY.
        let probe = """
            source "$1"
            complete -p duet >/dev/null || { echo "no completion registered"; exit 3; }
            function=$(complete -p duet | sed -E 's/.*-F ([^ ]+).*/\\1/')
            COMP_WORDS=(duet write --factor '')
            COMP_CWORD=3
            COMP_LINE='duet write --factor '
            COMP_POINT=${#COMP_LINE}
            "$function" duet '' --factor
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let run = try await ProcessRun.run("/bin/bash", ["--norc", "-c", probe, "probe", path])
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        let offered = Set(run.stdout.split(separator: "\n").map(String.init))
        #expect(offered == ["safety", "attunement", "comfort", "delight", "exploration"], "offered: \(offered)")
    }

    @Test("completions --install writes each shell's script where that shell looks, and it is the printed one")
    func installsCompletions() async throws {
        let journal = try await TemporaryJournal(initialise: false)
        let userHome = journal.root + "/user"
        let environment = ["HOME": userHome, "XDG_DATA_HOME": "", "XDG_CONFIG_HOME": ""]
        let expected = [
            "bash": userHome + "/.local/share/bash-completion/completions/duet",
            "fish": userHome + "/.config/fish/completions/duet.fish",
            "zsh": userHome + "/.local/share/zsh/site-functions/_duet",
        ]
        for (shell, path) in expected.sorted(by: { $0.key < $1.key }) {
            let installed = try await duet(["completions", shell, "--install"], environment: environment)
            #expect(installed.status == 0, "\(shell): \(installed.stderr)")
            #expect(installed.stdout.contains(path), "\(installed.stdout)")
            let printed = try await duet(["completions", shell])
            #expect(FileManager.default.contents(atPath: path) == Data(printed.stdout.utf8), "\(shell): the installed script is the printed one")
            #expect(printed.stdout.contains("exploration"), "\(shell): the factors are offered")
        }
        let zsh = try await duet(["completions", "zsh", "--install"], environment: environment)
        #expect(zsh.stdout.contains("fpath=(\(userHome)/.local/share/zsh/site-functions"), "zsh is told where to look: \(zsh.stdout)")
        let custom = try await duet(["completions", "fish", "--install"], environment: ["HOME": userHome, "XDG_CONFIG_HOME": journal.root + "/config"])
        #expect(custom.status == 0 && FileManager.default.fileExists(atPath: journal.root + "/config/fish/completions/duet.fish"), "XDG_CONFIG_HOME is honoured")
    }

    @Test("An unknown shell, or a completion folder that cannot be made, is one error line and a non-zero exit")
    func completionErrors() async throws {
        let journal = try await TemporaryJournal(initialise: false)
        let unknown = try await duet(["completions", "powershell"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("bash, zsh or fish"), "\(unknown.stderr)")
        #expect(unknown.stdout.isEmpty)
        // A file where the folder should be.
        let userHome = journal.root + "/blocked"
        try FileManager.default.createDirectory(atPath: userHome + "/.local/share", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: userHome + "/.local/share/bash-completion", contents: Data("not a folder".utf8)))
        let blocked = try await duet(["completions", "bash", "--install"], environment: ["HOME": userHome, "XDG_DATA_HOME": ""])
        #expect(blocked.status == 1, "\(blocked.stdout)")
        #expect(blocked.errorLine.hasPrefix("error: cannot create") && !blocked.errorLine.contains("\n"), "\(blocked.stderr)")
        // A folder where the script should be: the rename fails, and no temporary file is left.
        let occupied = journal.root + "/occupied"
        try FileManager.default.createDirectory(atPath: occupied + "/.local/share/bash-completion/completions/duet/inside", withIntermediateDirectories: true)
        let refused = try await duet(["completions", "bash", "--install"], environment: ["HOME": occupied, "XDG_DATA_HOME": ""])
        #expect(refused.status == 1 && refused.errorLine.hasPrefix("error: cannot install"), "\(refused.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: occupied + "/.local/share/bash-completion/completions")
        #expect(left == ["duet"], "no temporary file left: \(left)")
    }

    @Test("pair status --json has every key, null when not paired")
    func pairStatusKeysWhenUnpaired() async throws {
        let journal = try await TemporaryJournal()
        let run = try await journal.duet(["pair", "status", "--json"], withoutPassphrase: true)
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(run.json as? [String: Any], "\(run.stdout)")
        #expect(Set(object.keys) == ["partner", "safetyNumber", "people", "devices"], "\(object)")
        #expect(object["partner"] is NSNull && object["safetyNumber"] is NSNull, "null, not missing: \(run.stdout)")
        #expect((object["devices"] as? [Any])?.isEmpty == true)
    }

    @Test("The systemd user unit for duetd is valid to systemd, and its ExecStart line runs duetd for a journal in the default home")
    func duetdUserUnit() async throws {
        let unitPath = RepositoryRoot.url.appendingPathComponent("Examples/duetd.service").path
        let unit = try String(contentsOfFile: unitPath, encoding: .utf8)
        let execStart = try #require(unit.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
        var words = execStart.dropFirst("ExecStart=".count).split(separator: " ").map(String.init)
        #expect(words.first == "%h/.local/bin/duetd", "the unit runs duetd from ~/.local/bin, where the README installs it")
        words.removeFirst()
        let duetd = BuildProducts.folder.appendingPathComponent("duetd").path

        let journal = try await TemporaryJournal(initialise: false)
        if let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first(where: FileManager.default.isExecutableFile(atPath:)) {
            // systemd checks every key and that the binary exists; it only warns (exit 0) about
            // unknown keys, so its warnings count as failures here.
            let copy = journal.root + "/duetd.service"
            try unit.replacingOccurrences(of: "%h/.local/bin/duetd", with: duetd).write(toFile: copy, atomically: true, encoding: .utf8)
            let verified = try await ProcessRun.run(analyze, ["verify", copy])
            #expect(verified.status == 0 && verified.stderr.isEmpty && verified.stdout.isEmpty, "\(verified.stdout) \(verified.stderr)")
        }

        // The unit sets no DUET_HOME: duetd must find a journal in ~/.local/share/duet by itself.
        let relay = try await RelayProcess()
        let userHome = journal.root + "/user"
        let home = userHome + "/.local/share/duet"
        var environment = journal.environment
        environment["HOME"] = userHome
        let initialised = try await ProcessRun.run("duet", ["init", "--name", "Alex", "--relay", relay.base, "--home", home], environment: environment)
        #expect(initialised.status == 0, "\(initialised.stderr)")
        let synced = try await ProcessRun.run("duet", ["sync", "--home", home], environment: environment)
        #expect(synced.status == 0, "\(synced.stderr)")
        environment["DUET_PASSPHRASE"] = nil
        let daemon = try BackgroundRun(duetd, words, environment: environment)
        #expect(await daemon.firstLine() == "connected to \(relay.base)")
        daemon.signal(SIGTERM)
        #expect(await daemon.finish().status == 0, "SIGTERM, the unit's KillSignal, is a clean exit")
    }
}

/// `duet` with no home: `completions` opens no journal.
private func duet(_ arguments: [String], environment: [String: String] = [:]) async throws -> ProcessRun {
    try await ProcessRun.run("duet", arguments, environment: environment)
}

/// The checkout (this file is `Tests/DuetCLITests/PlatformConventionTests.swift`).
enum RepositoryRoot {
    static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}
