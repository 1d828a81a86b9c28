import DuetCore
import DuetStore

/// What a reply answers, as this device can tell. The replyTo of a shared entry is the
/// partner's bytes: it may name an entry this device never held, one deleted since, or the
/// reply itself; all of them are shown, none is followed further than one step.
public enum ReplyParent: Sendable, Equatable {
    /// The entry it answers (perhaps deleted: `isDeleted` says).
    case entry(EntryRecord)
    /// An entry this device does not hold, or the reply itself: its id as named.
    case unknown(id: String)
}

extension UnlockedDevice {
    /// The live replies to `id`, which lives in the space of `kind`, oldest first (a
    /// conversation reads down). Only those in the same space: an entry of the other space that
    /// names it (a partner's shared entry naming a private one, a private note naming a shared
    /// one — what `write` refuses, but another client may write) is no reply to it, and showing
    /// it there would put the two spaces in one thread.
    func replies(to id: EntryID, in kind: SpaceKind, authors: Authors) throws(DeviceError) -> [EntryRecord] {
        let found = try translatingErrors { try unlocked.replies(to: [id]) }
        return found.filter { !$0.entry.isDeleted && $0.kind == kind }
            .map { EntryRecord($0.entry, kind: $0.kind, authors: authors) }
            .sorted { ($0.created, $0.id) < ($1.created, $1.id) }
    }

    /// What the entry `entry` answers, or nil when it is not a reply.
    func parent(of entry: Entry, authors: Authors) throws(DeviceError) -> ReplyParent? {
        guard let target = entry.replyTo.value ?? nil else { return nil }
        guard target != entry.id, let parent = try translatingErrors({ try unlocked.entry(target) }) else {
            return .unknown(id: target.description)
        }
        let kind = try translatingErrors { try unlocked.spaceKind(of: target) } ?? .personal
        return .entry(EntryRecord(parent, kind: kind, authors: authors))
    }

    /// `records` with how many live replies each has (one lookup for all of them), counting
    /// only replies in the record's own space, as ``replies(to:in:authors:)`` lists them.
    func countingReplies(_ records: [EntryRecord]) throws(DeviceError) -> [EntryRecord] {
        let ids = records.compactMap { EntryID($0.id) }
        guard !ids.isEmpty else { return records }
        let found = try translatingErrors { try unlocked.replies(to: ids) }
        let spaces = Dictionary(records.map { ($0.id, $0.visibility.kind) }) { first, _ in first }
        var counts: [String: Int] = [:]
        for (entry, kind) in found where !entry.isDeleted {
            guard let target = (entry.replyTo.value ?? nil)?.description, spaces[target] == kind else { continue }
            counts[target, default: 0] += 1
        }
        return records.map { record in
            var counted = record
            counted.replyCount = counts[record.id] ?? 0
            return counted
        }
    }
}
