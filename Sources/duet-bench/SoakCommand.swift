import ArgumentParser
import DuetTesting
import Foundation

/// `duet-bench soak --seed S --seconds N` (issue #14 item 6): real processes — one relay, two
/// people with two devices each, a `duetd` per device — random private and shared writes and
/// edits of shared and private bodies, titles and factors, while the relay is killed, paused and
/// restarted and daemons are killed, paused and stopped (the device offline while its person
/// writes on). Then it heals and checks every acknowledged write against every device.
///
/// Healed means: the relay running and not paused, every daemon running and not paused, no more
/// writes. From that moment the soak waits — with `--convergence-deadline` as the limit, and
/// nothing but the daemons moving envelopes (no `duet sync`) — until every device exports every
/// entry it should hold and no other, every replica of an entry is byte-identical (the
/// canonical snapshot of its whole history and every readable field), every acknowledged edit is
/// in it exactly once, and nothing is waiting to be sent. That moment is the convergence time.
/// Then `duet status --json` on every device must show no warning, and `duet list --all --json`
/// each entry alike on every device that holds it.
struct SoakCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Fault-injection soak with real processes: writes and edits on four devices while relay and daemons are killed, paused and restarted; then heal and check.")

    @Option(help: "The seed: the same seed plans the same schedule (its hash is printed).") var seed: UInt64 = 14
    @Option(help: "How long the fault phase lasts, in seconds.") var seconds = 60
    @Option(help: "How long, after healing, convergence may take before the run fails.") var convergenceDeadline = 180
    @Option(help: "Where to put the temporary folder (removed afterwards unless --keep).") var folder: String = NSTemporaryDirectory()
    @Flag(help: "Keep the temporary folder (homes, daemon and relay logs) for a look afterwards.") var keep = false
    @Flag(help: "Print the schedule, one event a line, and exit.") var printSchedule = false
    @Flag(help: "Print one JSON object on stdout (progress goes to stderr).") var json = false

    func validate() throws {
        guard (5...86_400).contains(seconds) else { throw ValidationError("--seconds is 5 to 86400") }
        guard (10...3_600).contains(convergenceDeadline) else { throw ValidationError("--convergence-deadline is 10 to 3600") }
    }

    func run() async throws {
        let schedule = SoakSchedule.plan(seed: seed, seconds: seconds)
        if printSchedule {
            for event in schedule.events { print(event.line) }
            return
        }
        let command = "duet-bench soak --seed \(seed) --seconds \(seconds)"
        let header = "soak: seed \(seed), schedule \(schedule.hash) (\(schedule.events.count) events: \(schedule.operationCount) operations, \(schedule.faultCount) faults over \(seconds) s); replay: \(command)"
        say(header, always: true)

        let root = folder + "/duet-soak-\(seed)-\(getpid())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let keep = self.keep
        SoakChildren.onCleanup { if !keep { try? FileManager.default.removeItem(atPath: root) } }
        // A guard only: setup, the planned phase (which may run late on a loaded machine),
        // convergence and the checks all fit well inside it.
        SoakChildren.installGuards(deadline: .seconds(300 + 3 * seconds + convergenceDeadline))
        defer { SoakChildren.killAll() }

        let setupStart = ContinuousClock.now
        let world = try await SoakWorld(root: root)
        say(String(format: "soak: four devices paired, linked and connected in %.1f s; the fault phase begins", soakSeconds(ContinuousClock.now - setupStart)))
        let run = SoakRun(world: world, schedule: schedule)
        // Warnings raised while setting up (init, pair, link, the first syncs) are told apart.
        for device in SoakDevice.all { run.sampleWarnings(on: device, when: "after setup, before any fault") }
        try await run.play { say($0) }
        let played = run.elapsed
        await world.heal()
        let healed = ContinuousClock.now
        say(String(format: "soak: healed after %.1f s (planned %d s); waiting for convergence (deadline %d s)", played, seconds, convergenceDeadline))

        var violations: [String] = []
        var converged: Double?
        var polls = 0
        while true {
            polls += 1
            let (observed, problems) = run.observe()
            var found = problems + SoakCheck.violations(run.ledger, observed)
            if found.isEmpty {
                for device in SoakDevice.all {
                    let pending = run.status(of: device)?["pendingOut"] as? Int
                    if pending != 0 { found.append("\(device) still has \(pending.map(String.init) ?? "an unknown number of") change(s) to send") }
                }
            }
            if found.isEmpty {
                converged = soakSeconds(ContinuousClock.now - healed)
                break
            }
            violations = found
            say(String(format: "soak: %.1f s after healing, %d thing(s) outstanding, e.g. ", soakSeconds(ContinuousClock.now - healed), found.count) + found[0])
            await world.checkDaemons()
            if ContinuousClock.now - healed > .seconds(convergenceDeadline) { break }
            try? await Task.sleep(for: .milliseconds(500))
        }
        if let converged {
            violations = []
            say(String(format: "soak: converged %.1f s after healing (%d polls)", converged, polls))
        } else {
            violations.append("no convergence within \(convergenceDeadline) s of healing (the violations above are the last poll's)")
        }
        for device in SoakDevice.all {
            run.sampleWarnings(on: device, when: "after healing")
            if let pendingIn = run.status(of: device)?["pendingIn"] as? Int, pendingIn != 0, converged != nil {
                violations.append("\(device) still holds \(pendingIn) received change(s) it has not opened")
            }
        }
        if converged != nil {
            let (views, problems) = run.observeViews()
            violations += problems + SoakCheck.viewDifferences(views)
        }
        await world.shutDown()
        violations = run.ledger.failures + world.problems + violations
        let report = SoakReport(seed: seed, scheduleHash: schedule.hash, seconds: seconds, command: command, schedule: schedule,
                                ledger: run.ledger, played: played, lateness: run.lateness, slowest: run.slowest, convergence: converged,
                                convergenceDeadline: convergenceDeadline, violations: violations,
                                warnings: run.warnings.map { "\($0.key) (first seen \($0.value))" }.sorted(),
                                daemonLogProblems: Dictionary(uniqueKeysWithValues: SoakDevice.all.map { ($0.description, world.daemons[$0]!.loggedProblems().count) }))
        if json { try printJSON(report) } else { report.printText() }
        if keep { say("soak: kept \(root)", always: true) }
        if !violations.isEmpty || !report.warnings.isEmpty { throw ExitCode(1) }
    }

    private func say(_ line: String, always: Bool = false) {
        if json || !always {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        } else {
            soakPrint(line)
        }
    }
}
