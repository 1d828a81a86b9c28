import DuetDevice
import Foundation
import Testing

/// The dates people type (`--since`, `--until`, `--date`), read by the pure parser with a fixed
/// "now", zone and calendar: what each form means, across clock changes, and what is refused.
@Suite("Natural dates")
struct NaturalDateTests {
    static let calendar = Calendar(identifier: .gregorian)

    /// Milliseconds of an RFC 3339 time, written out in the test as the expected answer (a typo
    /// in one gives Int64.min, which no answer equals).
    static func at(_ text: String) -> Int64 {
        guard let date = ISO8601DateFormatter().date(from: text) else { return Int64.min }
        return Int64(date.timeIntervalSince1970 * 1000)
    }

    static func parse(_ text: String, now: String, zone: String) throws -> NaturalDate {
        let nowMilliseconds = UInt64(clamping: at(now))
        return try NaturalDate.parse(text, now: nowMilliseconds, timeZone: try #require(TimeZone(identifier: zone)), calendar: calendar)
    }

    /// Friday 4 December 2026, 16:00 in Berlin (UTC+1).
    static let friday = "2026-12-04T15:00:00Z"

    @Test("Days name their local midnight to the next, whatever the words", arguments: [
        ("today", "2026-12-04"), ("yesterday", "2026-12-03"), ("tomorrow", "2026-12-05"), ("Yesterday", "2026-12-03"),
        ("friday", "2026-12-04"), ("fri", "2026-12-04"), ("last friday", "2026-11-27"), ("monday", "2026-11-30"),
        ("last monday", "2026-11-30"), ("saturday", "2026-11-28"), ("3 days ago", "2026-12-01"), ("1 day ago", "2026-12-03"),
        ("0 days ago", "2026-12-04"), ("2 weeks ago", "2026-11-20"), ("last week", "2026-11-27"), ("last month", "2026-11-04"),
        ("2 months ago", "2026-10-04+02:00"), ("last year", "2025-12-04"), ("99 days ago", "2026-08-27+02:00"), ("2026-12-02", "2026-12-02"),
        ("  2026-12-02 ", "2026-12-02"),
    ])
    func days(_ text: String, _ day: String) throws {
        // Berlin is +01:00 in winter, +02:00 in summer: a summer day says so.
        let expected = day.contains("+") ? "\(day.prefix(10))T00:00:00\(day.dropFirst(10))" : "\(day)T00:00:00+01:00"
        let parsed = try Self.parse(text, now: Self.friday, zone: "Europe/Berlin")
        #expect(parsed.precision == .day)
        #expect(parsed.start == Self.at(expected), "\(text)")
        #expect(parsed.end == parsed.start + 86_400_000, "\(text): none of these days has a clock change")
        #expect(parsed.entryTime == parsed.start + 9 * 3_600_000, "a day alone is written at 09:00, as jrnl does")
    }

    @Test("A time after a day is that local minute; an RFC 3339 time is its instant")
    func times() throws {
        let evening = try Self.parse("yesterday 18:00", now: Self.friday, zone: "Europe/Berlin")
        #expect(evening.start == Self.at("2026-12-03T17:00:00Z") && evening.end == evening.start + 60_000 && evening.precision == .minute)
        #expect(try Self.parse("last friday 21:00", now: Self.friday, zone: "Europe/Berlin").start == Self.at("2026-11-27T20:00:00Z"))
        #expect(try Self.parse("2026-12-02 19:30", now: Self.friday, zone: "Europe/Berlin").start == Self.at("2026-12-02T18:30:00Z"))
        #expect(try Self.parse("2026-12-02 19:30", now: Self.friday, zone: "Asia/Tokyo").start == Self.at("2026-12-02T10:30:00Z"))
        #expect(try Self.parse("7:05", now: Self.friday, zone: "Europe/Berlin").start == Self.at("2026-12-04T06:05:00Z"))
        let exact = try Self.parse("2026-12-02T19:30:00+01:00", now: Self.friday, zone: "Asia/Tokyo")
        #expect(exact.start == Self.at("2026-12-02T18:30:00Z") && exact.end == exact.start + 1 && exact.precision == .instant)
        #expect(try Self.parse("now", now: Self.friday, zone: "Europe/Berlin").start == Self.at(Self.friday))
        #expect(try Self.parse("90 minutes ago", now: Self.friday, zone: "Europe/Berlin").start == Self.at("2026-12-04T13:30:00Z"))
        #expect(try Self.parse("2 hours ago", now: Self.friday, zone: "Europe/Berlin").precision == .instant)
    }

    @Test("The same words name different instants in New York and Tokyo")
    func zones() throws {
        let newYork = try Self.parse("yesterday", now: Self.friday, zone: "America/New_York")
        let tokyo = try Self.parse("yesterday", now: Self.friday, zone: "Asia/Tokyo")
        #expect(newYork.start == Self.at("2026-12-03T05:00:00Z"))
        // 15:00 UTC on the 4th is already the 5th in Tokyo: yesterday is the 4th there.
        #expect(tokyo.start == Self.at("2026-12-03T15:00:00Z"))
    }

    @Test("Across the clocks' changes a day is 23 or 25 hours, a skipped time is refused, a doubled one is its first")
    func daylightSaving() throws {
        let spring = try Self.parse("2026-03-08", now: Self.friday, zone: "America/New_York")
        #expect(spring.start == Self.at("2026-03-08T05:00:00Z") && spring.end == Self.at("2026-03-09T04:00:00Z"))
        let autumn = try Self.parse("2026-11-01", now: Self.friday, zone: "America/New_York")
        #expect(autumn.end - autumn.start == 25 * 3_600_000)
        #expect(throws: DeviceError.skippedTime("2026-03-08 02:30", zone: "America/New_York")) {
            try Self.parse("2026-03-08 02:30", now: Self.friday, zone: "America/New_York")
        }
        #expect(try Self.parse("2026-11-01 01:30", now: Self.friday, zone: "America/New_York").start == Self.at("2026-11-01T05:30:00Z"))
        // The day after spring forward: "yesterday" is the whole short day, not 24 hours back.
        let afterSpring = try Self.parse("yesterday", now: "2026-03-09T12:00:00Z", zone: "America/New_York")
        #expect(afterSpring.start == spring.start && afterSpring.end == spring.end)
        let weekBack = try Self.parse("1 week ago", now: "2026-03-12T16:00:00Z", zone: "America/New_York")
        #expect(weekBack.start == Self.at("2026-03-05T05:00:00Z"), "seven calendar days, not 168 hours")
    }

