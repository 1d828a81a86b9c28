import HummingbirdCore
import Logging
import NIOCore
import Synchronization

/// The public listener's first line of defence, in front of HTTP parsing (issue #12): it caps
/// the TCP connections held at once, and closes a connection whose first request head has not
/// fully arrived within `headTimeout` (slowloris: a client trickling its headers a byte at a
/// time held a connection for ever, since the HTTP layer's idle timeout only starts after the
/// first head). Later idleness is the HTTP layer's idle timeout; upgraded live sockets are
/// bounded per device and pinged.
final class ConnectionGuard: Sendable {
    let maximum: Int
    let headTimeout: TimeAmount
    let stallTimeout: TimeAmount
    private let open = Atomic<Int>(0)

    init(maximum: Int, headTimeout: TimeAmount, stallTimeout: TimeAmount = .seconds(30)) {
        self.maximum = maximum
        self.headTimeout = headTimeout
        self.stallTimeout = stallTimeout
    }

    var connections: Int { open.load(ordering: .relaxed) }

    /// Wraps the server's child channel so that every connection passes the guard first.
    func guarding<Inner: ServerChildChannel>(_ inner: Inner) -> Guarded<Inner> { Guarded(inner: inner, guard: self) }

    struct Guarded<Inner: ServerChildChannel>: ServerChildChannel {
        typealias Value = Inner.Value
        let inner: Inner
        let `guard`: ConnectionGuard

        func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
            let guardian = self.guard
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(Handler(guard: guardian), position: .first)
            }.flatMap { inner.setup(channel: channel, logger: logger) }
        }

        func handle(value: Value, logger: Logger) async { await inner.handle(value: value, logger: logger) }
    }

    /// Counts its connection until the channel closes; watches the raw bytes for the end of
    /// the first request head (an empty line) and closes the connection if it is late.
    final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        private let guardian: ConnectionGuard
        private var deadline: Scheduled<Void>?
        /// The last bytes of the previous read, to find an empty line split across two reads.
        private var tail: [UInt8] = []

        init(guard: ConnectionGuard) { guardian = `guard` }

        func handlerAdded(context: ChannelHandlerContext) {
            let now = guardian.open.add(1, ordering: .relaxed).newValue
            let guardian = self.guardian
            let channel = context.channel
            channel.closeFuture.whenComplete { _ in guardian.open.subtract(1, ordering: .relaxed) }
            guard now <= guardian.maximum else {
                context.close(promise: nil)
                return
            }
            deadline = context.eventLoop.scheduleTask(in: guardian.headTimeout) { channel.close(promise: nil) }
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            deadline?.cancel()
            deadline = nil
            stall?.cancel()
            stall = nil
        }

        /// Whether a byte other than CR or LF has arrived: HTTP parsers skip blank lines before
        /// a request line, so an empty line before that is no head (an attacker sent
        /// `\r\n\r\n` and then nothing, and held the connection for ever).
        private var started = false

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if deadline != nil {
                let buffer = unwrapInboundIn(data)
                var bytes = Array(buffer.readableBytesView)
                if !started {
                    bytes = Array(bytes.drop { $0 == 13 || $0 == 10 })
                    started = !bytes.isEmpty
                }
                bytes = tail + bytes
                if started, bytes.firstRange(of: [13, 10, 13, 10]) != nil {
                    deadline?.cancel()
                    deadline = nil
                    tail = []
                } else {
                    tail = Array(bytes.suffix(3))
                }
            }
            context.fireChannelRead(data)
        }

        /// A peer that stops reading leaves its replies in the relay's memory (a fetch page,
        /// live pushes): once the socket has not drained for `stallTimeout`, it is closed.
        private var stall: Scheduled<Void>?

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            if context.channel.isWritable {
                stall?.cancel()
                stall = nil
            } else if stall == nil {
                let channel = context.channel
                stall = context.eventLoop.scheduleTask(in: guardian.stallTimeout) { channel.close(promise: nil) }
            }
            context.fireChannelWritabilityChanged()
        }
    }
}
