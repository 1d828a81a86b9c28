public import Foundation

/// A moment or a day a person typed: `--since`, `--until`, `write --date`, `edit --date`.
///
/// Every form names a span of time, `[start, end)` in milliseconds since the epoch (negative
/// before 1970): a day is its local midnight to the next (23 or 25 hours across a clock change),
/// a time to the minute is that minute, an RFC 3339 time or "N hours ago" one millisecond. So
/// `--since` takes `start`, `--until` takes `end` (the whole of the day it names, included), and
/// an entry's date takes ``entryTime``.
public struct NaturalDate: Sendable, Equatable {
    public enum Precision: Sendable, Equatable { case day, minute, instant }

    public let start: Int64
    public let end: Int64
    public let precision: Precision
    /// For a day alone, 09:00 that day (jrnl's default hour), else `start`.
    public let entryTime: Int64

    /// Forms it accepts (the words are English input, matched case-insensitively):
    ///
    /// - `YYYY-MM-DD` (a local day), `YYYY-MM-DD HH:MM` (local), a full RFC 3339 time with its
    ///   offset (`2026-12-02T19:30:00+01:00`, `…Z`);
    /// - `now`, `today`, `yesterday`, `tomorrow`;
    /// - a weekday (`friday` or `fri`: the latest one, today included) and `last friday` (the one
    ///   before today);
    /// - `N days ago`, `N weeks ago`, `N months ago`, `N years ago` (a day), `N hours ago`,
    ///   `N minutes ago` (a moment), with N from 0 to 100,000; `last week`, `last month`, `last
    ///   year` (the day one of them ago);
    /// - any day form followed by `HH:MM` (24-hour), and `HH:MM` alone (today).
    ///
    /// Anything else is refused, never guessed: "last blursday", "2026-02-30", "-3 days ago", a
    /// time the clocks skip in `timeZone` ("2026-03-08 02:30" in New York). A time the clocks
    /// pass twice is its first occurrence.
    public static func parse(_ text: String, now: UInt64, timeZone: TimeZone, calendar given: Calendar) throws(DeviceError) -> NaturalDate {
        var calendar = given
        calendar.timeZone = timeZone
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        // Bounded before any work: no form is longer.
        guard !trimmed.isEmpty, trimmed.utf8.count <= 64 else { throw .notADate(text) }
        if let instant = rfc3339(trimmed) {
            let milliseconds = try checkedMilliseconds(instant, text)
            return NaturalDate(start: milliseconds, end: milliseconds + 1, precision: .instant, entryTime: milliseconds)
        }
        let nowDate = Date(timeIntervalSince1970: Double(now) / 1000)
        var words = trimmed.lowercased().split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        var time: (hour: Int, minute: Int)?
        if let last = words.last, let parsed = clockTime(last) {
            time = parsed
            words.removeLast()
        }
        let day: Date
        switch try phrase(words, now: nowDate, calendar: calendar, text: text) {
        case .moment(let moment):
            guard time == nil else { throw .notADate(text) }
            let milliseconds = try checkedMilliseconds(moment, text)
            return NaturalDate(start: milliseconds, end: milliseconds + 1, precision: .instant, entryTime: milliseconds)
        case .day(let named):
            day = named
        }
        let start = calendar.startOfDay(for: day)
        if let time {
            let moment = try at(time, on: start, calendar: calendar, text: text)
            let milliseconds = try checkedMilliseconds(moment, text)
            return NaturalDate(start: milliseconds, end: milliseconds + 60_000, precision: .minute, entryTime: milliseconds)
        }
        guard let next = calendar.date(byAdding: .day, value: 1, to: start) else { throw .dateOutOfRange(text) }
        // 09:00 exists on every day (no zone changes its clocks then), else the start of the day.
        let morning = (try? at((9, 0), on: start, calendar: calendar, text: text)) ?? start
        return NaturalDate(start: try checkedMilliseconds(start, text), end: try checkedMilliseconds(calendar.startOfDay(for: next), text),
                           precision: .day, entryTime: try checkedMilliseconds(morning, text))
    }

    /// The largest N in "N days ago": beyond it the calendar's arithmetic is not trusted, and no
    /// journal needs it.
    public static let maximumCount = 100_000

    private enum Named { case day(Date), moment(Date) }

