import Foundation
import Testing

/// The `duet` executable, run as a person would run it.
@Suite("duet executable")
struct DuetExecutableTests {
    @Test("duet --version prints the release and protocol version and exits 0")
    func version() throws {
        let run = try CommandRun(["--version"])
        #expect(run.status == 0)
        #expect(run.stdout.range(of: #"^duet \d+\.\d+\.\d+ \(protocol \d+\)\n$"#, options: .regularExpression) != nil,
                "got: \(run.stdout)")
    }

    @Test("duet --help describes the tool and exits 0")
    func help() throws {
        let run = try CommandRun(["--help"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("USAGE: duet"))
        #expect(run.stdout.contains("end-to-end encrypted journal"))
    }

    @Test("An unknown option is a usage error with a non-zero exit")
    func unknownOption() throws {
        let run = try CommandRun(["--no-such-option"])
        #expect(run.status != 0)
        #expect(run.stderr.contains("Error:") || run.stderr.contains("error:"))
    }
}

/// One finished run of the built `duet` binary.
struct CommandRun {
    let status: Int32
    let stdout: String
    let stderr: String

    init(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = RepositoryLayout.productsFolder.appendingPathComponent("duet")
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read both pipes before waiting, so a chatty process cannot block on a full pipe.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        status = process.terminationStatus
        stdout = String(decoding: outData, as: UTF8.self)
        stderr = String(decoding: errData, as: UTF8.self)
    }
}
