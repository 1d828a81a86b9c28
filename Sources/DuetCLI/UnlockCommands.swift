import ArgumentParser
import DuetDevice
import Foundation

/// `duet unlock`: asks for the passphrase once and starts the unlock agent (``UnlockAgent``).
struct UnlockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Unlock once: for a while (15 minutes unless --for says), commands need no passphrase.",
        discussion: """
            Starts a small agent, like ssh-agent: it holds the key your passphrase opens, in locked memory, and \
            hands it only to your own `duet` commands, over a socket in the home (agent.socket, mode 0600). It forgets \
            the key when its time is up, on `duet lock`, on `duet passphrase`, and when it is stopped or killed. \
            `duet status` says until when the journal is unlocked. `duet passphrase` still asks for the passphrase.
            """)

    @OptionGroup var common: CommonOptions

    @Option(name: .customLong("for"), help: "How long: 90s, 15m, 2h or 1h30m (at most 24h).")
    var duration: String = "15m"

    func validate() throws {
        guard AgentDuration.seconds(duration) != nil else {
            throw ValidationError("--for takes a duration like 90s, 15m, 2h or 1h30m, from 1 second to 24 hours")
        }
    }

    func run() throws {
        try reportingErrors {
            let device = try common.open()
            let seconds = AgentDuration.seconds(duration) ?? 900
            // Typed (or from a file or the environment), never the running agent's key: an
            // unlock is the moment the passphrase is checked.
            let key = try PassphraseSource.withPassphrase(file: common.passphraseFile) {
                passphrase in try device.unlockKey(passphrase)
            }
            // One agent a home: a running one gives way to the new one (and its new time).
            AgentClient.lock(home: device.home)
            let until = try AgentLauncher.start(home: device.home, key: key, seconds: seconds)
            print("Unlocked until \(LocalTime.full(until)); `duet lock` locks now.")
        }
    }
}

/// `duet lock`: the agent forgets the key now.
struct LockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock", abstract: "Lock now: the unlock agent forgets the key, and commands ask for the passphrase again.")
    @OptionGroup var common: CommonOptions

    func run() throws {
        try reportingErrors {
            print(AgentClient.lock(home: common.resolvedHome) ? "Locked." : "Already locked (no unlock agent was running).")
        }
    }
}

/// The agent itself, started by `duet unlock` (hidden: never typed). The key arrives on
/// standard input, never in arguments or the environment (which other processes can read).
struct AgentServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "agent-serve", shouldDisplay: false)

    @Option var home: String
    @Option var seconds: Int
    @Option var until: UInt64

    func run() throws {
        // Out of the terminal's session: closing the terminal or Ctrl-C there does not end it;
        // out of the folder it was started in, which it would keep busy (an unmountable disk).
        _ = setsid()
        _ = chdir("/")
        // No core file can hold the key.
        var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &noCore)
        let report = STDOUT_FILENO
        guard seconds >= 1, seconds <= UnlockAgent.maximumSeconds else {
            var message = Array("error: the agent's time is out of range\n".utf8)
            _ = SystemCall.write(report, &message, message.count)
            throw ExitCode(1)
        }
        // One byte more than a key: a longer input is not one.
        var buffer = [UInt8](repeating: 0, count: UnlockKey.byteCount + 1)
        let length = buffer.withUnsafeMutableBytes { Descriptors.readAll(STDIN_FILENO, into: $0) }
        // /dev/null in its place: a descriptor opened later must never be taken for standard input.
        let null = SystemCall.open("/dev/null", O_RDWR)
        if null >= 0 { dup2(null, STDIN_FILENO); close(null) }
        let key = length == UnlockKey.byteCount
            ? buffer.withUnsafeBytes { LockedKey(copying: UnsafeRawBufferPointer(rebasing: $0[0..<UnlockKey.byteCount])) } : nil
        buffer.withUnsafeMutableBytes { raw in for index in raw.indices { raw[index] = 0 } }
        guard let key else {
            var message = Array("error: the agent did not receive a key\n".utf8)
            _ = SystemCall.write(report, &message, message.count)
            throw ExitCode(1)
        }
        let agent = UnlockAgent(home: home, key: key, until: until, deadline: .now + .seconds(seconds))
        agent.serve(report: report)
    }
}

