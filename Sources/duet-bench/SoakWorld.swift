import DuetTesting
import Foundation

/// The soak's real processes: one `duet-relay` (embedded SQLite), four homes made with `duet
/// init`, `duet pair` and `duet device link`, a `duetd` per home; and the faults done to them.
final class SoakWorld {
    static let passphrase = "soak passphrase, not a secret"

    let root: String
    let relay: RelayProcess
    private(set) var relayState = RelayState.up
    enum RelayState: String { case up, paused, down }
    let daemons: [SoakDevice: SoakDaemon]
    let duet: String
    /// This executable: the editor `duet edit` opens (`duet-bench soak-editor`).
    let bench: String
    /// Problems found while acting (a daemon that exited by itself, a relay that would not
    /// restart, a daemon that did not exit cleanly on SIGTERM): violations, each one line.
    private(set) var problems: [String] = []

    func home(_ device: SoakDevice) -> String { root + "/\(device)/home" }

    /// Everything up to four paired and linked devices with their daemons running and connected.
    init(root: String) async throws {
        self.root = root
        let products = BuildProducts.folder(holding: "duet")
        duet = products.appendingPathComponent("duet").path
        bench = BuildProducts.runningExecutable.path
        relay = try await RelayProcess(data: root + "/relay")
        SoakChildren.started(relay.processIdentifier, "duet-relay")
        var daemons: [SoakDevice: SoakDaemon] = [:]
        var daemonEnvironment = Self.cleanEnvironment
        daemonEnvironment["DUET_KDF"] = "minimum"
        for device in SoakDevice.all {
            try FileManager.default.createDirectory(atPath: root + "/\(device)", withIntermediateDirectories: true)
            daemons[device] = SoakDaemon(executable: products.appendingPathComponent("duetd").path, home: root + "/\(device)/home",
                                         logPath: root + "/\(device)/duetd.log", environment: daemonEnvironment)
        }
        self.daemons = daemons
        try await setUp()
    }

