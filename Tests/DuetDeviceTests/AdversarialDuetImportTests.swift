import DuetCore
import DuetDevice
import Foundation
import Testing

/// Review finding (adv2): `import --from duet` trusts each snapshot as EntrySnapshot.decode
/// bounds it (body text up to 64 MiB), not as EntryRules bounds what a person writes (2^18
/// scalars) nor as ChangeLimits bounds one change (1 MiB inserted, 2 MiB sealed). A Duet export
/// someone hands over ("our old entries") with one large body imports fine; the copy is one
/// local change larger than any relay takes, first in line at every push: every later sync of
/// this device fails, for good.
@Suite("Adversarial: Duet import")
struct AdversarialDuetImportTests {
    @Test("An imported Duet export never makes a change the relay cannot take")
    func hugeSnapshotDoesNotWedgeSync() async throws {
        let couple = try await TwoPartners.make(paired: false)
        defer { couple.remove() }
        // The hostile file: one entry whose body is 3 Mi scalars (the snapshot decoder allows 64 MiB).
        let id = EntryID(high: 0x0123_4567_89AB_CDEF, low: 0x0FED_CBA9_8765_4321)
        var journal = Journal()
        journal.commit(entry: id, by: DeviceID(high: 9, low: 9), at: HLC(milliseconds: 1_767_225_600_000, counter: 0)) { editor in
            editor.create()
            editor.insertText(Array(repeating: "a", count: 3 << 20), at: 0)
        }
        let entry = try #require(journal.entries[id])
        let item: [String: Any] = ["id": id.description, "snapshot": Data(EntrySnapshot.encode(entry)).base64EncodedString()]
        let file = try JSONSerialization.data(withJSONObject: ["format": "duet", "version": 1, "entries": [item]] as [String: Any])

        let imported: ImportResult
        do { imported = try couple.alex.importEntries(file, from: .duet) } catch DeviceError.changeTooLarge {
            // Refused at import, whole: nothing was written, and the journal syncs on.
            #expect(try couple.alex.list(EntryFilter()).isEmpty)
            try couple.alex.write(NewEntry(body: "written after the refused import"))
            await #expect(throws: Never.self) { _ = try await couple.alex.sync() }
            return
        }
        #expect(imported.imported == 1)
        // Accepted: then it must sync. Today the relay refuses the envelope, and every sync fails.
        await #expect(throws: Never.self) { _ = try await couple.alex.sync() }
        try couple.alex.write(NewEntry(body: "written after the import"))
        await #expect(throws: Never.self) { _ = try await couple.alex.sync() }
    }
}
