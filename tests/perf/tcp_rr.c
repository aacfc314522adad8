/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_rr: peers.sh's connection-rate and round-trip clients in C, so the
 * numbers measure the stacks and not an interpreter (a Python client adds
 * tens of µs to every round trip on each stack alike, pushing every ratio
 * toward 1).  The server is conn_rate's echo server.
 *
 *   tcp_rr crr HOST PORT N   N connections one after another, each: connect,
 *                            send one byte, read it back, close (the client
 *                            closes first).  Prints "crr <per second>".
 *   tcp_rr rtt HOST PORT N   one connection, 100 warm-up round trips, then N
 *                            one-byte round trips.  Prints "rtt_p50 <µs>"
 *                            and "rtt_p99 <µs>".
 * Exit status 1 (with the reason) when any connection or echo fails.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WARMUP 100 /* round trips before the samples: ARP, caches */

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static _Noreturn void fail(const char *what)
{
    perror(what);
    exit(1);
}

static int dial(const struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct timeval tv = {.tv_sec = 5};
    if (fd < 0)
        fail("socket");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (const struct sockaddr *)a, sizeof *a))
        fail("connect");
    return fd;
}

static void echo_once(int fd)
{
    char b;
    if (write(fd, "x", 1) != 1)
        fail("write");
    if (read(fd, &b, 1) != 1 || b != 'x')
        fail("echo");
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static void crr(const struct sockaddr_in *a, long n)
{
    double t0 = now_us();
    for (long i = 0; i < n; i++) {
        int fd = dial(a);
        echo_once(fd);
        close(fd);
    }
    printf("crr %.1f\n", (double)n / ((now_us() - t0) / 1e6));
}

static void rtt(const struct sockaddr_in *a, long n)
{
    double *s = calloc((size_t)n, sizeof *s);
    if (!s)
        fail("calloc");
    int fd = dial(a);
    for (long i = 0; i < WARMUP + n; i++) {
        double t0 = now_us();
        echo_once(fd);
        if (i >= WARMUP)
            s[i - WARMUP] = now_us() - t0;
    }
    close(fd);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    printf("rtt_p50 %.1f\nrtt_p99 %.1f\n", s[n / 2], s[(n * 99 / 100 < n) ? n * 99 / 100 : n - 1]);
    free(s);
}

int main(int argc, char **argv)
{
    long n = argc == 5 ? atol(argv[4]) : 0;
    struct sockaddr_in a = {.sin_family = AF_INET};
    if (n < 1 || (strcmp(argv[1], "crr") && strcmp(argv[1], "rtt")) ||
        inet_pton(AF_INET, argv[2], &a.sin_addr) != 1 || atoi(argv[3]) < 1) {
        fprintf(stderr, "usage: tcp_rr crr|rtt HOST PORT N (N >= 1)\n");
        return 2;
    }
    a.sin_port = htons((uint16_t)atoi(argv[3]));
    if (!strcmp(argv[1], "crr"))
        crr(&a, n);
    else
        rtt(&a, n);
    return 0;
}
