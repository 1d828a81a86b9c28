import Foundation

/// The few calls whose spelling differs between glibc and Darwin, for the test doubles' raw
/// sockets and process lookups (issue #15, item 7): on Linux what the doubles always used, and
/// elsewhere the nearest equivalent.
enum Portable {
    /// A new TCP socket, or -1. Where `send` cannot be told not to raise SIGPIPE (no
    /// `MSG_NOSIGNAL`), the process ignores SIGPIPE instead: a peer that hangs up must be an
    /// error for the write, not the end of the test run.
    static func streamSocket() -> Int32 {
        #if os(Linux)
        return Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        signal(SIGPIPE, SIG_IGN)
        return Foundation.socket(AF_INET, SOCK_STREAM, 0)
        #endif
    }

    /// The flags for `send` that keep a closed peer from raising SIGPIPE.
    static var sendFlags: Int32 {
        #if os(Linux)
        Int32(MSG_NOSIGNAL)
        #else
        0
        #endif
    }

    /// The running executable's path: `/proc/self/exe` on Linux (it names the binary, not the
    /// symlink or relative path it was started by); elsewhere Foundation's answer, else argv[0].
    static var executable: URL {
        #if os(Linux)
        return URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        #else
        let path = Bundle.main.executablePath ?? CommandLine.arguments.first ?? "."
        return URL(fileURLWithPath: path).resolvingSymlinksInPath()
        #endif
    }
}
