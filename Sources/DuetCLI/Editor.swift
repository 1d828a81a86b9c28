import Foundation

/// The person's editor (`$VISUAL`, else `$EDITOR`), run the way git runs it (issue #16).
///
/// It runs in `duet`'s own process group, which the shell made the terminal's foreground group:
/// only that group may read the terminal or change its modes. Foundation's `Process` starts
/// every child in a new group of its own (POSIX_SPAWN_SETPGROUP on Linux), where the kernel
/// stops a terminal editor with SIGTTOU/SIGTTIN as soon as it touches the terminal: vim, vi and
/// nano hung, and Ctrl-C was the only way out. So the editor is started here with posix_spawn,
/// with no new group or session, every signal at its default and none blocked.
enum Editor {
    /// How the editor ended.
    enum Outcome: Equatable {
        case exited(Int32)
        case signaled(Int32)
    }

    /// `$VISUAL`, else `$EDITOR`; an empty one counts as unset.
    static func command(in environment: [String: String]) -> String? {
        for name in ["VISUAL", "EDITOR"] {
            if let value = environment[name], !value.trimmingCharacters(in: .whitespaces).isEmpty { return value }
        }
        return nil
    }

    /// Runs `command` on `path` through `/bin/sh -c '<command> "$1"'`, so that a command with
    /// arguments (`code --wait`, `vim -n`) works as in git, and waits for it to exit.
    static func run(_ command: String, on path: String) throws -> Outcome {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        guard posix_spawn_file_actions_init(&actions) == 0 else { throw InputError("cannot start the editor") }
        defer { posix_spawn_file_actions_destroy(&actions) }
        guard posix_spawnattr_init(&attributes) == 0 else { throw InputError("cannot start the editor") }
        defer { posix_spawnattr_destroy(&attributes) }

        // The terminal's input and output, also when duet's own are redirected
        // (`id=$(duet write)`): the editor draws on the terminal, not into the caller's pipe.
        let terminal = isatty(STDIN_FILENO) == 0 || isatty(STDOUT_FILENO) == 0
            ? SystemCall.open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC) : -1
        defer { if terminal >= 0 { close(terminal) } }
        if terminal >= 0 {
            for standard in [STDIN_FILENO, STDOUT_FILENO] where isatty(standard) == 0 {
                posix_spawn_file_actions_adddup2(&actions, terminal, standard)
            }
        }
        // Nothing else of duet's reaches the editor (the journal's database, the relay's socket).
        for descriptor in Descriptors.inheritable() where descriptor != terminal {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }

        var defaults = sigset_t(), none = sigset_t()
        sigemptyset(&defaults)
        sigemptyset(&none)
        for signal in [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &none)
        // No POSIX_SPAWN_SETPGROUP and no POSIX_SPAWN_SETSID: the editor stays in the foreground group.
        guard posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)) == 0 else {
            throw InputError("cannot start the editor")
        }

        let words: [String] = ["/bin/sh", "-c", "\(command) \"$1\"", "duet-editor", path]
        let arguments = words.map { strdup($0) }
        let environment = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") }
        defer { for pointer in arguments + environment { free(pointer) } }

        let saved = SignalCleanup.editorStarting()
        var pid: pid_t = 0
        let started = posix_spawn(&pid, "/bin/sh", &actions, &attributes, arguments + [nil], environment + [nil])
        guard started == 0 else {
            SignalCleanup.editorFinished(saved)
            throw InputError("cannot start the editor (\(String(cString: strerror(started)))); nothing was saved")
        }
        SignalCleanup.editorStarted(pid)
        // Waited for without reaping first, so that a signal passed on to the editor meanwhile
        // cannot reach another process that took its id.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
        SignalCleanup.editorFinished(saved)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // The wait status's layout (the WIFEXITED macros do not reach Swift): the low seven bits
        // are the signal that ended it, zero for a normal exit with its status in the next byte.
        return status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
    }
}
