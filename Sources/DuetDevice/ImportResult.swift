/// What an import did: how many entries it wrote, how many were already here, what the file
/// held that Duet did not take, by kind, and which entries the file marked shared that were
/// imported as private, by why.
public struct ImportResult: Sendable, Equatable {
    /// Something an export holds that the import left out.
    public enum LeftOut: String, Sendable, Equatable, Hashable, CaseIterable, Comparable {
        /// Day One's attachments and metadata, which a Duet entry has no place for.
        case photos, videos, audios, pdfs, locations, weather
        /// Shared entries of a Duet export, on a device that is not paired yet (importing them as
        /// private would keep them private for good: importing the file again adds nothing).
        case sharedEntriesNotPaired
        /// Tags longer than a tag may be (64 bytes).
        case longTags
        /// Tags past the most an entry may hold (64).
        case extraTags

        public static func < (lhs: Self, rhs: Self) -> Bool {
            allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
        }
    }

    /// Why an entry a Duet export marks shared was imported as private: sharing it is shown to
    /// the partner, so the file's word is taken only when the file proves it (`keepShared`
    /// takes it anyway).
    public enum SharedAsPrivate: String, Sendable, Equatable, Hashable, CaseIterable, Comparable {
        /// The file is from another couple space (an earlier couple, or someone else's).
        case fromAnotherCouple
        /// The file names no couple space (a version before 3, or a journal not paired).
        case coupleNotNamed
        /// The file names this couple space, but its item is not from this person's own export
        /// (the partner's export, or one changed since).
        case notYourExport

        public static func < (lhs: Self, rhs: Self) -> Bool {
            allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
        }
    }

    public let imported: Int
    /// Entries already in this journal: imported before (entries are keyed by their source), or
    /// repeated within the file.
    public let skipped: Int
    /// What was not imported, with how many of each (only kinds that occurred).
    public let leftOut: [LeftOut: Int]
    /// Imported entries the file marked shared, now private, by why (only reasons that occurred).
    public let sharedAsPrivate: [SharedAsPrivate: Int]

    init(imported: Int, skipped: Int, leftOut: [LeftOut: Int] = [:], sharedAsPrivate: [SharedAsPrivate: Int] = [:]) {
        self.imported = imported
        self.skipped = skipped
        self.leftOut = leftOut.filter { $0.value > 0 }
        self.sharedAsPrivate = sharedAsPrivate.filter { $0.value > 0 }
    }
}

/// The tally an importer keeps while it reads a file.
struct LeftOutTally {
    private(set) var counts: [ImportResult.LeftOut: Int] = [:]

    mutating func add(_ kind: ImportResult.LeftOut, _ count: Int = 1) {
        guard count > 0 else { return }
        counts[kind, default: 0] &+= count
    }
}
