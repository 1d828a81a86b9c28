public import DuetWire
import DuetCrypto
import Foundation
import GRDB

/// What the relay holds, as its operator (or anyone who copies its files) can see it: space ids,
/// membership logs (public keys, device names, wrapped keys), and per device the count and size
/// of sealed envelopes. No content: there is no key here to open any of it.
public struct RelayInspection: Sendable {
    public struct Space: Sendable {
        public let id: SpaceID
        public let identities: Int
        public let devices: [String]
        public let wrappedKeys: Int
        public let envelopes: Int
        public let envelopeBytes: Int
    }

    public let spaces: [Space]

    /// Reads `directory/relay.sqlite` without writing to it.
    public init(directory: String) throws {
        var configuration = Configuration()
        configuration.readonly = true
        let database = try DatabaseQueue(path: directory + "/relay.sqlite", configuration: configuration)
        spaces = try database.read { db in
            try Data.fetchAll(db, sql: "SELECT DISTINCT space FROM membership ORDER BY space").compactMap { bytes -> Space? in
                guard let id = try? SpaceID(bytes: [UInt8](bytes)) else { return nil }
                var log = MembershipLog(space: id)
                for record in try Data.fetchAll(db, sql: "SELECT record FROM membership WHERE space = ? ORDER BY idx", arguments: [bytes]) {
                    guard let parsed = try? MembershipRecord(bytes: [UInt8](record)), (try? log.append(parsed)) != nil else { break }
                }
                let counts = try Row.fetchOne(db, sql: "SELECT count(*) AS n, coalesce(sum(length(bytes)), 0) AS b FROM envelopes WHERE space = ?",
                                              arguments: [bytes])
                return Space(id: id, identities: log.identities.count, devices: log.devices.keys.map { WireDeviceID(verifyingKey: $0).description }.sorted(),
                             wrappedKeys: log.wrappedKeys.values.reduce(0) { $0 + $1.count },
                             envelopes: counts?["n"] ?? 0, envelopeBytes: counts?["b"] ?? 0)
            }
        }
    }
}
