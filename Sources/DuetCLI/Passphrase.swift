import DuetDevice
import Foundation

/// Where the passphrase comes from (CLI.md): a no-echo prompt on the terminal, else
/// `DUET_PASSPHRASE`, else `--passphrase-file`. With none of them and no terminal: an error,
/// never a hang.
enum PassphraseSource {
    static func read(file: String?, prompt: String = "Passphrase: ") throws -> Passphrase {
        if let terminal = Terminal.open() {
            return Passphrase(try terminal.readSecret(prompt: prompt))
        }
        if let value = ProcessInfo.processInfo.environment["DUET_PASSPHRASE"] {
            return Passphrase(value)
        }
        if let file { return try fromFile(file) }
        throw InputError("no passphrase: run in a terminal, or set DUET_PASSPHRASE, or pass --passphrase-file PATH")
    }

    /// A passphrase kept in a file (scripts); a trailing newline from `echo` is not part of it.
    static func fromFile(_ file: String) throws -> Passphrase {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            throw InputError("cannot read the passphrase file \(file)")
        }
        return Passphrase(String(text.trimmingSuffix { $0 == "\n" || $0 == "\r" }))
    }

    /// The replacement passphrase for `duet passphrase`: asked twice on a terminal, else from
    /// `--new-passphrase-file`, else `DUET_NEW_PASSPHRASE`.
    static func readReplacement(file: String?) throws -> Passphrase {
        if Terminal.open() != nil { return try readNew(file: nil) }
        if let file { return try checked(fromFile(file)) }
        if let value = ProcessInfo.processInfo.environment["DUET_NEW_PASSPHRASE"] { return try checked(Passphrase(value)) }
        throw InputError("no new passphrase: run in a terminal, or pass --new-passphrase-file PATH, or set DUET_NEW_PASSPHRASE")
    }

    /// A new passphrase: asked twice on a terminal; taken once from the environment or a file.
    static func readNew(file: String?) throws -> Passphrase {
        if let terminal = Terminal.open() {
            let first = Passphrase(try terminal.readSecret(prompt: "New passphrase: "))
            let second = Passphrase(try terminal.readSecret(prompt: "Repeat it: "))
            guard first == second else { throw InputError("the two passphrases differ; nothing was changed") }
            return try checked(first)
        }
        return try checked(read(file: file))
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
        let descriptor = SystemCall.open("/dev/tty", O_RDWR | O_NOCTTY)
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
        while SystemCall.read(descriptor, &byte, 1) == 1, byte != 10 { bytes.append(byte) }
        defer { for index in bytes.indices { bytes[index] = 0 } }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw DeviceError.passphraseNotUTF8 }
        return text
    }

    func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = SystemCall.write(descriptor, &bytes, bytes.count)
    }
}
