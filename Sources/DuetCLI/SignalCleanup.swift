import DuetDevice
import Foundation
import Synchronization

/// What a signal does to `duet` while the editor's file holds an entry's plaintext (issue #16):
/// a closed terminal (SIGHUP), Ctrl-C outside the editor (SIGINT) or a `kill` (SIGTERM) used to
/// end the process with the file still in `scratch/`. While armed, those signals remove the
/// file (and what the editor kept beside it) and end `duet` with status 128 + the signal, as the
/// shell reports a death by that signal. A signal ignored when `duet` started (`nohup`) stays
/// ignored.
///
/// The handler itself only writes the signal's number to a pipe (`write` is async-signal-safe;
/// almost nothing else is, Swift's runtime included); a thread of its own reads the pipe and does
/// the work. While the editor runs, SIGINT and SIGQUIT are ignored, as git does: Ctrl-C and
/// Ctrl-\ go to the whole foreground process group, and they are the editor's to handle (vim
/// cancels a command). SIGHUP and SIGTERM are passed on to the editor, which gets a moment to
/// exit (vim then writes its recovery file, which is removed too) before its file is removed.
enum SignalCleanup {
    private static let handled: [Int32] = [SIGHUP, SIGINT, SIGTERM]
    /// How long an editor may take to exit on a passed-on SIGHUP or SIGTERM.
    private static let editorGrace: DispatchTimeInterval = .seconds(3)

    private struct State {
        var home: String?
        var previous: [Int32: sigaction] = [:]
        var editor: pid_t?
        var editorGone: DispatchSemaphore?
        /// A signal is being acted on: the main thread must not go on (to report the editor's
        /// death by that signal as an ordinary failure, or to write the entry).
        var stopping = false
        /// What a signal does with the text the editor saved before the file is removed: kept
        /// sealed as a draft (the journal is unlocked before the editor opens), so that a closed
        /// terminal costs no saved words (issue #16 item 2).
        var rescue: Rescue?
    }

    /// The text a signal keeps: the editor's file while it runs (what it saved, if it differs
    /// from what it started as), then the text itself until it is written.
    struct Rescue {
        enum Source {
            case file(path: String, initial: Data)
            case text(Data)
        }
        let source: Source
        let keep: @Sendable (Data) -> Bool

        var saved: Data? {
            switch source {
            case .file(let path, let initial):
                guard let saved = FileManager.default.contents(atPath: path), !saved.isEmpty, saved != initial else { return nil }
                return saved
            case .text(let text): return text.isEmpty ? nil : text
            }
        }
    }

    /// Names the text to keep if a signal comes before the file is removed.
    static func keepOnSignal(_ rescue: Rescue) {
        state.withLock { $0.rescue = rescue }
    }

    /// From the editor's end until the text is written or kept (``disarm()``): a signal keeps
    /// `text` as a draft. The handlers the editor's file installed stay in place between the two
    /// (``ScratchFile/remove(keepingHandlers:)``), so no moment is left uncovered.
    static func keepUntilWritten(home: String, text: Data, keep: @escaping @Sendable (Data) -> Bool) throws {
        try arm(home: home)
        state.withLock { $0.rescue = Rescue(source: .text(text), keep: keep) }
    }
    private static let state = Mutex(State())
    /// The pipe's write end, -1 until the watcher runs: the one thing the handler reads.
    fileprivate static let reports = Atomic<Int32>(-1)
    private static let watcher = Mutex(false)

    /// Installs the handlers for a scratch file of this process in `home`'s scratch folder.
    static func arm(home: String) throws {
        try startWatcher()
        state.withLock { state in
            state.home = home
            for signal in handled where state.previous[signal] == nil {
                var previous = sigaction()
                guard sigaction(signal, nil, &previous) == 0, !isIgnored(previous) else { continue }
                var action = sigaction()
                setHandler(&action, reportSignal)
                sigemptyset(&action.sa_mask)
                // Restarted system calls: the main thread's waitid and reads go on; the
                // watcher thread acts.
                action.sa_flags = SA_RESTART
                if sigaction(signal, &action, nil) == 0 { state.previous[signal] = previous }
            }
        }
    }

    /// Restores the dispositions `arm` replaced: the file is gone.
    static func disarm() {
        haltIfStopping()
        state.withLock { state in
            for (signal, previous) in state.previous {
                var previous = previous
                sigaction(signal, &previous, nil)
            }
            state.previous = [:]
            state.home = nil
            state.rescue = nil
        }
    }

    /// Ignores SIGINT and SIGQUIT until ``editorFinished(_:)``; the editor is started with
    /// every signal at its default (``Editor``), so it gets them.
    static func editorStarting() -> [Int32: sigaction] {
        var saved: [Int32: sigaction] = [:]
        for signal in [SIGINT, SIGQUIT] {
            var ignore = sigaction()
            setHandler(&ignore, SIG_IGN)
            sigemptyset(&ignore.sa_mask)
            var previous = sigaction()
            if sigaction(signal, &ignore, &previous) == 0 { saved[signal] = previous }
        }
        return saved
    }

