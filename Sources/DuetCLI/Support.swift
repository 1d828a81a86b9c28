import ArgumentParser
import DuetDevice
import Foundation

/// Options every command takes.
struct CommonOptions: ParsableArguments {
    @Option(help: "The device's data folder (default: $DUET_HOME, else $XDG_DATA_HOME/duet, else ~/.local/share/duet).", completion: .directory)
    var home: String?

    @Option(help: "Read the passphrase from this file (for scripts). The order: the unlock agent (`duet unlock`), this file, DUET_PASSPHRASE, the terminal.", completion: .file())
    var passphraseFile: String?

    var resolvedHome: String { Device.home(option: home) }

    /// The journal, not yet unlocked.
    func open() throws -> Device {
        try Device.open(home: resolvedHome, environment: .cli)
    }

    /// Opens and unlocks the journal (which applies what the daemon or a sync stored since).
    func unlock() throws -> UnlockedDevice {
        let device = try open()
        return try PassphraseSource.unlock(device, file: passphraseFile)
    }
}

extension DeviceEnvironment {
    /// The real world, with `DUET_KDF=minimum` selecting the pinned minimum passphrase hashing
    /// for test suites that create many journals (nothing weaker is possible).
    static var cli: DeviceEnvironment {
        var environment = DeviceEnvironment.system
        if ProcessInfo.processInfo.environment["DUET_KDF"] == "minimum" { environment.passphraseHashing = .minimum }
        return environment
    }
}

/// Runs a command body; any failure becomes one `error: …` line on stderr and exit code 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch {
        try report(error)
    }
}

/// Like ``reportingErrors(_:)`` for commands that talk to the relay; `keepsWork` says that what
/// was written waits here for the relay (a sync), so an unreachable relay lost nothing.
func reportingRelayErrors(keepsWork: Bool = false, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch {
        try report(error, keepsWork: keepsWork)
    }
}

private func report(_ error: any Error, keepsWork: Bool = false) throws -> Never {
    switch error {
    case let error as ExitCode: throw error
    case let error as ValidationError: throw error
    default:
        let kept = keepsWork && (error as? DeviceError)?.relayWasUnreachable == true
        let message = englishReason(error) + (kept ? "; everything written is kept here and sent at the next sync" : "")
        FileHandle.standardError.write(Data("error: \(Display.line(message))\n".utf8))
        throw ExitCode(1)
    }
}

/// A name option checked by DuetDevice's rule for names, as a usage error.
func checkedName(_ text: String, option: String) throws {
    do { _ = try EntryRules.name(text) } catch {
        guard case .nameSize(let maximum) = error else { throw error }
        throw ValidationError("\(option) must be 1 to \(maximum) bytes")
    }
}

/// A failure of the CLI's own input (a file it cannot read, an editor that failed).
struct InputError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Wall time in milliseconds since the epoch: the CLI is where time enters.
var nowMilliseconds: UInt64 { DeviceEnvironment.cli.sync.now() }

/// RFC 3339 in the person's time zone, with its offset, to the second.
func rfc3339(_ milliseconds: UInt64) -> String { LocalTime.rfc3339(milliseconds) }

/// How long ago `milliseconds` was, as a person says it ("just now", "3 s ago", "5 min ago",
/// "2 h ago"), and the local time itself once it is a day or more.
func relativeTime(_ milliseconds: UInt64, now: UInt64) -> String {
    guard now >= milliseconds else { return LocalTime.full(milliseconds) }
    let seconds = (now - milliseconds) / 1000
    switch seconds {
    case 0: return "just now"
    case 1..<60: return "\(seconds) s ago"
    case 60..<3600: return "\(seconds / 60) min ago"
    case 3600..<86_400: return "\(seconds / 3600) h ago"
    default: return LocalTime.full(milliseconds)
    }
}

func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    writeOut(try encoder.encode(value) + Data("\n".utf8))
}

/// Writes UTF-8 bytes to standard output, through the same buffer as `print`: a write that
/// fails there (a full disk, a closed pipe) is reported once, by ``StandardOutput/flushOrFail()``
/// at the end, as one error line and exit 1.
func writeOut(_ data: Data) {
    print(String(decoding: data, as: UTF8.self), terminator: "")
}

/// An optional that JSON shows as `null` rather than leaving its key out (what synthesised
/// coding does with nil): outputs whose keys are always there (`pair status --json`).
@propertyWrapper
struct NullWhenAbsent<Value: Encodable>: Encodable {
    var wrappedValue: Value?

    init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }
}
