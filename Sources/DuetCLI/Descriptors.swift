import Foundation

/// Open file descriptors, for the children `duet` starts itself (the editor, the unlock agent):
/// nothing of `duet`'s may reach them by accident (the journal's database, the relay's socket, a
/// test harness's pipe that would wait for the child to close it).
enum Descriptors {
    /// Open descriptors above standard error that an exec would keep (no close-on-exec flag).
    static func inheritable() -> [Int32] {
        // Linux lists them; elsewhere, the first thousand are checked.
        let listed = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.compactMap { Int32($0) }
        let candidates = listed ?? Array(3..<1024)
        return candidates.filter { descriptor in
            guard descriptor > STDERR_FILENO else { return false }
            let flags = fcntl(descriptor, F_GETFD)
            return flags >= 0 && flags & FD_CLOEXEC == 0
        }
    }

    /// Reads until `buffer` is full or the input ends (EINTR retried); how many bytes came.
    static func readAll(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var done = 0
        while done < buffer.count, let base = buffer.baseAddress {
            let got = SystemCall.read(descriptor, base + done, buffer.count - done)
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { break }
            done += got
        }
        return done
    }

    /// Writes all of `bytes` (EINTR retried); false when the descriptor would take no more.
    static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var done = 0
        while done < bytes.count, let base = bytes.baseAddress {
            let wrote = SystemCall.write(descriptor, base + done, bytes.count - done)
            if wrote < 0 && errno == EINTR { continue }
            guard wrote > 0 else { return false }
            done += wrote
        }
        return true
    }

    /// A pipe whose two ends close on exec (a child gets one only through an explicit dup2).
    static func pipe() -> (read: Int32, write: Int32)? {
        var ends: [Int32] = [-1, -1]
        guard Foundation.pipe(&ends) == 0 else { return nil }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        return (ends[0], ends[1])
    }
}
