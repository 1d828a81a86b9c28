import DuetTesting
import Testing
import DuetEncoding

@Suite("Byte reader")
struct ByteReaderTests {
    /// Bytes that are often valid UTF-8 and often not: lead and continuation bytes of every
    /// length, overlong forms, surrogates, values past U+10FFFF, truncations.
    static func awkwardBytes(_ random: inout SeededRandom) -> [UInt8] {
        let pieces: [[UInt8]] = [
            [0x61], [0x7F], [0xC3, 0xA9], [0xC0, 0xAF], [0xC2], [0x80], [0xE2, 0x82, 0xAC], [0xE0, 0x80, 0xAF],
            [0xED, 0xA0, 0x80], [0xF0, 0x9F, 0x92, 0x9B], [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80],
            [0xFF], [0xEF, 0xBB, 0xBF], [0xE2, 0x82], [0xF0, 0x9F, 0x92],
        ]
        return (0..<random.below(8)).flatMap { _ in random.pick(pieces) }
    }

    @Test("scalars(max:) accepts exactly what String(validating:) accepts, with the same scalars (20,000 inputs)")
    func scalarsMatchStringValidation() throws {
        var random = SeededRandom(seed: 11)
        var valid = 0, invalid = 0
        for _ in 0..<20_000 {
            let text = Self.awkwardBytes(&random)
            var writer = ByteWriter()
            writer.lengthPrefixed(text)
            var reader = ByteReader(writer.bytes)
            let decoded = try? reader.scalars(max: 1 << 10, "text")
            if let expected = String(validating: text, as: UTF8.self) {
                valid += 1
                #expect(decoded == Array(expected.unicodeScalars), "\(text)")
            } else {
                invalid += 1
                #expect(decoded == nil, "\(text) is not UTF-8 but decoded")
            }
        }
        #expect(valid > 1_000 && invalid > 1_000, "both kinds were tried: \(valid) valid, \(invalid) invalid")
    }
}
