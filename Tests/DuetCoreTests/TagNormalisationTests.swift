import Testing
@testable import DuetCore

/// SPEC § 4.2: tags are Swift strings, which compare by Unicode canonical equivalence, so "é"
/// (U+00E9) and "e" U+0301 are one element of the tag set. The set keeps the spelling smallest in
/// UTF-8 (it kept whichever arrived first, so replicas that received the same changes in other
/// orders encoded different snapshot bytes).
@Suite("Tag normalisation")
struct TagNormalisationTests {
    static let alex = DeviceID(high: 0x1111_1111_1111_1111, low: 0x1111_1111_1111_1111)
    static let sam = DeviceID(high: 0x3333_3333_3333_3333, low: 0x3333_3333_3333_3333)
    static let entry = EntryID(high: 0x2222_2222_2222_2222, low: 0x2222_2222_2222_2222)

    static func change(_ device: DeviceID, _ seq: UInt64, ms: UInt64, after: [Dot] = [], _ operations: [EntryOperation]) -> Change {
        Change(device: device, seq: seq, hlc: HLC(milliseconds: ms, counter: 0), dependencies: after, entry: entry, operations: operations)
    }

    @Test("Canonically equivalent tags added concurrently: both replicas show one tag")
    func oneElement() {
        let created = Self.change(Self.alex, 1, ms: 1, [.create])
        let precomposed = Self.change(Self.alex, 2, ms: 2, [.addTag("\u{E9}")])
        let decomposed = Self.change(Self.sam, 1, ms: 2, after: [created.dot], [.addTag("e\u{301}")])
        var replica = Journal()
        for change in [created, precomposed, decomposed] { _ = replica.receive(change) }
        #expect(replica.entries[Self.entry]?.tags.elements.count == 1)
    }

    @Test("…and encode the same snapshot bytes whatever the arrival order, with the spelling smallest in UTF-8")
    func sameBytes() {
        let created = Self.change(Self.alex, 1, ms: 1, [.create])
        let precomposed = Self.change(Self.alex, 2, ms: 2, [.addTag("\u{E9}")])
        let decomposed = Self.change(Self.sam, 1, ms: 2, after: [created.dot], [.addTag("e\u{301}")])
        var first = Journal(), second = Journal()
        for change in [created, precomposed, decomposed] { _ = first.receive(change) }
        for change in [created, decomposed, precomposed] { _ = second.receive(change) }
        let bytes = [first, second].map { journal in journal.entries[Self.entry].map(EntrySnapshot.encode) ?? [] }
        #expect(!bytes[0].isEmpty)
        #expect(bytes[0] == bytes[1])
        #expect(first.entries[Self.entry]?.tags.elements.map { Array($0.utf8) } == [Array("e\u{301}".utf8)])
    }
}
