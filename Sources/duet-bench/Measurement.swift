import CHeapStatistics
import Foundation

/// Wall-clock timing and memory readings for the benchmarks.
enum Measure {
    static func milliseconds(_ body: () throws -> Void) rethrows -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        try body()
        let elapsed = clock.now - start
        return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
    }

    /// CPU time of the calling thread, for figures that must not count time the machine gave
    /// to other processes (this machine is shared).
    static func threadCPUMilliseconds(_ body: () throws -> Void) rethrows -> Double {
        var start = timespec(), end = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start)
        try body()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end)
        return Double(end.tv_sec - start.tv_sec) * 1000 + Double(end.tv_nsec - start.tv_nsec) / 1e6
    }

    /// Bytes currently allocated on the heap (glibc `mallinfo2`), to measure what a structure
    /// retains: the difference before and after building it.
    static func heapInUse() -> Int {
        Int(duet_heap_bytes_in_use())
    }

    /// Resets the kernel's peak-RSS mark (`VmHWM`) to the current RSS, so that a phase's peak can
    /// be read on its own (Linux: writing 5 to /proc/self/clear_refs).
    static func resetPeakResident() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    /// The process's peak resident set size in bytes (`VmHWM`).
    static func peakResident() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kilobytes = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kilobytes * 1024
        }
        return 0
    }
}

/// Median, minimum and maximum of repeated measurements.
struct Summary: Encodable {
    let median: Double
    let min: Double
    let max: Double

    init(_ values: [Double]) {
        let sorted = values.sorted()
        median = sorted.isEmpty ? 0 : (sorted.count % 2 == 1
            ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2)
        min = sorted.first ?? 0
        max = sorted.last ?? 0
    }

    var text: String { String(format: "median %.2f (min %.2f, max %.2f)", median, min, max) }
}

func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
