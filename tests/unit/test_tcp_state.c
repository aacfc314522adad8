/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TCP flow state machine on its own (proto/tcp/tcp_state.c): its table
 * against an independent list of the legal moves, the setter on every
 * legal pair (gauges follow, nothing counted), illegal moves (counted,
 * harmless, applied or refused as documented), and the debug trace line.
 * No stack thread, no lwIP: a bare struct msb_tcp with its env.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture_stderr.h"
#include "cunit_main.h"
#include "lib/addr.h"
#include "proto/tcp/tcp_int.h"

/* The moves the design allows (tcp_int.h), written out again by hand. */
static const struct {
    enum flow_state from, to;
} moves[] = {
    {FLOW_FREE, FLOW_CONNECTING}, {FLOW_FREE, FLOW_SYN_FED},
    {FLOW_CONNECTING, FLOW_SYN_FED}, {FLOW_CONNECTING, FLOW_FREE},
    {FLOW_SYN_FED, FLOW_OPEN}, {FLOW_SYN_FED, FLOW_FREE},
    {FLOW_OPEN, FLOW_CLOSING}, {FLOW_OPEN, FLOW_FREE},
    {FLOW_CLOSING, FLOW_CLOSING}, {FLOW_CLOSING, FLOW_FREE},
};
#define NMOVES (sizeof moves / sizeof moves[0])

/* A path from FREE to each state, through legal moves only. */
static const enum flow_state path[FLOW__COUNT][4] = {
    [FLOW_FREE] = {FLOW_FREE},
    [FLOW_CONNECTING] = {FLOW_CONNECTING},
    [FLOW_SYN_FED] = {FLOW_CONNECTING, FLOW_SYN_FED},
    [FLOW_OPEN] = {FLOW_CONNECTING, FLOW_SYN_FED, FLOW_OPEN},
    [FLOW_CLOSING] = {FLOW_CONNECTING, FLOW_SYN_FED, FLOW_OPEN, FLOW_CLOSING},
};

static struct msb_config cfg;
static struct msb_metrics mx;
static struct msb_env env;
static struct msb_tcp *t;

static void setup(void)
{
    memset(&mx, 0, sizeof mx);
    msb_metrics_init(&mx);
    cfg.log_level = MSB_LOG_WARN;
    cfg.slot = 7;
    env.cfg = &cfg;
    env.metrics = &mx;
    if (!t)
        t = calloc(1, sizeof *t);
    t->env = &env;
    t->m = &mx.tcp;
}

static struct tcp_flow new_flow(void)
{
    struct tcp_flow f = {.t = t, .state = FLOW_FREE, .fd = -1, .lw_port = LW_PORT};
    msb_ip_parse("100.96.0.2", &f.g);
    msb_ip_parse("198.18.0.1", &f.d);
    f.gp = 40000;
    f.dp = 443;
    return f;
}

static void walk_to(struct tcp_flow *f, enum flow_state st)
{
    for (int i = 0; st != FLOW_FREE && i < 4; i++) {
        CU_ASSERT_TRUE(msb_tcp_flow_set_state(t, f, path[st][i]));
        if (path[st][i] == st)
            break;
    }
    CU_ASSERT_EQUAL(f->state, st);
}

static long long get(atomic_uint_fast64_t *c)
{
    return (long long)atomic_load(c);
}

/* Gauges agree with one flow in state st (and nothing else). */
static void gauges_are(enum flow_state st)
{
    CU_ASSERT_EQUAL(get(&mx.tcp.flows), st != FLOW_FREE);
    CU_ASSERT_EQUAL(get(&mx.tcp.connecting), st == FLOW_CONNECTING);
    CU_ASSERT_EQUAL(get(&mx.tcp.established), st == FLOW_SYN_FED || st == FLOW_OPEN);
    CU_ASSERT_EQUAL(get(&mx.tcp.closing), st == FLOW_CLOSING);
}

static bool listed(enum flow_state from, enum flow_state to)
{
    for (size_t i = 0; i < NMOVES; i++)
        if (moves[i].from == from && moves[i].to == to)
            return true;
    return false;
}

