import DuetDevice
import Foundation

/// Where a body comes from: `-m`, `--file`, standard input when it is not a terminal and not
/// empty, else the editor (`$VISUAL`, `$EDITOR`) on a temporary file in the home's private
/// scratch folder.
enum BodyInput {
    static func read(message: String?, file: String?, home: String, initial: String = "") throws -> String? {
        if let message { return message }
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw InputError("cannot read \(file)")
            }
            return try checked(data)
        }
        if isatty(STDIN_FILENO) == 0 {
            // Empty input (a script with stdin closed, /dev/null) is "no text given", never
            // "replace the body with nothing": `-m ""` says that explicitly.
            let data = FileHandle.standardInput.readDataToEndOfFile()
            if !data.isEmpty { return try checked(data) }
        }
        return try edit(initial: initial, home: home)
    }

    static func checked(_ data: Data) throws -> String {
        try EntryRules.text(utf8: data)
    }

    /// Opens the editor on `initial`. The file lives in a 0700 folder inside the home and is
    /// removed afterwards, whatever happens; the editor itself may keep swap or backup files.
    static func edit(initial: String, home: String) throws -> String? {
        let environment = ProcessInfo.processInfo.environment
        guard let editor = environment["VISUAL"].flatMap({ $0.isEmpty ? nil : $0 })
                ?? environment["EDITOR"].flatMap({ $0.isEmpty ? nil : $0 }) else {
            throw InputError("no text given: use -m TEXT, --file PATH, pipe it on stdin, or set $EDITOR")
        }
        let folder = Device.scratchFolder(home: home)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let path = folder + "/entry-\(getpid()).md"
        guard FileManager.default.createFile(atPath: path, contents: Data(initial.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw InputError("cannot create a temporary file in \(folder)")
        }
        defer { try? FileManager.default.removeItem(atPath: path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "\(editor) \"$1\"", "duet-editor", path]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw InputError("the editor exited with status \(process.terminationStatus); nothing was saved") }
        guard let data = FileManager.default.contents(atPath: path) else { throw InputError("the editor's file disappeared; nothing was saved") }
        return try checked(data)
    }
}
