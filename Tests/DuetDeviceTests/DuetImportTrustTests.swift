import DuetCore
import DuetCrypto
import DuetDevice
import Foundation
import Testing

/// Review findings on `import --from duet`: an export is a file anyone may have written or
/// changed. What it says about where an entry lived and who wrote it is believed only as far
/// as it can be checked; and a copy never takes the id its original may still arrive under.
@Suite("Duet import: what a file may claim")
struct DuetImportTrustTests {
    /// The export as JSON objects, to tamper with.
    static func objects(_ export: Data) throws -> (root: [String: Any], entries: [[String: Any]]) {
        let root = try #require(try JSONSerialization.jsonObject(with: export) as? [String: Any])
        return (root, try #require(root["entries"] as? [[String: Any]]))
    }

    static func file(_ root: [String: Any], entries: [[String: Any]]) throws -> Data {
        var root = root
        root["entries"] = entries
        return try JSONSerialization.data(withJSONObject: root)
    }

    /// The one entry of `device` whose body is `body`.
    static func entry(_ device: UnlockedDevice, body: String) throws -> EntryRecord {
        let found = try device.list().filter { $0.body == body }
        try #require(found.count == 1, "\(found.count) entries read \"\(body)\"")
        return found[0]
    }

    @Test("Another couple's export: its shared entries are imported as private, not shown to the importer's partner")
    func sharedFromAnotherCouple() async throws {
        let first = try await TwoPartners.make()
        defer { first.remove() }
        _ = try first.alex.write(NewEntry(visibility: .shared, body: "Ours, in the first couple."))
        _ = try first.sam.write(NewEntry(visibility: .shared, body: "Sam's, in the first couple."))
        try await first.syncBoth()
        let export = try first.alex.exportJSON().data

        let second = try await TwoPartners.make()
        defer { second.remove() }
        let result = try second.alex.importEntries(export, from: .duet)
        #expect(result.imported == 2 && result.sharedAsPrivate == [.fromAnotherCouple: 2])
        #expect(try second.alex.list().allSatisfy { $0.visibility == .private }, "the file's word is not enough to share")
        try await second.syncBoth()
        #expect(try second.sam.list().isEmpty, "nothing of it reached the importer's partner")

        // The person who trusts the file says so.
        let kept = try second.sam.importEntries(export, from: .duet, keepShared: true)
        #expect(kept.imported == 2 && kept.sharedAsPrivate.isEmpty)
        #expect(try second.sam.list(EntryFilter(visibility: .shared)).count == 2)

        // A version 2 file names no couple space: the same, said as such.
        var (root, entries) = try Self.objects(export)
        root["version"] = 2
        root["coupleSpace"] = nil
        for index in entries.indices { entries[index]["mac"] = nil }
        let third = try await TwoPartners.make()
        defer { third.remove() }
        let older = try third.alex.importEntries(try Self.file(root, entries: entries), from: .duet)
        #expect(older.imported == 2 && older.sharedAsPrivate == [.coupleNotNamed: 2])
    }

    @Test("One's own export with a private entry marked shared: the tampered entry stays private")
    func tamperedSpace() async throws {
        let couple = try await TwoPartners.make()
        defer { couple.remove() }
        let laptop = try await couple.link(couple.alex, named: "Alex's other laptop")
        _ = try couple.alex.write(NewEntry(body: "Never for Sam's eyes."))
        _ = try couple.alex.write(NewEntry(visibility: .shared, body: "For both of us."))
        var (root, entries) = try Self.objects(try couple.alex.exportJSON().data)
        #expect(root["version"] as? Int == 3 && (root["coupleSpace"] as? String)?.count == 32)
        let secret = try #require(entries.firstIndex { $0["body"] as? String == "Never for Sam's eyes." })
        entries[secret]["space"] = "shared"

        let result = try laptop.importEntries(try Self.file(root, entries: entries), from: .duet)
        #expect(result.imported == 2 && result.sharedAsPrivate == [.notYourExport: 1])
        let kept = try Self.entry(laptop, body: "Never for Sam's eyes.")
        #expect(kept.visibility == .private)
        #expect(kept.originalAuthor == "Alex", "a changed item no longer proves it is Alex's own writing")
        let restored = try Self.entry(laptop, body: "For both of us.")
        #expect(restored.visibility == .shared && restored.originalAuthor == nil, "the untouched item is Alex's, shared, as it was")
        for device in [laptop, couple.sam, laptop] { _ = try await device.sync() }
        #expect(try couple.sam.list().map(\.body) == ["For both of us."], "Sam never receives the private one")
    }

    @Test("A file whose snapshot names the importer's own device is not taken for the importer's writing")
    func forgedAuthorship() async throws {
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        let own = try couple.alex.write(NewEntry(body: "mine"))
        let device = try #require(try couple.alex.show(own).record.author?.device)
        let alexsDevice = try #require(Hex.decode(device).flatMap { DeviceID(bytes: $0) })
        // Someone else's words in a snapshot that claims Alex's device wrote them.
        let id = EntryID(high: 0xF0F0, low: 0x0F0F)
        var journal = Journal()
        journal.commit(entry: id, by: alexsDevice, at: HLC(milliseconds: 1_767_225_600_000, counter: 0)) { editor in
            editor.create()
            editor.insertText(Array("I never loved you.".unicodeScalars), at: 0)
        }
        let entry = try #require(journal.entries[id])
        let snapshot = Data(EntrySnapshot.encode(entry)).base64EncodedString()
        let items: [[String: Any]] = [["id": id.description, "snapshot": snapshot, "space": "private", "author": "Chris"]]
        let root: [String: Any] = ["format": "duet", "version": 2, "exportedAt": "x"]
        let result = try couple.alex.importEntries(try Self.file(root, entries: items), from: .duet)
        #expect(result.imported == 1)
        let copy = try Self.entry(couple.alex, body: "I never loved you.")
        #expect(copy.originalAuthor == "Chris", "attributed to whom the file names, not taken for Alex's own writing")
    }

    @Test("A tag that is missing, garbled or made with other keys is no error: that entry is just someone else's; a damaged couple space is refused")
    func garbledTags() async throws {
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        let laptop = try await couple.link(couple.alex, named: "Alex's other laptop")
        let garbled: [Any] = ["zz", String(repeating: "0", count: 64), String(repeating: "é", count: 32), 5, NSNull()]
        for index in 0...garbled.count { _ = try couple.alex.write(NewEntry(body: "mine \(index)")) }
        let export = try couple.alex.exportJSON().data
        var (root, entries) = try Self.objects(export)
        #expect(root["coupleSpace"] is NSNull, "an unpaired journal says so: null")
        for (index, tag) in garbled.enumerated() {
            let item = try #require(entries.firstIndex { $0["body"] as? String == "mine \(index)" })
            entries[item]["mac"] = tag
        }
        // The laptop has not synced since: every entry is new to it.
        let result = try laptop.importEntries(try Self.file(root, entries: entries), from: .duet)
        #expect(result.imported == garbled.count + 1)
        for index in garbled.indices {
            #expect(try Self.entry(laptop, body: "mine \(index)").originalAuthor == "Alex", "\(garbled[index])")
        }
        #expect(try Self.entry(laptop, body: "mine \(garbled.count)").originalAuthor == nil, "the untouched one is Alex's own")
        let other = try couple.sam.importEntries(export, from: .duet)
        #expect(other.imported == garbled.count + 1)
        #expect(try Self.entry(couple.sam, body: "mine \(garbled.count)").originalAuthor == "Alex", "Alex's tag proves nothing to Sam's keys")

        for value in ["not hex", String(repeating: "a", count: 31), String(repeating: "g", count: 32), 7] as [Any] {
            root["coupleSpace"] = value
            #expect(throws: DeviceError.importDamagedField("coupleSpace")) {
                try couple.sam.importEntries(try Self.file(root, entries: entries), from: .duet)
            }
        }
    }

