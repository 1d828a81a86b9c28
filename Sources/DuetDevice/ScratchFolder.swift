import DuetStore
import Foundation

/// The home's `scratch/` folder (0700), where a front end hands an entry's text to an editor in
/// a file of its own: `entry-<pid>.md`, named after the process that made it, and whatever the
/// editor puts beside it (`.entry-<pid>.md.swp`, `entry-<pid>.md~`). The plaintext must not
/// outlive that process: it removes its files on every exit it can catch, and the files of a
/// process that is gone (killed with SIGKILL, a power cut) are wiped when the home is next
/// opened (issue #16).
public enum ScratchFolder {
    /// The name of the file process `pid` hands to its editor.
    public static func fileName(owner pid: Int32) -> String { "entry-\(pid).md" }

    /// The process a file in the folder belongs to: the number after the first `entry-` in its
    /// name, so that an editor's swap and backup files count as their file's.
    static func owner(ofFileNamed name: String) -> Int32? {
        guard let start = name.range(of: "entry-")?.upperBound else { return nil }
        let digits = name[start...].prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 10, let pid = Int32(digits), pid > 0 else { return nil }
        return pid
    }

    /// Whether process `pid` exists (signal 0 checks without sending; EPERM means it exists
    /// but belongs to someone else).
    static func isRunning(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// Wipes the files whose process is gone. A file that names no process is wiped too, but
    /// only when no process that owns a file here is running: it may be a running editor's
    /// temporary file (vim's `4913` probe). Best effort: a file that cannot be removed stays
    /// for the next try, and opening the journal goes on.
    public static func wipeStale(home: String) {
        let folder = Home(path: home).scratchPath
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder), !names.isEmpty else { return }
        let owners = names.map(owner(ofFileNamed:))
        let running = Set(owners.compactMap { $0 }.filter(isRunning))
        for (name, owner) in zip(names, owners) {
            let stale = owner.map { !running.contains($0) } ?? running.isEmpty
            if stale { remove(folder + "/" + name) }
        }
    }

    /// Removes every file of process `pid` (its editor file and the editor's companions).
    public static func removeFiles(of pid: Int32, home: String) {
        let folder = Home(path: home).scratchPath
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names where owner(ofFileNamed: name) == pid { remove(folder + "/" + name) }
    }

    /// Overwrites a regular file with zeros, then unlinks it. The zeros are a courtesy (a
    /// journaling or copy-on-write filesystem may keep the old blocks); the unlink is the point.
    /// A symbolic link is unlinked, never followed.
    public static func remove(_ path: String) {
        let descriptor = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        if descriptor >= 0 {
            var status = stat()
            if fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_size > 0 {
                let zeros = [UInt8](repeating: 0, count: 64 * 1024)
                var left = Int(status.st_size)
                while left > 0 {
                    let written = zeros.withUnsafeBytes { write(descriptor, $0.baseAddress, min(left, $0.count)) }
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { break }
                    left -= written
                }
                _ = fsync(descriptor)
            }
            close(descriptor)
        }
        unlink(path)
    }
}
