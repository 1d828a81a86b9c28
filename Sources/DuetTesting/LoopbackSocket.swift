import Foundation

/// A blocking TCP socket connected to 127.0.0.1:`port`, its reads timing out after `timeout`
/// seconds; nil when nothing accepts. Shared by the tests' raw clients.
func connectLoopback(port: Int, timeout: Int) -> Int32? {
    let socket = Portable.streamSocket()
    guard socket >= 0 else { return nil }
    let connected = withLoopbackAddress(port: port) { connect(socket, $0, $1) }
    guard connected == 0 else {
        close(socket)
        return nil
    }
    var interval = timeval(tv_sec: timeout, tv_usec: 0)
    setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
    return socket
}

/// Calls `body` with 127.0.0.1:`port` as a `sockaddr` and its length (for `connect`, `bind`).
func withLoopbackAddress<Result>(port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(clamping: port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}