    @Test("An export imported on an unsynced linked device and by the partner: once everything syncs, no body is doubled")
    func noDoubledBodies() async throws {
        let couple = try await TwoPartners.make()
        defer { couple.remove() }
        let laptop = try await couple.link(couple.alex, named: "Alex's other laptop")
        let texts = ["Only mine.", "Ours to read.", "Sam's words."]
        _ = try couple.alex.write(NewEntry(body: texts[0]))
        _ = try couple.alex.write(NewEntry(visibility: .shared, body: texts[1]))
        _ = try couple.sam.write(NewEntry(visibility: .shared, body: texts[2]))
        for device in [couple.sam, couple.alex] { _ = try await device.sync() }
        let export = try couple.alex.exportJSON().data

        // Neither the laptop nor Sam has synced since: the originals are still on their way.
        #expect(try laptop.importEntries(export, from: .duet).imported == 3)
        #expect(try laptop.importEntries(export, from: .duet).imported == 0, "a second import adds nothing")
        _ = try couple.sam.importEntries(export, from: .duet)
        for _ in 0..<2 {
            for device in [couple.alex, laptop, couple.sam] { _ = try await device.sync() }
        }
        for (name, device) in [("alex", couple.alex), ("laptop", laptop), ("sam", couple.sam)] {
            for record in try device.list() {
                #expect(texts.contains(record.body), "\(name): \(record.id) reads \"\(record.body)\"")
            }
        }
        // The laptop's copies are Alex's own writing again, and Sam's entry is attributed.
        #expect(try laptop.list().contains { $0.body == texts[0] && $0.originalAuthor == nil })
        #expect(try laptop.list().contains { $0.body == texts[2] && $0.originalAuthor == "Sam" && $0.visibility == .shared })
    }
}