static void test_table_matches_design(void)
{
    for (int a = 0; a < FLOW__COUNT; a++)
        for (int b = 0; b < FLOW__COUNT; b++)
            CU_ASSERT_EQUAL(msb_tcp_flow_legal(a, b), listed(a, b));
    CU_ASSERT_FALSE(msb_tcp_flow_legal(FLOW_OPEN, FLOW__COUNT));
    CU_ASSERT_FALSE(msb_tcp_flow_legal(FLOW__COUNT, FLOW_FREE));
    CU_ASSERT_STRING_EQUAL(msb_tcp_flow_state_name(FLOW_SYN_FED), "syn_fed");
    CU_ASSERT_STRING_EQUAL(msb_tcp_flow_state_name(FLOW__COUNT), "?");
}

/* Every legal pair through the setter: applied, gauges follow, nothing
 * counted; back to FREE, every gauge is 0 again. */
static void test_legal_moves_accepted(void)
{
    setup();
    for (size_t i = 0; i < NMOVES; i++) {
        struct tcp_flow f = new_flow();
        walk_to(&f, moves[i].from);
        gauges_are(moves[i].from);
        CU_ASSERT_TRUE(msb_tcp_flow_set_state(t, &f, moves[i].to));
        CU_ASSERT_EQUAL(f.state, moves[i].to);
        gauges_are(moves[i].to);
        if (f.state != FLOW_FREE)
            CU_ASSERT_TRUE(msb_tcp_flow_set_state(t, &f, FLOW_FREE));
        gauges_are(FLOW_FREE);
    }
    CU_ASSERT_EQUAL(get(&mx.tcp.bad_transition), 0);
}

/* Illegal moves are counted and leave the gauges consistent: between live
 * states the move is applied, out of FREE (a stale callback reviving a
 * released slot) it is refused. */
static void test_illegal_moves_counted_and_harmless(void)
{
    setup();
    cfg.log_level = MSB_LOG_ERROR; /* no warn line in the test output */
    struct tcp_flow f = new_flow();
    walk_to(&f, FLOW_OPEN);
    CU_ASSERT_TRUE(msb_tcp_flow_set_state(t, &f, FLOW_CONNECTING));
    CU_ASSERT_EQUAL(f.state, FLOW_CONNECTING);
    CU_ASSERT_EQUAL(get(&mx.tcp.bad_transition), 1);
    gauges_are(FLOW_CONNECTING);
    CU_ASSERT_TRUE(msb_tcp_flow_set_state(t, &f, FLOW_FREE));
    gauges_are(FLOW_FREE);
    CU_ASSERT_FALSE(msb_tcp_flow_set_state(t, &f, FLOW_CLOSING));
    CU_ASSERT_FALSE(msb_tcp_flow_set_state(t, &f, FLOW_FREE));
    CU_ASSERT_EQUAL(f.state, FLOW_FREE);
    gauges_are(FLOW_FREE);
    walk_to(&f, FLOW_OPEN);
    CU_ASSERT_FALSE(msb_tcp_flow_set_state(t, &f, FLOW__COUNT)); /* no such state */
    CU_ASSERT_EQUAL(f.state, FLOW_OPEN);
    gauges_are(FLOW_OPEN);
    CU_ASSERT_EQUAL(get(&mx.tcp.bad_transition), 4);
    CU_ASSERT_TRUE(msb_tcp_flow_set_state(t, &f, FLOW_FREE));
}

/* ---- the trace ------------------------------------------------------------- */

static void guest_fin_then_host_eof(void *arg)
{
    (void)arg;
    struct tcp_flow f = new_flow();
    walk_to(&f, FLOW_OPEN);
    msb_tcp_flow_pend(&f, PEND_ACK, true);
    msb_tcp_flow_arm(&f, ARM_RD | ARM_BATCH_LIST, true);
    msb_tcp_flow_event(&f, EVT_GUEST_FIN);
    msb_tcp_flow_set_state(t, &f, FLOW_CLOSING);
    msb_tcp_flow_event(&f, EVT_HOST_EOF);
    msb_tcp_flow_set_state(t, &f, FLOW_CLOSING);
    msb_tcp_flow_set_state(t, &f, FLOW_FREE);
    msb_tcp_flow_set_state(t, &f, FLOW_OPEN); /* a stale callback */
}

