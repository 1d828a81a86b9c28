import Foundation

/// Runs the seeds in worker processes and reports. A worker is a process so that a trap in one
/// seed is reported as that seed's failure (with its replay command) instead of ending the run,
/// and so that each runs with Swift's deterministic hashing (a dictionary's order must not
/// change between a run and its replay).
struct Supervisor {
    let first: UInt64
    let count: Int
    let jobs: Int
    let adversary: Adversary
    let verbose: Bool
    /// Hidden options handed to the workers as they are.
    let passedOn: [String]

    /// Returns the number of failing seeds.
    func run() async throws -> Int {
        let started = ContinuousClock.now
        let jobs = min(self.jobs, count)
        let results = try await withThrowingTaskGroup(of: (ran: Int, failures: [String]).self) { group in
            for job in 0..<jobs {
                group.addTask { try await runJob(job, of: jobs) }
            }
            var ran = 0
            var failures: [String] = []
            for try await result in group {
                ran += result.ran
                failures += result.failures
            }
            return (ran: ran, failures: failures)
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        for failure in results.failures.sorted() { print(failure) }
        FileHandle.standardError.write(Data(String(format: "duet-sim: %.1f s, %.1f seeds/s, %d job(s)\n", seconds,
                                                   Double(results.ran) / max(seconds, 0.001), jobs).utf8))
        print("\(results.ran) seeds, \(results.failures.count) violations")
        return results.failures.count
    }

    /// One worker process runs seeds first+job, first+job+jobs, …; if it dies, the seed it was
    /// on is reported and a new worker continues after it.
    func runJob(_ job: Int, of jobs: Int) async throws -> (ran: Int, failures: [String]) {
        var next = first + UInt64(job)
        let last = first + UInt64(count - 1)
        var ran = 0
        var failures: [String] = []
        while next <= last {
            let remaining = Int((last - next) / UInt64(jobs)) + 1
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
            if let executable = Bundle.main.executablePath { process.executableURL = URL(fileURLWithPath: executable) }
            process.arguments = ["--worker", "--from", String(next), "--seeds", String(remaining), "--jobs", String(jobs),
                                 "--adversary", adversary.rawValue] + (verbose ? ["--verbose"] : []) + passedOn
            var environment = ProcessInfo.processInfo.environment
            environment["SWIFT_DETERMINISTIC_HASHING"] = "1"
            process.environment = environment
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            var current: UInt64?
            for await line in Self.lines(of: pipe.fileHandleForReading) {
                if line.hasPrefix("begin "), let seed = UInt64(line.dropFirst(6)) {
                    current = seed
                } else if line.hasPrefix("ok ") {
                    ran += 1
                    current = nil
                } else if line.hasPrefix("violation ") {
                    ran += 1
                    failures.append(line)
                    current = nil
                } else if verbose {
                    print(line)
                }
            }
            process.waitUntilExit()
            guard let crashed = current else { break }
            // The worker died inside a seed: that seed trapped (or hung up the pipe).
            ran += 1
            failures.append("violation seed \(crashed): the process stopped (status \(process.terminationStatus)) — "
                            + "replay: duet-sim --seeds 1 --from \(crashed) --adversary \(adversary.rawValue) --jobs 1")
            let (following, overflow) = crashed.addingReportingOverflow(UInt64(jobs))
            guard !overflow else { break }
            next = following
        }
        return (ran, failures)
    }

    /// The lines a worker prints, read on a thread of their own: a blocking read must not hold
    /// one of the few threads Swift's tasks share.
    static func lines(of handle: FileHandle) -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        Thread.detachNewThread {
            var buffer = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    continuation.yield(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                    buffer.removeSubrange(buffer.startIndex...newline)
                }
            }
            continuation.finish()
        }
        return stream
    }
}
