public import DuetCrypto
import Synchronization

/// The access store of a relay that runs alone: everything in this process's memory, so a
/// restart signs everyone in again and empties the ten-minute mailboxes (harmless: a client
/// signs in again, and a pairing code is made anew).
public final class MemoryAccessStore: RelayAccessStore {
    private struct State {
        var answeredChallenges = ExpiringTable<[UInt8], Void>()
        var sessions = ExpiringTable<[UInt8], VerifyingKey>()
        var sessionsByDevice: [VerifyingKey: [[UInt8]]] = [:]
        var mailboxes: Mailboxes

        mutating func forget(session token: [UInt8], of device: VerifyingKey) {
            let left = (sessionsByDevice[device] ?? []).filter { $0 != token }
            sessionsByDevice[device] = left.isEmpty ? nil : left
        }
    }

    /// Challenges are stateless (issue #12): a time, a nonce and a MAC under this secret, so
    /// asking for them holds nothing, and naming someone else's key locks nobody out.
    private let secret = RandomBytes.make(count: 32)
    private let state: Mutex<State>

    public init(mailboxBytes: Int = 64 << 20, mailboxBytesPerDevice: Int = 256 << 10) {
        state = Mutex(State(mailboxes: Mailboxes(maximumBytes: mailboxBytes, maximumBytesPerDevice: mailboxBytesPerDevice)))
    }

    public func challengeSecret() async throws -> [UInt8] { secret }

    public func answer(challenge: [UInt8], expires: UInt64, now: UInt64) async throws -> Bool {
        state.withLock { state in
            state.answeredChallenges.expire(now: now)
            guard !state.answeredChallenges.contains(challenge) else { return false }
            state.answeredChallenges.insert(challenge, (), expires: expires)
            return true
        }
    }

    public func openSession(token: [UInt8], device: VerifyingKey, expires: UInt64, now: UInt64, perDevice: Int, maximum: Int) async throws {
        state.withLock { state in
            var expired: [([UInt8], VerifyingKey)] = []
            state.sessions.expire(now: now) { token, device in expired.append((token, device)) }
            for (token, device) in expired { state.forget(session: token, of: device) }
            while state.sessions.count >= max(1, maximum), let (oldest, owner) = state.sessions.removeOldest() {
                state.forget(session: oldest, of: owner)
            }
            var held = state.sessionsByDevice[device, default: []]
            while held.count >= max(1, perDevice) {
                state.sessions.remove(held.removeFirst())
            }
            state.sessions.insert(token, device, expires: expires)
            held.append(token)
            state.sessionsByDevice[device] = held
        }
    }

    public func device(session token: [UInt8], now: UInt64) async throws -> VerifyingKey? {
        state.withLock { $0.sessions.value(token, now: now) }
    }

    public func endSessions(of device: VerifyingKey) async throws {
        state.withLock { state in
            for token in state.sessionsByDevice.removeValue(forKey: device) ?? [] { state.sessions.remove(token) }
        }
    }

    public func putMailbox(_ id: [UInt8], _ blob: [UInt8], owner: VerifyingKey, now: UInt64) async throws {
        try state.withLock { state throws(RelayError) in try state.mailboxes.put(id, blob, owner: owner, now: now) }
    }

    public func takeMailbox(_ id: [UInt8], now: UInt64) async throws -> [UInt8] {
        try state.withLock { state throws(RelayError) in try state.mailboxes.take(id, now: now) }
    }

    public func held(now: UInt64) async throws -> AccessHeld {
        state.withLock { state in
            AccessHeld(challenges: state.answeredChallenges.count, sessions: state.sessions.count,
                       mailboxes: state.mailboxes.count, mailboxBytes: state.mailboxes.bytes)
        }
    }
}
