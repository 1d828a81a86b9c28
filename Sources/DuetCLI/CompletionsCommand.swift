import ArgumentParser
import DuetDevice
import Foundation

/// `duet completions SHELL [--install]`: swift-argument-parser's completion script for bash, zsh
/// or fish, printed, or installed where that shell looks for a user's completions.
struct CompletionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "completions",
        abstract: "Print (or install) shell completions for duet: bash, zsh or fish.",
        discussion: """
            Printed to stdout by default, e.g. `source <(duet completions bash)` in ~/.bashrc. \
            With --install the script is written where the shell finds it by itself: bash \
            (with bash-completion) $XDG_DATA_HOME/bash-completion/completions/duet, fish \
            $XDG_CONFIG_HOME/fish/completions/duet.fish, zsh $XDG_DATA_HOME/zsh/site-functions/_duet \
            (add that folder to $fpath before compinit).
            """)

    @Argument(help: "bash, zsh or fish.", completion: .list(["bash", "zsh", "fish"])) var shell: String
    @Flag(help: "Write the script into the shell's completion folder instead of printing it.") var install = false

    func validate() throws {
        guard CompletionShell(rawValue: shell) != nil else { throw ValidationError("the shell is bash, zsh or fish") }
    }

    func run() throws {
        try reportingErrors {
            guard let completionShell = CompletionShell(rawValue: shell) else { throw ValidationError("the shell is bash, zsh or fish") }
            let script = DuetCommand.completionScript(for: completionShell)
            guard install else { return writeOut(Data(script.utf8)) }
            let destination = Self.installPath(for: completionShell, environment: ProcessInfo.processInfo.environment)
            try Self.installScript(script, at: destination)
            print("Installed \(shell) completions in \(destination).")
            if completionShell == .zsh {
                print("Add `fpath=(\((destination as NSString).deletingLastPathComponent) $fpath)` before `compinit` in ~/.zshrc.")
            }
        }
    }

    /// Where each shell looks for one user's completions (bash-completion ≥ 2.8, fish ≥ 3; zsh
    /// has no such folder, so one under XDG_DATA_HOME that `fpath` is told about).
    static func installPath(for shell: CompletionShell, environment: [String: String]) -> String {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        let data = environment["XDG_DATA_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? home + "/.local/share"
        let config = environment["XDG_CONFIG_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? home + "/.config"
        switch shell {
        case .fish: return config + "/fish/completions/duet.fish"
        case .zsh: return data + "/zsh/site-functions/_duet"
        default: return data + "/bash-completion/completions/duet"
        }
    }

    /// Replaces the script whole: written beside it, then renamed, so a shell starting meanwhile
    /// reads the old script or the new one, never half of one.
    static func installScript(_ script: String, at destination: String) throws {
        let folder = (destination as NSString).deletingLastPathComponent
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw InputError("cannot create \(folder)")
        }
        let temporary = folder + "/.duet-completion-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(script.utf8), attributes: [.posixPermissions: 0o644]) else {
            throw InputError("cannot write in \(folder)")
        }
        guard rename(temporary, destination) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw InputError("cannot install \(destination): \(reason)")
        }
    }
}

extension CompletionKind {
    /// The five things partners give each other, for every `--factor`-like option.
    static var factors: CompletionKind { .list(EntryRules.factorNames) }
}
