import DuetDevice

/// What `duet` and its unlock agent say over the agent's socket (issue #16). Every frame starts
/// with a version byte, so a newer agent and an older `duet` refuse each other instead of
/// misreading. Frames are tiny and fixed in size: anything else is refused whole.
///
/// - request: version ‖ op (1 key, 2 status, 3 lock)
/// - reply: version ‖ status (0 done, 1 refused) ‖ for key and status: until (u64be, ms since
///   the epoch) ‖ agent pid (u32be) ‖ for key: the keystore key (32)
enum AgentProtocol {
    static let version: UInt8 = 1
    /// No frame is longer: a peer that sends more is not this protocol.
    static let maximumFrameBytes = 64

    enum Request: UInt8 {
        case key = 1
        case status = 2
        case lock = 3

        var encoded: [UInt8] { [AgentProtocol.version, rawValue] }

        init?(frame: [UInt8]) {
            guard frame.count == 2, frame[0] == AgentProtocol.version, let request = Request(rawValue: frame[1]) else { return nil }
            self = request
        }
    }

    /// What the agent says of itself: until when it holds the key, and its process.
    struct State: Equatable {
        let until: UInt64
        let pid: UInt32
    }

    static func refused() -> [UInt8] { [version, 1] }
    static func done() -> [UInt8] { [version, 0] }

    static func stateReply(_ state: State) -> [UInt8] {
        done() + bigEndian(state.until) + bigEndian(UInt64(state.pid)).suffix(4)
    }

    /// The key reply, built in zeroing storage: the key never sits in an ordinary array.
    static func keyReply(_ state: State, key: LockedKey) -> ZeroingBuffer {
        let head = stateReply(state)
        return ZeroingBuffer(count: head.count + key.count) { out in
            out.copyBytes(from: head)
            key.withUnsafeBytes { bytes in
                UnsafeMutableRawBufferPointer(rebasing: out[head.count...]).copyMemory(from: bytes)
            }
        }
    }

    /// The agent's state from a status or key reply's first 14 bytes; nil for anything else.
    static func state(from frame: UnsafeRawBufferPointer) -> State? {
        guard frame.count >= 14, frame[0] == version, frame[1] == 0 else { return nil }
        var until: UInt64 = 0
        for byte in frame[2..<10] { until = until << 8 | UInt64(byte) }
        var pid: UInt32 = 0
        for byte in frame[10..<14] { pid = pid << 8 | UInt32(byte) }
        return State(until: until, pid: pid)
    }

    static let stateReplyBytes = 14
    static let keyReplyBytes = 14 + 32

    private static func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
    }
}
