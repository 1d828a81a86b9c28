public import Foundation

/// The folder a device keeps everything in (CLI.md: `--home`, `DUET_HOME`, else
/// `$XDG_DATA_HOME/duet`, else `~/.local/share/duet`), created 0700 whatever the umask.
public struct Home: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// Resolves the home from an explicit option and the environment.
    public static func resolve(option: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> Home {
        if let option, !option.isEmpty { return Home(path: option) }
        if let home = environment["DUET_HOME"], !home.isEmpty { return Home(path: home) }
        if let data = environment["XDG_DATA_HOME"], !data.isEmpty { return Home(path: data + "/duet") }
        let user = environment["HOME"] ?? NSHomeDirectory()
        return Home(path: user + "/.local/share/duet")
    }

    public var databasePath: String { path + "/duet.sqlite" }
    /// Where the editor's temporary file lives while `write`/`edit` runs (0700, emptied after).
    public var scratchPath: String { path + "/scratch" }

    public var exists: Bool { FileManager.default.fileExists(atPath: databasePath) }

    /// Creates the folder (and its parents) with mode 0700, and tightens it if it already exists.
    public func create() throws(StoreError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)
        } catch {
            throw Home.classify(error, doing: "create \(path)")
        }
    }

    /// Sets 0600 on the store's files (SQLite creates its WAL and shared-memory files with the
    /// database's mode, but a umask can loosen the first creation).
    func tightenFiles() {
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: databasePath + suffix) {
            try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: databasePath + suffix)
        }
    }

    /// Bytes an unprivileged writer may still use on the filesystem holding `path`.
    static func freeBytes(at path: String) -> UInt64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize)
    }

    public static func classify(_ error: any Error, doing action: String) -> StoreError {
        let nsError = error as NSError
        let posix = (nsError.userInfo[NSUnderlyingErrorKey] as? NSError)?.code ?? nsError.code
        switch Int32(posix) {
        case EROFS, EACCES, EPERM:
            return StoreError(.readOnly, "cannot \(action): the folder is read-only or not yours")
        case ENOSPC:
            return StoreError(.diskFull, "cannot \(action): the disk is full; free some space and try again")
        default:
            return StoreError(.io, "cannot \(action): \(nsError.localizedDescription)")
        }
    }
}
