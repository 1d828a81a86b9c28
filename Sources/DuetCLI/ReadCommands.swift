import ArgumentParser
import DuetCore
import DuetCrypto
import DuetStore
import Foundation

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List entries, newest first.")

    @OptionGroup var common: CommonOptions
    @Flag(help: "Only private entries.") var `private` = false
    @Flag(help: "Only shared entries.") var shared = false
    @Flag(help: "Private and shared entries (the default).") var all = false
    @Option(help: "Only entries with this factor.") var factor: String?
    @Option(help: "Only entries with this tag.") var tag: String?
    @Option(help: "me or partner.") var author: String?
    @Option(help: "Only entries created on or after this date (YYYY-MM-DD or RFC 3339).") var since: String?
    @Option(help: "Only entries created before this date.") var until: String?
    @Flag(help: "Show deleted entries instead.") var deleted = false
    @Option(help: "At most this many entries.") var limit: Int?
    @Flag(help: "Print one JSON array.") var json = false

    func validate() throws {
        if [`private`, shared, all].filter({ $0 }).count > 1 { throw ValidationError("choose one of --private, --shared, --all") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let author, author != "me", author != "partner" { throw ValidationError("--author is me or partner") }
    }

    func run() throws {
        try reportingErrors {
            let factor = try self.factor.map(parseFactor)
            let since = try self.since.map(parseDate), until = try self.until.map(parseDate)
            let unlocked = try common.unlock()
            let authors = try Authors(unlocked)
            var views: [EntryView] = []
            try unlocked.forEachEntry { entry, kind in
                let created = (entry.date.value ?? nil) ?? entry.creation?.hlc.milliseconds ?? 0
                let mine = entry.author.map(authors.isMine) ?? false
                guard entry.isDeleted == deleted,
                      !(shared && kind != .couple), !(`private` && kind != .personal),
                      !(author == "me" && !mine), !(author == "partner" && mine),
                      factor.map({ entry.factors.contains($0) }) ?? true,
                      tag.map({ entry.tags.contains($0) }) ?? true,
                      since.map({ created >= $0 }) ?? true,
                      until.map({ created < $0 }) ?? true else { return true }
                views.append(EntryView(entry, kind: kind, authors: authors))
                return limit.map { views.count < $0 } ?? true
            }
            if json { return try printJSON(views) }
            if views.isEmpty { print(deleted ? "No deleted entries." : "No entries yet. Write one with `duet write`.") }
            for view in views {
                let title = view.title.isEmpty ? view.firstLine : view.title
                let factors = view.factors.isEmpty ? "" : "  [\(view.factors.joined(separator: ", "))]"
                let mood = view.mood.map { "  mood \($0)" } ?? ""
                var whose = view.space == "shared" ? "  shared, by \(Sanitise.line(view.author))" : ""
                if let by = view.deletedBy { whose += "  deleted by \(Sanitise.line(by))" }
                print("\(view.id.prefix(8))  \(view.createdAt.prefix(16).replacingOccurrences(of: "T", with: " "))  \(Sanitise.line(title))\(factors)\(mood)\(whose)")
            }
        }
    }
}

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one entry, whole.")

    @OptionGroup var common: CommonOptions
    @Argument(help: "The entry's id or a unique prefix of 4+ characters.") var id: String
    @Flag(help: "Also every value each field ever had, who typed which text, and where it was delivered.") var history = false
    @Flag(help: "Print one JSON object.") var json = false

    struct HistoryView: Encodable {
        struct Value: Encodable { let value: String; let at: String; let by: String; let current: Bool }
        struct SetChange: Encodable { let value: String; let change: String; let at: String; let by: String }
        /// Who typed the visible text: consecutive runs, each by one person.
        struct Run: Encodable { let by: String; let text: String }
        let title: [Value], mood: [Value], deleted: [Value], factors: [SetChange], tags: [SetChange]
        let deletedText: String
        let text: [Run]
    }

    func run() throws {
        try reportingErrors {
            let unlocked = try common.unlock()
            let id = try unlocked.resolve(self.id)
            guard let entry = try unlocked.entry(id) else { throw StoreError(.unknownEntry, "entry \(id) is gone") }
            let authors = try Authors(unlocked)
            let view = EntryView(entry, kind: try unlocked.spaceKind(of: id) ?? .personal, authors: authors)
            let past = history ? Self.history(of: entry, authors: authors) : nil
            // Devices that have applied this device's latest change to the entry.
            let delivered = try unlocked.deliveredTo(id).map(authors.personAndDevice).sorted()
            if json {
                if let past {
                    struct WithHistory: Encodable { let entry: EntryView; let history: HistoryView; let deliveredTo: [String] }
                    return try printJSON(WithHistory(entry: view, history: past, deliveredTo: delivered))
                }
                // CLI.md's entry shape, exactly; receipts come with --history.
                return try printJSON(view)
            }
            print("id:      \(view.id)")
            print("space:   \(view.space)")
            print("author:  \(Sanitise.line(view.authorDeviceName))")
            print("created: \(view.createdAt)")
            if view.updatedAt != view.createdAt { print("updated: \(view.updatedAt)") }
            if !view.title.isEmpty { print("title:   \(Sanitise.line(view.title))") }
            if let mood = view.mood { print("mood:    \(mood)") }
            if !view.factors.isEmpty { print("factors: \(view.factors.joined(separator: ", "))") }
            if !view.tags.isEmpty { print("tags:    \(view.tags.map(Sanitise.line).joined(separator: ", "))") }
            for device in delivered { print("delivered to: \(Sanitise.line(device))") }
            for ack in view.acks { print("read by: \(Sanitise.line(ack.by)) at \(ack.at)") }
            if view.deleted { print("deleted: by \(Sanitise.line(view.deletedBy ?? "unknown")) (`duet restore \(view.id.prefix(8))` brings it back)") }
            print("")
            print(Sanitise.text(view.body))
            if let past {
                print("")
                print("history:")
                for (name, values) in [("title", past.title), ("mood", past.mood), ("deleted", past.deleted)] where !values.isEmpty {
                    for value in values {
                        print("  \(name) = \(Sanitise.line(value.value))  (\(value.at), \(Sanitise.line(value.by)))\(value.current ? "  ← current" : "")")
                    }
                }
                for (name, changes) in [("factor", past.factors), ("tag", past.tags)] {
                    for change in changes { print("  \(change.change) \(name) \(Sanitise.line(change.value))  (\(change.at), \(Sanitise.line(change.by)))") }
                }
                for run in past.text { print("  text by \(Sanitise.line(run.by)): \(Sanitise.line(run.text))") }
                if !past.deletedText.isEmpty { print("  text deleted over time: \(Sanitise.line(past.deletedText))") }
            }
        }
    }

    static func history(of entry: Entry, authors: Authors) -> HistoryView {
        let name = authors.person
        func values<V>(_ register: Register<V>, _ text: (V) -> String) -> [HistoryView.Value] {
            let current = register.heads.last?.dot
            return register.history.map {
                HistoryView.Value(value: text($0.value), at: rfc3339($0.stamp.hlc.milliseconds), by: name($0.stamp.device), current: $0.dot == current)
            }
        }
        func changes<E>(_ set: ObservedRemoveSet<E>, _ text: (E) -> String) -> [HistoryView.SetChange] {
            set.orderedHistory.map {
                HistoryView.SetChange(value: text($0.element), change: $0.added ? "added" : "removed",
                                      at: rfc3339($0.stamp.hlc.milliseconds), by: name($0.stamp.device))
            }
        }
        var deletedText = String.UnicodeScalarView()
        deletedText.append(contentsOf: entry.body.deletedScalars)
        return HistoryView(
            title: values(entry.title) { $0 }, mood: values(entry.mood) { $0.map(String.init) ?? "none" },
            deleted: values(entry.deleted) { $0 ? "yes" : "no" },
            factors: changes(entry.factors) { $0.rawValue }, tags: changes(entry.tags) { $0 },
            deletedText: String(deletedText),
            text: runs(of: entry, authors: authors))
    }

    /// The body's runs by person (runs by two devices of one person are joined).
    static func runs(of entry: Entry, authors: Authors) -> [HistoryView.Run] {
        var runs: [HistoryView.Run] = []
        for run in entry.body.authoredRuns {
            var text = String.UnicodeScalarView()
            text.append(contentsOf: run.scalars)
            let by = authors.person(run.device)
            if let last = runs.last, last.by == by {
                runs[runs.count - 1] = HistoryView.Run(by: by, text: last.text + String(text))
            } else {
                runs.append(HistoryView.Run(by: by, text: String(text)))
            }
        }
        return runs
    }
}

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search titles and bodies (case-insensitive; decrypted in memory, no index on disk).")

    @OptionGroup var common: CommonOptions
    @Argument(help: "The text to look for.") var text: String
    @Flag(help: "Print one JSON array.") var json = false

    func run() throws {
        try reportingErrors {
            guard !text.isEmpty else { throw InputError("search for at least one character") }
            let unlocked = try common.unlock()
            let authors = try Authors(unlocked)
            let views = try unlocked.search(text).map { EntryView($0.entry, kind: $0.kind, authors: authors) }
            if json { return try printJSON(views) }
            if views.isEmpty { print("Nothing matches.") }
            for view in views {
                let title = view.title.isEmpty ? view.firstLine : view.title
                print("\(view.id.prefix(8))  \(view.createdAt.prefix(10))  \(Sanitise.line(title))")
            }
        }
    }
}

