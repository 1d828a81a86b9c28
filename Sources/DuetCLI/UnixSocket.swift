import Foundation

/// The few Unix-domain socket calls the unlock agent and its clients make. By hand: no library
/// here speaks to a Unix socket synchronously, and `duet` is a short-lived synchronous process
/// (NIO would bring an event loop to exchange two frames).
enum UnixSocket {
    /// The longest path `sun_path` holds (with its terminating zero).
    static let maximumPathBytes = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    struct Failure: Error {
        let message: String
        init(_ message: String) { self.message = message }
        init(_ action: String, errno code: Int32) { message = "\(action): \(String(cString: strerror(code)))" }
    }

    /// A stream socket that closes on exec.
    static func make() throws(Failure) -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure("cannot make a socket", errno: errno) }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        return descriptor
    }

    /// Runs `body` with `path` as a socket address; refuses a path longer than `sun_path` holds.
    static func withAddress<Result>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) throws(Failure) -> Result {
        let bytes = Array(path.utf8)
        guard bytes.count <= maximumPathBytes else {
            throw Failure("the home's path is too long for the unlock agent's socket (\(bytes.count) bytes; at most \(maximumPathBytes))")
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// The user id of the process at the other end (Linux's SO_PEERCRED: pid, uid, gid).
    static func peerUser(_ descriptor: Int32) -> uid_t? {
        var credentials: (pid: pid_t, uid: uid_t, gid: gid_t) = (0, 0, 0)
        var length = socklen_t(MemoryLayout.size(ofValue: credentials))
        guard getsockopt(descriptor, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0,
              Int(length) == MemoryLayout.size(ofValue: credentials) else { return nil }
        return credentials.uid
    }

    /// Reads and writes give up after `seconds`: a stopped or hostile peer cannot hang `duet`.
    static func setTimeout(_ descriptor: Int32, seconds: Int) {
        var limit = timeval(tv_sec: seconds, tv_usec: 0)
        for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
            _ = setsockopt(descriptor, SOL_SOCKET, option, &limit, socklen_t(MemoryLayout<timeval>.size))
        }
    }

    /// Reads until `count` bytes came, the peer closed, or the timeout passed; at most `count`.
    static func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var done = 0
        while done < buffer.count, let base = buffer.baseAddress {
            let got = recv(descriptor, base + done, buffer.count - done, 0)
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { break }
            done += got
        }
        return done
    }

    /// Writes all of `bytes`; false if the peer went away or the timeout passed.
    static func write(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var done = 0
        while done < bytes.count, let base = bytes.baseAddress {
            let sent = send(descriptor, base + done, bytes.count - done, Int32(MSG_NOSIGNAL))
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else { return false }
            done += sent
        }
        return true
    }
}
