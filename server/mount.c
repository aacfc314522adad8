/* SPDX-License-Identifier: Apache-2.0 */
/* What `run`'s command sees of the filesystem (mount.h): a private
 * resolv.conf, msbnetd's socket directories covered by empty tmpfs mounts,
 * and its own /sys and /proc. */
#define _GNU_SOURCE
#include "mount.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <stdlib.h>
#include <unistd.h>

static int sys_fail(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s", what, strerror(errno));
    return -1;
}

/* Where the file is made: a tmpfs stacked on /tmp in our private mount
 * namespace for a moment, so nothing is written to the host's filesystems.
 * (A memfd or an O_TMPFILE file cannot be bind-mounted.) */
#define STAGING_DIR "/tmp"
#define STAGING_FILE STAGING_DIR "/resolv.conf"

static int write_staged(const char *text, char *err, size_t errlen)
{
    int fd = open(STAGING_FILE, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return sys_fail(err, errlen, "creating the private resolv.conf");
    ssize_t len = (ssize_t)strlen(text);
    int rc = write(fd, text, (size_t)len) == len ? 0 : -1;
    if (rc)
        sys_fail(err, errlen, "writing the private resolv.conf");
    close(fd);
    return rc;
}

static int resolv_conf(const struct msbd_addrs *a, char *err, size_t errlen)
{
    char text[160];
    bool v6 = a->mtu >= MSBD_IPV6_MIN_MTU; /* no IPv6 server for an IPv4-only guest */
    snprintf(text, sizeof text, "nameserver %s\n%s%s%s", a->gateway4_str, v6 ? "nameserver " : "",
             v6 ? a->gateway6_str : "", v6 ? "\n" : "");
    if (mount("msbnetd", STAGING_DIR, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k"))
        return sys_fail(err, errlen, "mounting a staging tmpfs on " STAGING_DIR);
    int rc = write_staged(text, err, errlen);
    if (rc == 0 && (rc = mount(STAGING_FILE, "/etc/resolv.conf", NULL, MS_BIND, NULL)) != 0)
        sys_fail(err, errlen, "bind-mounting the private /etc/resolv.conf");
    /* The bind mount keeps the file; /tmp shows the host's directory again. */
    if (umount2(STAGING_DIR, MNT_DETACH) && rc == 0)
        rc = sys_fail(err, errlen, "unmounting the staging tmpfs");
    return rc;
}

int msbd_mount_outer(const struct msbd_addrs *a, const char *const *hide, size_t nhide,
                     char *err, size_t errlen)
{
    /* Without this, a shared / would carry our mounts into the host. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
        return sys_fail(err, errlen, "making / private (mount --make-rprivate /)");
    if (resolv_conf(a, err, errlen))
        return -1;
    /* An empty, read-only, mode-000 directory where msbnetd's sockets are:
     * nothing of the control plane is left to connect to. */
    for (size_t i = 0; i < nhide; i++) {
        if (mount("msbnetd-hidden", hide[i], "tmpfs",
                  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=000")) {
            snprintf(err, errlen, "hiding %s from the sandbox: %s", hide[i], strerror(errno));
            return -1;
        }
    }
    return 0;
}

#define BUNDLE_MAX (16u << 20)
#define STAGED_BUNDLE STAGING_DIR "/ca-bundle.crt"

/* The system bundle, then the PEM after a newline if the bundle lacks one. */
static int write_bundle(const char *sys, size_t n, const char *pem, size_t len, char *err,
                        size_t errlen)
{
    int fd = open(STAGED_BUNDLE, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return sys_fail(err, errlen, "creating the CA bundle");
    bool nl = n > 0 && sys[n - 1] != '\n';
    int rc = (write(fd, sys, n) == (ssize_t)n && (!nl || write(fd, "\n", 1) == 1) &&
              write(fd, pem, len) == (ssize_t)len) ? 0 : -1;
    if (rc)
        sys_fail(err, errlen, "writing the CA bundle");
    close(fd);
    return rc;
}

static char *read_small(const char *path, size_t max, size_t *n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf = fd < 0 ? NULL : malloc(max);
    ssize_t got = 0, r = 0;
    while (buf && (size_t)got < max && (r = read(fd, buf + got, max - (size_t)got)) > 0)
        got += r;
    if (fd >= 0)
        close(fd);
    if (buf && (r < 0 || (size_t)got == max)) {
        free(buf);
        buf = NULL;
    }
    *n = (size_t)got;
    return buf;
}

int msbd_mount_ca_bundle(const char *pem, size_t len, char *err, size_t errlen)
{
    size_t n;
    char *sys = read_small(MSBD_CA_BUNDLE, BUNDLE_MAX, &n);
    if (!sys) {
        snprintf(err, errlen, "--tls-intercept: cannot read %s (the system CA bundle the "
                              "sandbox CA is added to): %s", MSBD_CA_BUNDLE, strerror(errno));
        return -1;
    }
    if (mount("msbnetd", STAGING_DIR, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=32m")) {
        free(sys);
        return sys_fail(err, errlen, "mounting a staging tmpfs on " STAGING_DIR);
    }
    int rc = write_bundle(sys, n, pem, len, err, errlen);
    free(sys);
    if (rc == 0 && (rc = mount(STAGED_BUNDLE, MSBD_CA_BUNDLE, NULL, MS_BIND, NULL)) != 0)
        sys_fail(err, errlen, "bind-mounting the CA bundle over " MSBD_CA_BUNDLE);
    /* The bind mount keeps the file; /tmp shows what it showed before. */
    if (umount2(STAGING_DIR, MNT_DETACH) && rc == 0)
        rc = sys_fail(err, errlen, "unmounting the staging tmpfs");
    return rc;
}

int msbd_mount_sandbox(char *err, size_t errlen)
{
    /* sysfs shows the network namespace of whoever mounted it; mount our
     * own on top so /sys/class/net lists tap0, not the host's devices. */
    if (mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
        return sys_fail(err, errlen, "mounting sysfs for the new network namespace");
    return 0;
}

int msbd_mount_proc(char *err, size_t errlen)
{
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
        return sys_fail(err, errlen, "mounting /proc for the new pid namespace");
    return 0;
}
