/* SPDX-License-Identifier: Apache-2.0 */
/* msbnetd's stream transport (server/stream.c) over a socketpair: frames
 * survive any split of the byte stream in either direction, lengths out of
 * range and a peer leaving mid-frame end the link and are counted, and the
 * output side blocks (returns 0) instead of growing. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cunit_main.h"
#include "msbnet/msbnet.h"
#include "stream.h"

#define FRAMES 3000u

static uint32_t rng = 12345;
static uint32_t next_rand(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

/* Mostly small frames, some of every size up to the maximum. */
static size_t frame_len(unsigned i)
{
    if (i % 50 == 0)
        return MSBNET_MAX_FRAME;
    if (i % 7 == 0)
        return MSBNET_MIN_FRAME + next_rand() % (MSBNET_MAX_FRAME - MSBNET_MIN_FRAME + 1);
    return MSBNET_MIN_FRAME + next_rand() % 1500;
}

static void fill(uint8_t *buf, size_t len, unsigned i)
{
    for (size_t k = 0; k < len; k++)
        buf[k] = (uint8_t)(i * 31 + k * 7);
}

static struct msbd_transport *pair(int *other)
{
    int sv[2];
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    char err[256];
    struct msbd_transport *t = msbd_stream_fd(sv[0], false, err, sizeof err);
    CU_ASSERT_FATAL(t != NULL);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    *other = sv[1];
    return t;
}

static json_int_t stat_of(struct msbd_transport *t, const char *key)
{
    json_t *j = t->stats_json(t);
    json_int_t v = json_integer_value(json_object_get(j, key));
    json_decref(j);
    return v;
}

/* The VMM writes frames in chunks of 1 byte to 96 KiB; msbnetd reads them
 * back whole, in order, and says it has nothing buffered when it has not. */
static void test_frames_across_any_split(void)
{
    int peer;
    struct msbd_transport *t = pair(&peer);
    size_t cap = FRAMES * (MSBNET_MAX_FRAME / 10 + 4), total = 0;
    uint8_t *wire = malloc(cap), *got = malloc(MSBNET_MAX_FRAME), *want = malloc(MSBNET_MAX_FRAME);
    size_t *lens = malloc(FRAMES * sizeof *lens);
    CU_ASSERT_FATAL(wire && got && want && lens);
    rng = 1;
    for (unsigned i = 0; i < FRAMES; i++) {
        lens[i] = frame_len(i);
        if (total + 4 + lens[i] > cap) {
            cap = (total + 4 + lens[i]) * 2;
            wire = realloc(wire, cap);
            CU_ASSERT_FATAL(wire != NULL);
        }
        uint32_t be = htonl((uint32_t)lens[i]);
        memcpy(wire + total, &be, 4);
        fill(wire + total + 4, lens[i], i);
        total += 4 + lens[i];
    }
    size_t sent = 0;
    unsigned seen = 0, mismatches = 0;
    while (seen < FRAMES) {
        if (sent < total) {
            size_t chunk = 1 + next_rand() % (96 * 1024);
            if (chunk > total - sent)
                chunk = total - sent;
            ssize_t n = write(peer, wire + sent, chunk);
            if (n > 0)
                sent += (size_t)n;
        }
        ssize_t n;
        while ((n = t->recv_frame(t, got, MSBNET_MAX_FRAME)) > 0) {
            fill(want, lens[seen], seen);
            if ((size_t)n != lens[seen] || memcmp(got, want, (size_t)n) != 0)
                mismatches++;
            seen++;
        }
        CU_ASSERT_FATAL(n == 0);
        CU_ASSERT(!t->buffered(t));
    }
    CU_ASSERT_EQUAL(mismatches, 0);
    CU_ASSERT_EQUAL(sent, total);
    close(peer);
    t->close(t);
    free(wire);
    free(got);
    free(want);
    free(lens);
}

static bool ended_clean = true;
static int ended_calls;
static void on_ended(void *arg, bool clean)
{
    (void)arg;
    ended_calls++;
    ended_clean = clean;
}

static void expect_dropped(uint32_t len)
{
    int peer;
    struct msbd_transport *t = pair(&peer);
    t->ended = on_ended;
    uint8_t hdr[4 + 20] = {0};
    uint32_t be = htonl(len);
    memcpy(hdr, &be, 4);
    CU_ASSERT(write(peer, hdr, sizeof hdr) == (ssize_t)sizeof hdr);
    uint8_t *buf = malloc(MSBNET_MAX_FRAME);
    CU_ASSERT(t->buffered(t) == false); /* nothing read yet */
    CU_ASSERT_EQUAL(t->recv_frame(t, buf, MSBNET_MAX_FRAME), MSBD_T_GONE);
    CU_ASSERT_EQUAL(stat_of(t, "bad_length_drops"), 1);
    ended_calls = 0;
    t->link_down(t);
    CU_ASSERT_EQUAL(t->fd, -1);
    CU_ASSERT_EQUAL(ended_calls, 1);
    CU_ASSERT(!ended_clean);
    free(buf);
    close(peer);
    t->close(t);
}

