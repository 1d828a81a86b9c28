import ArgumentParser
import DuetCore
import DuetCrypto
import DuetStore
import DuetTesting
import Foundation

/// `duet-bench store`: a journal of 20,000 entries of about 1 KiB, written through the import
/// path, then the everyday reads timed as a person would meet them.
struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Write N entries of ~1 KiB, then time unlock, list, search and show.")

    @Option(help: "Entries to write.") var entries: Int = 20_000
    @Option(help: "Fresh runs to take the median of.") var runs: Int = 5
    @Option(help: "Single changes timed on the full journal: written, then applied on a copy of the device.") var changes: Int = 200
    @Option(help: "Where to put the temporary journal (removed afterwards).") var folder: String = NSTemporaryDirectory()
    @Flag(help: "Print one JSON object instead of text.") var json = false
    @Flag(help: "Keep the journal afterwards (its home is printed), to profile commands on it.") var keep = false

    struct Report: Encodable {
        let entries: Int
        let writeSeconds: Double
        let entriesPerSecond: Double
        let unlockMilliseconds: Summary
        let openAndListNewest50Milliseconds: Summary
        let listAllMilliseconds: Summary
        let searchMilliseconds: Summary
        let showMilliseconds: Summary
        let materialiseNothingPendingMilliseconds: Summary
        let writeOneCPUMilliseconds: Summary
        let applyOneArrivalCPUMilliseconds: Summary
        let databaseBytes: Int
        let peakResidentBytesWriting: Int
        let peakResidentBytesReading: Int
        /// Whole `duet` processes (nil when no `duet` was built beside the benchmark).
        let processes: StoreProcesses.Report?
    }

    func run() throws {
        let home = Home(path: folder + "/duet-bench-store-\(getpid())")
        // The passphrase is not printed, even this throwaway one: it is SyncBenchCommand.passphraseText.
        defer { if keep { print("kept: DUET_HOME=\(home.path) (it opens with SyncBenchCommand.passphraseText)") } else { try? FileManager.default.removeItem(atPath: home.path) } }
        let passphrase = SyncBenchCommand.passphrase
        let (store, unlocked) = try Store.create(home: home, name: "Bench", deviceName: "bench", passphrase: passphrase, parameters: .makeDefault(), now: 1)
        _ = store
        var random = SeededRandom(seed: 20_000)
        let words = ["safety", "comfort", "we", "talked", "about", "the", "evening", "and", "I", "felt", "heard", "tea",
                     "walk", "river", "slowly", "trust", "again", "you", "noticed", "morning", "quiet", "laughed"]
        var ids: [EntryID] = []
        let writeStart = Date()
        let batch = 500
        var written = 0
        while written < entries {
            var edits: [(EntryID, (inout EntryEditor) throws -> Void)] = []
            for index in written..<min(entries, written + batch) {
                var text = ""
                while text.utf8.count < 1000 { text += random.pick(words) + (random.chance(10) ? ".\n" : " ") }
                let scalars = Array(text.unicodeScalars)
                let id = EntryID.random(using: &random)
                let factor = Factor.allCases[index % 5]
                ids.append(id)
                edits.append((id, { editor in
                    editor.create()
                    editor.setTitle("Entry \(index)")
                    editor.addFactor(factor)
                    editor.insertText(scalars, at: 0)
                }))
            }
            try unlocked.commitAll(edits, now: 1_767_225_600_000 + UInt64(written))
            written += edits.count
        }
        let writeSeconds = Date().timeIntervalSince(writeStart)
        let peakAfterWriting = Measure.peakResident()
        var peakReading = 0
        let needle = "zzz-not-there"  // a full search reads every body
        var unlock: [Double] = [], list50: [Double] = [], listAll: [Double] = [], search: [Double] = [], show: [Double] = [], settle: [Double] = []
        for run in 0..<runs {
            var opened: UnlockedStore?
            Measure.resetPeakResident()
            let openStart = Date()
            let reopened = try Store.open(home: home)
            let openTime = Date().timeIntervalSince(openStart) * 1000
            unlock.append(try Measure.milliseconds { opened = try reopened.unlock(passphrase: passphrase) })
            guard let session = opened else { throw ValidationError("unlock failed") }
            // Argon2id's own 256 MiB is reported on its own; the reads are measured after it.
            Measure.resetPeakResident()
            var count = 0
            let listTime = try Measure.milliseconds {
                try session.forEachEntry { _, _ in count += 1; return count < 50 }
            }
            list50.append(openTime + listTime)
            listAll.append(try Measure.milliseconds { try session.forEachEntry { _, _ in true } })
            search.append(try Measure.milliseconds { _ = try session.search(needle) })
            // What every sync ends with when everything is already applied.
            settle.append(try Measure.milliseconds { _ = try session.materialise() })
            peakReading = max(peakReading, Measure.peakResident())
            let target = ids[(run * 7919) % ids.count]
            show.append(try Measure.milliseconds {
                let id = try session.resolve(String(target.description.prefix(8)))
                _ = try session.entry(id)?.body.string
                // What `duet show` asks next, for the space line.
                _ = try session.spaceKind(of: id)
            })
        }
        let processes = try StoreProcesses.executable().map { duet in
            try StoreProcesses(duet: duet, home: home.path, passphrase: SyncBenchCommand.passphraseText, runs: max(runs, 5))
                .measure(showPrefix: String(ids[ids.count / 2].description.prefix(8)))
        }
        let one = try Self.oneChange(store: store, writer: unlocked, home: home, passphrase: passphrase, count: changes)
        let size = (try? FileManager.default.attributesOfItem(atPath: home.databasePath)[.size] as? Int) ?? 0
        let report = Report(
            entries: entries, writeSeconds: writeSeconds, entriesPerSecond: Double(entries) / writeSeconds,
            unlockMilliseconds: Summary(unlock), openAndListNewest50Milliseconds: Summary(list50),
            listAllMilliseconds: Summary(listAll), searchMilliseconds: Summary(search), showMilliseconds: Summary(show), materialiseNothingPendingMilliseconds: Summary(settle),
            writeOneCPUMilliseconds: Summary(one.write), applyOneArrivalCPUMilliseconds: Summary(one.apply),
            databaseBytes: size, peakResidentBytesWriting: peakAfterWriting, peakResidentBytesReading: peakReading,
            processes: processes)
        if json { return try printJSON(report) }
        print("store: \(entries) entries of ~1 KiB written through the import path in \(String(format: "%.2f", writeSeconds)) s (\(Int(report.entriesPerSecond))/s), file \(size / 1_048_576) MiB")
        print("  unlock (Argon2id, default parameters) ms: \(report.unlockMilliseconds.text)")
        print("  open + list newest 50 ms:                 \(report.openAndListNewest50Milliseconds.text)")
        print("  list all ms:                              \(report.listAllMilliseconds.text)")
        print("  search every body ms:                     \(report.searchMilliseconds.text)")
        print("  show one (by 8-character prefix) ms:      \(report.showMilliseconds.text)")
        print("  materialise with nothing pending ms:      \(report.materialiseNothingPendingMilliseconds.text)")
        print("  write one more (commit), thread CPU ms:   \(report.writeOneCPUMilliseconds.text)")
        print("  apply it on a copy (materialise), CPU ms: \(report.applyOneArrivalCPUMilliseconds.text)")
        print(String(format: "  peak RSS: %.1f MiB while writing (Argon2id's 256 MiB included); %.1f MiB opening, listing and searching after unlock",
                     Double(report.peakResidentBytesWriting) / 1_048_576, Double(report.peakResidentBytesReading) / 1_048_576))
        guard let processes else { return print("  (no duet built beside duet-bench: `swift build -c release --product duet` to time whole commands)") }
        print("  whole duet processes, wall ms:")
        print("    duet --version (process start, the baseline): \(processes.versionBaselineMilliseconds.text)")
        print("    unlocked (agent) list --limit 50:            \(processes.unlockedListNewest50Milliseconds.text)")
        print("    unlocked (agent) show <8-char prefix>:       \(processes.unlockedShowMilliseconds.text)")
        print("    unlocked (agent) list (all entries):         \(processes.unlockedListAllMilliseconds.text)")
        print("    with the passphrase, list --limit 50:        \(processes.passphraseListNewest50Milliseconds.text)")
    }
}
