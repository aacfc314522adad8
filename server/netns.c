/* SPDX-License-Identifier: Apache-2.0 */
/* Namespaces (netns.h): entering a network namespace for a moment, and the
 * two steps of user, mount, network and pid namespaces `run` gives CMD. */
#define _GNU_SOURCE
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

static int sys_fail(char *err, size_t errlen, const char *what, const char *arg)
{
    snprintf(err, errlen, "%s %s: %s", what, arg, strerror(errno));
    return -1;
}

int msbd_netns_enter(const char *path, int *orig, char *err, size_t errlen)
{
    *orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (*orig < 0)
        return sys_fail(err, errlen, "cannot open", "/proc/self/ns/net");
    int target = open(path, O_RDONLY | O_CLOEXEC);
    if (target < 0) {
        sys_fail(err, errlen, "cannot open network namespace", path);
        close(*orig);
        return -1;
    }
    int rc = setns(target, CLONE_NEWNET);
    if (rc)
        sys_fail(err, errlen, "cannot enter network namespace", path);
    close(target);
    if (rc)
        close(*orig);
    return rc ? -1 : 0;
}

int msbd_netns_leave(int orig, char *err, size_t errlen)
{
    int rc = setns(orig, CLONE_NEWNET);
    if (rc)
        sys_fail(err, errlen, "cannot return to the original network namespace", "");
    close(orig);
    return rc ? -1 : 0;
}

static int write_file(const char *path, const char *text, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return sys_fail(err, errlen, "cannot open", path);
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : sys_fail(err, errlen, "cannot write", path);
}

/* Maps root inside a fresh user namespace to `uid`/`gid` of the namespace
 * above: the only mapping an unprivileged process may write for itself
 * (its own ids, once, with setgroups denied first: user_namespaces(7)).
 * One id only, so root inside owns nothing of the host but what that one
 * id owns. */
static int write_maps(uid_t uid, gid_t gid, char *err, size_t errlen)
{
    char line[64];
    if (write_file("/proc/self/setgroups", "deny", err, errlen))
        return -1;
    snprintf(line, sizeof line, "0 %u 1\n", (unsigned)uid);
    if (write_file("/proc/self/uid_map", line, err, errlen))
        return -1;
    snprintf(line, sizeof line, "0 %u 1\n", (unsigned)gid);
    return write_file("/proc/self/gid_map", line, err, errlen);
}

/* msbnetd is not dumpable (main.c), and a non-dumpable process's
 * /proc/self files belong to the host's root: without root on the host it
 * could not write its own maps (EACCES on setgroups).  Dumpable only while
 * writing them: this is the setup child, before CMD exists. */
static int map_ids(uid_t uid, gid_t gid, char *err, size_t errlen)
{
    int was = prctl(PR_GET_DUMPABLE);
    prctl(PR_SET_DUMPABLE, 1);
    int rc = write_maps(uid, gid, err, errlen);
    prctl(PR_SET_DUMPABLE, was > 0 ? was : 0);
    return rc;
}

int msbd_ns_outer(uid_t outer_uid, gid_t outer_gid, char *err, size_t errlen)
{
    int flags = CLONE_NEWNS;
    if (outer_uid != 0)
        flags |= CLONE_NEWUSER; /* to be allowed to mount at all */
    if (unshare(flags))
        return sys_fail(err, errlen, "unshare",
                        outer_uid ? "(user, mount namespaces)" : "(mount namespace)");
    return outer_uid ? map_ids(outer_uid, outer_gid, err, errlen) : 0;
}

/* Real root gives up its host identity before the sandbox's user namespace
 * exists: root inside then maps to nobody outside.  Mapped to host root,
 * CMD would pass every "uid 0" check of the host that asks for no
 * capability (root-owned files, many sysctls).  The parent-death signal
 * does not survive a change of credentials: it is set again. */
static int become_nobody(char *err, size_t errlen)
{
    if (setgroups(0, NULL) || setresgid(MSBD_SANDBOX_GID, MSBD_SANDBOX_GID, MSBD_SANDBOX_GID) ||
        setresuid(MSBD_SANDBOX_UID, MSBD_SANDBOX_UID, MSBD_SANDBOX_UID))
        return sys_fail(err, errlen, "cannot become", "nobody for the sandbox");
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Writing our own id maps needs /proc/self owned by us again. */
    prctl(PR_SET_DUMPABLE, 1);
    return 0;
}

int msbd_ns_sandbox(bool as_root, char *err, size_t errlen)
{
    if (as_root && become_nobody(err, errlen))
        return -1;
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS |
                CLONE_NEWIPC))
        return sys_fail(err, errlen, "unshare", "(user, network, mount, pid, UTS, IPC namespaces)");
    return map_ids(uid, gid, err, errlen);
}
