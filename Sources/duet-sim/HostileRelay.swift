import DuetWire

/// The relay as an adversary (`--adversary relay`): between the real relay and a device, a
/// fetch reply is altered the way a hostile relay would. Each seed draws one kind of attack;
/// the device it reached must warn of it, and no other device may warn at all.
enum RelayAttack: String, CaseIterable, Sendable {
    /// One envelope's bytes altered: the device must refuse it and say so.
    case tamper
    /// An envelope sent twice in one page: the device must ignore the copy and say so.
    case replay

    /// What the attacked device's warnings must contain.
    var warning: String {
        switch self {
        case .tamper: "refused from the relay"
        case .replay: "(a replay)"
        }
    }
}

extension World {
    /// The reply `device` gets instead of `reply` to `request`, and whether it was altered.
    func attack(_ reply: RelayReply, to request: RelayRequest, device: Device) -> RelayReply {
        guard adversary == .relay, let kind = relayAttack, request.method == "GET", reply.status == 200,
              request.path.hasSuffix("/envelopes"), let flag = reply.body.first, random.chance(25),
              var envelopes = try? RelayMessages.decodeBatch(Array(reply.body.dropFirst()), maximumCount: 10_000, maximumItemBytes: 1 << 22),
              !envelopes.isEmpty else { return reply }
        let victim = random.below(envelopes.count)
        switch kind {
        case .tamper:
            var bytes = envelopes[victim]
            let position = random.below(bytes.count)
            bytes[position] ^= UInt8(1 + random.below(255))
            envelopes[victim] = bytes
        case .replay:
            envelopes.append(envelopes[victim])
        }
        events.withLock { $0.attacks.append(.init(device: device.index, kind: kind.rawValue, warning: kind.warning)) }
        var altered = reply
        altered.body = [flag] + RelayMessages.encode(batch: envelopes)
        return altered
    }
}
