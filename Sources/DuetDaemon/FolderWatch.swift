import Dispatch
// inotify is Linux's: `canImport(Glibc)` alone would also hold on FreeBSD, which has none.
// Elsewhere (macOS, a Musl or BSD build) the watch is absent and the daemon polls
// (`SyncDaemon.Options.localPollInterval`).
#if os(Linux) && canImport(Glibc)
import Glibc
#endif

/// Wakes the daemon when a file in the home folder changes: SQLite appends to the store's WAL on
/// every commit `duet` makes, so a local write is pushed at once instead of at the next poll
/// (and an idle daemon does not wake forty times a second to ask). Linux inotify; where it is
/// unavailable (any system but Linux with glibc), `wait` sleeps its timeout and the daemon polls
/// as before.
///
/// A wake is only a hint: the daemon still asks SQLite whether another connection committed
/// (`PRAGMA data_version`), so its own writes and unrelated files cost one cheap check.
final class FolderWatch: Sendable {
    /// The inotify descriptor, or -1 without one.
    private let changes: Int32
    /// Where the blocking poll runs: a queue of its own, which GCD gives a thread of its own when
    /// it needs one. (On the shared global queue the poll waited behind other blocking work for
    /// tens of seconds when the cores were busy.)
    private let queue = DispatchQueue(label: "duet.folder-watch")
    /// A pipe that cancellation writes to, so a waiting poll returns at once (read end, write end).
    private let interrupt: Int32
    private let interruptWrite: Int32

    init(path: String) {
        #if os(Linux) && canImport(Glibc)
        let changes = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        var ends: [Int32] = [-1, -1]
        let piped = pipe(&ends) == 0 && ends.allSatisfy { end in
            fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK) == 0 && fcntl(end, F_SETFD, FD_CLOEXEC) == 0
        }
        let watched = changes >= 0 && inotify_add_watch(changes, path, UInt32(IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO)) >= 0
        if watched, piped {
            self.changes = changes
            interrupt = ends[0]
            interruptWrite = ends[1]
        } else {
            for descriptor in [changes] + ends where descriptor >= 0 { close(descriptor) }
            self.changes = -1
            interrupt = -1
            interruptWrite = -1
        }
        #else
        changes = -1
        interrupt = -1
        interruptWrite = -1
        #endif
    }

    deinit {
        #if os(Linux) && canImport(Glibc)
        for descriptor in [changes, interrupt, interruptWrite] where descriptor >= 0 { close(descriptor) }
        #endif
    }

    var isWatching: Bool { changes >= 0 }

    /// Returns when something in the folder changed (true) or `timeout` passed (false),
    /// whichever is first; throws `CancellationError` at once if the task is cancelled meanwhile.
    @discardableResult
    func wait(timeout: Duration) async throws -> Bool {
        #if os(Linux) && canImport(Glibc)
        guard changes >= 0 else {
            try await Task.sleep(for: timeout)
            return false
        }
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let changed = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                // The closure holds `self`, so the descriptors stay open until the poll is over.
                queue.async {
                    continuation.resume(returning: self.block(milliseconds: milliseconds))
                }
            }
        } onCancel: {
            interruptWaiting()
        }
        try Task.checkCancellation()
        return changed
        #else
        try await Task.sleep(for: timeout)
        return false
        #endif
    }

    #if os(Linux) && canImport(Glibc)
    /// Ends the poll in progress, or the next one, at once.
    func interruptWaiting() {
        var byte: UInt8 = 1
        _ = write(interruptWrite, &byte, 1)
    }

    /// Blocks until the folder changes (true), `interruptWaiting` is called or `milliseconds`
    /// pass (false).
    func block(milliseconds: Int32) -> Bool {
        var requests = [pollfd(fd: changes, events: Int16(POLLIN), revents: 0),
                        pollfd(fd: interrupt, events: Int16(POLLIN), revents: 0)]
        _ = poll(&requests, 2, milliseconds)
        // One wake for however many events arrived: read them all.
        var buffer = [UInt8](repeating: 0, count: 4096)
        var changed = false
        while read(changes, &buffer, buffer.count) > 0 { changed = true }
        while read(interrupt, &buffer, buffer.count) > 0 {}
        return changed
    }
    #endif
}
