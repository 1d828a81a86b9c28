import Foundation

/// A built executable running while the test does something else (an inviter waiting for its
/// partner, a daemon): its first stdout line can be awaited, then its whole run.
public final class BackgroundRun: @unchecked Sendable {
    private let process = Process()
    private let out = Pipe(), err = Pipe()
    private var buffered = Data()
    private var firstLineRead = false

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = executable.hasPrefix("/")
            ? URL(fileURLWithPath: executable) : BuildProducts.folder.appendingPathComponent(executable)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        for key in ["DUET_HOME", "DUET_PASSPHRASE", "VISUAL", "EDITOR", "DUET_KDF", "DUET_NEW_PASSPHRASE"] { merged[key] = nil }
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var processIdentifier: Int32 { process.processIdentifier }

    /// Whether the process has not exited yet.
    public var isRunning: Bool { process.isRunning }

    /// Blocks until the process prints its first line; nil if it closes stdout first, or if
    /// `timeout` seconds pass (then the process is killed, so a stuck child fails its test
    /// instead of hanging the whole run).
    public func firstLine(timeout: Double = 60) -> String? {
        precondition(!firstLineRead, "the first line is read once")
        firstLineRead = true
        let handle = out.fileHandleForReading
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[..<newline], as: UTF8.self)
                buffered = Data(buffered[(newline + 1)...])
                return line
            }
            var poller = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
            let left = deadline - ContinuousClock.now
            let remaining = Int32(clamping: max(0, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
            guard remaining > 0, poll(&poller, 1, min(remaining, 1000)) >= 0 else {
                signal(SIGKILL)
                return nil
            }
            if poller.revents == 0 { continue }
            let chunk = handle.availableData
            if chunk.isEmpty { return nil }
            buffered.append(chunk)
        }
    }

    /// Waits for the process to exit; returns its status and what it printed after the lines
    /// already read.
    public func finish() -> ProcessRunResult {
        let group = DispatchGroup()
        nonisolated(unsafe) var errData = Data()
        group.enter()
        DispatchQueue.global().async {
            errData = self.err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let rest = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return ProcessRunResult(status: process.terminationStatus, stdout: String(decoding: buffered + rest, as: UTF8.self),
                                stderr: String(decoding: errData, as: UTF8.self))
    }

    public func signal(_ signal: Int32) { Foundation.kill(process.processIdentifier, signal) }

    deinit {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }
}

/// What a finished background run printed.
public struct ProcessRunResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}
