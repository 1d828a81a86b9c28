#define _GNU_SOURCE
#include "pseudo_terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

int duet_pty_open(unsigned short rows, unsigned short columns, char *path, size_t size) {
    int controller = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (controller < 0) return -1;
    struct winsize window = { .ws_row = rows, .ws_col = columns };
    if (grantpt(controller) != 0 || unlockpt(controller) != 0 || ptsname_r(controller, path, size) != 0
        || ioctl(controller, TIOCSWINSZ, &window) != 0) {
        int saved = errno;
        close(controller);
        errno = saved;
        return -1;
    }
    return controller;
}

int duet_pty_spawn(pid_t *pid, const char *executable, char *const arguments[], char *const environment[],
                   const char *path) {
    posix_spawnattr_t attributes;
    posix_spawn_file_actions_t actions;
    int result = posix_spawnattr_init(&attributes);
    if (result != 0) return result;
    result = posix_spawn_file_actions_init(&actions);
    if (result != 0) { posix_spawnattr_destroy(&attributes); return result; }

    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    // A new session has no controlling terminal; the first terminal its leader opens without
    // O_NOCTTY becomes it, and the session's process group its foreground group.
    if (result == 0) result = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (result == 0) result = posix_spawnattr_setsigmask(&attributes, &none);
    if (result == 0) result = posix_spawnattr_setsigdefault(&attributes, &all);
    if (result == 0) result = posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, path, O_RDWR, 0);
    if (result == 0) result = posix_spawn_file_actions_adddup2(&actions, STDIN_FILENO, STDOUT_FILENO);
    if (result == 0) result = posix_spawn_file_actions_adddup2(&actions, STDIN_FILENO, STDERR_FILENO);
    if (result == 0) result = posix_spawn(pid, executable, &actions, &attributes, arguments, environment);

    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    return result;
}
