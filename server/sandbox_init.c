/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The processes between msbnetd and CMD in `run`.  After msbd_ns_sandbox
 * the setup child is outside the new pid namespace; its first child is pid
 * 1 inside it.  That init mounts a /proc of the new namespace (so CMD sees
 * no host process, and no host process's /proc/PID/root), re-executes
 * msbnetd as "msbnetd-init" (a fresh image: no copy of the daemon's memory
 * stays next to CMD), starts CMD as pid 2 without CAP_SYS_ADMIN (so CMD
 * cannot unmount what hides the host from it), forwards INT/TERM/HUP to it
 * (a pid 1 ignores signals it has no handler for, which CMD must not),
 * reaps orphans, and exits with CMD's status; the kernel then ends whatever
 * CMD left behind.  The setup child forwards the same signals to init and
 * exits with its status, so msbnetd sees CMD's status as before.
 */
#define _GNU_SOURCE
#include "sandbox_init.h"

#include <errno.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount.h"

#define EXIT_SETUP 125
#define EXIT_EXEC 127

static volatile pid_t forward_to = -1;

static void forward(int sig)
{
    if (forward_to > 0)
        kill(forward_to, sig);
}

static void catch_forwarded(void)
{
    struct sigaction sa = {.sa_handler = forward};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* The forwarded signals back to their defaults, everything unblocked. */
static void default_signals(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* A child's status as an exit code: 128+N for a signal, as shells do. */
static int code_of(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
}

/* Waits for `child` with signals forwarded to it; other children (orphans
 * of the namespace, for pid 1) are reaped on the way. */
static int wait_forwarding(pid_t child)
{
    /* Signals stayed blocked since msbnetd forked: any that came early
     * are delivered now, to the child. */
    forward_to = child;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (;;) {
        int status;
        pid_t r = wait(&status);
        if (r == child)
            return code_of(status);
        if (r < 0 && errno != EINTR)
            return 1;
    }
}

static void exec_cmd(char **cmd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    default_signals();
    /* Root of its own user namespace, minus CAP_SYS_ADMIN: it keeps what a
     * network sandbox needs (raw sockets, its own interfaces and routes),
     * but cannot unmount the /proc and hidden directories it was given. */
    if (prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0)) {
        fprintf(stderr, "msbnetd run: dropping CAP_SYS_ADMIN: %s\n", strerror(errno));
        _exit(EXIT_SETUP);
    }
    execvp(cmd[0], cmd);
    fprintf(stderr, "msbnetd run: cannot run %s: %s\n", cmd[0], strerror(errno));
    _exit(EXIT_EXEC);
}

/* pid 1, after its exec: nothing of msbnetd's memory or arguments left. */
int msbd_sandbox_init_main(char **cmd)
{
    if (!cmd[0]) {
        fprintf(stderr, "msbnetd-init: no command\n");
        return EXIT_SETUP;
    }
    catch_forwarded();
    pid_t pid = fork();
    if (pid == 0)
        exec_cmd(cmd);
    if (pid < 0)
        return EXIT_SETUP;
    return wait_forwarding(pid);
}

/* The fork that becomes pid 1: a /proc of the new namespace, then a fresh
 * image of msbnetd as "msbnetd-init", so CMD's one ancestor in its
 * namespace holds no copy of the daemon's memory (secrets, options). */
static void become_init(char **cmd)
{
    char err[256];
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (msbd_mount_proc(err, sizeof err)) {
        fprintf(stderr, "msbnetd run: %s\n", err);
        _exit(EXIT_SETUP);
    }
    size_t n = 0;
    while (cmd[n])
        n++;
    char **argv = calloc(n + 2, sizeof *argv);
    if (!argv)
        _exit(EXIT_SETUP);
    argv[0] = (char *)MSBD_INIT_NAME;
    memcpy(argv + 1, cmd, n * sizeof *cmd);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "msbnetd run: cannot start the sandbox's init: %s\n", strerror(errno));
    _exit(EXIT_SETUP);
}

void msbd_sandbox_exec(char **cmd)
{
    catch_forwarded();
    pid_t init = fork();
    if (init == 0)
        become_init(cmd);
    if (init < 0) {
        perror("msbnetd run: fork");
        _exit(EXIT_SETUP);
    }
    _exit(wait_forwarding(init));
}