static void test_bad_lengths_drop_the_link(void)
{
    uint32_t bad[] = {0, 3, MSBNET_MIN_FRAME - 1, MSBNET_MAX_FRAME + 1, 0xffffffffu};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_dropped(bad[i]);
}

/* The smallest and largest lengths are frames, not errors. */
static void test_boundary_lengths_accepted(void)
{
    int peer;
    struct msbd_transport *t = pair(&peer);
    uint8_t *buf = malloc(MSBNET_MAX_FRAME + 4);
    uint32_t lens[] = {MSBNET_MIN_FRAME, MSBNET_MAX_FRAME};
    for (int i = 0; i < 2; i++) {
        uint32_t be = htonl(lens[i]);
        memcpy(buf, &be, 4);
        memset(buf + 4, i, lens[i]);
        size_t off = 0;
        ssize_t n = 0;
        while (n == 0) {
            ssize_t w = off < 4 + lens[i] ? write(peer, buf + off, 4 + lens[i] - off) : 0;
            off += w > 0 ? (size_t)w : 0;
            n = t->recv_frame(t, buf + 4, MSBNET_MAX_FRAME);
        }
        CU_ASSERT_EQUAL(n, (ssize_t)lens[i]);
    }
    CU_ASSERT_EQUAL(stat_of(t, "bad_length_drops"), 0);
    free(buf);
    close(peer);
    t->close(t);
}

static void test_peer_leaves_mid_frame(void)
{
    int peer;
    struct msbd_transport *t = pair(&peer);
    uint8_t part[4 + 10] = {0, 0, 0, 100};
    CU_ASSERT(write(peer, part, sizeof part) == (ssize_t)sizeof part);
    close(peer);
    uint8_t *buf = malloc(MSBNET_MAX_FRAME);
    CU_ASSERT_EQUAL(t->recv_frame(t, buf, MSBNET_MAX_FRAME), MSBD_T_GONE);
    CU_ASSERT_EQUAL(stat_of(t, "truncated_frames"), 1);
    CU_ASSERT_EQUAL(stat_of(t, "peer_closed"), 1);
    free(buf);
    t->close(t);
}

/* msbnetd -> VMM: a peer that reads slowly makes send_frame return 0 (the
 * pump keeps the frame) once the fixed buffer is full; every frame taken
 * arrives once, in order, whatever the kernel accepted per write. */
static void test_output_blocks_and_resumes(void)
{
    enum { N = 500 };
    int peer;
    struct msbd_transport *t = pair(&peer);
    int small = 4096;
    setsockopt(t->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    static size_t lens[N];
    rng = 2;
    for (unsigned i = 0; i < N; i++)
        lens[i] = frame_len(i);
    uint8_t *frame = malloc(MSBNET_MAX_FRAME), *in = malloc(1 << 20);
    CU_ASSERT_FATAL(frame && in);
    size_t in_len = 0;
    unsigned taken = 0, arrived = 0, blocked = 0, mismatches = 0;
    while (arrived < N) {
        if (taken < N) {
            fill(frame, lens[taken], taken);
            ssize_t r = t->send_frame(t, frame, lens[taken]);
            CU_ASSERT_FATAL(r == 0 || r == (ssize_t)lens[taken]);
            if (r == 0)
                blocked++;
            else
                taken++;
        }
        int f = t->flush(t);
        CU_ASSERT_FATAL(f == 0 || f == 1);
        ssize_t n = read(peer, in + in_len, 1 + next_rand() % 20000);
        if (n > 0)
            in_len += (size_t)n;
        size_t off = 0;
        while (in_len - off >= 4 && arrived < N) {
            uint32_t be;
            memcpy(&be, in + off, 4);
            size_t l = ntohl(be);
            if (in_len - off < 4 + l)
                break;
            fill(frame, lens[arrived], arrived);
            if (l != lens[arrived] || memcmp(in + off + 4, frame, l) != 0)
                mismatches++;
            arrived++;
            off += 4 + l;
        }
        memmove(in, in + off, in_len - off);
        in_len -= off;
    }
    CU_ASSERT(blocked > 0);
    CU_ASSERT_EQUAL(mismatches, 0);
    CU_ASSERT_EQUAL(taken, N);
    CU_ASSERT_EQUAL(in_len, 0);
    free(frame);
    free(in);
    close(peer);
    t->close(t);
}

int main(void)
{
    static const struct test_case tests[] = {
        {"frames_across_any_split", test_frames_across_any_split},
        {"bad_lengths_drop_the_link", test_bad_lengths_drop_the_link},
        {"boundary_lengths_accepted", test_boundary_lengths_accepted},
        {"peer_leaves_mid_frame", test_peer_leaves_mid_frame},
        {"output_blocks_and_resumes", test_output_blocks_and_resumes},
        {NULL, NULL},
    };
    return cunit_run("stream", tests);
}
