/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `msbnetd run [OPTIONS] -- CMD [ARGS]`: run one command in a network
 * namespace of its own whose only link, tap0, leads to the plugin (like
 * `pasta -- CMD`).
 *
 *   parent (host netns)                child
 *   create instance, read addresses
 *   fork ------------------------------> mount ns (+user if not root):
 *                                        private resolv.conf, msbnetd's
 *                                        socket directories hidden;
 *                                        then user+net+mount+pid ns,
 *                                        create + configure tap0, /sys
 *   receive the tap fd <---------------- send the tap fd (SCM_RIGHTS)
 *   start(), control socket
 *   "go" -------------------------------> pid 1 of the new pid ns (a fresh
 *                                        msbnetd-init image) runs CMD as
 *                                        pid 2 (sandbox_init.c)
 *   pump frames, serve gRPC
 *   SIGCHLD: stop, exit with CMD's status
 *
 * CMD is root of its own user namespace only (mapped to msbnetd's uid,
 * without CAP_SYS_ADMIN): it holds no capability over the host's
 * namespaces, sees no host process, and finds nothing where msbnetd's
 * sockets are (netns.h, mount.h).  The namespaces die with CMD; tap0 dies
 * with the parent's fd.
 */
#define _GNU_SOURCE
#include "commands.h"
#include "direct.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "fdpass.h"
#include "grpc_listen.h"
#include "grpc_server.h"
#include "guestif.h"
#include "mount.h"
#include "netns.h"
#include "sandbox_env.h"
#include "sandbox_init.h"
#include "tap.h"

#define EXIT_CHILD_SETUP 125 /* like env(1)/chroot(1): our failure, not CMD's */

struct run_state {
    pid_t child;
    int status;
    bool exited;
    bool verbose;
    struct event_base *base;
    int go; /* our end of the socketpair: one message releases CMD */
    struct msbd_sandbox_env env; /* CMD's placeholders (sandbox_env.h) */
    char *ca_pem;                /* the sandbox CA for CMD's trust store, or NULL */
};

/* "g", then the CA certificate's PEM when there is one: one message. */
#define GO_MAX (64u * 1024u)

static void child_fail(const char *what)
{
    fprintf(stderr, "msbnetd run: %s\n", what);
    _exit(EXIT_CHILD_SETUP);
}

/* Nothing of msbnetd (plugin eventfds, the socketpair after the send)
 * leaks into the sandbox: every inherited fd above stderr closes at exec. */
static void cloexec_all(void)
{
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
}

/* What CMD must not find: directories where msbnetd sockets live. */
struct hidden {
    char dirs[3][256];
    const char *list[3];
    size_t n;
};

static void hide_dir(struct hidden *h, const char *dir)
{
    struct stat st;
    if (!dir || !*dir || h->n == 3 || stat(dir, &st) || !S_ISDIR(st.st_mode))
        return;
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->dirs[i], dir) == 0)
            return;
    snprintf(h->dirs[h->n], sizeof h->dirs[0], "%s", dir);
    h->list[h->n] = h->dirs[h->n];
    h->n++;
}

/* The control socket's own directory, every sandbox's default one, and the
 * user's runtime directory (its other daemons' sockets too).  0, or -1 when
 * the socket sits where it cannot be hidden. */
static int hidden_dirs(const struct msbd_opts *o, unsigned slot, struct hidden *h)
{
    char path[256];
    msbd_grpc_socket_path(path, sizeof path, o, slot);
    char *slash = strrchr(path, '/');
    if (!slash || slash == path) {
        fprintf(stderr, "msbnetd run: the control socket %s must be in a directory of its own "
                        "(it is hidden from the sandbox)\n", path);
        return -1;
    }
    *slash = '\0';
    memset(h, 0, sizeof *h);
    hide_dir(h, path);
    hide_dir(h, "/run/msbnet");
    hide_dir(h, getenv("XDG_RUNTIME_DIR"));
    return 0;
}

/* The namespaces and the filesystem view, in the order netns.h explains. */
static void child_namespaces(const struct msbd_addrs *a, const struct hidden *h)
{
    char err[512];
    bool root = geteuid() == 0;
    if (msbd_ns_outer(geteuid(), getegid(), err, sizeof err) ||
        msbd_mount_outer(a, h->list, h->n, err, sizeof err) ||
        msbd_ns_sandbox(root, err, sizeof err))
        child_fail(err);
}

/* Not root: the child is root of its own user namespace and makes tap0
 * itself, then passes its fd up. */
