import DuetDevice
import Foundation

/// The file an editor works on: `scratch/entry-<pid>.md` (0600) in the home's 0700 scratch
/// folder. From before the text is written until ``remove()`` a signal that ends `duet`
/// removes it (``SignalCleanup``); a process killed outright leaves it to the next command,
/// which wipes it (``ScratchFolder/wipeStale(home:)``).
final class ScratchFile {
    let path: String
    private let home: String
    private var made = stat()

    init(home: String, initial: String) throws {
        let folder = Device.scratchFolder(home: home)
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: folder)
        } catch {
            throw InputError("cannot create the folder \(folder) for the editor's file")
        }
        var status = stat()
        guard lstat(folder, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
            throw InputError("\(folder) is not a folder; remove it and try again")
        }
        self.home = home
        path = folder + "/" + ScratchFolder.fileName(owner: getpid())
        // A file under this process's id is a dead process's: ids are reused.
        ScratchFolder.remove(path)
        try SignalCleanup.arm(home: home)
        do {
            try Self.create(path, with: Array(initial.utf8))
            _ = lstat(path, &made)
        } catch {
            remove()
            throw error
        }
    }

    /// Whether the editor saved the file (its inode, size or modification time changed since it
    /// was made): a kept draft opened again and saved as it was is meant, quit unsaved is not.
    var wasSaved: Bool {
        var now = stat()
        guard lstat(path, &now) == 0 else { return false }
        return now.st_ino != made.st_ino || now.st_size != made.st_size
            || now.st_mtim.tv_sec != made.st_mtim.tv_sec || now.st_mtim.tv_nsec != made.st_mtim.tv_nsec
    }

    /// What the editor left in the file.
    func contents() throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw InputError("the editor's file disappeared; nothing was saved")
        }
        return data
    }

    /// Removes the file and whatever the editor kept beside it, and stands the signal handlers down.
    func remove(keepingHandlers: Bool = false) {
        ScratchFolder.removeFiles(of: getpid(), home: home)
        if !keepingHandlers { SignalCleanup.disarm() }
    }

    /// Creates `path` anew (never through a link, never an existing file), 0600 whatever the umask.
    private static func create(_ path: String, with bytes: [UInt8]) throws {
        let descriptor = SystemCall.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw InputError("cannot create the editor's file \(path)") }
        defer { close(descriptor) }
        guard fchmod(descriptor, 0o600) == 0 else { throw InputError("cannot make the editor's file \(path) private") }
        guard bytes.withUnsafeBytes({ Descriptors.writeAll(descriptor, $0) }) else {
            throw InputError("cannot write the editor's file \(path) (is the disk full?)")
        }
    }
}
