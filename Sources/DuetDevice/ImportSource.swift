import DuetCore
import DuetCrypto
import Foundation

/// One entry to create from an import file.
struct Incoming {
    /// What keys the entry to its source, so that importing the same file again adds nothing.
    enum Source {
        /// A Duet export's entry, by its id: skipped when that entry is here, else imported under
        /// an id derived from it (so that the original, arriving later, is not the same entry).
        case entry(EntryID)
        /// Another program's entry: its source key (jrnl: date, time, title and body; Day One:
        /// its uuid), from which ``ImportKeys`` derives the entry's id.
        case key([UInt8])
    }

    var source: Source
    /// Where the file says it lived (only a Duet export says "shared").
    var visibility: Visibility = .private
    /// For a Duet export's entry: what the importer's keys say of it.
    var origin: ExportTags.Origin = .unchecked
    /// A Duet export's entry, copied as this device's own writing (its history names the
    /// exporting journal's devices, which no change of ours may claim).
    var original: Entry?
    /// Who wrote the original, for a Duet export's entry not proven this person's own writing
    /// ("" when the export does not say); nil for this person's own writing.
    var originalAuthor: String?
    var title: String?
    var body: [Unicode.Scalar] = []
    var date: UInt64?
    var tags: [String] = []
    var starred = false
}

/// Entry ids for imported entries, derived from their source keys with a key only this person's
/// devices hold: the same file imported again (on any of them) gives the same ids, which are
/// already here, while an id says nothing of the text it was derived from to anyone else (a
/// plain hash of a jrnl entry would let whoever sees the id confirm a guess of its words).
struct ImportKeys {
    private let key: SymmetricKey

    /// From the personal space's first content key: every device of this person holds it, and
    /// it never changes (rotations add epochs; the old keys stay).
    init?(personalKeys: [UInt64: SymmetricKey]) {
        guard let first = personalKeys.keys.min(), let master = personalKeys[first] else { return nil }
        key = KeyDerivation.deriveKey(from: master, subkeyID: 1, context: .importSource)
    }

    func entryID(for source: [UInt8]) -> EntryID? {
        let digest = Hash.digest(Array("duet import source v1".utf8), source, secret: key.bytes)
        return EntryID(bytes: Array(digest.bytes.prefix(16)))
    }

    /// A source key from text fields, each length-prefixed so that no two field lists give one key.
    static func sourceKey(_ format: String, _ fields: [String]) -> [UInt8] {
        var bytes = Array(format.utf8)
        for field in fields {
            let utf8 = Array(field.utf8)
            withUnsafeBytes(of: UInt64(utf8.count).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: utf8)
        }
        return bytes
    }
}
