import ArgumentParser
import DuetCore
import DuetCrypto
import DuetStore
import Foundation

/// Options every command takes.
struct CommonOptions: ParsableArguments {
    @Option(help: "The device's data folder (default: $DUET_HOME, else $XDG_DATA_HOME/duet, else ~/.local/share/duet).")
    var home: String?

    @Option(help: "Read the passphrase from this file (for scripts; a terminal prompt or DUET_PASSPHRASE come first).")
    var passphraseFile: String?

    var resolvedHome: Home { Home.resolve(option: home) }

    /// Opens and unlocks the store, and applies what the daemon (or a sync) stored since.
    func unlock() throws -> UnlockedStore {
        let store = try Store.open(home: resolvedHome)
        return try applyingPending(try store.unlock(passphrase: try PassphraseSource.read(file: passphraseFile)))
    }
}

/// Opens and applies envelopes `duetd` verified and stored while the journal was locked: what
/// the partner wrote is readable as soon as a command unlocks. On a read-only home they wait.
func applyingPending(_ unlocked: UnlockedStore) throws -> UnlockedStore {
    do {
        try unlocked.materialise()
    } catch let error as StoreError where error.code == .readOnly || error.code == .diskFull {
        // Reading still works; what arrived is applied by the next command that can write.
    }
    return unlocked
}

/// Runs a command body; any failure becomes one `error: …` line on stderr and exit code 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        let message: String
        if let error = error as? StoreError { message = error.message }
        else if let error = error as? CryptoError { message = error.description }
        else if let error = error as? InputError { message = error.message }
        else { message = "\(error)" }
        FileHandle.standardError.write(Data("error: \(Sanitise.line(message))\n".utf8))
        throw ExitCode(1)
    }
}

struct InputError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Wall time in milliseconds since the epoch: the CLI is where time enters.
var nowMilliseconds: UInt64 { WallClock.milliseconds }

/// Parses a factor name, listing the five when it is not one.
func parseFactor(_ text: String) throws -> Factor {
    guard let factor = Factor(rawValue: text.lowercased()) else {
        throw InputError("unknown factor '\(Sanitise.line(text))'; the five are: \(Factor.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return factor
}

func parseMood(_ value: Int) throws -> UInt8 {
    guard (1...5).contains(value) else { throw InputError("mood must be from 1 to 5, not \(value)") }
    return UInt8(value)
}

func checkTag(_ tag: String) throws -> String {
    guard !tag.isEmpty, tag.utf8.count <= ChangeLimits.maximumTagBytes else {
        throw InputError("a tag must be 1 to \(ChangeLimits.maximumTagBytes) bytes")
    }
    return tag
}

func checkTitle(_ title: String) throws -> String {
    guard title.utf8.count <= ChangeLimits.maximumTitleBytes else {
        throw InputError("a title must be at most \(ChangeLimits.maximumTitleBytes) bytes")
    }
    return title
}

/// RFC 3339 in UTC, to the second.
func rfc3339(_ milliseconds: UInt64) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
}

/// How long ago `milliseconds` was, as a person says it ("just now", "3 s ago", "5 min ago",
/// "2 h ago"), and the time itself once it is a day or more.
func relativeTime(_ milliseconds: UInt64, now: UInt64) -> String {
    guard now >= milliseconds else { return rfc3339(milliseconds) }
    let seconds = (now - milliseconds) / 1000
    switch seconds {
    case 0: return "just now"
    case 1..<60: return "\(seconds) s ago"
    case 60..<3600: return "\(seconds / 60) min ago"
    case 3600..<86_400: return "\(seconds / 3600) h ago"
    default: return rfc3339(milliseconds)
    }
}

/// Parses `YYYY-MM-DD` (start of that day, UTC) or a full RFC 3339 time.
func parseDate(_ text: String) throws -> UInt64 {
    let full = ISO8601DateFormatter()
    if let date = full.date(from: text) { return UInt64(max(0, date.timeIntervalSince1970 * 1000)) }
    let day = ISO8601DateFormatter()
    day.formatOptions = [.withFullDate]
    day.timeZone = TimeZone(identifier: "UTC")
    if let date = day.date(from: text) { return UInt64(max(0, date.timeIntervalSince1970 * 1000)) }
    throw InputError("'\(Sanitise.line(text))' is not a date; use YYYY-MM-DD or an RFC 3339 time")
}

func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    FileHandle.standardOutput.write(try encoder.encode(value))
    FileHandle.standardOutput.write(Data("\n".utf8))
}
