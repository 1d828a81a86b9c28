import DuetCore
import DuetCrypto
import Foundation

/// Duet's own export, read back: each entry's snapshot (its values), where it lived (private or
/// shared, version 2), who wrote it (version 2), and, version 3, the couple space the journal
/// was in and a tag per item that only the exporting person's devices can check
/// (``ExportTags``). Versions 1 and 2 still read: they say less, so their entries are believed
/// less (none is taken for the importer's own writing, none is shared on the file's word).
enum DuetImport {
    /// A person's name, as Duet allows one (and as a change may carry it).
    static let maximumNameBytes = 64

    /// What a Duet export holds, as far as the importer can tell.
    struct File {
        /// The couple space the exporting journal was in (lower-case hex), nil when the file
        /// names none (not paired, or a version before 3).
        var coupleSpace: String?
        var entries: [Incoming]
    }

    /// `tags` checks each item's tag with the importer's keys: an item it verifies is theirs
    /// again (a restore) or, written by someone else, attributed as the file says; every other
    /// item is someone else's, marked with whom the file names.
    static func read(_ root: [String: Any], tags: ExportTags) throws(DeviceError) -> File {
        guard root["format"] as? String == DuetExport.formatName else { throw .importNotDuet }
        guard let version = root["version"] as? Int, version >= 1, version <= DuetExport.currentVersion else { throw .importNewerVersion }
        guard let entries = root["entries"] as? [[String: Any]] else { throw .importNoEntries(format: .duet) }
        let couple = version >= 3 ? try coupleSpace(root["coupleSpace"]) : nil
        var incoming: [Incoming] = []
        for (index, item) in entries.enumerated() {
            guard let idText = item["id"] as? String, let id = EntryID(idText),
                  let encoded = item["snapshot"] as? String, let snapshot = Data(base64Encoded: encoded),
                  let entry = try? EntrySnapshot.decode([UInt8](snapshot)), entry.id == id else {
                throw .importDamagedEntry(index: index + 1)
            }
            let visibility: Visibility
            switch item["space"] {
            case nil: visibility = .private
            case let space as String where Visibility(rawValue: space) != nil: visibility = Visibility(rawValue: space) ?? .private
            default: throw .importDamagedEntry(index: index + 1)
            }
            // A missing or garbled tag is no error: the item is just not provably this person's.
            let origin = tags.origin(of: item["mac"], id: id, snapshot: [UInt8](snapshot), visibility: visibility, couple: couple)
            var originalAuthor: String?
            if let earlier = entry.attribution {
                // Imported there too: the attribution travels on, never replaced by the importer's.
                originalAuthor = earlier
            } else if origin != .ownWriting {
                // The snapshot's author device proves nothing (the file is unauthenticated):
                // only the tag tells this person's own writing.
                originalAuthor = name(item["author"])
            }
            incoming.append(Incoming(source: .entry(id), visibility: visibility, origin: origin, original: entry,
                                     originalAuthor: originalAuthor, starred: entry.isStarred))
        }
        return File(coupleSpace: couple, entries: incoming)
    }

    /// The file's `coupleSpace`: null, or a space id in hex (16 bytes). Anything else is a
    /// damaged file, refused whole.
    private static func coupleSpace(_ value: Any?) throws(DeviceError) -> String? {
        switch value {
        case nil, is NSNull: return nil
        case let text as String:
            guard text.utf8.count == 32, let bytes = Hex.decode(text) else { throw .importDamagedField("coupleSpace") }
            return Hex.encode(bytes)
        default: throw .importDamagedField("coupleSpace")
        }
    }

    /// The author's name as the file gives it, if it is one (1 to 64 bytes, one line); "" otherwise.
    private static func name(_ value: Any?) -> String {
        guard let text = value as? String, let name = try? EntryRules.name(text), name.utf8.count <= maximumNameBytes,
              !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return "" }
        return name
    }
}
