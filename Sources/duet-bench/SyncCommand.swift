import ArgumentParser
import DuetCore
import DuetCrypto
import DuetStore
import DuetSync
import DuetTesting
import DuetWire
import Foundation

/// `duet-bench sync`: a new device catching up from a loopback relay, against the raw cost of the
/// same bytes (fetch, verify, open) in the same run; then write-to-partner latency through two
/// real `duetd` processes (release builds beside this one).
struct SyncBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Catch-up of a new device (20,000 entries, ~100,000 changes) and write-to-partner latency with duetd.")

    @Option(help: "Entries in the journal to catch up on.") var entries = 20_000
    @Option(help: "Changes per entry (the first creates it; the rest edit it).") var changesPerEntry = 5
    @Option(help: "Catch-up runs to take the median of.") var runs = 3
    @Option(help: "Writes timed for the latency figures.") var writes = 200
    @Option(help: "Where to put the temporary homes (removed afterwards).") var folder: String = NSTemporaryDirectory()
    @Flag(help: "Print one JSON object instead of text.") var json = false

    struct Report: Encodable {
        let entries: Int
        let changes: Int
        let envelopeBytes: Int
        let catchUpSeconds: Summary
        let rawFetchVerifyOpenSeconds: Summary
        let catchUpRatio: Double
        let writeToPartnerStoredMilliseconds: Percentiles
        let writeToPartnerReadableMilliseconds: Percentiles
    }

    struct Percentiles: Encodable {
        let p50: Double
        let p99: Double
        let max: Double

        init(_ values: [Double]) {
            let sorted = values.sorted()
            func at(_ fraction: Double) -> Double {
                sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)]
            }
            p50 = at(0.5)
            p99 = at(0.99)
            max = sorted.last ?? 0
        }

        var text: String { String(format: "p50 %.1f ms, p99 %.1f ms (max %.1f)", p50, p99, max) }
    }

    /// The passphrase of every benchmark's throwaway journal (the store benchmark hands it to
    /// the `duet` processes it times, in their environment).
    static let passphraseText = "benchmark passphrase"
    static let passphrase = SecretBytes(utf8: passphraseText)

    func run() async throws {
        let root = folder + "/duet-bench-sync-\(getpid())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let relay = try await RelayProcess(options: ["--appends-per-second", "1000000000", "--append-burst", "1000000000"])

        // The writer: a journal of `entries` entries, each created then edited, pushed to the relay.
        let writerHome = Home(path: root + "/writer")
        let parameters = try PassphraseKDFParameters(opsLimit: PassphraseKDFParameters.minimumOpsLimit,
                                                     memoryBytes: PassphraseKDFParameters.minimumMemoryBytes, salt: PassphraseKDFParameters.makeDefault().salt)
        let (writerStore, writer) = try Store.create(home: writerHome, name: "Bench", deviceName: "writer", passphrase: Self.passphrase,
                                                     parameters: parameters, now: 1)
        // A copy of the device as it was at init: the "new device" that has nothing yet.
        let pristine = root + "/pristine"
        try FileManager.default.copyItem(atPath: writerHome.path, toPath: pristine)
        try write(writer)
        _ = try await SyncEngine.sync(writer, store: writerStore, relay: relay.base, now: 2)
        let changes = entries * changesPerEntry
        let envelopeBytes = try totalEnvelopeBytes(writerStore)

        var catchUp: [Double] = [], raw: [Double] = []
        for run in 0..<runs {
            // Raw: the same bytes fetched page by page, each signature verified and each opened.
            raw.append(try await rawCost(relay: relay, writer: writer) / 1000)
            let home = Home(path: root + "/reader-\(run)")
            try FileManager.default.copyItem(atPath: pristine, toPath: home.path)
            let store = try Store.open(home: home)
            let reader = try store.unlock(passphrase: Self.passphrase)
            let start = ContinuousClock.now
            let result = try await SyncEngine.sync(reader, store: store, relay: relay.base, now: 3)
            catchUp.append(seconds(ContinuousClock.now - start))
            guard result.received == changes, try reader.entry(try firstEntry(writer)) != nil else {
                throw BenchFailure("catch-up received \(result.received) of \(changes) changes")
            }
            try? FileManager.default.removeItem(atPath: home.path)
        }
        let (stored, readable) = try await latency(root: root, relay: relay)
        let report = Report(entries: entries, changes: changes, envelopeBytes: envelopeBytes,
                            catchUpSeconds: Summary(catchUp), rawFetchVerifyOpenSeconds: Summary(raw),
                            catchUpRatio: Summary(catchUp).median / max(Summary(raw).median, 1e-9),
                            writeToPartnerStoredMilliseconds: Percentiles(stored), writeToPartnerReadableMilliseconds: Percentiles(readable))
        if json { return try printJSON(report) }
        print("catch-up of \(entries) entries, \(changes) changes, \(envelopeBytes / 1024) KiB of envelopes:")
        print("  new device, end to end (fetch, verify, store, open, apply): \(report.catchUpSeconds.text) s")
        print("  raw fetch + verify + open of the same bytes:                \(report.rawFetchVerifyOpenSeconds.text) s")
        print(String(format: "  ratio: %.2f×", report.catchUpRatio))
        print("write on one partner → on the other (duetd on both, \(writes) writes):")
        print("  stored by the partner's duetd: \(report.writeToPartnerStoredMilliseconds.text)")
        print("  readable (opened and applied): \(report.writeToPartnerReadableMilliseconds.text)")
    }

    func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    func write(_ writer: UnlockedStore) throws {
        var random = SeededRandom(seed: 6)
        let words = ["safety", "comfort", "we", "talked", "about", "the", "evening", "and", "I", "felt", "heard", "tea",
                     "walk", "river", "slowly", "trust", "again", "you", "noticed", "morning", "quiet", "laughed"]
        var ids: [EntryID] = []
        for _ in 0..<entries { ids.append(EntryID.random(using: &random)) }
        for pass in 0..<changesPerEntry {
            for start in stride(from: 0, to: entries, by: 500) {
                var edits: [(EntryID, (inout EntryEditor) throws -> Void)] = []
                for id in ids[start..<min(entries, start + 500)] {
                    var text = ""
                    let target = pass == 0 ? 600 : 80
                    while text.utf8.count < target { text += random.pick(words) + " " }
                    let scalars = Array(text.unicodeScalars)
                    edits.append((id, { editor in
                        if pass == 0 { editor.create() }
                        editor.insertText(scalars, at: editor.entry.body.count)
                    }))
                }
                try writer.commitAll(edits, now: UInt64(10 + pass))
            }
        }
    }

    func firstEntry(_ writer: UnlockedStore) throws -> EntryID {
        var first: EntryID?
        try writer.forEachEntry { entry, _ in first = entry.id; return false }
        guard let first else { throw BenchFailure("no entry written") }
        return first
    }

    func totalEnvelopeBytes(_ store: Store) throws -> Int {
        let space = try store.space(.personal)
        guard let space else { return 0 }
        return try store.envelopes(space: space.id, of: Set(try store.localHeads(space: space.id).keys), after: [:]).reduce(0) { $0 + $1.count }
    }

    /// Fetch every envelope of the space from the relay (same page size as a sync), verify
    /// each signature against the device key and open each with the content key: the work a
    /// catch-up cannot avoid. Milliseconds.
    func rawCost(relay: RelayProcess, writer: UnlockedStore) async throws -> Double {
        var transport = RelayTransport(base: relay.base, device: writer.keystore.device)
        try await transport.authenticate()
        let space = writer.keystore.personalSpace
        guard let key = writer.keystore.personalKeys[1] else { throw BenchFailure("no key") }
        let verifying = writer.keystore.device.verifyingKey
        let start = ContinuousClock.now
        var vector: [WireDeviceID: UInt64] = [:]
        var opened = 0
        while true {
            let (page, complete) = try await transport.fetch(space, after: vector)
            // On every core, as the real path verifies: the baseline is the best the bytes allow.
            let failures = Counter()
            let workers = ProcessInfo.processInfo.activeProcessorCount
            let slice = (page.count + workers - 1) / max(workers, 1)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                for index in (worker * slice)..<min(page.count, (worker + 1) * slice) {
                    guard let envelope = try? Envelope(bytes: page[index]), (try? envelope.verify(signer: verifying)) != nil,
                          (try? envelope.open(contentKey: key)) != nil else { failures.increment(); continue }
                }
            }
            guard failures.value == 0 else { throw BenchFailure("raw path: \(failures.value) envelopes failed") }
            if let last = page.last, let envelope = try? Envelope(bytes: last) { vector[envelope.header.device] = envelope.header.seq }
            opened += page.count
            if complete || page.isEmpty { break }
        }
        let elapsed = ContinuousClock.now - start
        guard opened == entries * changesPerEntry else { throw BenchFailure("raw fetch opened \(opened)") }
        return seconds(elapsed) * 1000
    }

    /// Two paired journals with a real `duetd` each; the writer commits in process (what `duet
    /// write` does after its passphrase), and the clock stops when the partner's store holds the
    /// envelope (polled every 0.5 ms, read-only) and again when it is opened and applied.
    func latency(root: String, relay: RelayProcess) async throws -> (stored: [Double], readable: [Double]) {
        let parameters = try PassphraseKDFParameters(opsLimit: PassphraseKDFParameters.minimumOpsLimit,
                                                     memoryBytes: PassphraseKDFParameters.minimumMemoryBytes, salt: PassphraseKDFParameters.makeDefault().salt)
        let (alexStore, alex) = try Store.create(home: Home(path: root + "/alex"), name: "Alex", deviceName: "Alex's laptop",
                                                 passphrase: Self.passphrase, parameters: parameters, now: 1)
        let (samStore, sam) = try Store.create(home: Home(path: root + "/sam"), name: "Sam", deviceName: "Sam's phone",
                                               passphrase: Self.passphrase, parameters: parameters, now: 1)
        for store in [alexStore, samStore] { try store.setMeta("relay", relay.base) }
        let codes = AsyncStream<String>.makeStream()
        async let invited = PairingEngine.invite(alex, store: alexStore, relay: relay.base, timeout: .seconds(60), environment: .system.with(now: { 1 })) { codes.continuation.yield($0) }
        var code = ""
        for await value in codes.stream { code = value; break }
        _ = try await PairingEngine.accept(code: code, sam, store: samStore, relay: relay.base, timeout: .seconds(60), environment: .system.with(now: { 1 }))
        _ = try await invited
        for (unlocked, store) in [(alex, alexStore), (sam, samStore)] { _ = try await SyncEngine.sync(unlocked, store: store, relay: relay.base, now: 2) }

        let daemons = try [alexStore, samStore].map { store in
            try BackgroundRun(BuildProducts.folder(holding: "duetd").appendingPathComponent("duetd").path,
                              ["--home", store.home.path, "--log-level", "error", "--maximum-backoff", "1"])
        }
        do {
            let result = try await latency(alex: alex, alexStore: alexStore, sam: sam, samStore: samStore, daemons: daemons)
            for daemon in daemons { daemon.signal(SIGTERM); _ = await daemon.finish() }
            return result
        } catch {
            for daemon in daemons { daemon.signal(SIGTERM); _ = await daemon.finish() }
            throw error
        }
    }

    /// The measurement itself, with both daemons running.
    private func latency(alex: UnlockedStore, alexStore: Store, sam: UnlockedStore, samStore: Store,
                         daemons: [BackgroundRun]) async throws -> (stored: [Double], readable: [Double]) {
        for daemon in daemons { guard await daemon.firstLine() != nil else { throw BenchFailure("duetd did not connect") } }
        guard let couple = try alexStore.space(.couple) else { throw BenchFailure("not paired") }
        let alexDevice = alex.keystore.deviceID
        var stored: [Double] = [], readable: [Double] = []
        var random = SeededRandom(seed: 7)
        for index in 0..<writes {
            let id = EntryID.random(using: &random)
            let start = ContinuousClock.now
            let change = try alex.commit(entry: id, in: .couple, now: UInt64(100 + index)) { editor in
                editor.create()
                editor.insertText(Array("A reflection for the benchmark, number \(index).".unicodeScalars), at: 0)
            }
            let deadline = start + .seconds(10)
            while try samStore.localHeads(space: couple.id)[alexDevice, default: 0] < change.seq {
                guard ContinuousClock.now < deadline else { throw BenchFailure("write \(index) did not arrive within 10 s") }
                try await Task.sleep(for: .microseconds(500))
            }
            stored.append(seconds(ContinuousClock.now - start) * 1000)
            try sam.materialise()
            guard try sam.entry(id) != nil else { throw BenchFailure("write \(index) stored but not readable") }
            readable.append(seconds(ContinuousClock.now - start) * 1000)
        }
        return (stored, readable)
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A count shared by concurrent workers.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
