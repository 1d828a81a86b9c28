#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
@preconcurrency import Darwin
#endif

/// What `duet` printed must have reached its standard output, or the command fails (found by
/// the new-user trial: `duet write > full-disk-file` made the entry, lost its id and exited 0;
/// `list`, `show`, `status` were silent too). `print` goes through C's buffered stdout, so a
/// failure shows only when the buffer is flushed: at the end, here.
public enum StandardOutput {
    /// Refuses to run with standard output closed (`duet write >&-`): the next file the command
    /// opened would get its descriptor, and what it printed would land in that file.
    public static func refuseIfClosed() {
        guard fcntl(STDOUT_FILENO, F_GETFD) == -1 else { return }
        fputs("error: standard output is closed; nothing was done (redirect it to /dev/null to discard what duet prints)\n", stderr)
        exit(2)
    }

    /// Sends what was printed now (a pairing code must show while the command waits for the
    /// partner); a failure stays recorded in the stream for ``flushOrFail()``. `FileHandle`'s
    /// `write(_:)`, used before, trapped on a full disk.
    public static func flushNow() { fflush(stdout) }

    /// Flushes standard output; if anything printed did not get there, says so and exits 1.
    public static func flushOrFail() {
        guard fflush(stdout) != 0 || ferror(stdout) != 0 else { return }
        fputs("error: could not write everything to standard output (the disk is full or the output was closed); the command was carried out, but what it printed is incomplete\n", stderr)
        exit(1)
    }
}
