public import Foundation

/// One finished run of a built executable, for tests that drive `duet` as a person would.
public struct ProcessRun: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }

    /// Runs `executable` (a product name in the build folder, or an absolute path) and suspends
    /// until it exits, without holding a thread while it runs. A child still running after
    /// `timeout` is killed, so a stuck one fails its test instead of hanging the whole run (an
    /// hour by default: CI's simulator seeds take over ten minutes on a loaded machine).
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           stdin: String? = nil, timeout: Duration = .seconds(3600)) async throws -> ProcessRun {
        let child = try ChildProcess(executable, arguments, environment: environment, stdin: stdin)
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [weak child] in
            if let child, child.isRunning { child.signal(SIGKILL) }
        }
        return await child.finish()
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
