import DuetDevice
import Foundation

/// How the CLI names the author of a change: "Alex", or "Sam (Sam's phone)".
enum Names {
    /// The person. A device no verified record names is shown as such, never guessed.
    static func person(_ author: Author) -> String {
        author.person ?? "unknown device \(author.device.prefix(8))"
    }

    static func personAndDevice(_ author: Author) -> String {
        guard let name = author.deviceName else { return person(author) }
        return "\(person(author)) (\(name))"
    }
}

/// An entry as the CLI shows it (CLI.md's JSON shape).
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
    /// Who deleted it, when it is.
    let deletedBy: String?
    /// One flag for the entry (on a shared one, the same for both partners).
    let starred: Bool
    /// For an entry imported from a Duet export that is not this person's own: the name the file
    /// gave its author ("" when it gave none), a claim. The author above is who imported it.
    let originalAuthor: String?

    enum CodingKeys: String, CodingKey {
        case id, space, author, authorDevice, createdAt, updatedAt, title, body, mood, factors, tags, replyTo, acks, deleted, deletedBy
        case starred, imported, originalAuthor
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
        try container.encode(starred, forKey: .starred)
        if let originalAuthor {
            // Only on imported entries: `imported` says the author is who imported it, and
            // `originalAuthor` (null when the export named no one) who wrote it first.
            try container.encode(true, forKey: .imported)
            try container.encode(originalAuthor.isEmpty ? nil : originalAuthor, forKey: .originalAuthor)
        }
    }

    let authorDeviceName: String
    /// Live replies (not in CLI.md's JSON shape; the replies carry `replyTo`).
    let replyCount: Int
    /// When it was written and last changed, as milliseconds, for the human forms.
    let created: UInt64
    let updated: UInt64

    init(_ record: EntryRecord) {
        id = record.id
        space = record.visibility == .shared ? "shared" : "private"
        author = record.author.map(Names.person) ?? "unknown"
        authorDevice = record.author?.device ?? ""
        authorDeviceName = record.author.map(Names.personAndDevice) ?? "unknown"
        createdAt = rfc3339(record.created)
        updatedAt = rfc3339(record.updated)
        title = record.title
        body = record.body
        mood = record.mood
        factors = record.factors
        tags = record.tags
        replyTo = record.replyTo
        acks = record.acknowledgements.map { Acknowledgement(by: Names.person($0.by), at: rfc3339($0.at)) }
        deleted = record.isDeleted
        deletedBy = record.deletedBy.map(Names.personAndDevice)
        replyCount = record.replyCount
        created = record.created
        updated = record.updated
        starred = record.isStarred
        originalAuthor = record.originalAuthor
    }
}

extension EntryView {
    /// "★ " before a starred entry's title in a list; nothing otherwise.
    var starMark: String { starred ? "★ " : "" }

    /// How an imported entry names whose words it holds, the way it is: who imported it (the
    /// device that signed the copy) and what the file claimed, "Sam imported this; the file says
    /// Alex wrote it" (neutralised: the name came from a file, which proves nothing). Nil for an
    /// entry written here.
    var importedAttribution: String? {
        guard let originalAuthor else { return nil }
        let claim = originalAuthor.isEmpty ? "the file does not say who wrote it" : "the file says \(Display.line(originalAuthor)) wrote it"
        return "\(Display.line(author)) imported this; \(claim)"
    }

    /// The start of the body's first non-empty line, for lists of untitled entries.
    var firstLine: String {
        let line = body.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        return trimmed.count > 60 ? String(trimmed.prefix(59)) + "…" : trimmed
    }

    /// The title, else the first line: what a list shows of it.
    var heading: String { title.isEmpty ? firstLine : title }

    /// One line of a list: id, local time, a reply's "↳ ", the heading, then what else is
    /// worth seeing at a glance ("2 replies").
    var listLine: String {
        let factors = factors.isEmpty ? "" : "  [\(factors.joined(separator: ", "))]"
        let mood = mood.map { "  mood \($0)" } ?? ""
        var whose = space == "shared" ? "  shared, by \(Display.line(author))" : ""
        if let deletedBy { whose += "  deleted by \(Display.line(deletedBy))" }
        if let importedAttribution { whose += "  \(importedAttribution)" }
        let marker = (replyTo == nil ? "" : "↳ ") + starMark
        let replies = replyCount == 0 ? "" : replyCount == 1 ? "  1 reply" : "  \(replyCount) replies"
        return "\(id.prefix(8))  \(LocalTime.minute(created))  \(marker)\(Display.line(heading))\(factors)\(mood)\(whose)\(replies)"
    }
}
