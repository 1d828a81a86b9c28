import DuetStore
import Testing

/// What a partner or an imported file wrote is shown on a terminal only after ``Sanitise``: no
/// control sequence, no reordering, no invisible character that makes two names look alike —
/// and emoji stay whole.
@Suite("Sanitise")
struct SanitiseTests {
    @Test("Escapes, C0/C1 controls and DEL become U+FFFD; a body keeps its newlines and tabs, a line does not")
    func controls() {
        let hostile = "a\u{1B}]0;title\u{07}b\u{7F}c\u{9B}2Jd\n\te\r"
        #expect(Sanitise.text(hostile) == "a\u{FFFD}]0;title\u{FFFD}b\u{FFFD}c\u{FFFD}2Jd\n\te\u{FFFD}")
        #expect(Sanitise.line(hostile) == "a\u{FFFD}]0;title\u{FFFD}b\u{FFFD}c\u{FFFD}2Jd  e ")
    }

    @Test("Bidirectional overrides and every invisible formatting character are replaced", arguments: [
        0x202E, 0x2066, 0x200B, 0x200D, 0x200E, 0x2060, 0xFEFF, 0x2028,
        0x00AD, 0x061C, 0x180E, 0x2062, 0x206A, 0x206F, 0xFFF9, 0xFFFB,
        // Missed by the hand-made list this replaced: tag characters, the combining grapheme
        // joiner, the Hangul fillers, the Arabic number sign, the Khmer vowel inherents.
        0xE0041, 0xE0001, 0x034F, 0x115F, 0x3164, 0xFFA0, 0x0600, 0x17B4,
    ])
    func invisible(value: UInt32) throws {
        let scalar = try #require(Unicode.Scalar(value))
        let name = "Alex" + String(Character(scalar)) + "'s laptop"
        #expect(Sanitise.line(name) == "Alex\u{FFFD}'s laptop", "U+\(String(value, radix: 16, uppercase: true))")
        #expect(Sanitise.text(name) == "Alex\u{FFFD}'s laptop")
    }

    @Test("A zero-width joiner inside an emoji sequence is kept; beside a letter or digit it is not")
    func emojiSequences() {
        for emoji in ["👩\u{200D}❤️\u{200D}👨", "👨\u{200D}👩\u{200D}👧", "🏳️\u{200D}🌈", "🧑🏽\u{200D}🤝\u{200D}🧑🏻"] {
            #expect(Sanitise.text("We 💛 " + emoji) == "We 💛 " + emoji, "\(emoji.unicodeScalars.map { String($0.value, radix: 16) })")
            #expect(Sanitise.line(emoji) == emoji)
        }
        #expect(Sanitise.line("Al\u{200D}ex") == "Al\u{FFFD}ex")
        #expect(Sanitise.line("1\u{200D}2") == "1\u{FFFD}2", "digits are emoji bases, but not pictures")
        #expect(Sanitise.line("👩\u{200D}") == "👩\u{FFFD}", "a joiner with nothing after it")
        #expect(Sanitise.line("\u{200D}👩") == "\u{FFFD}👩")
    }

    @Test("Subdivision flags keep their tag characters; the same tags after a letter, or a joiner after © or ®, do not survive")
    func flagsAndTextEmoji() {
        let scotland = "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}"
        #expect(Sanitise.line("Home " + scotland) == "Home " + scotland)
        #expect(Sanitise.line("Alex\u{E0041}\u{E0042}") == "Alex\u{FFFD}\u{FFFD}", "hidden text after a name")
        #expect(Sanitise.line("©\u{200D}👩") == "©\u{FFFD}👩")
        #expect(Sanitise.line("👁\u{200D}🗨") == "👁\u{200D}🗨", "the eye in a speech bubble")
        #expect(Sanitise.text("a\r\nb") == "a\u{FFFD}\nb" && Sanitise.line("a\r\nb") == "a  b")
    }
}
