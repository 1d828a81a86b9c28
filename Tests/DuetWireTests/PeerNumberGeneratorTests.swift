import DuetCrypto
import DuetWire
import Testing

/// Issue #13, item 3: every numeric field of every structure a peer or relay supplies, set to 0,
/// 1, max − 1 and max (and to each side of the bounds SPEC names), validly signed or sealed where
/// the structure is: each is decoded and, where it parses, fed on to what consumes it (the log's
/// replay, the bundle's keys). Nothing may trap — a trap ends this process and fails the run —
/// and whatever is accepted is within SPEC's bounds.
@Suite("Extreme numbers in every peer structure")
struct PeerNumberGeneratorTests {
    static let edges: [UInt64] = [0, 1, 2, 255, 256, DeviceCertificate.maximumTime, DeviceCertificate.maximumTime + 1,
                                  UInt64(Int64.max) - 1, UInt64(Int64.max), UInt64(Int64.max) + 1, UInt64.max - 1, UInt64.max]

    /// What a second implementation would write, byte by byte (SPEC § 1: LEB128 varints).
    struct Bytes {
        var bytes: [UInt8] = []
        mutating func varint(_ value: UInt64) {
            var value = value
            repeat {
                let low = UInt8(truncatingIfNeeded: value & 0x7f)
                value >>= 7
                bytes.append(value == 0 ? low : low | 0x80)
            } while value != 0
        }
        mutating func raw(_ more: [UInt8]) { bytes += more }
        mutating func byte(_ value: UInt8) { bytes.append(value) }
    }

    static let alex = SigningKey.generate(), laptop = SigningKey.generate(), sam = SigningKey.generate(), phone = SigningKey.generate()

    /// A certificate with the given numbers, signed by `identity` (keys and times only: names
    /// travel sealed in directory records).
    static func certificate(identity: SigningKey, device: VerifyingKey, created: UInt64, expires: UInt64) -> [UInt8] {
        var body = Bytes()
        body.byte(1); body.raw(identity.verifyingKey.bytes); body.raw(device.bytes)
        body.varint(created); body.varint(expires)
        return body.bytes + identity.signature(for: Array("duet device certificate v1".utf8) + body.bytes).bytes
    }

    @Test("Certificates: created and expires")
    func certificates() throws {
        for value in Self.edges {
            for bytes in [Self.certificate(identity: Self.sam, device: Self.phone.verifyingKey, created: value, expires: 0),
                          Self.certificate(identity: Self.sam, device: Self.phone.verifyingKey, created: 1, expires: value)] {
                guard let parsed = try? DeviceCertificate(bytes: bytes) else { continue }
                #expect(parsed.created <= DeviceCertificate.maximumTime && parsed.expires <= DeviceCertificate.maximumTime)
                #expect(parsed.encoded == bytes)
                // Fed on to the log a client replays.
                var log = try Self.pairedLog()
                try? log.append(log.nextRecord(.addDevice(parsed), by: Self.sam))
            }
        }
    }

    /// Alex's space with Sam as partner, laptop and phone added and keyed.
    static func pairedLog() throws -> MembershipLog {
        var log = MembershipLog(space: SpaceID(bytesOrZero: [UInt8](repeating: 0x77, count: 16)))
        let box = [UInt8](repeating: 0xbb, count: 80)
        let laptopCertificate = DeviceCertificate.issue(identity: alex, device: laptop.verifyingKey, created: 1)
        let phoneCertificate = DeviceCertificate.issue(identity: sam, device: phone.verifyingKey, created: 1)
        try log.append(batch: log.nextRecords([.create(identity: alex.verifyingKey), .addDevice(laptopCertificate),
                                               .wrapKey(epoch: 1, device: laptop.verifyingKey, box: box), .addIdentity(sam.verifyingKey)], by: alex))
        try log.append(log.nextRecord(.addDevice(phoneCertificate), by: sam))
        try log.append(log.nextRecord(.wrapKey(epoch: 1, device: phone.verifyingKey, box: box), by: alex))
        return log
    }

