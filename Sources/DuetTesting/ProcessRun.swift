public import Foundation

/// One finished run of a built executable, for tests that drive `duet` as a person would.
public struct ProcessRun: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    /// Runs `executable` (a product name in the build folder, or an absolute path) and waits for
    /// it to exit.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                stdin: String? = nil) throws {
        let process = Process()
        process.executableURL = executable.hasPrefix("/")
            ? URL(fileURLWithPath: executable) : BuildProducts.folder.appendingPathComponent(executable)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        // A developer's own settings must not leak into tests.
        for key in ["DUET_HOME", "DUET_PASSPHRASE", "VISUAL", "EDITOR", "DUET_KDF", "DUET_NEW_PASSPHRASE"] { merged[key] = nil }
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        try process.run()
        if let stdin {
            // The child may exit without reading all of it (that is often the point of a test):
            // a broken pipe must be an error for this write, not a signal that kills the runner.
            signal(SIGPIPE, SIG_IGN)
            try? input.fileHandleForWriting.write(contentsOf: Data(stdin.utf8))
            try? input.fileHandleForWriting.close()
        }
        // Read both pipes to the end before waiting, so a chatty process cannot block.
        let group = DispatchGroup()
        nonisolated(unsafe) var errData = Data()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        status = process.terminationStatus
        stdout = String(decoding: outData, as: UTF8.self)
        stderr = String(decoding: errData, as: UTF8.self)
    }
}

/// The folder holding the built executables: tests and benchmarks are built beside them.
public enum BuildProducts {
    /// The folder of the running executable or the nearest one above it that holds `duet`.
    public static var folder: URL { folder(holding: "duet") }

    /// The running executable (portable: /proc/self/exe exists on Linux only).
    public static var runningExecutable: URL { Portable.executable }

    /// The nearest folder, from the running executable's up, that holds `product`.
    public static func folder(holding product: String) -> URL {
        let executable = Portable.executable
        var folder = executable.deletingLastPathComponent()
        let start = folder
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent(product).path) {
            guard folder.path != "/" else { return start }
            folder = folder.deletingLastPathComponent()
        }
        return folder
    }
}
