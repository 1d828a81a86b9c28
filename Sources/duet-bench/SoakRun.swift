import Foundation

/// Plays a schedule against the world: each event at its planned time or, when the machine is
/// behind, as soon as the one before it is done; never early, never out of order.
final class SoakRun {
    let world: SoakWorld
    let schedule: SoakSchedule
    private(set) var ledger = SoakLedger()
    /// Each warning text with the device and the moment (s after the fault phase began, or
    /// "after healing") it was first seen.
    private(set) var warnings: [String: String] = [:]
    private(set) var lateness = 0.0
    /// The event that took longest, and how long (a daemon slow to stop, a slow command).
    private(set) var slowest: (line: String, seconds: Double) = ("", 0)
    /// One line per event with its outcome and duration (`events.log` in the soak's folder).
    private var eventLog: FileHandle?
    private var outcome = ""
    private var started = ContinuousClock.now
    private var nextSample = 0
    private var lastSample = ContinuousClock.now

    init(world: SoakWorld, schedule: SoakSchedule) {
        self.world = world
        self.schedule = schedule
    }

    var elapsed: Double { soakSeconds(ContinuousClock.now - started) }

    func play(log: (String) -> Void) async throws {
        let path = world.root + "/events.log"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        eventLog = FileHandle(forWritingAtPath: path)
        defer { try? eventLog?.close() }
        started = ContinuousClock.now
        var reported = 0
        for event in schedule.events {
            let due = started + .milliseconds(event.at)
            // Ahead of time: sample one device's warnings while waiting (a status reads, never unlocks).
            while ContinuousClock.now < due {
                if ContinuousClock.now - lastSample > .seconds(3), due - ContinuousClock.now > .milliseconds(150) {
                    sampleWarnings(on: SoakDevice(index: nextSample % 4), when: String(format: "at %.0f s", elapsed))
                    nextSample += 1
                    lastSample = ContinuousClock.now
                } else {
                    try? await Task.sleep(for: min(.milliseconds(10), due - ContinuousClock.now))
                }
            }
            lateness = max(lateness, soakSeconds(ContinuousClock.now - due))
            await world.checkDaemons()
            let begun = ContinuousClock.now
            outcome = "done"
            try await perform(event)
            let took = soakSeconds(ContinuousClock.now - begun)
            if took > slowest.seconds { slowest = (event.line, took) }
            try? eventLog?.write(contentsOf: Data((String(format: "%8.3f %6.3f ", elapsed, took) + "\(event.line) → \(outcome)\n").utf8))
            if Int(elapsed) / 10 > reported {
                reported = Int(elapsed) / 10
                log(String(format: "soak: %3.0f s, event %d of %d, %d writes and %d edits acknowledged", elapsed, event.number + 1,
                           schedule.events.count, ledger.writes.count, ledger.edits.count))
            }
        }
    }

    private func perform(_ event: SoakEvent) async throws {
        switch event.action {
        case .fault(let fault):
            ledger.injected(fault)
            await world.apply(fault, to: event.device)
        case .operation(let operation):
            guard let device = event.device else { return }
            try perform(operation, number: event.number, on: device)
        }
    }

    private func perform(_ operation: SoakOperation, number: Int, on device: SoakDevice) throws {
        if let target = operation.target, ledger.writes[target] == nil {
            ledger.orphan()
            outcome = "not done: its write was not acknowledged"
            return
        }
        switch operation {
        case .write(let shared, let marker, let words, let title, let factors, let mood):
            var arguments = ["write", "--title", title, "--mood", String(mood), "-m", marker + words]
            if shared { arguments.insert("--shared", at: 1) }
            for factor in factors { arguments += ["--factor", factor.rawValue] }
            let run = try world.duet(device, arguments)
            let id = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            if run.succeeded, id.count == 26 {
                ledger.acknowledge(SoakLedger.Write(event: number, id: id, device: device, shared: shared, marker: marker, title: title))
                outcome = "acknowledged \(id)"
            } else {
                outcome = "failed: \(run.errorLine)"
                ledger.refuse(marker)
                failed("write #\(number) on \(device) failed: \(run.errorLine)", run, on: device)
            }
        case .editBody(let target, let marker, let position):
            let editor = "'\(world.bench)' soak-editor"
            edit(number, target, on: device, options: [], kind: .body(marker: marker), refused: marker,
                 extra: ["EDITOR": editor, "DUET_SOAK_INSERT": marker, "DUET_SOAK_AT": String(position)])
        case .editTitle(let target, let title):
            edit(number, target, on: device, options: ["--title", title], kind: .title(title), refused: title)
        case .editFactor(let target, let factor, let add, let witness):
            edit(number, target, on: device, options: [add ? "--add-factor" : "--remove-factor", factor.rawValue, "--add-tag", witness],
                 kind: .factor(witness: witness), refused: witness)
        case .ack(let target):
            // Refused as "already acknowledged" when this person's other device did it first.
            edit(number, target, on: device, options: [], kind: .ack, refused: nil, command: "ack", benign: "you already acknowledged")
        case .sync:
            let run = try world.duet(device, ["sync"], timeout: 60)
            ledger.synced(run.succeeded)
            outcome = run.succeeded ? run.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : "failed: \(run.errorLine)"
            if !run.succeeded { failed("sync #\(number) on \(device) with the relay up failed: \(run.errorLine)", run, on: device) }
        }
    }