static void child_tap(const struct msbd_opts *o, const struct msbd_addrs *a, int sock)
{
    char err[512];
    struct msbd_tap_mode mode;
    int fd = msbd_tap_open(MSBD_TAP_NAME, msbd_opts_vnet_hdr(o), &mode);
    if (fd >= 0)
        msbd_tap_report(msbd_opts_vnet_hdr(o), o->verbose, &mode);
    if (fd < 0) {
        snprintf(err, sizeof err, "cannot create %s: %s", MSBD_TAP_NAME, strerror(-fd));
        child_fail(err);
    }
    if ((o->no_guest_config
             ? msbd_guestif_link_only(MSBD_TAP_NAME, a, err, sizeof err)
             : msbd_guestif_configure(MSBD_TAP_NAME, a, o->prefix4, o->prefix6, o->verbose, err,
                                      sizeof err)) ||
        msbd_mount_sandbox(err, sizeof err))
        child_fail(err);
    if (msbd_fd_send(sock, fd)) {
        snprintf(err, sizeof err, "cannot pass the tap fd: %s", strerror(errno));
        child_fail(err);
    }
    close(fd);
}

/* The go message, then CMD's placeholders and trust store. */
static void child_await_go(int sock, const struct msbd_sandbox_env *env)
{
    char *go = malloc(GO_MAX), err[512];
    ssize_t n = go ? read(sock, go, GO_MAX) : -1;
    if (n < 1 || go[0] != 'g')
        _exit(EXIT_CHILD_SETUP);
    if (msbd_sandbox_env_apply(env, n > 1 ? go + 1 : NULL, (size_t)n - 1, err, sizeof err))
        child_fail(err);
    free(go);
}

/* Runs in the forked child; never returns. */
static void child_main(const struct msbd_opts *o, const struct msbd_addrs *a, int sock,
                       pid_t parent, const struct hidden *h, const struct msbd_sandbox_env *env)
{
    char err[512];
    /* Without msbnetd the sandbox has no network: take CMD down with it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(EXIT_CHILD_SETUP);
    cloexec_all();
    bool root = geteuid() == 0;
    child_namespaces(a, h);
    if (!root) {
        child_tap(o, a, sock);
    } else if (msbd_mount_sandbox(err, sizeof err)) {
        child_fail(err);
    } else if (write(sock, "n", 1) != 1) {
        /* As nobody the child may not open /dev/net/tun: msbnetd makes
         * tap0 in the new namespace from outside, as `tap --netns` does. */
        _exit(EXIT_CHILD_SETUP);
    }
    /* CMD starts only once the stack runs, so its first packet already has
     * a network (and what it sees of msbnetd is msbnetd fully started). */
    child_await_go(sock, env);
    close(sock);
    msbd_fd_limit_restore();
    msbd_sandbox_exec(o->cmd);
}

/* Root: once the child says its namespaces exist, tap0 is made in its
 * network namespace from here. */
static int tap_from_outside(const struct msbd_opts *o, const struct msbd_addrs *a, int sock,
                            pid_t child)
{
    char ready, path[64];
    if (read(sock, &ready, 1) != 1) {
        errno = 0; /* the child said why */
        return -1;
    }
    snprintf(path, sizeof path, "/proc/%d/ns/net", (int)child);
    int fd = msbd_tap_in_netns(o, a, path, "run");
    errno = 0;
    return fd;
}

static int exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

/* Forks the child and waits for its tap fd.  Returns the fd, or -1 once the
 * child is reaped (its message is already on stderr). */
static int spawn(const struct msbd_opts *o, const struct msbd_addrs *a, unsigned slot,
                 struct run_state *rs)
{
    struct hidden h;
    if (hidden_dirs(o, slot, &h))
        return -1;
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp)) {
        perror("msbnetd run: socketpair");
        return -1;
    }
    pid_t parent = getpid();
    fflush(NULL); /* no stdio buffer is written twice */
    rs->child = fork();
    if (rs->child == 0) {
        close(sp[0]);
        child_main(o, a, sp[1], parent, &h, &rs->env);
    }
    close(sp[1]);
    int fd = rs->child < 0 ? -1 : geteuid() ? msbd_fd_recv(sp[0]) : tap_from_outside(o, a, sp[0], rs->child);
    int e = errno;
    rs->go = sp[0];
    if (rs->child < 0) {
        close(rs->go);
        perror("msbnetd run: fork");
        return -1;
    }
    if (fd < 0) {
        close(rs->go);
        if (e)
            fprintf(stderr, "msbnetd run: no tap fd from the child: %s\n", strerror(e));
        waitpid(rs->child, &rs->status, 0);
        rs->exited = true;
    }
    return fd;
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what;
    struct run_state *rs = arg;
    int status;
    pid_t r;
    /* Reap everything; only CMD (our one child) ends the run. */
    while ((r = waitpid(-1, &status, WNOHANG)) > 0) {
        if (r == rs->child) {
            rs->status = status;
            rs->exited = true;
        }
    }
    if (rs->exited)
        event_base_loopbreak(rs->base);
}

/* INT/TERM/HUP go to CMD; the run ends when CMD does, with its status. */
static void on_forward(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct run_state *rs = arg;
    if (rs->verbose)
        fprintf(stderr, "msbnetd run: forwarding signal %d to pid %d\n", (int)sig,
                (int)rs->child);
    kill(rs->child, (int)sig);
}

