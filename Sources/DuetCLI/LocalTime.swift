import DuetDevice
import Foundation
import Synchronization

/// Times as the person reads and types them: in their own time zone (`TZ`, else the system's),
/// which the CLI reads here and passes down (DuetDevice and DuetCore never read the zone).
enum LocalTime {
    static var zone: TimeZone { TimeZone.current }

    static var calendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar
    }

    /// RFC 3339 in the local zone with its offset, to the second: `2026-12-02T19:30:00+01:00`
    /// (`…Z` where the zone is UTC). What `--json` carries.
    static func rfc3339(_ milliseconds: UInt64) -> String {
        formatters.withLock { cache in
            let formatter = cache.internet ?? {
                let made = ISO8601DateFormatter()
                made.formatOptions = [.withInternetDateTime]
                made.timeZone = zone
                return made
            }()
            cache.internet = formatter
            return formatter.string(from: date(milliseconds))
        }
    }

    /// `2026-12-02 19:30`, local: the lists' column.
    static func minute(_ milliseconds: UInt64) -> String {
        format(milliseconds, "yyyy-MM-dd HH:mm")
    }

    /// `2026-12-02 19:30 +01:00`, local, with the offset said: what `show` prints.
    static func full(_ milliseconds: UInt64) -> String {
        format(milliseconds, "yyyy-MM-dd HH:mm xxx")
    }

    /// What a person typed for `--since`, `--until` or `--date`, read in their zone now.
    static func parse(_ text: String) throws(DeviceError) -> NaturalDate {
        try NaturalDate.parse(text, now: nowMilliseconds, timeZone: zone, calendar: calendar)
    }

    private static func format(_ milliseconds: UInt64, _ pattern: String) -> String {
        formatters.withLock { cache in
            let formatter = cache.patterns[pattern] ?? {
                let made = DateFormatter()
                made.locale = Locale(identifier: "en_US_POSIX")
                made.calendar = calendar
                made.timeZone = zone
                made.dateFormat = pattern
                return made
            }()
            cache.patterns[pattern] = formatter
            return formatter.string(from: date(milliseconds))
        }
    }

    /// Made once a process: a formatter costs far more to make than to use (a list of 20,000
    /// entries spent most of its ten seconds making them). The zone is read once too: a command
    /// shows every time in one zone.
    private struct Formatters {
        var patterns: [String: DateFormatter] = [:]
        var internet: ISO8601DateFormatter?
    }
    private static let formatters = Mutex(Formatters())

    /// The partner's bytes set an entry's date: past year 9999 it is shown as the end of 9999,
    /// never handed to the formatter as a value it cannot write.
    private static func date(_ milliseconds: UInt64) -> Date {
        Date(timeIntervalSince1970: Double(min(milliseconds, 253_402_300_799_999)) / 1000)
    }
}

/// The forms `--since`, `--until` and `--date` accept, for help and for the error that refuses
/// anything else.
enum DateWording {
    static let accepted = """
        use YYYY-MM-DD, YYYY-MM-DD HH:MM, an RFC 3339 time, now, today, yesterday, tomorrow, a weekday \
        (friday, last friday), N days/weeks/months/years/hours/minutes ago, or last week/month/year; \
        a day may be followed by HH:MM (yesterday 18:00); times are local
        """
}

extension DateWording {
    static let help = """
        Dates are read in your time zone (TZ, else the system's): YYYY-MM-DD, YYYY-MM-DD HH:MM, an RFC 3339 time \
        (2026-12-02T19:30:00+01:00), now, today, yesterday, tomorrow, friday (the latest Friday, today included), \
        last friday (the one before today), N days|weeks|months|years|hours|minutes ago, last week|month|year; \
        a day may be followed by HH:MM (yesterday 18:00, last friday 21:00). Nothing else is guessed.
        """
}
