import DuetCore
import DuetCrypto
import DuetStore
import DuetTesting
import DuetWire
import Foundation

/// The partner as an adversary (issue #13): Sam's real keys, taken from Sam's own journal, used
/// as a hostile Sam would — signing whatever Sam likes (changes, records, raw bytes) as Sam's
/// device and identity, and pushing it through the real relay, exactly as the published
/// protocol allows any member to. Sam's own `duet` must not sync afterwards: its chain would
/// fork with what this helper appended in its name.
struct HostileMember {
    let identity: SigningKey
    let device: SigningKey
    let couple: SpaceID
    let keys: [UInt64: SymmetricKey]
    var client: RelayClient
    /// Sam's device's next seq in the couple space, and the hash its envelope must name.
    private(set) var seq: UInt64
    private(set) var previous: Digest

    static func take(_ journal: TemporaryJournal, relay: String) async throws -> HostileMember {
        let store = try Store.open(home: Home(path: journal.home))
        let unlocked = try store.unlock(passphrase: SecretBytes(utf8: TemporaryJournal.passphrase))
        guard let couple = try store.space(.couple) else { throw TestFailure("not paired") }
        let own = unlocked.keystore.deviceID
        let mine = try store.envelopes(space: couple.id, of: [own], after: [:])
        let last = try mine.last.map { try Envelope(bytes: $0) }
        var client = RelayClient(base: relay, device: unlocked.keystore.device)
        try await client.authenticate()
        return HostileMember(identity: unlocked.keystore.identity, device: unlocked.keystore.device, couple: couple.id,
                             keys: try unlocked.spaceKeys(couple.id), client: client,
                             seq: (last?.header.seq ?? 0) + 1, previous: last?.hash ?? .zero)
    }

    var deviceID: DeviceID { DeviceID(bytes: WireDeviceID(verifyingKey: device.verifyingKey).bytes) ?? DeviceID(high: 0, low: 0) }
    var currentEpoch: UInt64 { keys.keys.max() ?? 1 }

    /// Seals `plaintext` (whatever bytes: a change or not) as Sam's device's next envelope in
    /// the couple space, signs it, and appends it at the relay. Returns the relay's reply.
    @discardableResult
    mutating func push(plaintext: [UInt8], epoch: UInt64? = nil) async throws -> RelayClient.Reply {
        let epoch = epoch ?? currentEpoch
        let key = keys[epoch] ?? SymmetricKey.random()
        let header = Envelope.Header(space: couple, epoch: epoch, device: WireDeviceID(verifyingKey: device.verifyingKey), seq: seq, previous: previous)
        let envelope = Envelope.seal(plaintext, header: header, contentKey: key, signingKey: device)
        let reply = try await client.request("POST", "/v1/spaces/\(RelayClient.hex(couple))/envelopes", body: RelayMessages.encode(batch: [envelope.bytes]))
        if reply.status == 200 {
            seq += 1
            previous = envelope.hash
        }
        return reply
    }

    /// A change by Sam's device at its next seq, carrying `operations` on `entry`.
    mutating func push(entry: EntryID, operations: [EntryOperation], hlc: HLC = HLC(milliseconds: 1_767_225_600_000, counter: 0)) async throws -> RelayClient.Reply {
        let change = Change(device: deviceID, seq: seq, hlc: hlc, dependencies: [], entry: entry, operations: operations)
        return try await push(plaintext: ChangeCodec.encode(change))
    }

    /// The couple space's log as the relay holds it, verified.
    func log() async throws -> MembershipLog {
        let reply = try await client.request("GET", "/v1/spaces/\(RelayClient.hex(couple))/membership?after=0")
        guard reply.status == 200 else { throw TestFailure("membership: \(reply.status) \(reply.text)") }
        var log = MembershipLog(space: couple)
        for bytes in try RelayMessages.decodeBatch(reply.body, maximumCount: 10_000, maximumItemBytes: 4096) {
            try log.append(try MembershipRecord(bytes: bytes))
        }
        return log
    }

    /// Signs `actions` as Sam's identity, as the log's next records, and posts them: one record
    /// alone, several as one batch (SPEC § 6.5).
    func post(_ actions: [MembershipRecord.Action]) async throws -> RelayClient.Reply {
        let records = try await log().nextRecords(actions, by: identity)
        if records.count == 1 {
            return try await client.request("POST", "/v1/spaces/\(RelayClient.hex(couple))/membership", body: records[0].encoded)
        }
        return try await client.request("POST", "/v1/spaces/\(RelayClient.hex(couple))/membership/batch",
                                        body: RelayMessages.encode(batch: records.map(\.encoded)))
    }
}
