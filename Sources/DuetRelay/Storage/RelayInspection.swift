public import DuetWire
import DuetCrypto
import Foundation
import GRDB
import NIOCore
import PostgresNIO

/// What the relay holds, as its operator (or anyone who copies its files or database) can see
/// it: space ids, membership logs (public keys, device names, wrapped keys), and per device the
/// count and size of sealed envelopes. No content: there is no key here to open any of it.
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
    /// On PostgreSQL: a `duet-relay migrate` that did not finish, in words (relays refuse such
    /// a database; inspect shows what part of a store it holds).
    public let unfinishedImport: String?

    /// Reads `directory/relay.sqlite` without writing to it.
    public init(directory: String) throws {
        var configuration = Configuration()
        configuration.readonly = true
        let database = try DatabaseQueue(path: directory + "/relay.sqlite", configuration: configuration)
        unfinishedImport = nil
        spaces = try database.read { db in
            try Data.fetchAll(db, sql: "SELECT DISTINCT space FROM membership ORDER BY space").compactMap { bytes -> Space? in
                guard let id = try? SpaceID(bytes: [UInt8](bytes)) else { return nil }
                let records = try Data.fetchAll(db, sql: "SELECT record FROM membership WHERE space = ? ORDER BY idx", arguments: [bytes]).map { [UInt8]($0) }
                let counts = try Row.fetchOne(db, sql: "SELECT count(*) AS n, coalesce(sum(length(bytes)), 0) AS b FROM envelopes WHERE space = ?",
                                              arguments: [bytes])
                return Self.space(id, records: records, envelopes: counts?["n"] ?? 0, bytes: counts?["b"] ?? 0)
            }
        }
    }

    /// Reads the shared backend's database (issue #17), writing nothing.
    public init(postgres location: PostgresLocation) async throws {
        let storage = try await PostgresRelayStorage.connect(location, poolSize: 2, migrate: false, refuseUnfinishedImport: false)
        do {
            let logger = storage.logger
            unfinishedImport = try await storage.read { connection in try await PostgresMigrations.unfinishedImport(connection, logger: logger) }
            spaces = try await Self.spaces(storage)
        } catch {
            await storage.close()
            throw error
        }
        await storage.close()
    }

    static func spaces(_ storage: PostgresRelayStorage) async throws -> [Space] {
        let logger = storage.logger
        let totals = try await storage.read { connection -> [([UInt8], Int, Int)] in
            var rows: [([UInt8], Int, Int)] = []
            for try await (space, count, bytes) in try await connection.query("""
                SELECT m.space, (SELECT count(*) FROM envelopes e WHERE e.space = m.space),
                       (SELECT coalesce(sum(length(e.bytes)), 0)::bigint FROM envelopes e WHERE e.space = m.space)
                FROM (SELECT DISTINCT space FROM membership) m ORDER BY m.space
                """, logger: logger).decode((ByteBuffer, Int, Int).self) {
                rows.append((Array(space.readableBytesView), count, bytes))
            }
            return rows
        }
        var spaces: [Space] = []
        for (bytes, count, size) in totals {
            guard let id = try? SpaceID(bytes: bytes) else { continue }
            spaces.append(space(id, records: try await storage.membership(space: id, from: 1), envelopes: count, bytes: size))
        }
        return spaces
    }

    /// A space as the log's valid prefix describes it (a damaged record ends what is shown).
    static func space(_ id: SpaceID, records: [[UInt8]], envelopes: Int, bytes: Int) -> Space {
        var log = MembershipLog(space: id)
        for record in records {
            guard let parsed = try? MembershipRecord(bytes: record), (try? log.append(parsed)) != nil else { break }
        }
        return Space(id: id, identities: log.identities.count, devices: log.devices.keys.map { WireDeviceID(verifyingKey: $0).description }.sorted(),
                     wrappedKeys: log.wrappedKeys.values.reduce(0) { $0 + $1.count }, envelopes: envelopes, envelopeBytes: bytes)
    }
}
