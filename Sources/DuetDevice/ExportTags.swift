import DuetCore
import DuetCrypto

/// The check an export (version 3) puts on each item: a MAC, under a key only this person's
/// devices hold, over what an import would otherwise take on the file's word — the entry's
/// id and snapshot, the space it lived in, the couple space the journal was in, and whether the
/// exporting person wrote it. The file is plaintext anyone may edit; an item whose tag verifies
/// is one this person exported, as it was.
struct ExportTags {
    /// What the importer's keys say of one item.
    enum Origin: Equatable {
        /// Exported by this person, who wrote it: theirs again (no attribution).
        case ownWriting
        /// Exported by this person, written by someone else (the partner's shared entry).
        case ownExport
        /// Anything else: no tag, a damaged one, or one made with another person's keys.
        case unchecked
    }

    private let key: SymmetricKey

    /// From the personal space's first content key, like ``ImportKeys`` but with its own
    /// context (neither key says anything of the other): every device of this person holds it.
    init?(personalKeys: [UInt64: SymmetricKey]) {
        guard let first = personalKeys.keys.min(), let master = personalKeys[first] else { return nil }
        key = KeyDerivation.deriveKey(from: master, subkeyID: 1, context: .exportItems)
    }

    /// The tag of one item, as the export writes it (lower-case hex).
    func tag(id: EntryID, snapshot: [UInt8], visibility: Visibility, couple: String?, ownWriting: Bool) -> String {
        let fields = Self.fields(id: id, snapshot: snapshot, visibility: visibility, couple: couple, ownWriting: ownWriting)
        return Hex.encode(MAC.tag(fields, snapshot, key: key))
    }

    /// What `value` (the item's `mac`, any JSON value) proves of the item.
    func origin(of value: Any?, id: EntryID, snapshot: [UInt8], visibility: Visibility, couple: String?) -> Origin {
        // Bounded before it is decoded: a tag is 64 hex digits; anything else proves nothing.
        guard let text = value as? String, text.utf8.count == 2 * MAC.byteCount, let tag = Hex.decode(text) else { return .unchecked }
        for (ownWriting, origin) in [(true, Origin.ownWriting), (false, .ownExport)] {
            let fields = Self.fields(id: id, snapshot: snapshot, visibility: visibility, couple: couple, ownWriting: ownWriting)
            if MAC.verify(tag, fields, snapshot, key: key) { return origin }
        }
        return .unchecked
    }

    /// A label, then each field length-prefixed and the snapshot's length (the snapshot itself
    /// follows as a second part, not copied): no two items give one message.
    private static func fields(id: EntryID, snapshot: [UInt8], visibility: Visibility, couple: String?, ownWriting: Bool) -> [UInt8] {
        var message = Array("duet export item v1".utf8)
        func append(_ field: [UInt8]) {
            withUnsafeBytes(of: UInt64(field.count).bigEndian) { message.append(contentsOf: $0) }
            message.append(contentsOf: field)
        }
        append(id.bytes)
        append(Array(visibility.rawValue.utf8))
        append(Array((couple ?? "").utf8))
        append([ownWriting ? 1 : 0])
        withUnsafeBytes(of: UInt64(snapshot.count).bigEndian) { message.append(contentsOf: $0) }
        return message
    }
}
