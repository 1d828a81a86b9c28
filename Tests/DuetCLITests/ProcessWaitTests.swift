import DuetTesting
import Foundation
import Testing

/// Issue #15 item 6: a test waiting for a child process suspends; it does not hold one of the
/// cooperative pool's threads (two on CI) until the child exits.
@Suite("Waiting for processes")
struct ProcessWaitTests {
    /// Named pipes in a fresh folder.
    static func fifos(_ count: Int) throws -> (folder: String, paths: [String]) {
        let folder = NSTemporaryDirectory() + "duet-process-wait-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let paths = (0..<count).map { folder + "/fifo-\($0)" }
        for path in paths { guard mkfifo(path, 0o600) == 0 else { throw TestFailure("mkfifo \(path): errno \(errno)") } }
        return (folder, paths)
    }

    @Test("Sixteen runs that can only finish together all finish: each waits for the last to start, more runs than cooperative threads")
    func runsMoreChildrenThanThreads() async throws {
        // Fifteen readers each open a named pipe of their own; opening blocks until a writer
        // comes. The sixteenth child writes to every pipe, so it finishes only once all the
        // readers were started. Had each run held a thread until its child exited, at most
        // as many children as the pool has threads would ever start, and none would finish.
        let readers = 15
        #expect(readers + 1 > ProcessInfo.processInfo.activeProcessorCount, "more runs than cooperative threads")
        let (folder, fifos) = try Self.fifos(readers)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let started = ContinuousClock.now
        let outputs = try await withThrowingTaskGroup(of: String.self) { group in
            for fifo in fifos {
                group.addTask {
                    try await ProcessRun.run("/bin/sh", ["-c", #"read line < "$1"; echo "$line""#, "sh", fifo], timeout: .seconds(60)).stdout
                }
            }
            group.addTask {
                let run = try await ProcessRun.run("/bin/sh", ["-c", #"for fifo in "$@"; do echo go > "$fifo"; done; echo wrote"#, "sh"] + fifos,
                                                   timeout: .seconds(60))
                return run.stdout
            }
            var outputs: [String] = []
            for try await output in group { outputs.append(output) }
            return outputs
        }
        #expect(outputs.filter { $0 == "go\n" }.count == readers, "every reader got its line: \(outputs)")
        #expect(outputs.contains("wrote\n"))
        #expect(ContinuousClock.now - started < .seconds(60), "finished together, not by the timeout")
    }

    @Test("A child that never exits is killed at its timeout; its run ends, the test is not stuck")
    func timeoutKills() async throws {
        let (folder, fifos) = try Self.fifos(1)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let started = ContinuousClock.now
        // Nobody ever writes to the pipe: without the timeout this child waits for ever.
        let run = try await ProcessRun.run("/bin/sh", ["-c", #"read line < "$1""#, "sh", fifos[0]], timeout: .seconds(1))
        #expect(run.status == SIGKILL, "killed: status \(run.status)")
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test("A background run's first line and its end are awaited while other runs go on")
    func backgroundRunsInParallel() async throws {
        let (folder, fifos) = try Self.fifos(4)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Each prints a line, then waits for its pipe; the pipes are written only after every
        // first line arrived, so the four runs overlap.
        let runs = try fifos.map { try BackgroundRun("/bin/sh", ["-c", #"echo ready; read line < "$1"; echo "$line""#, "sh", $0]) }
        for run in runs { #expect(await run.firstLine(timeout: 60) == "ready") }
        let writer = try await ProcessRun.run("/bin/sh", ["-c", #"for fifo in "$@"; do echo done > "$fifo"; done"#, "sh"] + fifos)
        #expect(writer.status == 0)
        for run in runs {
            let finished = await run.finish()
            #expect(finished.status == 0 && finished.stdout == "done\n", "\(finished.stdout) \(finished.stderr)")
        }
    }
}