    /// The environment without a developer's own Duet settings.
    static var cleanEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for key in ["DUET_HOME", "DUET_PASSPHRASE", "VISUAL", "EDITOR", "DUET_KDF", "DUET_NEW_PASSPHRASE", "DUET_SOAK_INSERT", "DUET_SOAK_AT"] {
            environment[key] = nil
        }
        return environment
    }

    func environment(_ device: SoakDevice, extra: [String: String] = [:]) -> [String: String] {
        var environment = Self.cleanEnvironment
        environment["DUET_HOME"] = home(device)
        environment["DUET_PASSPHRASE"] = Self.passphrase
        environment["DUET_KDF"] = "minimum"
        environment["TZ"] = "UTC"
        for (key, value) in extra { environment[key] = value }
        return environment
    }

    /// `duet ARGUMENTS` on `device`, killed after `timeout` seconds.
    func duet(_ device: SoakDevice, _ arguments: [String], extra: [String: String] = [:], timeout: Double = 60) throws -> SoakCommandResult {
        try runCommand(duet, arguments, environment: environment(device, extra: extra), timeout: timeout)
    }

    private func setUp() async throws {
        let alex = SoakDevice(index: 0), sam = SoakDevice(index: 2)
        for device in [alex, sam] {
            let run = try duet(device, ["init", "--name", device.personName, "--device", device.deviceName, "--relay", relay.base])
            guard run.succeeded else { throw BenchFailure("duet init on \(device): \(run.errorLine)") }
        }
        // Pairing: Alex invites, Sam accepts the code Alex printed first.
        let invite = try background(alex, ["pair", "invite", "--timeout", "60"])
        guard let code = await invite.firstLine(timeout: 60) else { throw BenchFailure("pair invite printed no code: \(await invite.finish().stderr)") }
        let accept = try duet(sam, ["pair", "accept", code])
        let invited = await invite.finish()
        SoakChildren.reaped(invite.processIdentifier)
        guard accept.succeeded, invited.status == 0 else { throw BenchFailure("pairing: \(accept.errorLine) \(invited.stderr)") }
        // Each person's phone, linked from the laptop.
        for laptop in [alex, sam] {
            let phone = laptop.sibling
            let link = try background(laptop, ["device", "link", "--timeout", "60"])
            guard let code = await link.firstLine(timeout: 60) else { throw BenchFailure("device link printed no code: \(await link.finish().stderr)") }
            let join = try duet(phone, ["device", "join", code, "--relay", relay.base, "--device", phone.deviceName])
            let linked = await link.finish()
            SoakChildren.reaped(link.processIdentifier)
            guard join.succeeded, linked.status == 0 else { throw BenchFailure("linking \(phone): \(join.errorLine) \(linked.stderr)") }
        }
        // One round each so every device has read every directory (names) before the faults.
        for device in SoakDevice.all + [alex, sam] {
            let run = try duet(device, ["sync"])
            guard run.succeeded else { throw BenchFailure("first sync on \(device): \(run.errorLine)") }
        }
        for device in SoakDevice.all { try daemons[device]!.start() }
        for device in SoakDevice.all {
            guard waitForConnection(device, since: 0, within: 60) else {
                throw BenchFailure("duetd on \(device) never connected: \(daemons[device]!.logTail())")
            }
        }
    }

    private func background(_ device: SoakDevice, _ arguments: [String]) throws -> BackgroundRun {
        let run = try BackgroundRun(duet, arguments, environment: environment(device))
        SoakChildren.started(run.processIdentifier, "duet \(arguments.prefix(2).joined(separator: " "))")
        return run
    }

    /// How many `connected to` lines `device`'s daemon log holds.
    func connections(_ device: SoakDevice) -> Int {
        let text = (try? String(contentsOfFile: daemons[device]!.logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").count { $0.hasPrefix("connected to ") }
    }

    /// Waits (polling the log every 50 ms) until the daemon has connected more than `since` times.
    func waitForConnection(_ device: SoakDevice, since: Int, within seconds: Double) -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < deadline {
            if connections(device) > since { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return connections(device) > since
    }

    // MARK: Faults

    func apply(_ fault: SoakFault, to device: SoakDevice?) async {
        if let device {
            let daemon = daemons[device]!
            switch fault {
            case .killDaemon: daemon.kill()
            case .stopDaemon:
                let status = daemon.terminate()
                if status != 0 { problems.append("duetd on \(device) \(status.map { "exited \($0)" } ?? "did not exit within 20 s") on SIGTERM; log: \(daemon.logTail(4))") }
            case .pauseDaemon: daemon.pause()
            case .resumeDaemon: daemon.resume()
            case .startDaemon:
                do { try daemon.start() } catch { problems.append("duetd on \(device) would not start: \(error)") }
            default: break
            }
            return
        }
        switch fault {
        case .killRelay:
            let pid = relay.processIdentifier
            await relay.kill()
            SoakChildren.reaped(pid)
            relayState = .down
        case .terminateRelay:
            let pid = relay.processIdentifier
            let status = await relay.terminate()
            SoakChildren.reaped(pid)
            if status != 0 { problems.append("duet-relay exited \(status) on SIGTERM") }
            relayState = .down
        case .pauseRelay:
            relay.signal(SIGSTOP)
            relayState = .paused
        case .resumeRelay:
            relay.signal(SIGCONT)
            relayState = .up
        case .startRelay:
            await startRelay()
        default: break
        }
    }

    /// Starts the relay again on its port (a few tries: the old socket may linger a moment).
    private func startRelay() async {
        let port = relay.port
        for attempt in 1...20 {
            do {
                try await relay.start(port: port)
                SoakChildren.started(relay.processIdentifier, "duet-relay")
                relayState = .up
                return
            } catch {
                if relay.processIdentifier > 0 { kill(relay.processIdentifier, SIGKILL) }
                if attempt == 20 { problems.append("duet-relay would not restart on port \(port): \(error)") }
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    /// Daemons that exited by themselves become problems, and are started again.
    func checkDaemons() async {
        for device in SoakDevice.all {
            let daemon = daemons[device]!
            if let status = daemon.unexpectedExit {
                problems.append("duetd on \(device) exited by itself with status \(status); log: \(daemon.logTail(4))")
                daemon.forgetExited()
                try? daemon.start()
            }
        }
        if relayState != .down, !relay.isRunning {
            problems.append("duet-relay exited by itself; log: \((try? String(contentsOfFile: relay.logPath, encoding: .utf8))?.suffix(400) ?? "")")
            await startRelay()
        }
    }

    /// Healed: the relay running and not paused, every daemon running and not paused.
    func heal() async {
        switch relayState {
        case .paused: await apply(.resumeRelay, to: nil)
        case .down: await apply(.startRelay, to: nil)
        case .up: break
        }
        for device in SoakDevice.all {
            let daemon = daemons[device]!
            switch daemon.state {
            case .paused: daemon.resume()
            case .stopped: await apply(.startDaemon, to: device)
            case .running: break
            }
        }
        await checkDaemons()
    }

    /// SIGTERM to every daemon (each must exit 0) and to the relay.
    func shutDown() async {
        for device in SoakDevice.all {
            let daemon = daemons[device]!
            guard daemon.state != .stopped else { continue }
            let status = daemon.terminate()
            if status != 0 { problems.append("duetd on \(device) \(status.map { "exited \($0)" } ?? "did not exit within 20 s") on SIGTERM at the end; log: \(daemon.logTail(4))") }
        }
        if relayState == .paused { relay.signal(SIGCONT) }
        if relayState != .down {
            let pid = relay.processIdentifier
            _ = await relay.terminate()
            SoakChildren.reaped(pid)
            relayState = .down
        }
    }
}
