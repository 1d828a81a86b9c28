import DuetTesting
import Foundation
import Testing

/// The README's quick starts, run as a new user runs them (issue #16): the shell blocks as
/// written, with the built binaries on PATH (in place of the block's own `swift build` line), a
/// free port for 8479, and the code Alex's invite prints where Sam's block says CODE. Each person
/// has a fresh home; the two-partner story runs after the private one.
@Suite("README quick starts")
struct ReadmeQuickStartTests {
    static let codePattern = #"^[0-9A-Z]{5}(-[0-9A-Z]{5}){4}-[0-9A-Z]$"#

    @Test("The private quick start, then the two-partner one, run as written")
    func quickStarts() async throws {
        let readme = try String(contentsOf: RepositoryRoot.url.appendingPathComponent("README.md"), encoding: .utf8)
        let privateBlocks = Self.shellBlocks(in: readme, under: "## Quick start: a private journal")
        let coupleBlocks = Self.shellBlocks(in: readme, under: "## Quick start: two partners")
        try #require(privateBlocks.count >= 1 && coupleBlocks.count == 3, "the README's quick starts changed shape")
        let world = try QuickStartWorld()

        let alone = try await world.run(privateBlocks[0], person: "reader")
        #expect(alone.status == 0, "the private quick start failed: \(alone.stdout) \(alone.stderr)")
        #expect(alone.stdout.contains("You noticed I was tired and made tea. I said thank you."), "\(alone.stdout)")

        // The relay and the inviter outlive their block: run it in the background, read its
        // output until the code shows, give the code to Sam's block.
        let port = try Self.freeLoopbackPort(), adminPort = try Self.freeLoopbackPort()
        func placed(_ block: String) -> String {
            block.replacingOccurrences(of: "--port 8479", with: "--port \(port) --admin-port \(adminPort)")
                .replacingOccurrences(of: "8479", with: String(port))
        }
        let invite = try world.start(placed(coupleBlocks[0]), person: "alex")
        defer { world.stopAll() }
        let code = try #require(await Poll.value(timeout: .seconds(30)) { world.output(of: "alex").first { $0.range(of: Self.codePattern, options: .regularExpression) != nil } },
                                "no code from `duet pair invite`: \(world.output(of: "alex"))")
        let sam = try await world.run(placed(coupleBlocks[1]).replacingOccurrences(of: "CODE", with: code), person: "sam")
        #expect(sam.status == 0, "Sam's block failed: \(sam.stdout) \(sam.stderr)")
        let invited = await invite.finish()
        #expect(invited.status == 0, "Alex's invite failed: \(world.output(of: "alex"))")
        let safety = { (lines: [String]) in lines.first { $0.lowercased().contains("safety number") } }
        let alexSafety = try #require(safety(world.output(of: "alex")), "\(world.output(of: "alex"))")
        #expect(safety(sam.stdout.split(separator: "\n").map(String.init)) == alexSafety, "both see the same safety number")

        let alex = try await world.run(placed(coupleBlocks[2]), person: "alex")
        #expect(alex.status == 0, "Alex's last block failed: \(alex.stdout) \(alex.stderr)")
        #expect(alex.stdout.contains("Friday"), "Alex lists what Sam shared: \(alex.stdout)")
    }

    /// The ```sh blocks between `heading` and the next `## ` heading.
    static func shellBlocks(in readme: String, under heading: String) -> [String] {
        guard let start = readme.range(of: heading + "\n") else { return [] }
        let section = readme[start.upperBound...].components(separatedBy: "\n## ").first ?? ""
        var blocks: [String] = []
        var current: [Substring]?
        for line in section.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```sh" {
                current = []
            } else if let lines = current, line == "```" {
                blocks.append(lines.joined(separator: "\n") + "\n")
                current = nil
            } else {
                current?.append(line)
            }
        }
        return blocks
    }

    static func freeLoopbackPort() throws -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw TestFailure("no socket") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw TestFailure("cannot bind a loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A folder where each person has a fresh home (HOME, so duet's default home) and the blocks
/// run with bash from the folder, the built `duet`, `duetd` and `duet-relay` first on PATH.
/// A block's background jobs (the relay, duetd) share its process group and are stopped at the end.
final class QuickStartWorld: @unchecked Sendable {
    let root: String
    private var groups: [Int32] = []

    init() throws {
        root = NSTemporaryDirectory() + "duet-readme-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func environment(person: String) -> [String: String] {
        let home = root + "/" + person
        try? FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        return ["HOME": home, "PATH": BuildProducts.folder.path + ":/usr/local/bin:/usr/bin:/bin",
                "DUET_PASSPHRASE": TemporaryJournal.passphrase, "DUET_KDF": "minimum", "DUET_HOME": "", "XDG_DATA_HOME": ""]
    }

    /// The block, with the book's own build line left out: the test already built everything.
    private func script(_ block: String, person: String) throws -> String {
        let path = root + "/\(person)-\(UUID().uuidString).sh"
        let lines = block.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("swift build") }
        try ("set -euo pipefail\n" + lines.joined(separator: "\n")).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Output goes to files, not pipes, and every other inherited descriptor is closed: the jobs
    /// a block leaves running (the relay, duetd) would otherwise hold open what the runner waits
    /// on (Foundation learns of a child's exit through a socket the child inherits).
    private func command(for script: String, person: String) -> [String] {
        let closeInherited = #"for fd in $(ls /proc/$$/fd); do if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi; done 2>/dev/null"#
        return ["-c", "cd \"$1\" && \(closeInherited); exec bash \"$2\" >>\"$1/\(person).out\" 2>>\"$1/\(person).err\" </dev/null", "block", root, script]
    }

    func run(_ block: String, person: String) async throws -> ProcessRun {
        let outBefore = (try? String(contentsOfFile: root + "/\(person).out", encoding: .utf8)) ?? ""
        let errBefore = (try? String(contentsOfFile: root + "/\(person).err", encoding: .utf8)) ?? ""
        let started = try start(block, person: person)
        let status = await started.finish().status
        let out = (try? String(contentsOfFile: root + "/\(person).out", encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: root + "/\(person).err", encoding: .utf8)) ?? ""
        return ProcessRun(status: status, stdout: String(out.dropFirst(outBefore.count)), stderr: String(err.dropFirst(errBefore.count)))
    }

    func start(_ block: String, person: String) throws -> BackgroundRun {
        let run = try BackgroundRun("/bin/bash", command(for: try script(block, person: person), person: person), environment: environment(person: person))
        groups.append(run.processIdentifier)
        return run
    }

    func output(of person: String) -> [String] {
        ((try? String(contentsOfFile: root + "/\(person).out", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// SIGTERM to every block's process group: the relay and duetd a block left running.
    func stopAll() {
        for group in groups { kill(-group, SIGTERM) }
    }
}
