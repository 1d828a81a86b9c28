import DuetCore
import Foundation

/// Duet's own export, read back: each entry's snapshot (its values), where it lived (private or
/// shared, version 2) and who wrote it (version 2). Version 1 files still read: they say neither,
/// so their entries are private and, when another journal's device wrote them, marked as
/// imported from an author the file does not name.
enum DuetImport {
    /// A person's name, as Duet allows one (and as a change may carry it).
    static let maximumNameBytes = 64

    /// `isMine` tells the importing person's own devices from others: their entries are theirs
    /// again (a restore), anyone else's are marked with who wrote them.
    static func entries(_ root: [String: Any], isMine: (DeviceID) -> Bool) throws(DeviceError) -> [Incoming] {
        guard root["format"] as? String == DuetExport.formatName else { throw .importNotDuet }
        guard let version = root["version"] as? Int, version >= 1, version <= DuetExport.currentVersion else { throw .importNewerVersion }
        guard let entries = root["entries"] as? [[String: Any]] else { throw .importNoEntries(format: .duet) }
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
            var originalAuthor: String?
            if let earlier = entry.attribution {
                // Imported there too: the attribution travels on, never replaced by the importer's.
                originalAuthor = earlier
            } else if let author = entry.author, !isMine(author) {
                originalAuthor = name(item["author"])
            }
            incoming.append(Incoming(source: .entry(id), visibility: visibility, original: entry,
                                     originalAuthor: originalAuthor, starred: entry.isStarred))
        }
        return incoming
    }

    /// The author's name as the file gives it, if it is one (1 to 64 bytes, one line); "" otherwise.
    private static func name(_ value: Any?) -> String {
        guard let text = value as? String, let name = try? EntryRules.name(text), name.utf8.count <= maximumNameBytes,
              !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return "" }
        return name
    }
}