struct PromptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prompt", abstract: "A reflection prompt for one of the five factors.")

    @OptionGroup var common: CommonOptions
    @Option(help: "safety, attunement, comfort, delight or exploration.") var factor: String?
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try reportingErrors {
            let factor = try self.factor.map(parseFactor)
            var random = SystemRandomSource()
            let (chosen, prompt) = Prompts.pick(factor: factor, using: &random)
            if json { return try printJSON(["factor": chosen.rawValue, "prompt": prompt]) }
            print("\(chosen.rawValue): \(prompt)")
        }
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "The relay, sync state and any integrity warning.")

    @OptionGroup var common: CommonOptions
    @Flag(help: "Print one JSON object.") var json = false

    struct Report: Encodable {
        let relay: String?
        /// The newest of this device's syncs, by a `duet` command (sync, pair, link, recover) or
        /// by `duetd`, and which it was ("duet" or "duetd").
        let lastSync: String?
        let lastSyncBy: String?
        /// "connected" or "retrying: REASON" while `duetd` runs; nil when it does not.
        let daemonState: String?
        /// False while the recovery code's blob waits to be stored at the relay (or was not kept
        /// there); nil on a device that never held one (a store older than the recovery code).
        let recoveryAtRelay: Bool?
        let pendingOut: Int
        let pendingIn: Int
        let daemon: Bool
        let warnings: [String]
        /// Membership changes made elsewhere, until seen (the human form marks them seen).
        let notices: [String]
        let entries: Int
        /// The ids of this device's spaces, as the relay knows them: "private", and "shared" once paired.
        let spaces: [String: String]
        let partner: String?

        enum CodingKeys: String, CodingKey {
            case relay, lastSync, lastSyncBy, daemonState, recoveryAtRelay, pendingOut, pendingIn, daemon, warnings, notices, entries, spaces, partner
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(relay, forKey: .relay)
            try container.encode(lastSync, forKey: .lastSync)
            try container.encode(lastSyncBy, forKey: .lastSyncBy)
            try container.encode(daemonState, forKey: .daemonState)
            try container.encode(recoveryAtRelay, forKey: .recoveryAtRelay)
            try container.encode(pendingOut, forKey: .pendingOut)
            try container.encode(pendingIn, forKey: .pendingIn)
            try container.encode(daemon, forKey: .daemon)
            try container.encode(warnings, forKey: .warnings)
            try container.encode(notices, forKey: .notices)
            try container.encode(entries, forKey: .entries)
            try container.encode(spaces, forKey: .spaces)
            try container.encode(partner, forKey: .partner)
        }
    }

    func run() throws {
        try reportingErrors {
            let store = try Store.open(home: common.resolvedHome)
            let counts = try store.counts()
            let running = store.home.isDaemonRunning
            let bySync = try store.meta("last_sync").flatMap(UInt64.init), byDaemon = try DaemonStatus.lastSync(store)
            let last: (time: UInt64, by: String)? = switch (bySync, byDaemon) {
            case (let sync?, let daemon?): daemon > sync ? (daemon, "duetd") : (sync, "duet")
            case (let sync?, nil): (sync, "duet")
            case (nil, let daemon?): (daemon, "duetd")
            case (nil, nil): nil
            }
            let daemonState: String? = running ? try DaemonStatus.state(store).map { state in
                switch state {
                case .connected: "connected"
                case .retrying(_, let reason): "retrying: \(reason)"
                }
            } ?? "starting" : nil
            let report = Report(relay: try store.meta("relay"), lastSync: last.map { rfc3339($0.time) }, lastSyncBy: last?.by, daemonState: daemonState,
                                // Put there and read back, and nothing newer waiting to go.
                                recoveryAtRelay: try store.meta("recovery_pending") != nil ? false : store.meta("recovery_state").map { _ in true },
                                pendingOut: counts.unpushed, pendingIn: try store.pendingIn(), daemon: running,
                                warnings: try store.warnings(), notices: try store.notices(), entries: counts.entries,
                                spaces: Dictionary(try store.spaces().map { ($0.kind == .couple ? "shared" : "private", $0.id.description) }) { a, _ in a },
                                partner: try store.people().first { !$0.isMe }?.name)
            if json { return try printJSON(report) }
            print("home:     \(store.home.path)")
            print("entries:  \(report.entries)")
            print("partner:  \(report.partner.map(Sanitise.line) ?? "not paired (`duet pair invite`)")")
            print("relay:    \(report.relay ?? "none (`duet sync --relay URL`)")")
            print("synced:   \(last.map { "\(relativeTime($0.time, now: nowMilliseconds)) (\($0.by))" } ?? "never")")
            print("pending:  \(report.pendingOut) change(s) waiting to be sent, \(report.pendingIn) received and not yet opened")
            print("daemon:   \(report.daemonState.map { "duetd is running, \($0)" } ?? "not running (`duetd` keeps this device in sync)")")
            // Says the code is not usable yet; never the code itself (it is shown once, at init).
            if report.recoveryAtRelay == false {
                print("WARNING:  your recovery code does not work yet: its blob is not at the relay; `duet sync` (or `duetd`) stores it there")
            }
            for warning in report.warnings { print("WARNING:  \(Sanitise.line(warning))") }
            for notice in report.notices { print("NOTICE:   \(Sanitise.line(notice))") }
            if try store.hasUnreadMembershipChanges() {
                // Learnt by duetd, which holds no key: who and which device are sealed until then.
                print("NOTICE:   who is in your spaces changed; any `duet` command that asks your passphrase says who and what")
            }
            // Shown to the person: seen. (A read-only home keeps them for next time.)
            if !report.notices.isEmpty { try? store.markNoticesSeen() }
        }
    }
}