    @Test("Anything else is refused, never guessed", arguments: [
        "last blursday", "2026-02-30", "2026-13-01", "2026-00-10", "-3 days ago", "3 days", "next friday", "in 3 days", "yesterday 7pm",
        "24:00", "yesterday 18:60", "now 18:00", "2 hours ago 18:00", "100001 days ago", "99999999999999999999999 days ago",
        "1e3 days ago", "３ days ago", "", "   ", "2026-12-02junk", "2026-12-02 23:59:59", "tomorrow yesterday", "friday last",
        String(repeating: "1", count: 200) + " days ago",
    ])
    func refused(_ text: String) throws {
        #expect(throws: DeviceError.notADate(text)) { try Self.parse(text, now: Self.friday, zone: "Europe/Berlin") }
    }

    @Test("Far dates: a filter starts at 1970 at the earliest, an entry's date before 1970 is refused, past 9999 nothing is")
    func range() throws {
        let old = try Self.parse("60 years ago", now: Self.friday, zone: "Europe/Berlin")
        #expect(old.start < 0 && old.since == 0)
        #expect(throws: DeviceError.dateOutOfRange("60 years ago")) { try old.entryDate("60 years ago") }
        #expect(throws: DeviceError.dateOutOfRange("100000 years ago")) { try Self.parse("100000 years ago", now: Self.friday, zone: "Europe/Berlin") }
        // 9999-12-31 23:59 in Honolulu is already year 10000 in UTC.
        #expect(throws: DeviceError.dateOutOfRange("9999-12-31 23:59")) {
            try Self.parse("9999-12-31 23:59", now: Self.friday, zone: "Pacific/Honolulu")
        }
        #expect(try Self.parse("9999-12-31 23:59", now: Self.friday, zone: "Asia/Tokyo").precision == .minute)
    }
}
