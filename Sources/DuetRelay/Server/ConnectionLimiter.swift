import NIOCore
import Synchronization

/// Caps the TCP connections the public listener holds at once (issue #12: a slow client that
/// trickles its request holds a connection, and nothing bounded how many). Each accepted
/// connection gets a handler from ``handler()``; one beyond the cap is closed as soon as it is
/// active, before a byte of it is read. Idle connections are closed by the HTTP layer's idle
/// timeout, live sockets that stop answering pings by the WebSocket layer.
final class ConnectionLimiter: Sendable {
    let maximum: Int
    private let open = Atomic<Int>(0)

    init(maximum: Int) { self.maximum = maximum }

    var connections: Int { open.load(ordering: .relaxed) }

    func handler() -> Handler { Handler(limiter: self) }

    /// Counts its connection from the moment it is added until the channel closes, whether or
    /// not it is removed on the way (a WebSocket upgrade removes the HTTP handlers).
    final class Handler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
        typealias InboundIn = NIOAny
        private let limiter: ConnectionLimiter

        init(limiter: ConnectionLimiter) { self.limiter = limiter }

        func handlerAdded(context: ChannelHandlerContext) {
            let now = limiter.open.add(1, ordering: .relaxed).newValue
            let limiter = self.limiter
            context.channel.closeFuture.whenComplete { _ in limiter.open.subtract(1, ordering: .relaxed) }
            if now > limiter.maximum { context.close(promise: nil) }
        }
    }
}
