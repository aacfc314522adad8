/* SPDX-License-Identifier: Apache-2.0 */
/* The flow-record log file and its rotation (flow_log.h). */
#include "flow_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

struct msbd_flow_log {
    char *path;
    int fd;
    uint64_t size, max, errors;
};

static int open_file(struct msbd_flow_log *l)
{
    l->fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    struct stat st;
    if (l->fd < 0 || fstat(l->fd, &st) < 0)
        return -1;
    l->size = (uint64_t)st.st_size;
    return 0;
}

struct msbd_flow_log *msbd_flow_log_open(const char *path, uint64_t max_bytes, char *err,
                                         size_t errlen)
{
    struct msbd_flow_log *l = calloc(1, sizeof *l);
    if (!l || !(l->path = strdup(path))) {
        snprintf(err, errlen, "--flow-log: out of memory");
        free(l);
        return NULL;
    }
    l->max = max_bytes ? max_bytes : MSBD_FLOW_LOG_DEFAULT_MAX;
    if (open_file(l)) {
        snprintf(err, errlen, "--flow-log %s: %s", path, strerror(errno));
        msbd_flow_log_close(l);
        return NULL;
    }
    return l;
}

/* FILE -> FILE.N, N the first unused; then a fresh FILE.  On failure the
 * current file goes on growing: records are kept rather than lost. */
static void rotate(struct msbd_flow_log *l)
{
    char to[PATH_MAX];
    for (unsigned n = 1; n <= MSBD_FLOW_LOG_MAX_ROTATIONS; n++) {
        if (snprintf(to, sizeof to, "%s.%u", l->path, n) >= (int)sizeof to)
            return;
        if (access(to, F_OK) == 0)
            continue;
        if (rename(l->path, to) < 0)
            return;
        close(l->fd);
        if (open_file(l))
            l->errors++;
        return;
    }
}

void msbd_flow_log_write(struct msbd_flow_log *l, const char *line, size_t len)
{
    if (l->size > 0 && l->size + len + 1 > l->max)
        rotate(l);
    if (l->fd < 0 && open_file(l)) {
        l->errors++;
        return;
    }
    struct iovec iov[2] = {{(void *)line, len}, {(void *)"\n", 1}};
    ssize_t w = writev(l->fd, iov, 2);
    if (w != (ssize_t)(len + 1))
        l->errors++;
    if (w > 0)
        l->size += (uint64_t)w;
}

void msbd_flow_log_write_lines(struct msbd_flow_log *l, const char *text, size_t len)
{
    while (len && text[len - 1] != '\n')
        len--;
    if (!len)
        return;
    if (l->fd < 0 || l->size + len > l->max) {
        for (const char *s = text, *nl; s < text + len; s = nl + 1) {
            nl = memchr(s, '\n', (size_t)(text + len - s));
            msbd_flow_log_write(l, s, (size_t)(nl - s));
        }
        return;
    }
    ssize_t w = write(l->fd, text, len);
    if (w != (ssize_t)len)
        l->errors++;
    if (w > 0)
        l->size += (uint64_t)w;
}

uint64_t msbd_flow_log_errors(const struct msbd_flow_log *l)
{
    return l->errors;
}

void msbd_flow_log_close(struct msbd_flow_log *l)
{
    if (!l)
        return;
    if (l->fd >= 0)
        close(l->fd);
    free(l->path);
    free(l);
}
