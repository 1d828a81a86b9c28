@testable import DuetDevice
import Foundation
import Testing

/// jrnl's `date` and `time` fields are local wall time; a file's values are bounded where read.
@Suite("jrnl times")
struct JrnlTimeTests {
    static let berlin = TimeZone(identifier: "Europe/Berlin") ?? .gmt

    @Test("HH:MM and HH:MM:SS are local times; seconds that are not seconds, and impossible days, are refused")
    func times() throws {
        let minute = try JrnlImport.localTime(date: "2024-03-05", time: "22:10", in: Self.berlin)
        #expect(minute == 1_709_673_000_000, "22:10 in Berlin is 21:10 UTC")
        #expect(try JrnlImport.localTime(date: "2024-03-05", time: "22:10:00", in: Self.berlin) == minute)
        for (date, time) in [("2024-03-05", "12:30:junk"), ("2024-03-05", "12:30:75"), ("2024-03-05", "12:30:-1"),
                             ("2024-02-30", "10:00"), ("2024-03-05", "24:00"), ("99999-01-01", "10:00")] {
            #expect(throws: DeviceError.self, "\(date) \(time)") { try JrnlImport.localTime(date: date, time: time, in: Self.berlin) }
        }
    }
}
