import ArgumentParser
import DuetCore
import DuetCrypto
import DuetStore
import DuetTesting
import Foundation

/// `duet-bench store`'s figures for one change on a full journal: a `duet write` (commit: read
/// the space's log and keys, seal, sign, store) and the same change arriving on a copy of the
/// device (stored, then applied by `materialise`, what the partner's next command does). Thread
/// CPU of the calling thread: both end in an fsync, which is not the store's work and which a
/// shared machine makes noisy.
extension StoreCommand {
    struct OneChange {
        var write: [Double] = []
        var apply: [Double] = []
    }

    static func oneChange(store: Store, writer: UnlockedStore, home: Home, passphrase: SecretBytes, count: Int) throws -> OneChange {
        let copyHome = Home(path: home.path + "-copy")
        try FileManager.default.copyItem(atPath: home.path, toPath: copyHome.path)
        defer { try? FileManager.default.removeItem(atPath: copyHome.path) }
        let copy = try Store.open(home: copyHome)
        let receiver = try copy.unlock(passphrase: passphrase)
        try receiver.materialise()
        let space = writer.keystore.personalSpace, device = writer.keystore.deviceID
        var random = SeededRandom(seed: 15)
        var figures = OneChange()
        for index in 0..<count {
            let id = EntryID.random(using: &random)
            let text = Array("One more reflection, number \(index), written after twenty thousand others.".unicodeScalars)
            var seq: UInt64 = 0
            figures.write.append(try Measure.threadCPUMilliseconds {
                seq = try writer.commit(entry: id, now: 1_800_000_000_000 + UInt64(index)) { editor in
                    editor.create()
                    editor.setTitle("Arrival \(index)")
                    editor.insertText(text, at: 0)
                }.seq
            })
            let fresh = try store.envelopes(space: space, of: [device], after: [device: seq - 1])
            guard try copy.storeVerified(fresh, space: space).stored == 1 else { throw ValidationError("the copy did not store change \(index)") }
            var applied = 0
            figures.apply.append(try Measure.threadCPUMilliseconds { applied = try receiver.materialise().count })
            guard applied == 1 else { throw ValidationError("the copy applied \(applied) changes for change \(index)") }
        }
        return figures
    }
}
