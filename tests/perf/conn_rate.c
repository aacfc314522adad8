/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conn_rate: the two ends of tests/perf/conn_rate.sh, a sustained TCP
 * connection-rate benchmark.  In C and single-threaded on epoll, so neither
 * end is what limits the rate (a python end tops out near the kernel's own
 * path on two cores, and wrk with "Connection: close" lets the server close
 * first, which is not the case measured here).
 *
 *   conn_rate server PORT
 *       echo server on 0.0.0.0:PORT: echoes what it reads, closes on EOF
 *       (so the client always closes first).
 *   conn_rate client HOST PORT CONNS SECS WIN
 *       CONNS connections at a time for SECS seconds, each: connect, send
 *       one byte, read it back (proof the connection reached the server: a
 *       user-mode stack may finish the guest's handshake before its own),
 *       close.  Prints "key value" lines: conn_total, conn_first, conn_last
 *       (completions per second over all, the first and the last WIN
 *       seconds), conn_ratio (last/first), conn_errors (failed connects,
 *       e.g. no free local port), conn_timeouts (no echo within 10 s) and
 *       conn_persec (completions in each second, comma-separated).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONN_TIMEOUT 10.0 /* s without an echo: counted, closed, replaced */
#define RETRY_DELAY 0.01  /* s before a slot retries after a failed connect */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static _Noreturn void server(int port)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096))
        die("listen");
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls}, evs[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    printf("listening on %d\n", port);
    fflush(stdout);
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                int c;
                while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    ev = (struct epoll_event){.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            char buf[512];
            ssize_t r = read(fd, buf, sizeof buf);
            if (r > 0 && write(fd, buf, (size_t)r) == r)
                continue;
            if (r < 0 && errno == EAGAIN)
                continue;
            close(fd); /* EOF (the client closed first), or an error */
        }
    }
}

struct slot {
    int fd;        /* -1: waiting until t to (re)connect */
    double t;      /* connect started, or when to retry */
    int connected; /* the byte was sent */
};

static int client(const char *host, int port, int conns, int secs, int win)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        die("address");
    struct slot *s = calloc((size_t)conns, sizeof *s);
    long *persec = calloc((size_t)secs, sizeof *persec);
    long errors = 0, timeouts = 0;
    int ep = epoll_create1(0);
    if (!s || !persec || ep < 0)
        die("setup");
    double t0 = now(), end = t0 + secs;
    for (int i = 0; i < conns; i++)
        s[i] = (struct slot){.fd = -1, .t = t0};
    struct epoll_event evs[256];
    for (double t = t0; t < end; t = now()) {
        for (int i = 0; i < conns; i++) { /* start due slots, expire stuck ones */
            if (s[i].fd >= 0 && t - s[i].t > CONN_TIMEOUT) {
                close(s[i].fd);
                timeouts++;
                s[i] = (struct slot){.fd = -1, .t = t};
            }
            if (s[i].fd >= 0 || t < s[i].t)
                continue;
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
            if (fd < 0)
                die("socket");
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (connect(fd, (struct sockaddr *)&a, sizeof a) && errno != EINPROGRESS) {
                close(fd);
                errors++;
                s[i].t = t + RETRY_DELAY;
                continue;
            }
            struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
            s[i] = (struct slot){.fd = fd, .t = t};
        }
        int n = epoll_wait(ep, evs, 256, 10);
        for (int k = 0; k < n; k++) {
            struct slot *c = &s[evs[k].data.u32];
            char b;
            if (!c->connected) {
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = evs[k].data.u32};
                if (!(evs[k].events & (EPOLLERR | EPOLLHUP)) && write(c->fd, "x", 1) == 1 &&
                    !epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev)) {
                    c->connected = 1;
                    continue;
                }
            } else {
                ssize_t r = read(c->fd, &b, 1);
                if (r == 1) {
                    double sec = now() - t0;
                    if (sec < secs)
                        persec[(int)sec]++;
                    close(c->fd); /* the client closes first */
                    *c = (struct slot){.fd = -1, .t = now()};
                    continue;
                }
                if (r < 0 && errno == EAGAIN)
                    continue;
            }
            close(c->fd); /* refused, reset or EOF without the echo */
            errors++;
            *c = (struct slot){.fd = -1, .t = now() + RETRY_DELAY};
        }
    }
    long total = 0, first = 0, last = 0;
    for (int i = 0; i < secs; i++) {
        total += persec[i];
        first += i < win ? persec[i] : 0;
        last += i >= secs - win ? persec[i] : 0;
    }
    printf("conn_total %.1f\nconn_first %.1f\nconn_last %.1f\nconn_ratio %.3f\n",
           (double)total / secs, (double)first / win, (double)last / win,
           first ? (double)last / (double)first : 0.0);
    printf("conn_errors %ld\nconn_timeouts %ld\nconn_persec ", errors, timeouts);
    for (int i = 0; i < secs; i++)
        printf("%s%ld", i ? "," : "", persec[i]);
    printf("\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "server"))
        server(atoi(argv[2]));
    if (argc == 7 && !strcmp(argv[1], "client")) {
        int secs = atoi(argv[5]), win = atoi(argv[6]);
        if (secs < 1 || win < 1 || win > secs || atoi(argv[4]) < 1)
            return fprintf(stderr, "conn_rate: need CONNS >= 1 and 1 <= WIN <= SECS\n"), 2;
        return client(argv[2], atoi(argv[3]), atoi(argv[4]), secs, win);
    }
    fprintf(stderr, "usage: conn_rate server PORT | client HOST PORT CONNS SECS WIN\n");
    return 2;
}
