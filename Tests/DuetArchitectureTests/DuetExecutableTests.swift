import DuetTesting
import Foundation
import Testing

/// The `duet` executable, run as a person would run it.
@Suite("duet executable")
struct DuetExecutableTests {
    @Test("duet --version prints the release and protocol version and exits 0")
    func version() async throws {
        let run = try await ProcessRun.run("duet", ["--version"])
        #expect(run.status == 0)
        #expect(run.stdout.range(of: #"^duet \d+\.\d+\.\d+ \(protocol \d+\)\n$"#, options: .regularExpression) != nil,
                "got: \(run.stdout)")
    }

    @Test("duet --help describes the tool and exits 0")
    func help() async throws {
        let run = try await ProcessRun.run("duet", ["--help"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("USAGE: duet"))
        #expect(run.stdout.contains("end-to-end encrypted journal"))
    }

    @Test("An unknown option is a usage error with a non-zero exit")
    func unknownOption() async throws {
        let run = try await ProcessRun.run("duet", ["--no-such-option"])
        #expect(run.status != 0)
        #expect(run.stderr.contains("Error:") || run.stderr.contains("error:"))
    }
}

