import DuetTesting
import Foundation
import Testing

/// Issue #16 item 4 through the real `duet`: times shown and typed in the person's zone (`TZ`),
/// JSON in RFC 3339 with the offset, and `--since`/`--until`/`--date` in local and natural forms.
@Suite("Local time, end to end")
struct LocalTimeTests {
    static func inZone(_ zone: String) -> [String: String] { ["TZ": zone] }

    @Test("One entry shows its local time in New York and in Tokyo; JSON carries the offset")
    func oneEntryTwoZones() async throws {
        let journal = try await TemporaryJournal()
        let id = try await journal.write("an evening walk", ["--date", "2026-12-02T18:30:00Z"])

        let newYork = try await journal.duet(["show", id], environment: Self.inZone("America/New_York"))
        #expect(newYork.stdout.contains("created: 2026-12-02 13:30 -05:00"), "\(newYork.stdout)")
        let tokyo = try await journal.duet(["show", id], environment: Self.inZone("Asia/Tokyo"))
        #expect(tokyo.stdout.contains("created: 2026-12-03 03:30 +09:00"), "\(tokyo.stdout)")
        let listed = try await journal.duet(["list"], environment: Self.inZone("Asia/Tokyo"))
        #expect(listed.stdout.contains("2026-12-03 03:30  an evening walk"), "\(listed.stdout)")

        let json = try await journal.duet(["show", id, "--json"], environment: Self.inZone("America/New_York")).json as? [String: Any]
        #expect(json?["createdAt"] as? String == "2026-12-02T13:30:00-05:00")
        let utc = try await journal.duet(["show", id, "--json"], environment: Self.inZone("UTC")).json as? [String: Any]
        #expect(utc?["createdAt"] as? String == "2026-12-02T18:30:00Z")
    }

