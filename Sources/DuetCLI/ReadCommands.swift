import ArgumentParser
import DuetDevice
import Foundation

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List entries, newest first.")

    @OptionGroup var common: CommonOptions
    @Flag(help: "Only private entries.") var `private` = false
    @Flag(help: "Only shared entries.") var shared = false
    @Flag(help: "Private and shared entries (the default).") var all = false
    @Option(help: "Only entries with this factor.", completion: .factors) var factor: String?
    @Option(help: "Only entries with this tag.") var tag: String?
    @Option(help: "me or partner.", completion: .list(["me", "partner"])) var author: String?
    @Option(help: ArgumentHelp("Only entries written on or after this local day or time (yesterday, 2026-12-02, 3 days ago…).",
                               discussion: DateWording.help)) var since: String?
    @Option(help: ArgumentHelp("Only entries written up to this local day or time, that whole day included (--until 2026-12-02 keeps all of 2 December).",
                               discussion: DateWording.help)) var until: String?
    @Flag(help: "Show deleted entries instead.") var deleted = false
    @Flag(help: "Only starred entries.") var starred = false
    @Option(help: "At most this many entries (on a terminal, without --limit: the newest \(ListCommand.terminalPage); a pipe or --json gets them all).")
    var limit: Int?

    /// What a terminal shows without --limit: a screenful or two, at once, however long the
    /// journal (20,000 entries take over a second to decrypt and print; 50 take milliseconds).
    static let terminalPage = 50
    @Flag(help: "Print one JSON array.") var json = false

    func validate() throws {
        if [`private`, shared, all].filter({ $0 }).count > 1 { throw ValidationError("choose one of --private, --shared, --all") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let author, author != "me", author != "partner" { throw ValidationError("--author is me or partner") }
    }

    func run() throws {
        try reportingErrors {
            let visibility: Visibility? = shared ? .shared : `private` ? .private : nil
            let whose: EntryFilter.Whose? = author.map { $0 == "me" ? .mine : .partners }
            let filter = EntryFilter(visibility: visibility, factor: factor, tag: tag, author: whose,
                                     since: try since.map { text throws(DeviceError) in try LocalTime.parse(text).since },
                                     until: try until.map { text throws(DeviceError) in try LocalTime.parse(text).until },
                                     deleted: deleted, starred: starred, limit: limit)
            try filter.validate()
            // One more than a page, to know whether there is more to say so.
            let paged = limit == nil && !json && isatty(STDOUT_FILENO) == 1
            var pageFilter = filter
            if paged { pageFilter.limit = Self.terminalPage + 1 }
            var views = try common.unlock().list(pageFilter).map(EntryView.init)
            if json { return try printJSON(views) }
            let more = paged && views.count > Self.terminalPage
            if more { views.removeLast() }
            let filtered = visibility != nil || factor != nil || tag != nil || author != nil || since != nil || until != nil || starred
            if views.isEmpty {
                print(deleted ? "No deleted entries." : filtered ? "No entries match." : "No entries yet. Write one with `duet write`.")
            }
            for view in views { print(view.listLine) }
            if more { print("(the newest \(Self.terminalPage) shown; `duet list --limit 500` shows more, and a pipe or --json gets them all)") }
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
            let detail = try common.unlock().show(id, history: history)
            let view = EntryView(detail.record)
            let past = detail.history.map(Self.history)
            // Devices that have applied this device's latest change to the entry.
            let delivered = detail.deliveredTo.map(Names.personAndDevice).sorted()
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
            print("author:  \(Display.line(view.authorDeviceName))")
            if let imported = view.importedAttribution { print("origin:  \(imported)") }
            if view.starred { print("starred: ★ (one star for the entry; on a shared one, for you both)") }
                        print("created: \(LocalTime.full(view.created))")
            if view.updatedAt != view.createdAt { print("updated: \(LocalTime.full(view.updated))") }
            if let parent = detail.parent { print("reply to: \(ThreadLines.parent(parent))") }
            if !view.title.isEmpty { print("title:   \(Display.line(view.title))") }
            if let mood = view.mood { print("mood:    \(mood)") }
            if !view.factors.isEmpty { print("factors: \(view.factors.joined(separator: ", "))") }
            if !view.tags.isEmpty { print("tags:    \(view.tags.map(Display.line).joined(separator: ", "))") }
            for device in delivered { print("delivered to: \(Display.line(device))") }
            for ack in detail.record.acknowledgements {
                print("read by: \(Display.line(Names.person(ack.by))) at \(LocalTime.full(ack.at))")
            }
            if view.deleted { print("deleted: by \(Display.line(view.deletedBy ?? "unknown")) (`duet restore \(view.id.prefix(8))` brings it back)") }
            print("")
            print(Display.text(view.body))
            ThreadLines.printReplies(detail.replies)
            if let past {
                print("")
                print("history:")
                for (name, values) in [("title", past.title), ("mood", past.mood), ("deleted", past.deleted)] where !values.isEmpty {
                    for value in values {
                        print("  \(name) = \(Display.line(value.value))  (\(value.at), \(Display.line(value.by)))\(value.current ? "  ← current" : "")")
                    }
                }
                for (name, changes) in [("factor", past.factors), ("tag", past.tags)] {
                    for change in changes { print("  \(change.change) \(name) \(Display.line(change.value))  (\(change.at), \(Display.line(change.by)))") }
                }
                for run in past.text { print("  text by \(Display.line(run.by)): \(Display.line(run.text))") }
                if !past.deletedText.isEmpty { print("  text deleted over time: \(Display.line(past.deletedText))") }
            }
        }
    }

    static func history(_ history: EntryHistory) -> HistoryView {
        func values(_ values: [EntryHistory.Value]) -> [HistoryView.Value] {
            values.map { HistoryView.Value(value: $0.value ?? "none", at: rfc3339($0.at), by: Names.person($0.by), current: $0.isCurrent) }
        }
        func changes(_ changes: [EntryHistory.SetChange]) -> [HistoryView.SetChange] {
            changes.map { HistoryView.SetChange(value: $0.value, change: $0.added ? "added" : "removed", at: rfc3339($0.at), by: Names.person($0.by)) }
        }
        // Runs by two devices of one person read as one.
        var runs: [HistoryView.Run] = []
        for run in history.text {
            let by = Names.person(run.by)
            if let last = runs.last, last.by == by {
                runs[runs.count - 1] = HistoryView.Run(by: by, text: last.text + run.text)
            } else {
                runs.append(HistoryView.Run(by: by, text: run.text))
            }
        }
        return HistoryView(title: values(history.title), mood: values(history.mood), deleted: values(history.deleted),
                           factors: changes(history.factors), tags: changes(history.tags), deletedText: history.deletedText, text: runs)
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
            let views = try common.unlock().search(text).map(EntryView.init)
            if json { return try printJSON(views) }
            if views.isEmpty { print("Nothing matches.") }
            for view in views { print(view.listLine) }
        }
    }
}