    /// A record whose subject is `subject`, numbered `index`, signed by Sam.
    static func record(_ log: MembershipLog, index: UInt64? = nil, action: UInt8, subject: [UInt8]) -> [UInt8] {
        var body = Bytes()
        body.byte(1); body.raw(log.space.bytes)
        body.varint(index ?? UInt64(log.records.count + 1))
        body.raw((log.records.last?.hash ?? .zero).bytes)
        body.byte(action); body.raw(subject); body.raw(sam.verifyingKey.bytes)
        return body.bytes + sam.signature(for: Array("duet membership v1".utf8) + body.bytes).bytes
    }

    @Test("Membership records: index, epochs, a wrapped key's length, a removal's last seq")
    func records() throws {
        let log = try Self.pairedLog()
        for value in Self.edges {
            var rotate = Bytes(); rotate.varint(value)
            var wrapEpoch = Bytes(); wrapEpoch.varint(value); wrapEpoch.raw(Self.phone.verifyingKey.bytes); wrapEpoch.varint(80); wrapEpoch.raw([UInt8](repeating: 1, count: 80))
            var wrapLength = Bytes(); wrapLength.varint(1); wrapLength.raw(Self.phone.verifyingKey.bytes); wrapLength.varint(value); wrapLength.raw([UInt8](repeating: 1, count: 80))
            var removal = Bytes(); removal.raw(Self.phone.verifyingKey.bytes); removal.varint(value)
            var rotateCommitted = Bytes(); rotateCommitted.varint(value); rotateCommitted.raw([UInt8](repeating: 0xcc, count: 32))
            var directoryEpoch = Bytes(); directoryEpoch.varint(value); directoryEpoch.varint(48); directoryEpoch.raw([UInt8](repeating: 2, count: 48))
            var directoryLength = Bytes(); directoryLength.varint(1); directoryLength.varint(value); directoryLength.raw([UInt8](repeating: 2, count: 48))
            let candidates = [
                Self.record(log, index: value, action: 2, subject: SigningKey.generate().verifyingKey.bytes),
                Self.record(log, action: 5, subject: rotate.bytes),
                Self.record(log, action: 5, subject: rotateCommitted.bytes),
                Self.record(log, action: 7, subject: directoryEpoch.bytes),
                Self.record(log, action: 7, subject: directoryLength.bytes),
                Self.record(log, action: 6, subject: wrapEpoch.bytes),
                Self.record(log, action: 6, subject: wrapLength.bytes),
                Self.record(log, action: 4, subject: removal.bytes),
                Self.record(log, action: 3, subject: Self.certificate(identity: Self.sam, device: SigningKey.generate().verifyingKey, created: value, expires: value)),
            ]
            for bytes in candidates {
                guard let record = try? MembershipRecord(bytes: bytes) else { continue }
                #expect(record.encoded == bytes)
                var replay = log
                try? replay.append(record)
                try? replay.append(batch: [record])
                #expect(replay.epoch <= MembershipLog.maximumEpochs)
                if case .removeDevice(_, let lastSeq) = record.action { #expect(lastSeq <= Envelope.maximumSeq) }
            }
        }
    }

    @Test("Envelope headers: epoch, seq and the sealed length")
    func envelopes() throws {
        let space = SpaceID(bytesOrZero: [UInt8](repeating: 0x5a, count: 16))
        let device = WireDeviceID(verifyingKey: Self.phone.verifyingKey)
        for value in Self.edges {
            for (epoch, seq) in [(value, UInt64(1)), (UInt64(1), value)] {
                var header = Bytes()
                header.byte(1); header.raw(space.bytes); header.varint(epoch); header.raw(device.bytes); header.varint(seq)
                header.raw([UInt8](repeating: 0, count: 32))
                var whole = header
                whole.varint(64); whole.raw([UInt8](repeating: 3, count: 64))
                let bytes = whole.bytes + Self.phone.signature(for: whole.bytes).bytes
                if let envelope = try? Envelope(bytes: bytes) {
                    #expect(envelope.header.seq >= 1 && envelope.header.seq <= Envelope.maximumSeq)
                    #expect((try? envelope.verify(signer: Self.phone.verifyingKey)) != nil, "what parses is what was signed")
                }
            }
            var lengthFirst = Bytes()
            lengthFirst.byte(1); lengthFirst.raw(space.bytes); lengthFirst.varint(1); lengthFirst.raw(device.bytes); lengthFirst.varint(1)
            lengthFirst.raw([UInt8](repeating: 0, count: 32)); lengthFirst.varint(value); lengthFirst.raw([UInt8](repeating: 3, count: 64))
            _ = try? Envelope(bytes: lengthFirst.bytes + [UInt8](repeating: 0, count: 64))
        }
    }

    @Test("Relay replies: vectors (count and seqs) and batches (count and lengths)")
    func relayReplies() {
        for value in Self.edges {
            var vector = Bytes(); vector.varint(1); vector.raw([UInt8](repeating: 1, count: 16)); vector.varint(value)
            if let decoded = try? RelayMessages.decodeVector(vector.bytes) { #expect(decoded.values.allSatisfy { $0 <= Envelope.maximumSeq }) }
            var count = Bytes(); count.varint(value); count.raw([UInt8](repeating: 1, count: 17))
            _ = try? RelayMessages.decodeVector(count.bytes)
            var batch = Bytes(); batch.varint(value); batch.varint(3); batch.raw([1, 2, 3])
            _ = try? RelayMessages.decodeBatch(batch.bytes, maximumCount: 10_000, maximumItemBytes: 4096)
            var length = Bytes(); length.varint(1); length.varint(value); length.raw([1, 2, 3])
            _ = try? RelayMessages.decodeBatch(length.bytes, maximumCount: 10_000, maximumItemBytes: 4096)
        }
    }

    @Test("Pairing and link messages, and the identity bundle: log length, lengths, key epochs")
    func pairingAndLink() throws {
        let key = SymmetricKey.random()
        let certificate = Self.certificate(identity: Self.alex, device: Self.laptop.verifyingKey, created: 1, expires: 0)
        for value in Self.edges {
            for (logLength, certificateLength, nameLength) in [(value, UInt64(certificate.count), UInt64(4)), (1, value, 4), (1, UInt64(certificate.count), value)] {
                var invite = Bytes()
                invite.byte(1); invite.raw([UInt8](repeating: 0x77, count: 16)); invite.raw(Self.alex.verifyingKey.bytes)
                invite.raw([UInt8](repeating: 9, count: 32)); invite.varint(logLength)
                invite.varint(certificateLength); invite.raw(certificate); invite.varint(nameLength); invite.raw(Array("Alex".utf8))
                let sealed = AEAD.seal(invite.bytes, using: key, associatedData: Array("duet pairing invite v1".utf8))
                if let opened = try? PairingMessages.openInvite(sealed, key: key) { #expect((1...10_000).contains(opened.logLength)) }
                var reply = Bytes()
                reply.byte(1); reply.raw(Self.alex.verifyingKey.bytes); reply.varint(certificateLength); reply.raw(certificate)
                reply.varint(nameLength); reply.raw(Array("Alex".utf8))
                _ = try? PairingMessages.openReply(AEAD.seal(reply.bytes, using: key, associatedData: Array("duet pairing reply v1".utf8)), key: key)
            }
            let nameLength = UInt8(truncatingIfNeeded: value)
            let request = [UInt8(1)] + Self.phone.verifyingKey.bytes + [nameLength] + Array("phone".utf8)
            _ = try? LinkRequest.open(AEAD.seal(request, using: key, associatedData: Array("duet link request v1".utf8)), using: key)
            // A bundle whose one key names epoch `value` (u64 big-endian).
            var bundle: [UInt8] = [1] + Self.alex.seed.withUnsafeBytes { Array($0) } + [4] + Array("Alex".utf8) + [UInt8](repeating: 0x11, count: 16)
            bundle += [1] + (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) } + [UInt8](repeating: 0x42, count: 32)
            bundle += [0, 0]
            let sealed = AEAD.seal(bundle, using: key, associatedData: Array("duet identity bundle v1 link".utf8))
            if let opened = try? IdentityBundle.open(sealed, using: key, purpose: "link") {
                #expect(opened.personalKeys.keys.allSatisfy { (1...MembershipLog.maximumEpochs).contains($0) }, "epoch \(value)")
            }
        }
    }
}

extension SpaceID {
    init(bytesOrZero bytes: [UInt8]) {
        self = (try? SpaceID(bytes: bytes)) ?? SpaceID.random()
    }
}