    @Test("write --date and edit --date take local times: 19:30 in Tokyo is 10:30 UTC")
    func localDates() async throws {
        let journal = try await TemporaryJournal()
        let tokyo = Self.inZone("Asia/Tokyo")
        let write = try await journal.duet(["write", "--date", "2026-12-02 19:30", "-m", "dinner"], environment: tokyo)
        #expect(write.status == 0, "\(write.stderr)")
        let id = write.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await journal.duet(["show", id, "--json"], environment: Self.inZone("UTC")).json
                .flatMap { ($0 as? [String: Any])?["createdAt"] as? String } == "2026-12-02T10:30:00Z")
        let edit = try await journal.duet(["edit", id, "--date", "2026-11-30"], environment: tokyo)
        #expect(edit.status == 0, "\(edit.stderr)")
        #expect(try await journal.duet(["show", id, "--json"], environment: tokyo).json
                .flatMap { ($0 as? [String: Any])?["createdAt"] as? String } == "2026-11-30T09:00:00+09:00", "a day alone is 09:00")
    }

    @Test("--until DAY keeps all of that local day; --since DAY starts at its local midnight")
    func wholeDays() async throws {
        let journal = try await TemporaryJournal()
        let tokyo = Self.inZone("Asia/Tokyo")
        var ids: [String: String] = [:]
        for (name, when) in [("before", "2026-12-01 23:59"), ("first", "2026-12-02 00:00"), ("late", "2026-12-02 23:30"), ("after", "2026-12-03 00:00")] {
            let run = try await journal.duet(["write", "--date", when, "-m", name], environment: tokyo)
            #expect(run.status == 0, "\(run.stderr)")
            ids[name] = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let run = try await journal.duet(["list", "--json", "--since", "2026-12-02", "--until", "2026-12-02"], environment: tokyo)
        let bodies = Set(((run.json as? [[String: Any]]) ?? []).compactMap { $0["body"] as? String })
        #expect(bodies == ["first", "late"], "\(bodies) \(run.stderr)")
        // The same day in New York is another span of time: there it holds "after" too.
        let newYork = try await journal.duet(["list", "--json", "--since", "2026-12-02", "--until", "2026-12-02"],
                                             environment: Self.inZone("America/New_York"))
        let there = Set(((newYork.json as? [[String: Any]]) ?? []).compactMap { $0["body"] as? String })
        #expect(there == ["late", "after"], "23:30 and 00:00 in Tokyo are 09:30 and 10:00 on 2 December in New York: \(there)")
    }

    /// The local day in `zone` now, to tell whether a run crossed midnight.
    static func today(_ zone: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: zone)
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: Date())
    }

    @Test("--since yesterday picks the entries from yesterday's local midnight on")
    func sinceYesterday() async throws {
        let zone = "Asia/Tokyo"
        // A run that crosses local midnight asks a different question half-way: it is done again
        // (at most three times; midnight comes once a day).
        for _ in 0..<3 {
            let journal = try await TemporaryJournal()
            let day = Self.today(zone)
            for (body, when) in [("three days back", "3 days ago"), ("two days back, late", "2 days ago 23:59"),
                                 ("yesterday morning", "yesterday 00:01"), ("today", "now")] {
                let run = try await journal.duet(["write", "--date", when, "-m", body], environment: Self.inZone(zone))
                #expect(run.status == 0, "\(run.stderr)")
            }
            let since = try await journal.duet(["list", "--json", "--since", "yesterday"], environment: Self.inZone(zone))
            let until = try await journal.duet(["list", "--json", "--until", "2 days ago"], environment: Self.inZone(zone))
            guard Self.today(zone) == day else { continue }
            let recent = ((since.json as? [[String: Any]]) ?? []).compactMap { $0["body"] as? String }
            #expect(recent == ["today", "yesterday morning"], "\(recent) \(since.stderr)")
            let older = ((until.json as? [[String: Any]]) ?? []).compactMap { $0["body"] as? String }
            #expect(older == ["two days back, late", "three days back"], "\(older) \(until.stderr)")
            return
        }
        Issue.record("every run crossed midnight")
    }

    @Test("A date that is not one is refused in one line naming the forms, and nothing is written", arguments: [
        "last blursday", "2026-02-30", "-3 days ago", "99999999999999999999 days ago", "next friday",
    ])
    func refused(_ text: String) async throws {
        let journal = try await TemporaryJournal()
        // `--date=TEXT`: a value starting with "-" is otherwise read as an option.
        let write = try await journal.duet(["write", "--date=\(text)", "-m", "should not be written"])
        #expect(write.status != 0)
        #expect(write.errorLine == "error: '\(text)' is not a date; use YYYY-MM-DD, YYYY-MM-DD HH:MM, an RFC 3339 time, now, today, yesterday, tomorrow, a weekday (friday, last friday), N days/weeks/months/years/hours/minutes ago, or last week/month/year; a day may be followed by HH:MM (yesterday 18:00); times are local", "\(write.stderr)")
        #expect(try await journal.list().isEmpty)
        let list = try await journal.duet(["list", "--since=\(text)"])
        #expect(list.status != 0 && list.errorLine.hasPrefix("error: '\(text)' is not a date;") && !list.errorLine.contains("\n"))
        #expect(try await journal.duet(["list", "--until=\(text)"]).status != 0)
        #expect(try await journal.duet(["edit", "abcd", "--date=\(text)"]).errorLine.hasPrefix("error: '\(text)' is not a date;"),
                "the date is checked before the entry is looked up")
    }

    @Test("A local time the clocks skip is refused by name")
    func skippedTime() async throws {
        let journal = try await TemporaryJournal()
        let run = try await journal.duet(["write", "--date", "2026-03-08 02:30", "-m", "x"], environment: Self.inZone("America/New_York"))
        #expect(run.status != 0)
        #expect(run.errorLine == "error: '2026-03-08 02:30' does not exist in America/New_York: the clocks skip it that day; choose another time")
    }
}