    private func edit(_ number: Int, _ target: Int, on device: SoakDevice, options: [String], kind: SoakLedger.Edit, refused: String?,
                      extra: [String: String] = [:], command: String = "edit", benign: String? = nil) {
        guard let write = ledger.writes[target] else { return }
        // A private entry is edited only on its person's devices (the schedule plans it so).
        guard let run = try? world.duet(device, [command, write.id] + options, extra: extra) else {
            if let refused { ledger.refuse(refused) }
            ledger.fail("edit #\(number) on \(device) could not be started")
            return
        }
        outcome = run.succeeded ? "acknowledged" : "refused: \(run.errorLine)"
        if run.succeeded {
            ledger.acknowledge(SoakLedger.AcknowledgedEdit(event: number, device: device, target: target, edit: kind))
        } else {
            if let refused { ledger.refuse(refused) }
            if run.stderr.contains("no entry has an id starting with") || benign.map({ run.stderr.contains($0) }) == true {
                ledger.skip()  // not on this device yet: the person could not have edited it here
            } else {
                failed("\(command) #\(number) of #\(target) on \(device) failed: \(run.errorLine)", run, on: device)
            }
        }
    }

    /// A command's failure: a violation, unless the device's daemon is stopped (SIGSTOP) and
    /// the store was busy — the stopped daemon may hold SQLite's write lock.
    private func failed(_ line: String, _ run: SoakCommandResult, on device: SoakDevice) {
        if world.daemons[device]?.state == .paused, run.stderr.contains("stayed busy in another Duet process") {
            ledger.excuse(line + " (its daemon was stopped by SIGSTOP)")
        } else {
            ledger.fail(line)
        }
    }

    /// Records the warnings `duet status --json` shows on `device` that were not seen before.
    @discardableResult
    func sampleWarnings(on device: SoakDevice, when: String) -> [String] {
        guard let run = try? world.duet(device, ["status", "--json"], timeout: 30), run.succeeded,
              let object = try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] else { return [] }
        let current = object["warnings"] as? [String] ?? []
        for warning in current where warnings["\(device): \(warning)"] == nil {
            warnings["\(device): \(warning)"] = when
        }
        return current
    }

    /// `duet status --json` of `device`, parsed.
    func status(of device: SoakDevice) -> [String: Any]? {
        guard let run = try? world.duet(device, ["status", "--json"], timeout: 30), run.succeeded else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
    }

    /// What every device exports now (`duet export` unlocks, so it also opens what its daemon
    /// stored while the journal was locked).
    func observe() -> (observed: SoakCheck.Observed, problems: [String]) {
        var observed: SoakCheck.Observed = [:], problems: [String] = []
        for device in SoakDevice.all {
            do {
                let run = try world.duet(device, ["export", "--format", "json"], timeout: 120)
                guard run.succeeded else { problems.append("duet export on \(device) failed: \(run.errorLine)"); continue }
                observed[device] = try SoakReplica.parse(export: run.stdout)
            } catch {
                problems.append("duet export on \(device): \(error)")
            }
        }
        return (observed, problems)
    }

    /// Every entry as `duet list --all --json` shows it on every device (the CLI's entry shape:
    /// authors' names, acknowledgements, times), by id.
    func observeViews() -> (views: [SoakDevice: [String: NSDictionary]], problems: [String]) {
        var views: [SoakDevice: [String: NSDictionary]] = [:], problems: [String] = []
        for device in SoakDevice.all {
            guard let run = try? world.duet(device, ["list", "--all", "--json"], timeout: 120), run.succeeded,
                  let array = try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]] else {
                problems.append("duet list --all --json failed on \(device)")
                continue
            }
            views[device] = Dictionary(array.compactMap { object in (object["id"] as? String).map { ($0, object as NSDictionary) } }) { a, _ in a }
        }
        return (views, problems)
    }
}

func soakSeconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
