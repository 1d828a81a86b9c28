import Foundation

/// Day One's JSON export (`{"metadata": {"version"}, "entries": [{"uuid", "creationDate",
/// "text", "tags", "starred", "photos", "videos", "audios", "pdfAttachments", "location",
/// "weather", …}]}`): the text (a first line `# Title` becomes the title), the date, the star and
/// the tags; attachments, places and weather have no place in a Duet entry and are counted.
enum DayOneImport {
    /// A Day One uuid is 32 hex digits; anything longer is not one.
    static let maximumUUIDBytes = 64

    static func entries(_ root: [String: Any], tally: inout LeftOutTally) throws(DeviceError) -> [Incoming] {
        guard let entries = root["entries"] as? [[String: Any]] else { throw .importNoEntries(format: .dayone) }
        var incoming: [Incoming] = []
        for (index, item) in entries.enumerated() {
            guard let created = item["creationDate"] as? String else { throw .importMissingDate(format: .dayone, index: index + 1) }
            let original = item["text"] as? String ?? ""
            var text = original
            var title: String?
            if text.hasPrefix("# ") {
                let firstLine = text.prefix { $0 != "\n" }
                title = try EntryRules.title(String(firstLine.dropFirst(2)).trimmingCharacters(in: .whitespaces))
                text = String(text.dropFirst(firstLine.count)).trimmingCharacters(in: .newlines)
            }
            let listed = (item["tags"] as? [Any] ?? []).compactMap { $0 as? String }
            countLeftOut(item, into: &tally)
            // Keyed by its uuid, the one thing Day One keeps for an entry whatever is edited;
            // without a usable one, by its date and text.
            let uuid = (item["uuid"] as? String).flatMap { $0.isEmpty || $0.utf8.count > maximumUUIDBytes ? nil : $0 }
            let key = uuid.map { ImportKeys.sourceKey("dayone", [$0]) } ?? ImportKeys.sourceKey("dayone-text", [created, original])
            incoming.append(Incoming(
                source: .key(key), title: title, body: try EntryRules.body(text), date: try EntryRules.date(created),
                tags: Tags.collect(listed, tally: &tally), starred: item["starred"] as? Bool ?? false))
        }
        return incoming
    }

    /// What the entry holds that Duet drops: each attachment, a place, the weather.
    private static func countLeftOut(_ item: [String: Any], into tally: inout LeftOutTally) {
        let lists: [(String, ImportResult.LeftOut)] = [("photos", .photos), ("videos", .videos), ("audios", .audios), ("pdfAttachments", .pdfs)]
        for (key, kind) in lists { tally.add(kind, (item[key] as? [Any])?.count ?? 0) }
        if item["location"] is [String: Any] { tally.add(.locations) }
        if item["weather"] is [String: Any] { tally.add(.weather) }
    }
}