static void test_debug_trace(void)
{
    setup();
    cfg.log_level = MSB_LOG_DEBUG;
    const char *out = capture_stderr(guest_fin_then_host_eof, NULL);
    const char *want[] = {
        "msbnet[7]: tcp 100.96.0.2:40000 -> 198.18.0.1:443 free -> connecting events=- "
        "pending=- armed=-\n",
        "msbnet[7]: tcp 100.96.0.2:40000 -> 198.18.0.1:443 open -> closing events=guest_fin "
        "pending=ack armed=rd,batch_list\n",
        "msbnet[7]: tcp 100.96.0.2:40000 -> 198.18.0.1:443 closing -> closing "
        "events=guest_fin,host_eof pending=ack armed=rd,batch_list\n",
        "closing -> free events=guest_fin,host_eof",
        "free -> open (illegal, refused) events=guest_fin,host_eof",
    };
    const char *at = out;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *hit = strstr(at, want[i]);
        CU_ASSERT_PTR_NOT_NULL(hit);
        if (!hit)
            fprintf(stderr, "\n  wanted \"%s\" in:\n%s", want[i], at);
        else
            at = hit + strlen(want[i]);
    }
    size_t lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    CU_ASSERT_EQUAL(lines, 7); /* 3 to OPEN, 3 after, the refused one */
}

static void warn_level_run(void *arg)
{
    (void)arg;
    struct tcp_flow f = new_flow();
    walk_to(&f, FLOW_CLOSING); /* legal: silent */
    msb_tcp_flow_set_state(t, &f, FLOW_OPEN);
    msb_tcp_flow_set_state(t, &f, FLOW_SYN_FED);
    msb_tcp_flow_set_state(t, &f, FLOW_FREE);
}

/* At warn, only an instance's first illegal move is shown. */
static void test_warn_shows_first_illegal_only(void)
{
    setup();
    const char *out = capture_stderr(warn_level_run, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "closing -> open (illegal, applied)"));
    CU_ASSERT_PTR_NULL(strstr(out, "syn_fed"));
    CU_ASSERT_EQUAL(get(&mx.tcp.bad_transition), 2);
    gauges_are(FLOW_FREE);
}

static void test_bit_names(void)
{
    char b[64];
    CU_ASSERT_STRING_EQUAL(msb_tcp_flow_event_names(0, b, sizeof b), "-");
    CU_ASSERT_STRING_EQUAL(msb_tcp_flow_event_names(EVT_ABORTED | EVT_SNI_EXPIRED, b, sizeof b),
                           "aborted,sni_expired");
    CU_ASSERT_STRING_EQUAL(msb_tcp_flow_pending_names(PEND_REAP | PEND_SNI, b, sizeof b),
                           "reap,sni");
    CU_ASSERT_STRING_EQUAL(msb_tcp_flow_armed_names(ARM_WR | ARM_ROOM_LIST, b, sizeof b),
                           "wr,room_list");
    /* too small a buffer: cut at a whole name, never overrun */
    CU_ASSERT_STRING_EQUAL(msb_tcp_flow_event_names(EVT_GUEST_FIN | EVT_HOST_EOF, b, 12),
                           "guest_fin");
    struct tcp_flow f = {0};
    msb_tcp_flow_event(&f, EVT_GUEST_FIN);
    CU_ASSERT_TRUE(msb_tcp_flow_saw(&f, EVT_GUEST_FIN));
    CU_ASSERT_FALSE(msb_tcp_flow_saw(&f, EVT_GUEST_FIN | EVT_HOST_EOF)); /* all of them */
    msb_tcp_flow_pend(&f, PEND_ACK | PEND_ROOM, true);
    msb_tcp_flow_pend(&f, PEND_ACK, false);
    CU_ASSERT_EQUAL(f.pending, PEND_ROOM);
}

int main(void)
{
    static const struct test_case tests[] = {
        {"table matches the design", test_table_matches_design},
        {"every legal move accepted, gauges follow", test_legal_moves_accepted},
        {"illegal moves counted and harmless", test_illegal_moves_counted_and_harmless},
        {"one debug line per transition, bits by name", test_debug_trace},
        {"warn level: first illegal move only", test_warn_shows_first_illegal_only},
        {"bit set names and tests", test_bit_names},
        {NULL, NULL},
    };
    int rc = cunit_run("tcp_state", tests);
    free(t);
    return rc;
}
