import DuetDevice
import Foundation
import Testing

/// An import file is bytes someone else wrote: dates before 1970 or far in the future, wrong
/// types and missing fields are refused or bounded, never trapped on.
@Suite("Hostile import files")
struct HostileImportTests {
    @Test("Dates outside what a journal holds are bounded, not trapped on")
    func extremeDates() throws {
        #expect(try EntryRules.date("1900-01-01") == 0)
        #expect(try EntryRules.date("1970-01-01") == 0)
        #expect(try EntryRules.date("1970-01-02") == 86_400_000)
        #expect(try EntryRules.date("9999-12-31T23:59:59Z") == 253_402_300_799_000)
        #expect(throws: DeviceError.notADate("yesterday")) { try EntryRules.date("yesterday") }
        // A day with anything after it is not that day (the formatter alone dropped the rest).
        for text in ["2026-12-02 23:59", "2026-12-02T14:19", "2026-12-02junk", "2026-1-02", "2026-12-0x"] {
            #expect(throws: DeviceError.notADate(text)) { try EntryRules.date(text) }
        }
    }

    @Test("A jrnl file with extreme dates, wrong types and a missing date imports what is sound or nothing")
    func hostileJrnl() async throws {
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        let sound = #"{"entries": [{"date": "1901-01-01", "time": "00:00", "title": 7, "body": "old", "tags": 3},"#
            + #" {"date": "9999-12-31", "time": "23:59", "body": "far"}]}"#
        let result = try couple.alex.importEntries(Data(sound.utf8), from: .jrnl)
        #expect(result.imported == 2)
        let created = Set(try couple.alex.list().map(\.created))
        #expect(created == [0, 253_402_300_740_000])
        let missing = #"{"entries": [{"body": "no date"}]}"#
        #expect(throws: DeviceError.importMissingDate(format: .jrnl, index: 1)) {
            try couple.alex.importEntries(Data(missing.utf8), from: .jrnl)
        }
        #expect(throws: DeviceError.importNotJSON(format: .dayone)) { try couple.alex.importEntries(Data("[1, 2]".utf8), from: .dayone) }
        #expect(try couple.alex.list().count == 2, "a refused file adds nothing")
    }
}
