import DuetDevice
import Foundation

/// Where the passphrase comes from (issue #16): the unlock agent (`duet unlock`), else
/// `--passphrase-file`, else `DUET_PASSPHRASE`, else a no-echo prompt on the terminal, asked up
/// to three times. A file or the environment is used also when a terminal is there: a script
/// that sets one means it. With none of them: an error, never a hang.
enum PassphraseSource {
    /// How many times the terminal asks before giving up.
    static let terminalTries = 3

    /// Opens and unlocks `device` with the first source that has a passphrase (or key).
    static func unlock(_ device: Device, file: String?, prompt: String = "Passphrase: ") throws -> UnlockedDevice {
        if let key = AgentClient.key(home: device.home) {
            do { return try device.unlock(key) } catch DeviceError.wrongPassphrase {
                // The passphrase changed since `duet unlock` (on this journal or a copy of it).
                AgentClient.lock(home: device.home)
                FileHandle.standardError.write(Data("note: the unlock agent's key no longer opens this journal; it is locked\n".utf8))
            }
        }
        return try withPassphrase(file: file, prompt: prompt) { passphrase in try device.unlock(passphrase) }
    }

    /// Unlocks with a passphrase given now, never the agent's key: for what gives lasting
    /// access or changes who belongs (linking or revoking a device, pairing). Whoever finds the
    /// session unlocked may read the journal meanwhile, not let another device in.
    static func typed(_ device: Device, file: String?) throws -> UnlockedDevice {
        try withPassphrase(file: file) { passphrase in try device.unlock(passphrase) }
    }

    /// Gives `use` the passphrase from the file, the environment or the terminal; on the
    /// terminal a wrong one (``DeviceError/wrongPassphrase`` from `use`) is asked again.
    static func withPassphrase<Value>(file: String?, prompt: String = "Passphrase: ",
                                      _ use: (Passphrase) throws -> Value) throws -> Value {
        if let file { return try use(fromFile(file)) }
        if let value = ProcessInfo.processInfo.environment["DUET_PASSPHRASE"], !value.isEmpty { return try use(Passphrase(value)) }
        guard let terminal = Terminal.open() else {
            throw InputError("no passphrase: run `duet unlock` in a terminal first, or set DUET_PASSPHRASE, or pass --passphrase-file PATH")
        }
        for attempt in 1...terminalTries {
            // "Passphrase (try 2 of 3): " after a wrong one.
            let asked = attempt == 1 ? prompt : String(prompt.trimmingSuffix { $0 == " " || $0 == ":" }) + " (try \(attempt) of \(terminalTries)): "
            let passphrase = Passphrase(try terminal.readSecret(prompt: asked))
            do { return try use(passphrase) } catch DeviceError.wrongPassphrase {
                if attempt < terminalTries { terminal.write("Wrong passphrase.\n") }
            }
        }
        throw InputError("wrong passphrase (\(terminalTries) tries); nothing was changed")
    }

    /// A passphrase kept in a file (scripts); a trailing newline from `echo` is not part of it.
    static func fromFile(_ file: String) throws(DeviceError) -> Passphrase {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            throw .storage(detail: "cannot read the passphrase file \(file)")
        }
        return Passphrase(String(text.trimmingSuffix { $0 == "\n" || $0 == "\r" }))
    }

    /// The replacement passphrase for `duet passphrase`: from `--new-passphrase-file`, else
    /// `DUET_NEW_PASSPHRASE`, else asked twice on the terminal.
    static func readReplacement(file: String?) throws -> Passphrase {
        if let file { return try checked(fromFile(file)) }
        if let value = ProcessInfo.processInfo.environment["DUET_NEW_PASSPHRASE"], !value.isEmpty { return try checked(Passphrase(value)) }
        guard let terminal = Terminal.open() else {
            throw InputError("no new passphrase: run in a terminal, or pass --new-passphrase-file PATH, or set DUET_NEW_PASSPHRASE")
        }
        return try askedTwice(on: terminal)
    }

    /// A new journal's passphrase: from the file, else `DUET_PASSPHRASE`, else asked twice on the terminal.
    static func readNew(file: String?) throws -> Passphrase {
        if let file { return try checked(fromFile(file)) }
        if let value = ProcessInfo.processInfo.environment["DUET_PASSPHRASE"], !value.isEmpty { return try checked(Passphrase(value)) }
        guard let terminal = Terminal.open() else {
            throw InputError("no passphrase: run in a terminal, or set DUET_PASSPHRASE, or pass --passphrase-file PATH")
        }
        return try askedTwice(on: terminal)
    }

    private static func askedTwice(on terminal: Terminal) throws -> Passphrase {
        let first = Passphrase(try terminal.readSecret(prompt: "New passphrase: "))
        let second = Passphrase(try terminal.readSecret(prompt: "Repeat it: "))
        guard first == second else { throw InputError("the two passphrases differ; nothing was changed") }
        return try checked(first)
    }

    private static func checked(_ passphrase: Passphrase) throws -> Passphrase {
        guard passphrase.isLongEnough else { throw DeviceError.passphraseTooShort(minimum: Passphrase.minimumLength) }
        return passphrase
    }
}

extension StringProtocol {
    func trimmingSuffix(while predicate: (Character) -> Bool) -> SubSequence {
        var end = endIndex
        while end > startIndex, predicate(self[index(before: end)]) { end = index(before: end) }
        return self[startIndex..<end]
    }
}

/// The controlling terminal, for prompts that must not come from (or echo to) pipes.
struct Terminal {
    let descriptor: Int32

    static func open() -> Terminal? {
        let descriptor = SystemCall.open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        return Terminal(descriptor: descriptor)
    }

    func readSecret(prompt: String) throws -> String {
        write(prompt)
        var original = termios()
        let hasAttributes = tcgetattr(descriptor, &original) == 0
        if hasAttributes {
            var silent = original
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(descriptor, TCSAFLUSH, &silent)
        }
        defer {
            if hasAttributes { var restore = original; tcsetattr(descriptor, TCSAFLUSH, &restore) }
            write("\n")
        }
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        // A passphrase is a line; 4 KiB is far past any, and keeps a stream without a newline bounded.
        while bytes.count < 4096, SystemCall.read(descriptor, &byte, 1) == 1, byte != 10 { bytes.append(byte) }
        defer { for index in bytes.indices { bytes[index] = 0 } }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw DeviceError.passphraseNotUTF8 }
        return text
    }

    func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = SystemCall.write(descriptor, &bytes, bytes.count)
    }
}
