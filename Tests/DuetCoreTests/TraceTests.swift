import Foundation
import Testing
import DuetCore
import DuetTesting

/// Real editing histories (Tests/Fixtures/traces, CC BY 4.0): replaying them must reproduce
/// their end content exactly.
@Suite("Editing traces")
struct TraceTests {
    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/traces")

    static let sequential = [
        "rustcode", "ascii_rustcode", "sveltecomponent", "seph-blog1", "ascii_seph-blog1",
        "friendsforever_flat", "clownschool_flat", "json-crdt-patch", "json-crdt-blog-post",
    ]
    static let concurrent = ["concurrent_friendsforever", "concurrent_clownschool"]

    static func load(_ name: String) async throws -> EditingTrace {
        try await EditingTrace.load(path: folder.appendingPathComponent("\(name).json.gz").path)
    }

    @Test("Every sequential trace replays, one change per edit, to its end content", arguments: sequential)
    func sequentialChangePerOp(name: String) async throws {
        let trace = try await Self.load(name)
        let journal = TraceReplay.sequential(trace, mode: .changePerOp)
        let entry = try #require(journal.entries[TraceReplay.entry])
        #expect(entry.body.string == trace.endContent)
        #expect(entry.body.invariantViolation == nil)
        // The full history survives an encode/decode round trip byte for byte.
        let snapshot = EntrySnapshot.encode(entry)
        let decoded = try EntrySnapshot.decode(snapshot)
        #expect(decoded.body.string == trace.endContent)
        #expect(EntrySnapshot.encode(decoded) == snapshot)
    }

    @Test("The bulk mode (one change) gives the same text", arguments: ["sveltecomponent", "json-crdt-blog-post"])
    func sequentialOneChange(name: String) async throws {
        let trace = try await Self.load(name)
        let journal = TraceReplay.sequential(trace, mode: .oneChange)
        #expect(journal.entries[TraceReplay.entry]?.body.string == trace.endContent)
    }

    @Test("Concurrent traces converge to their end content with one replica per agent", arguments: concurrent)
    func concurrentReplay(name: String) async throws {
        let trace = try await Self.load(name)
        #expect(trace.isConcurrent)
        let journals = TraceReplay.concurrent(trace)
        #expect(journals.count >= 2)
        let states = journals.map(\.canonicalState)
        for journal in journals {
            #expect(journal.entries[TraceReplay.entry]?.body.string == trace.endContent)
            #expect(journal.pendingCount == 0)
        }
        #expect(Set(states).count == 1, "replicas are byte-identical")
    }
}
