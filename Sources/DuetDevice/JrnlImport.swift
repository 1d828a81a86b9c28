import Foundation

/// jrnl's `--format json` (jrnl 4.6: `{"tags": {"#tag": n}, "entries": [{"title", "body",
/// "date": "YYYY-MM-DD", "time": "HH:MM", "tags": ["#tag", "@tag"], "starred"}]}`), read as
/// jrnl means it: the title and body as jrnl split them, the date and time as the local wall
/// time jrnl wrote (taken in `timeZone`), the star, and the tags jrnl finds in the text.
enum JrnlImport {
    static func entries(_ root: [String: Any], timeZone: TimeZone, tally: inout LeftOutTally) throws(DeviceError) -> [Incoming] {
        guard let entries = root["entries"] as? [[String: Any]] else { throw .importNoEntries(format: .jrnl) }
        var incoming: [Incoming] = []
        for (index, item) in entries.enumerated() {
            guard let date = item["date"] as? String else { throw .importMissingDate(format: .jrnl, index: index + 1) }
            let time = item["time"] as? String ?? "00:00"
            let rawTitle = item["title"] as? String ?? "", rawBody = item["body"] as? String ?? ""
            // A jrnl title is the entry's first sentence or line, of any length; one past Duet's
            // limit is kept as the body's first line rather than refusing the file.
            let fitsTitle = rawTitle.utf8.count <= EntryRules.maximumTitleBytes
            let title = fitsTitle ? rawTitle : ""
            let body = fitsTitle ? rawBody : (rawBody.isEmpty ? rawTitle : rawTitle + "\n" + rawBody)
            let listed = (item["tags"] as? [Any] ?? []).compactMap { $0 as? String }
            let tags = Tags.collect(listed + tagsInText(rawTitle + "\n" + rawBody), tally: &tally)
            incoming.append(Incoming(
                source: .key(ImportKeys.sourceKey("jrnl", [date, time, rawTitle, rawBody])),
                title: try EntryRules.title(title), body: try EntryRules.body(body),
                date: try localTime(date: date, time: time, in: timeZone), tags: tags,
                starred: item["starred"] as? Bool ?? false))
        }
        return incoming
    }

    /// jrnl's tag rule (`Entry.tag_regex`, with its default `tagsymbols` "#@"): a sigil at the
    /// start of the text or after white space, then one or more of `-+*#/` and word characters;
    /// lowercased, as jrnl compares them.
    static func tagsInText(_ text: String) -> [String] {
        var tags: [String] = []
        let scalars = Array(text.unicodeScalars)
        var position = 0
        while position < scalars.count {
            let scalar = scalars[position]
            let afterSpace = position == 0 || scalars[position - 1].properties.isWhitespace
            guard afterSpace, scalar == "#" || scalar == "@" else { position += 1; continue }
            var end = position + 1
            while end < scalars.count, isTagScalar(scalars[end]) { end += 1 }
            if end > position + 1 {
                var view = String.UnicodeScalarView()
                view.append(contentsOf: scalars[position..<end])
                tags.append(String(view).lowercased())
            }
            position = end
        }
        return tags
    }

    /// Python's `\w` (letters, digits, underscore) and jrnl's `-+*#/`.
    private static func isTagScalar(_ scalar: Unicode.Scalar) -> Bool {
        if "-+*#/_".unicodeScalars.contains(scalar) { return true }
        return scalar.properties.isAlphabetic || scalar.properties.numericType != nil
    }

    /// `YYYY-MM-DD` and `HH:MM` as wall time in `timeZone`, in milliseconds (before 1970 is 0).
    static func localTime(date: String, time: String, in timeZone: TimeZone) throws(DeviceError) -> UInt64 {
        func number(_ text: Substring, digits: Int) -> Int? {
            guard text.count == digits, text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber) else { return nil }
            return Int(text)
        }
        let day = date.split(separator: "-", omittingEmptySubsequences: false)
        let clock = time.split(separator: ":", omittingEmptySubsequences: false)
        guard day.count == 3, clock.count == 2 || clock.count == 3,
              let year = number(day[0], digits: 4), let month = number(day[1], digits: 2), let dayOfMonth = number(day[2], digits: 2),
              let hour = number(clock[0], digits: 2), let minute = number(clock[1], digits: 2),
              // Seconds, where a jrnl version writes them, must be seconds ("12:30:junk" is no time).
              clock.count == 2 || number(clock[2], digits: 2).map({ (0...59).contains($0) }) == true,
              (1...12).contains(month), (1...31).contains(dayOfMonth), (0...23).contains(hour), (0...59).contains(minute) else {
            throw .notADate("\(date) \(time)")
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let components = DateComponents(year: year, month: month, day: dayOfMonth, hour: hour, minute: minute)
        // 31 February is no day: the calendar would roll it into March.
        guard let moment = calendar.date(from: components),
              calendar.dateComponents([.year, .month, .day], from: moment) == DateComponents(year: year, month: month, day: dayOfMonth) else {
            throw .notADate("\(date) \(time)")
        }
        return EntryRules.milliseconds(moment)
    }
}

/// Tags from an import, as Duet stores them: without sigils, each once, within the limits; what
/// does not fit is counted, never a reason to refuse the file.
enum Tags {
    static func collect(_ raw: [String], tally: inout LeftOutTally) -> [String] {
        var tags: [String] = []
        for text in raw {
            guard let tag = try? EntryRules.tag(text) else {
                if !text.drop(while: { EntryRules.tagSigils.contains($0) }).isEmpty { tally.add(.longTags) }
                continue
            }
            guard !tags.contains(tag) else { continue }
            guard tags.count < EntryRules.maximumTags else { tally.add(.extraTags); continue }
            tags.append(tag)
        }
        return tags
    }
}
