#if os(Linux) && canImport(Glibc)
import Foundation
import Testing
@testable import DuetDaemon

/// The daemon's wake-up on local writes (Linux inotify). The blocking poll is tested on the
/// test's own thread: a wake is a returned `true`, so a watch that does not work fails on the
/// value, not on a clock.
@Suite("Folder watch")
struct FolderWatchTests {
    static func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "duet-watch-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("A file written in the folder after the watch began wakes the next wait, once")
    func writeWakes() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let watch = FolderWatch(path: folder)
        try #require(watch.isWatching, "inotify is available on Linux")
        // Written before the wait starts: the events wait in the queue, nothing is lost.
        try Data("a commit".utf8).write(to: URL(fileURLWithPath: folder + "/duet.sqlite-wal"))
        #expect(watch.block(milliseconds: 60_000))
        // All of that write's events were consumed by the one wake.
        #expect(!watch.block(milliseconds: 20))
    }

    @Test("Appending to a file that already exists wakes the wait too (how SQLite writes its WAL)")
    func appendWakes() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let wal = folder + "/duet.sqlite-wal"
        try Data("first".utf8).write(to: URL(fileURLWithPath: wal))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: wal))
        defer { try? handle.close() }
        let watch = FolderWatch(path: folder)
        try #require(watch.isWatching)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(" second".utf8))
        #expect(watch.block(milliseconds: 60_000))
    }

    @Test("An interrupt ends a wait as a non-change; a quiet folder's wait ends at its timeout")
    func interruptAndTimeout() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let watch = FolderWatch(path: folder)
        try #require(watch.isWatching)
        #expect(!watch.block(milliseconds: 30))
        watch.interruptWaiting()
        let clock = ContinuousClock()
        let start = clock.now
        #expect(!watch.block(milliseconds: 60_000))
        #expect(clock.now - start < .seconds(30), "the interrupt, not the minute, ended the wait")
    }

    @Test("A cancelled wait throws CancellationError")
    func cancelledWaitThrows() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let watch = FolderWatch(path: folder)
        try #require(watch.isWatching)
        let waiting = Task { try await watch.wait(timeout: .seconds(60)) }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
    }
}
#endif