    private static let weekdays = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]

    /// 1 (Sunday) to 7, as `Calendar` numbers them.
    private static func weekday(_ word: String) -> Int? {
        if let index = weekdays.firstIndex(of: word) { return index + 1 }
        if word.count == 3, let index = weekdays.firstIndex(where: { $0.hasPrefix(word) }) { return index + 1 }
        return nil
    }

    private static func phrase(_ words: [String], now: Date, calendar: Calendar, text: String) throws(DeviceError) -> Named {
        func daysAgo(_ count: Int) throws(DeviceError) -> Named {
            guard let day = calendar.date(byAdding: .day, value: -count, to: calendar.startOfDay(for: now)) else { throw .dateOutOfRange(text) }
            return .day(day)
        }
        func ago(_ component: Calendar.Component, _ count: Int) throws(DeviceError) -> Date {
            // Calendar arithmetic, not seconds: a month back from 31 March is 28 or 29 February,
            // an hour back across a clock change is one real hour.
            guard let date = calendar.date(byAdding: component, value: -count, to: now) else { throw .dateOutOfRange(text) }
            return date
        }
        switch words.count {
        case 0:
            return .day(now)  // "18:00" alone: today
        case 1:
            let word = words[0]
            switch word {
            case "now": return .moment(now)
            case "today": return .day(now)
            case "yesterday": return try daysAgo(1)
            case "tomorrow": return try daysAgo(-1)
            default: break
            }
            if let weekday = weekday(word) {
                let today = calendar.component(.weekday, from: now)
                return try daysAgo((today - weekday + 7) % 7)
            }
            if let day = try isoDay(word, calendar: calendar, text: text) { return .day(day) }
        case 2 where words[0] == "last":
            switch words[1] {
            case "week": return try daysAgo(7)
            case "month": return .day(try ago(.month, 1))
            case "year": return .day(try ago(.year, 1))
            default: break
            }
            if let weekday = weekday(words[1]) {
                let today = calendar.component(.weekday, from: now)
                let back = (today - weekday + 7) % 7
                return try daysAgo(back == 0 ? 7 : back)
            }
        case 3 where words[2] == "ago":
            guard let count = count(words[0]) else { throw .notADate(text) }
            let unit = words[1].hasSuffix("s") ? String(words[1].dropLast()) : words[1]
            switch unit {
            case "day": return try daysAgo(count)
            case "week":
                guard count <= maximumCount / 7 else { throw .dateOutOfRange(text) }
                return try daysAgo(count * 7)
            case "month": return .day(try ago(.month, count))
            case "year": return .day(try ago(.year, count))
            case "hour": return .moment(try ago(.hour, count))
            case "minute", "min": return .moment(try ago(.minute, count))
            default: break
            }
        default:
            break
        }
        throw .notADate(text)
    }

    /// A count of 1 to 6 ASCII digits, at most ``maximumCount``: no sign, no overflow.
    private static func count(_ word: String) -> Int? {
        let bytes = Array(word.utf8)
        guard (1...6).contains(bytes.count), bytes.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let value = Int(word), value <= maximumCount else { return nil }
        return value
    }

    /// `H:MM` or `HH:MM`, 00:00 to 23:59.
    private static func clockTime(_ word: String) -> (hour: Int, minute: Int)? {
        let parts = word.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, (1...2).contains(parts[0].utf8.count), parts[1].utf8.count == 2,
              parts.allSatisfy({ $0.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } }),
              let hour = Int(parts[0]), let minute = Int(parts[1]), hour < 24, minute < 60 else { return nil }
        return (hour, minute)
    }

    /// `YYYY-MM-DD`, a day that exists (not 2026-02-30), as a time on it; nil when the text is
    /// not of that shape.
    private static func isoDay(_ word: String, calendar: Calendar, text: String) throws(DeviceError) -> Date? {
        let bytes = Array(word.utf8)
        let shaped = bytes.count == 10 && bytes.indices.allSatisfy { index in
            index == 4 || index == 7 ? bytes[index] == UInt8(ascii: "-") : (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index])
        }
        guard shaped, let year = Int(word.prefix(4)), let month = Int(word.dropFirst(5).prefix(2)), let day = Int(word.suffix(2)) else {
            return nil
        }
        guard year >= 1, (1...12).contains(month), (1...31).contains(day) else { throw .notADate(text) }
        // Noon: a day whose midnight the clocks skip still has one.
        let components = DateComponents(year: year, month: month, day: day, hour: 12)
        guard let date = calendar.date(from: components) else { throw .notADate(text) }
        let back = calendar.dateComponents([.year, .month, .day], from: date)
        // The calendar rolls 2026-02-30 over to March 2: refused, never guessed.
        guard back.year == year, back.month == month, back.day == day else { throw .notADate(text) }
        return date
    }

    /// `time` on the local day starting at `start`, refused when the clocks skip it that day.
    private static func at(_ time: (hour: Int, minute: Int), on start: Date, calendar: Calendar, text: String) throws(DeviceError) -> Date {
        var components = calendar.dateComponents([.year, .month, .day], from: start)
        components.hour = time.hour
        components.minute = time.minute
        components.second = 0
        guard let date = calendar.date(from: components) else { throw .notADate(text) }
        let back = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        guard back.year == components.year, back.month == components.month, back.day == components.day,
              back.hour == time.hour, back.minute == time.minute else {
            throw .skippedTime(text, zone: calendar.timeZone.identifier)
        }
        // Twice that day (the clocks go back): the first of the two.
        let hourEarlier = date.addingTimeInterval(-3600)
        let earlier = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: hourEarlier)
        if earlier.day == back.day, earlier.hour == time.hour, earlier.minute == time.minute { return hourEarlier }
        return date
    }

    private static func rfc3339(_ text: String) -> Date? {
        guard text.utf8.count >= 20, text.utf8.contains(where: { $0 == UInt8(ascii: "T") || $0 == UInt8(ascii: "t") }) else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text.uppercased()) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text.uppercased())
    }

    /// Year 1 to 9999: what RFC 3339 can write, and far more than a journal needs.
    private static let earliest: Int64 = -62_135_596_800_000
    private static let latest: Int64 = 253_402_300_799_999

    private static func checkedMilliseconds(_ date: Date, _ text: String) throws(DeviceError) -> Int64 {
        let value = (date.timeIntervalSince1970 * 1000).rounded(.down)
        guard value.isFinite, let milliseconds = Int64(exactly: value), (earliest...latest).contains(milliseconds) else {
            throw .dateOutOfRange(text)
        }
        return milliseconds
    }
}

extension NaturalDate {
    /// `--since`: entries written at or after the start (0 for a start before 1970).
    public var since: UInt64 { UInt64(clamping: max(start, 0)) }
    /// `--until`: entries written before the end, so the whole day or minute named is included.
    public var until: UInt64 { UInt64(clamping: max(end, 0)) }

    /// An entry's date, which cannot be before 1970 (entry times count milliseconds from then).
    public func entryDate(_ text: String) throws(DeviceError) -> UInt64 {
        guard entryTime >= 0 else { throw .dateOutOfRange(text) }
        return UInt64(entryTime)
    }
}
