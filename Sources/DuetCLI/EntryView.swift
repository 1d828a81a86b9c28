import DuetCore
import DuetCrypto
import DuetStore
import Foundation

/// An entry as the CLI shows it (CLI.md's JSON shape). Authorship comes from the change that
/// created the entry, whose device the store verified, never from a field of the payload.
struct EntryView: Encodable {
    struct Acknowledgement: Encodable {
        let by: String
        let at: String
    }

    let id: String
    let space: String
    let author: String
    let authorDevice: String
    let createdAt: String
    let updatedAt: String
    let title: String
    let body: String
    let mood: Int?
    let factors: [String]
    let tags: [String]
    let replyTo: String?
    let acks: [Acknowledgement]
    let deleted: Bool
    /// Who deleted it (the device that signed the winning write of `deleted`), when it is.
    let deletedBy: String?

    enum CodingKeys: String, CodingKey {
        case id, space, author, authorDevice, createdAt, updatedAt, title, body, mood, factors, tags, replyTo, acks, deleted, deletedBy
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(space, forKey: .space)
        try container.encode(author, forKey: .author)
        try container.encode(authorDevice, forKey: .authorDevice)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(title, forKey: .title)
        try container.encode(body, forKey: .body)
        try container.encode(mood, forKey: .mood)  // null when unset, as CLI.md shows
        try container.encode(factors, forKey: .factors)
        try container.encode(tags, forKey: .tags)
        try container.encode(replyTo, forKey: .replyTo)
        try container.encode(acks, forKey: .acks)
        try container.encode(deleted, forKey: .deleted)
        if let deletedBy { try container.encode(deletedBy, forKey: .deletedBy) }
    }

    /// Whether this device's person wrote the entry (for `--author me|partner`).
    let isMine: Bool
    let authorDeviceName: String

    init(_ entry: Entry, kind: SpaceKind, authors: Authors) {
        let names = authors.person
        id = entry.id.description
        space = kind == .couple ? "shared" : "private"
        author = entry.author.map(names) ?? "unknown"
        authorDevice = entry.author.map { Hex.encode($0.bytes) } ?? ""
        authorDeviceName = entry.author.map(authors.personAndDevice) ?? "unknown"
        isMine = entry.author.map(authors.isMine) ?? false
        let written = (entry.date.value ?? nil) ?? entry.creation?.hlc.milliseconds ?? 0
        createdAt = rfc3339(written)
        updatedAt = rfc3339(max(written, entry.lastChange?.hlc.milliseconds ?? 0))
        title = entry.title.value ?? ""
        body = entry.body.string
        mood = (entry.mood.value ?? nil).map(Int.init)
        factors = entry.factors.elements.map(\.rawValue)
        tags = entry.tags.elements
        replyTo = (entry.replyTo.value ?? nil)?.description
        acks = entry.acknowledgements.sorted().map { Acknowledgement(by: names($0.device), at: rfc3339($0.hlc.milliseconds)) }
        deleted = entry.isDeleted
        deletedBy = entry.isDeleted ? entry.deleted.heads.last.map { authors.personAndDevice($0.stamp.device) } : nil
    }
}

extension EntryView {
    /// The start of the body's first non-empty line, for lists of untitled entries.
    var firstLine: String {
        let line = body.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        return trimmed.count > 60 ? String(trimmed.prefix(59)) + "…" : trimmed
    }
}