    static func editorStarted(_ pid: pid_t) {
        state.withLock { state in
            state.editor = pid
            state.editorGone = DispatchSemaphore(value: 0)
        }
    }

    /// The editor has exited (not yet reaped, so its id cannot be reused while a signal is
    /// passed on to it); SIGINT and SIGQUIT are handled as before it started.
    static func editorFinished(_ saved: [Int32: sigaction]) {
        let gone = state.withLock { state in
            defer {
                state.editor = nil
                state.editorGone = nil
            }
            return state.editorGone
        }
        gone?.signal()
        haltIfStopping()
        for (signal, previous) in saved {
            var previous = previous
            sigaction(signal, &previous, nil)
        }
    }

    /// Parks the calling thread for good once a signal is being acted on: the watcher exits
    /// the process in a moment.
    private static func haltIfStopping() {
        guard state.withLock({ $0.stopping }) else { return }
        while true { pause() }
    }

    private static func startWatcher() throws {
        try watcher.withLock { started in
            guard !started else { return }
            var ends: [Int32] = [-1, -1]
            guard pipe(&ends) == 0 else { throw InputError("cannot prepare the editor's file (no pipe: \(String(cString: strerror(errno))))") }
            // Neither end may reach the editor.
            _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
            reports.store(ends[1], ordering: .releasing)
            let readEnd = ends[0]
            Thread.detachNewThread { watch(readEnd) }
            started = true
        }
    }

    private static func watch(_ descriptor: Int32) {
        var byte: UInt8 = 0
        while true {
            let count = SystemCall.read(descriptor, &byte, 1)
            if count == 1 { stop(by: Int32(byte)) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return }
        }
    }

    /// Passes the signal on to a running editor, waits a moment for it, removes this process's
    /// scratch files and exits.
    private static func stop(by signal: Int32) -> Never {
        let (editor, gone, home, rescue) = state.withLock { state in
            state.stopping = true
            return (state.editor, state.editorGone, state.home, state.rescue)
        }
        if let editor {
            // The editor runs under `sh -c`, which does not pass signals on and may not exec
            // it: the shell's descendants get the signal too, and are waited for.
            let descendants = descendants(of: editor)
            for process in [editor] + descendants { kill(process, signal) }
            let deadline = DispatchTime.now() + editorGrace
            _ = gone?.wait(timeout: deadline)
            while descendants.contains(where: isAlive) && DispatchTime.now() < deadline { usleep(10_000) }
        }
        // What the editor saved (it had a moment to exit), kept before its file goes.
        var kept = false
        if let rescue, let saved = rescue.saved { kept = rescue.keep(saved) }
        if let home { ScratchFolder.removeFiles(of: getpid(), home: home) }
        let name = [SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGTERM: "SIGTERM"][signal] ?? "signal \(signal)"
        let outcome = kept ? "your text is kept, sealed, as a draft (`duet draft list`)"
            : home == nil ? "nothing was written" : "the editor's file was removed"
        var line = Array("error: stopped by \(name); \(outcome)\n".utf8)
        _ = SystemCall.write(STDERR_FILENO, &line, line.count)
        _exit(128 + signal)
    }

    /// The processes below `pid`, from Linux's /proc (none elsewhere: then only the shell is
    /// signalled). Bounded: an editor is a handful of processes.
    private static func descendants(of pid: pid_t) -> [pid_t] {
        var found: [pid_t] = []
        var next = [pid]
        while let parent = next.popLast(), found.count < 64 {
            let path = "/proc/\(parent)/task/\(parent)/children"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            let children = text.split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            found += children.filter { $0 > 1 }
            next += children.filter { $0 > 1 }
        }
        return Array(found.prefix(64))
    }

    /// Whether `pid` still runs: it exists and, where /proc says, is not a zombie (an orphaned
    /// editor's exit waits for a parent that may not reap it soon).
    private static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let afterName = stat.range(of: ") ", options: .backwards)?.upperBound else { return true }
        return stat[afterName...].first != "Z"
    }

    private static func isIgnored(_ action: sigaction) -> Bool {
        #if canImport(Glibc)
        let handler = action.__sigaction_handler.sa_handler
        #else
        let handler = action.__sigaction_u.__sa_handler
        #endif
        return unsafeBitCast(handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
    }

    private static func setHandler(_ action: inout sigaction, _ handler: (@convention(c) (Int32) -> Void)?) {
        #if canImport(Glibc)
        action.__sigaction_handler.sa_handler = handler
        #else
        action.__sigaction_u.__sa_handler = handler
        #endif
    }
}

/// The signal handler: the signal's number down the pipe, errno as it was. Nothing else: a
/// handler interrupts the process anywhere, holding any lock.
private let reportSignal: @convention(c) (Int32) -> Void = { signal in
    let saved = errno
    var byte = UInt8(truncatingIfNeeded: signal)
    _ = SystemCall.write(SignalCleanup.reports.load(ordering: .acquiring), &byte, 1)
    errno = saved
}