static int arm_signals(struct msbd_loop *l, struct run_state *rs)
{
    int rc = msbd_loop_on_signal(l, SIGCHLD, on_sigchld, rs);
    rc |= msbd_loop_on_signal(l, SIGINT, on_forward, rs);
    rc |= msbd_loop_on_signal(l, SIGTERM, on_forward, rs);
    rc |= msbd_loop_on_signal(l, SIGHUP, on_forward, rs);
    return rc;
}

/* Stops CMD when msbnetd itself cannot go on, and reaps it. */
static int abort_child(struct run_state *rs)
{
    if (!rs->exited) {
        kill(rs->child, SIGKILL);
        waitpid(rs->child, &rs->status, 0);
    }
    return 1;
}

/* CMD starts only once the stack and the control socket are up, so its
 * first packet has a network and a controller can already reach msbnetd. */
static int release_cmd(struct run_state *rs)
{
    size_t len = rs->ca_pem ? strlen(rs->ca_pem) : 0;
    char *msg = malloc(len + 1);
    if (msg) {
        msg[0] = 'g';
        if (len)
            memcpy(msg + 1, rs->ca_pem, len);
    }
    int rc = msg && len + 1 <= GO_MAX && write(rs->go, msg, len + 1) == (ssize_t)(len + 1) ? 0 : -1;
    free(msg);
    close(rs->go);
    rs->go = -1;
    return rc;
}

static int pump_until_exit(struct msbd_host *h, int fd, const struct msbd_opts *o,
                           const sigset_t *old, struct run_state *rs)
{
    struct msbd_transport t;
    int tap_rc = msbd_tap_transport(&t, fd, msbd_opts_vnet_hdr(o));
    t.plugin_io = h->direct_tap;
    struct msbd_loop l;
    int rc;
    if (tap_rc)
        fprintf(stderr, "msbnetd run: %s has a virtio-net header msbnetd cannot use\n",
                MSBD_TAP_NAME);
    if (tap_rc || msbd_loop_init(&l, h, &t, o->verbose)) {
        rc = abort_child(rs);
        msbd_host_close(h, NULL, false);
    } else {
        rs->base = l.base;
        rc = arm_signals(&l, rs) ? abort_child(rs) : 0;
        /* Before the signals are unblocked: grpc's threads inherit the mask. */
        struct msbd_grpc *g = rc ? NULL : msbd_grpc_start(l.base, h, o);
        if (!rc && (!g || release_cmd(rs)))
            rc = abort_child(rs);
        msbd_signals_restore(old); /* a SIGCHLD that came early fires now */
        if (!rc && event_base_dispatch(l.base) < 0)
            rc = abort_child(rs);
        /* The plugin stops first: records of the flows the stop ends reach the
         * flow log and open streams as the control plane closes. */
        msbd_host_stop(h);
        msbd_grpc_stop(g); /* uses the plugin: before the loop and host close */
        msbd_loop_close(&l, h, o->print_metrics);
        rc = rc ? rc : exit_code(rs->status);
    }
    if (rs->go >= 0)
        close(rs->go);
    t.close(&t);
    return rc;
}

/* Started, the CA (if any) is ready for CMD's trust store. */
static int start(struct msbd_host *h, struct run_state *rs)
{
    return msbd_host_start(h) || msbd_sandbox_env_ca_pem(h, &rs->ca_pem) ? -1 : 0;
}

static int run(struct msbd_host *h, const struct msbd_opts *o, struct run_state *rs)
{
    sigset_t old;
    msbd_signals_block(&old);
    int fd = spawn(o, &h->addrs, h->slot, rs);
    if (fd < 0) {
        msbd_host_close(h, NULL, false);
        msbd_signals_restore(&old);
        return rs->exited && exit_code(rs->status) != EXIT_CHILD_SETUP ? exit_code(rs->status) : 1;
    }
    msbd_direct_attach(h, fd, o);
    if (start(h, rs)) {
        close(rs->go);
        close(fd);
        abort_child(rs);
        msbd_host_close(h, NULL, false);
        return 1;
    }
    return pump_until_exit(h, fd, o, &old, rs);
}

int msbd_cmd_run(const struct msbd_opts *o)
{
    struct msbd_host h;
    struct run_state rs = {.verbose = o->verbose};
    int rc = msbd_host_open(&h, o);
    if (!rc)
        rc = msbd_sandbox_env_prepare(&rs.env, &h, o);
    if (rc) {
        msbd_host_close(&h, NULL, false);
        return rc;
    }
    signal(SIGPIPE, SIG_IGN);
    rc = run(&h, o, &rs);
    msbd_sandbox_env_free(&rs.env);
    free(rs.ca_pem);
    return rc;
}
