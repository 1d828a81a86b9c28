// A pseudo-terminal for tests that drive a real terminal program (issue #16: `duet write` with
// vim). In C because Swift's Glibc module imports neither posix_openpt/grantpt/unlockpt/ptsname
// (they need _XOPEN_SOURCE) nor POSIX_SPAWN_SETSID (a GNU extension). Tests only.
#ifndef DUET_PSEUDO_TERMINAL_H
#define DUET_PSEUDO_TERMINAL_H

#include <stddef.h>
#include <sys/types.h>

/// Opens a new pseudo-terminal of `rows` x `columns` and returns its controller side (close-on-exec,
/// not this process's controlling terminal), with the path of the program's side in `path`
/// (`size` bytes); -1 with errno set on failure.
int duet_pty_open(unsigned short rows, unsigned short columns, char *path, size_t size);

/// Starts `executable` as the leader of a new session whose controlling terminal is the one
/// at `path` (its standard input, output and error), with every signal at its default and
/// none blocked, as a login shell would start it. 0 and the child's id in `pid`, else an errno.
int duet_pty_spawn(pid_t *pid, const char *executable, char *const arguments[], char *const environment[],
                   const char *path);

#endif