struct PromptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prompt", abstract: "A reflection prompt for one of the five factors.")

    @OptionGroup var common: CommonOptions
    @Option(help: "safety, attunement, comfort, delight or exploration.", completion: .factors) var factor: String?
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try reportingErrors {
            let (chosen, prompt) = try Prompts.pick(factor: factor, environment: .cli)
            if json { return try printJSON(["factor": chosen, "prompt": prompt]) }
            print("\(chosen): \(prompt)")
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
        /// Until when `duet unlock`'s agent holds the key; nil when locked.
        let unlockedUntil: String?
        /// How many drafts are kept (`duet draft list`).
        let drafts: Int

        enum CodingKeys: String, CodingKey {
            case relay, lastSync, lastSyncBy, daemonState, recoveryAtRelay, pendingOut, pendingIn, daemon, warnings, notices, entries, spaces, partner,
                 unlockedUntil, drafts
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
            try container.encode(unlockedUntil, forKey: .unlockedUntil)
            try container.encode(drafts, forKey: .drafts)
        }
    }

    func run() throws {
        try reportingErrors {
            let device = try common.open()
            let status = try device.status()
            let agent = AgentClient.state(home: device.home)
            let last = status.lastSync
            let daemonState: String? = status.daemon.map { state in
                switch state {
                case .starting: "starting"
                case .connected: "connected"
                case .retrying(let reason): "retrying: \(reason)"
                }
            }
            var spaces: [String: String] = [:]
            if let id = status.privateSpace { spaces["private"] = id }
            if let id = status.sharedSpace { spaces["shared"] = id }
            let report = Report(relay: status.relay, lastSync: last.map { rfc3339($0.milliseconds) }, lastSyncBy: last?.by.rawValue,
                                daemonState: daemonState, recoveryAtRelay: status.recoveryAtRelay, pendingOut: status.pendingOut,
                                pendingIn: status.pendingIn, daemon: status.daemon != nil, warnings: status.warnings, notices: status.notices,
                                entries: status.entries, spaces: spaces, partner: status.partner,
                                unlockedUntil: agent.map { rfc3339($0.until) }, drafts: Draft.keptCount(home: device.home))
            if json { return try printJSON(report) }
            print("home:     \(status.home)")
            print("entries:  \(report.entries)")
            print("partner:  \(report.partner.map(Display.line) ?? "not paired (`duet pair invite`)")")
            print("relay:    \(report.relay ?? "none (`duet sync --relay URL`)")")
            print("synced:   \(last.map { "\(relativeTime($0.milliseconds, now: nowMilliseconds)) (\($0.by.rawValue))" } ?? "never")")
            print("pending:  \(report.pendingOut) change(s) waiting to be sent, \(report.pendingIn) received and not yet opened")
            print("unlock:   \(agent.map { "unlocked until \(LocalTime.full($0.until)) (agent pid \($0.pid); `duet lock` locks now)" } ?? "locked (`duet unlock` asks once for a while)")")
            if report.drafts > 0 { print("drafts:   \(report.drafts) kept (`duet draft list`)") }
            print("daemon:   \(report.daemonState.map { "duetd is running, \($0)" } ?? "not running (`duetd` keeps this device in sync)")")
            // Says the code is not usable yet; never the code itself (it is shown once, at init).
            if report.recoveryAtRelay == false {
                print("WARNING:  your recovery code does not work yet: its blob is not at the relay; `duet sync` (or `duetd`) stores it there")
            }
            for warning in report.warnings { print("WARNING:  \(Display.line(warning))") }
            for notice in report.notices { print("NOTICE:   \(Display.line(notice))") }
            if status.unreadMembershipChange {
                // Learnt by duetd, which holds no key: who and which device are sealed until then.
                print("NOTICE:   who is in your spaces changed; any `duet` command that asks your passphrase says who and what")
            }
            // Shown to the person: seen. (A read-only home keeps them for next time.)
            if !report.notices.isEmpty { device.markNoticesSeen() }
        }
    }
}
