/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DNS upstream socket pool (proto/dns_pool.c) against loopback UDP
 * peers, on the test's own event loop: answers reach the query they
 * answer, IDs are unique per socket, a socket carries a bounded number of
 * queries and then gives way to a new port, and a socket that fails tells
 * every query waiting on it.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cunit_main.h"
#include "lib/clock.h"
#include "lib/pkt.h"
#include "proto/dns_pool.h"

#define MAXQ 256

static struct event_base *base;
static struct msb_dns_pool *pool;
static uint32_t answered[MAXQ], failed[MAXQ], unmatched;
static uint16_t answer_id[MAXQ];

static void on_answer(void *ctx, uint32_t q, uint8_t *msg, size_t n)
{
    (void)ctx;
    if (q == MSB_DNS_POOL_NONE || n < 2) {
        unmatched++;
        return;
    }
    answered[q]++;
    answer_id[q] = msb_get16(msg);
    msb_dns_pool_cancel(pool, q);
}

static void on_failed(void *ctx, uint32_t q)
{
    (void)ctx;
    failed[q]++;
}

static void setup(void)
{
    memset(answered, 0, sizeof answered);
    memset(failed, 0, sizeof failed);
    unmatched = 0;
    base = event_base_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(base);
    const struct msb_dns_pool_calls calls = {on_answer, on_failed, NULL};
    pool = msb_dns_pool_new(base, MAXQ, &calls);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
}

static void teardown(void)
{
    msb_dns_pool_free(pool);
    event_base_free(base);
}

/* A UDP "upstream" on loopback; its address in ss. */
static int upstream(struct sockaddr_storage *ss, socklen_t *sl)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CU_ASSERT_FATAL(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    memset(ss, 0, sizeof *ss);
    memcpy(ss, &a, sizeof a);
    *sl = sizeof a;
    return fd;
}

/* Turns the loop until cond() holds or 3 s pass. */
static bool run_until(bool (*cond)(void))
{
    uint64_t until = msb_now_ms() + 3000;
    while (!cond() && msb_now_ms() < until)
        event_base_loop(base, EVLOOP_NONBLOCK);
    return cond();
}

static uint32_t want;
static bool all_answered(void)
{
    for (uint32_t q = 0; q < want; q++)
        if (!answered[q])
            return false;
    return true;
}

/* What the upstream got: n datagrams, their IDs and source ports. */
static int collect(int fd, uint16_t *ids, uint16_t *ports, int n)
{
    int got = 0;
    uint64_t until = msb_now_ms() + 3000;
    while (got < n && msb_now_ms() < until) {
        uint8_t b[64];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t r = recvfrom(fd, b, sizeof b, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (r < 2) {
            event_base_loop(base, EVLOOP_NONBLOCK);
            continue;
        }
        ids[got] = msb_get16(b);
        ports[got] = ntohs(from.sin_port);
        /* Answer in reverse-ish order: the pool must match by ID. */
        sendto(fd, b, (size_t)r, 0, (struct sockaddr *)&from, fl);
        got++;
    }
    return got;
}

static void test_answers_find_their_query(void)
{
    setup();
    struct sockaddr_storage ss;
    socklen_t sl;
    int up = upstream(&ss, &sl);
    want = 40;
    uint8_t msg[12] = {0};
    for (uint32_t q = 0; q < want; q++)
        CU_ASSERT_EQUAL(msb_dns_pool_send(pool, &ss, sl, q, msg, sizeof msg), 0);
    uint16_t ids[64], ports[64];
    CU_ASSERT_EQUAL(collect(up, ids, ports, (int)want), (int)want);
    CU_ASSERT(run_until(all_answered));
    for (uint32_t q = 0; q < want; q++)
        CU_ASSERT_EQUAL(answered[q], 1);
    /* One socket carried them all, each with its own ID. */
    for (uint32_t i = 1; i < want; i++) {
        CU_ASSERT_EQUAL(ports[i], ports[0]);
        for (uint32_t j = 0; j < i; j++)
            CU_ASSERT_NOT_EQUAL(ids[i], ids[j]);
    }
    /* An answer nobody waits for is handed over as unmatched. */
    unmatched = 0;
    CU_ASSERT_EQUAL(msb_dns_pool_send(pool, &ss, sl, 0, msg, sizeof msg), 0);
    collect(up, ids, ports, 1);
    msb_dns_pool_cancel(pool, 0);
    answered[0] = 0;
    uint64_t until = msb_now_ms() + 300;
    while (msb_now_ms() < until)
        event_base_loop(base, EVLOOP_NONBLOCK);
    CU_ASSERT_EQUAL(answered[0], 0);
    CU_ASSERT_EQUAL(unmatched, 1);
    close(up);
    teardown();
}

/* After MSB_DNS_POOL_USES queries a socket takes no more: the port changes. */
static void test_sockets_retire(void)
{
    setup();
    struct sockaddr_storage ss;
    socklen_t sl;
    int up = upstream(&ss, &sl);
    uint8_t msg[12] = {0};
    uint16_t ids[8], ports[2 * MSB_DNS_POOL_USES + 1];
    int sent = 2 * MSB_DNS_POOL_USES + 1;
    for (int i = 0; i < sent; i++) {
        CU_ASSERT_EQUAL_FATAL(msb_dns_pool_send(pool, &ss, sl, 0, msg, sizeof msg), 0);
        CU_ASSERT_EQUAL(collect(up, ids, &ports[i], 1), 1);
        want = 1;
        answered[0] = 0;
        CU_ASSERT(run_until(all_answered));
    }
    CU_ASSERT_EQUAL(ports[MSB_DNS_POOL_USES - 1], ports[0]);
    CU_ASSERT_NOT_EQUAL(ports[MSB_DNS_POOL_USES], ports[0]);
    CU_ASSERT_NOT_EQUAL(ports[2 * MSB_DNS_POOL_USES], ports[MSB_DNS_POOL_USES]);
    close(up);
    teardown();
}

static bool accepted[3];
static bool every_accepted_failed(void)
{
    for (int q = 0; q < 3; q++)
        if (accepted[q] && !failed[q])
            return false;
    return true;
}

/* A port with no listener: ICMP port unreachable fails the socket, and
 * every query waiting on it hears so, once; a send the kernel refuses at
 * once (the ICMP came back already) is refused to its caller instead. */
static void test_failure_reaches_every_waiter(void)
{
    setup();
    struct sockaddr_storage ss;
    socklen_t sl;
    int up = upstream(&ss, &sl);
    close(up); /* nobody listens there now */
    uint8_t msg[12] = {0};
    int n = 0;
    for (uint32_t q = 0; q < 3; q++)
        n += (accepted[q] = msb_dns_pool_send(pool, &ss, sl, q, msg, sizeof msg) == 0);
    CU_ASSERT(n >= 1);
    CU_ASSERT(run_until(every_accepted_failed));
    for (int q = 0; q < 3; q++)
        CU_ASSERT_EQUAL(failed[q], accepted[q] ? 1u : 0u);
    /* A query that no longer waits cannot be cancelled twice into trouble. */
    msb_dns_pool_cancel(pool, 1);
    msb_dns_pool_cancel(pool, MAXQ + 5);
    teardown();
}

int main(void)
{
    static const struct test_case tests[] = {
        {"answers find their query", test_answers_find_their_query},
        {"sockets retire after their uses", test_sockets_retire},
        {"a failed socket tells every waiter", test_failure_reaches_every_waiter},
        {NULL, NULL},
    };
    return cunit_run("dns_pool", tests);
}
