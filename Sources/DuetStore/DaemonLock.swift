import Foundation

extension Home {
    var daemonLockPath: String { path + "/duetd.lock" }

    /// Takes the daemon's lock on this home for as long as the process lives (the kernel drops
    /// it when the process ends, however it ends). A second daemon on one home is refused.
    public func acquireDaemonLock() throws(StoreError) {
        let descriptor = open(daemonLockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StoreError(.readOnly, "cannot create \(daemonLockPath): check the home folder's permissions")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw StoreError(.invalidInput, "another duetd is already running for \(path)")
        }
        // Deliberately never closed: the lock is the process's.
    }

    /// Whether a daemon holds this home's lock (for `duet status`).
    public var isDaemonRunning: Bool {
        let descriptor = open(daemonLockPath, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_SH | LOCK_NB) == 0 {
            flock(descriptor, LOCK_UN)
            return false
        }
        return true
    }
}
