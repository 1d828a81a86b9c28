#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Where `duet export --out PATH` puts its bytes, as a person means PATH (found by the new-user
/// trial: Foundation's atomic write renamed a new file over whatever PATH was, so a symlink into
/// an encrypted folder was replaced by plaintext beside it, a FIFO's reader got nothing, and run
/// as root `--out /dev/full` replaced the device with a file of journal text).
enum OutputFile {
    /// A regular file, or a path not yet there, gets a whole new file or none (a temporary file
    /// renamed over it: a full disk never leaves half an export that looks whole); a symlink is
    /// followed and its target replaced so; a FIFO, terminal or device is written into as it is.
    static func write(_ data: Data, to path: String) throws {
        var status = stat()
        if stat(path, &status) == 0 {
            if (status.st_mode & S_IFMT) == S_IFREG {
                try replace(URL(fileURLWithPath: path).resolvingSymlinksInPath().path, with: data, shownAs: path)
            } else if (status.st_mode & S_IFMT) == S_IFDIR {
                throw InputError("cannot write \(path): it is a folder")
            } else {
                try writeInto(path, data)
            }
        } else if lstat(path, &status) == 0, let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) {
            // A symlink whose target does not exist yet: the target is made, where the link points.
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
            let resolved = target.hasPrefix("/") ? target : folder.appendingPathComponent(target).path
            try replace(resolved, with: data, shownAs: path)
        } else {
            try replace(path, with: data, shownAs: path)
        }
    }

    private static func replace(_ path: String, with data: Data, shownAs shown: String) throws {
        // The user asked for plaintext on disk here; keep it theirs alone (the temporary file too).
        let previousMask = umask(0o077)
        defer { umask(previousMask) }
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
            _ = chmod(path, 0o600)
        } catch let error as CocoaError where error.code == .fileWriteOutOfSpace {
            throw InputError("cannot write \(shown): the disk is full; nothing was written there")
        } catch {
            throw InputError("cannot write \(shown); check the folder exists and is writable")
        }
    }

    private static func writeInto(_ path: String, _ data: Data) throws {
        let descriptor = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard descriptor >= 0 else { throw InputError("cannot write \(path): \(String(cString: strerror(errno)))") }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        do { try handle.write(contentsOf: data) } catch {
            throw InputError("could not write everything to \(path) (the disk is full or the device refused); what it holds is incomplete")
        }
    }
}
