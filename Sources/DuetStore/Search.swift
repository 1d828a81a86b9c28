public import DuetCore

/// Case-insensitive search over decrypted entries, in memory (there is no index on disk: an
/// index of journal text would be journal text on disk).
public struct TextMatcher: Sendable {
    private let needle: [UInt32]

    public init(_ text: String) {
        needle = text.unicodeScalars.map(Self.fold)
    }

    /// Simple case folding, with a fast path for ASCII (most of any journal).
    static func fold(_ scalar: Unicode.Scalar) -> UInt32 {
        let value = scalar.value
        if value < 0x80 { return value >= 0x41 && value <= 0x5A ? value + 0x20 : value }
        let lower = scalar.properties.lowercaseMapping.unicodeScalars
        return lower.count == 1 ? (lower.first?.value ?? value) : value
    }

    public func matches(_ scalars: some Collection<Unicode.Scalar>) -> Bool {
        guard let first = needle.first else { return true }
        let haystack = scalars.map(Self.fold)
        guard haystack.count >= needle.count else { return false }
        var start = 0
        let last = haystack.count - needle.count
        while start <= last {
            if haystack[start] == first {
                var offset = 1
                while offset < needle.count, haystack[start + offset] == needle[offset] { offset += 1 }
                if offset == needle.count { return true }
            }
            start += 1
        }
        return false
    }

    /// Whether the entry's title or body contains the text.
    public func matches(_ entry: Entry) -> Bool {
        matches((entry.title.value ?? "").unicodeScalars) || matches(entry.body.scalars)
    }
}

extension UnlockedStore {
    /// Entries (not deleted) whose title or body contains `text`, ignoring case; newest first.
    public func search(_ text: String) throws -> [(entry: Entry, kind: SpaceKind)] {
        let matcher = TextMatcher(text)
        var found: [(entry: Entry, kind: SpaceKind)] = []
        try forEachEntry { entry, kind in
            if !entry.isDeleted, matcher.matches(entry) { found.append((entry, kind)) }
            return true
        }
        return found
    }
}
