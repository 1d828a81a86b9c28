import DuetTesting
import Foundation
import Testing

/// The two-partner story with the partners on different relay processes that share one
/// PostgreSQL database (issue #17): what a provider behind a load balancer serves.
@Suite("Two relays on one PostgreSQL, end to end")
struct SplitRelayStoryTests {
    @Test("Alex on relay A, Sam on relay B: they pair across the two, and shared entries and answers arrive live both ways")
    func splitCouple() async throws {
        // The pairing code's mailboxes are put through A and taken through B, and back.
        let couple = try await Couple(splitOverPostgres: true)
        let samRelay = try #require(couple.samRelay)
        #expect(couple.relay.port != samRelay.port)
        let alexDaemon = try couple.alex.daemon(), samDaemon = try couple.sam.daemon()
        #expect(await alexDaemon.firstLine()?.hasPrefix("connected to ") == true)
        #expect(await samDaemon.firstLine()?.hasPrefix("connected to ") == true)

        // Appended through A by Alex's daemon, pushed live to Sam's daemon on B.
        let id = try await couple.alex.write("Written on relay A, read on relay B.", ["--shared"])
        #expect(try await couple.sam.eventually { (try await couple.sam.status()["pendingIn"] as? Int ?? 0) >= 1 }, "pushed live across the relays")
        let shown = try await couple.sam.show(id)
        #expect(shown["body"] as? String == "Written on relay A, read on relay B.")
        #expect(shown["author"] as? String == "Alex", "shown under its author: \(shown)")

        let answer = try await couple.sam.write("And answered through B.", ["--shared", "--reply-to", id])
        #expect(try await couple.alex.eventually { try await couple.alex.duet(["show", answer]).status == 0 }, "and back to A")

        // A private entry stays Alex's, whichever relay carries it.
        let secret = try await couple.alex.write("Mine alone.")
        #expect(try await couple.alex.eventually { (try await couple.alex.status()["pendingOut"] as? Int) == 0 })
        #expect(try await couple.sam.duet(["show", secret]).status != 0)

        alexDaemon.signal(SIGTERM)
        samDaemon.signal(SIGTERM)
        #expect(await alexDaemon.finish().status == 0)
        #expect(await samDaemon.finish().status == 0)
    }
}