/// Durations for `--for`: whole seconds, minutes and hours, as `90s`, `15m`, `2h`, `1h30m`.
enum AgentDuration {
    static func seconds(_ text: String) -> Int? {
        var total = 0, number = 0, digits = 0, units = 0
        for character in text.lowercased() {
            if let digit = character.wholeNumberValue, character.isASCII {
                guard digits < 6 else { return nil }
                number = number * 10 + digit
                digits += 1
                continue
            }
            let unit: Int
            switch character {
            case "h": unit = 3600
            case "m": unit = 60
            case "s": unit = 1
            default: return nil
            }
            guard digits > 0 else { return nil }
            total += number * unit
            number = 0
            digits = 0
            units += 1
            guard total <= UnlockAgent.maximumSeconds else { return nil }
        }
        guard digits == 0, units > 0, total >= 1, total <= UnlockAgent.maximumSeconds else { return nil }
        return total
    }
}

/// Starts the agent as a child of its own session and waits until it listens, so that the
/// next command finds it.
enum AgentLauncher {
    /// Returns until when the agent holds the key (ms since the epoch).
    static func start(home: String, key: UnlockKey, seconds: Int) throws -> UInt64 {
        guard let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
            throw InputError("cannot find the duet executable to start the unlock agent")
        }
        guard let keyPipe = Descriptors.pipe() else { throw InputError("cannot start the unlock agent (no pipe)") }
        guard let reportPipe = Descriptors.pipe() else {
            close(keyPipe.read); close(keyPipe.write)
            throw InputError("cannot start the unlock agent (no pipe)")
        }
        // `seconds` passed AgentDuration (1 s to 24 h); clamped again so no caller can make it trap.
        let until = nowMilliseconds + UInt64(clamping: min(max(seconds, 1), UnlockAgent.maximumSeconds)) * 1000
        let absoluteHome = home.hasPrefix("/") ? home : FileManager.default.currentDirectoryPath + "/" + home
        let pid = try spawn(executable, ["agent-serve", "--home", absoluteHome, "--seconds", String(seconds), "--until", String(until)],
                            input: keyPipe.read, output: reportPipe.write)
        close(keyPipe.read)
        close(reportPipe.write)
        let sent = key.withUnsafeBytes { Descriptors.writeAll(keyPipe.write, $0) }
        close(keyPipe.write)
        // The agent's one line: "ready", or why not. Bounded: it is a line.
        var reply: [UInt8] = []
        var byte: UInt8 = 0
        while reply.count < 512, SystemCall.read(reportPipe.read, &byte, 1) == 1 { reply.append(byte) }
        close(reportPipe.read)
        let line = String(decoding: reply, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard sent, line == "ready" else {
            kill(pid, SIGTERM)
            let reason = line.hasPrefix("error: ") ? String(line.dropFirst(7)) : "it stopped before it listened"
            throw InputError("the unlock agent did not start: \(reason)")
        }
        // The agent is not waited for: it lives on after `duet unlock`; as the child of an
        // exited process it is reaped by init.
        return until
    }

    private static func spawn(_ executable: String, _ arguments: [String], input: Int32, output: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        guard posix_spawn_file_actions_init(&actions) == 0 else { throw InputError("cannot start the unlock agent") }
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input, STDIN_FILENO)
        posix_spawn_file_actions_adddup2(&actions, output, STDOUT_FILENO)
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0)
        // Nothing else of duet's: a caller's pipe held open by the agent would keep the caller
        // waiting for the end of `duet unlock`'s output for as long as the agent lives.
        for descriptor in Descriptors.inheritable() where descriptor != input && descriptor != output {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
        let words = [executable] + arguments
        let argv = words.map { strdup($0) }
        // No environment at all: it needs none, and /proc shows it (DUET_NEW_PASSPHRASE, tokens) for as long as it lives.
        let environment: [UnsafeMutablePointer<CChar>?] = []
        defer { for pointer in argv + environment { free(pointer) } }
        var pid: pid_t = 0
        let started = posix_spawn(&pid, executable, &actions, nil, argv + [nil], environment + [nil])
        guard started == 0 else { throw InputError("cannot start the unlock agent (\(String(cString: strerror(started))))") }
        return pid
    }
}
