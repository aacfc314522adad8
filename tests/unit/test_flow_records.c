/* SPDX-License-Identifier: Apache-2.0 */
/* Flow records: the ring keeps order, drops and counts when full, hands
 * each record to exactly one reader under a concurrent producer; the JSON
 * line is exact, escapes hostile names and refuses a short buffer; the
 * live table's page filters by protocol before it pages. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "lib/flow_records.h"

static struct msb_flowrec rec(uint64_t n)
{
    struct msb_flowrec r;
    memset(&r, 0, sizeof r);
    r.opened_unix_ms = n;
    r.proto = (uint8_t)(n % MSB_FR__PROTOS);
    r.action = (uint8_t)(n % MSB_FR__ACTIONS);
    return r;
}

static void test_fifo_and_drops(void)
{
    static struct msb_flowrec_log l;
    CU_ASSERT_FATAL(msb_flowrec_init(&l) == 0);
    struct msb_flowrec out;
    CU_ASSERT_FALSE(msb_flowrec_pop(&l, &out));
    for (uint64_t i = 0; i < MSB_FLOWREC_CAP + 10; i++) {
        struct msb_flowrec r = rec(i);
        CU_ASSERT_EQUAL(msb_flowrec_push(&l, &r), i < MSB_FLOWREC_CAP);
    }
    CU_ASSERT_EQUAL(atomic_load(&l.dropped), 10);
    uint64_t total = 0;
    for (unsigned a = 0; a < MSB_FR__ACTIONS; a++)
        for (unsigned p = 0; p < MSB_FR__PROTOS; p++)
            total += atomic_load(&l.by_action_proto[a][p]);
    CU_ASSERT_EQUAL(total, MSB_FLOWREC_CAP + 10); /* counted whether kept or not */
    for (uint64_t i = 0; i < MSB_FLOWREC_CAP; i++) {
        CU_ASSERT_FATAL(msb_flowrec_pop(&l, &out));
        CU_ASSERT_EQUAL(out.opened_unix_ms, i);
    }
    CU_ASSERT_FALSE(msb_flowrec_pop(&l, &out));
    struct msb_flowrec r = rec(7);
    CU_ASSERT(msb_flowrec_push(&l, &r)); /* room again once read */
    msb_flowrec_destroy(&l);
}

#define N_THREADED 200000u
static struct msb_flowrec_log tl;
static uint8_t seen[N_THREADED];

static void *produce(void *arg)
{
    (void)arg;
    for (uint64_t i = 0; i < N_THREADED; i++) {
        struct msb_flowrec r = rec(i);
        r.bytes_out = i * 3;
        msb_flowrec_push(&tl, &r);
    }
    return NULL;
}

static void *consume(void *arg)
{
    size_t *bad = arg;
    struct msb_flowrec r;
    for (;;) {
        if (!msb_flowrec_pop(&tl, &r)) {
            if (atomic_load(&tl.head) >= N_THREADED - atomic_load(&tl.dropped) &&
                atomic_load(&tl.tail) == atomic_load(&tl.head))
                return NULL;
            continue;
        }
        if (r.bytes_out != r.opened_unix_ms * 3 || r.opened_unix_ms >= N_THREADED)
            (*bad)++;
        else
            __atomic_fetch_add(&seen[r.opened_unix_ms], 1, __ATOMIC_RELAXED);
    }
}

/* One producer, two readers: every record pushed is read once and whole;
 * pushed + dropped = produced. */
static void test_threaded(void)
{
    CU_ASSERT_FATAL(msb_flowrec_init(&tl) == 0);
    pthread_t p, c1, c2;
    size_t bad1 = 0, bad2 = 0;
    pthread_create(&p, NULL, produce, NULL);
    pthread_create(&c1, NULL, consume, &bad1);
    pthread_create(&c2, NULL, consume, &bad2);
    pthread_join(p, NULL);
    pthread_join(c1, NULL);
    pthread_join(c2, NULL);
    CU_ASSERT_EQUAL(bad1 + bad2, 0);
    size_t once = 0, more = 0;
    for (size_t i = 0; i < N_THREADED; i++) {
        once += seen[i] == 1;
        more += seen[i] > 1;
    }
    CU_ASSERT_EQUAL(more, 0);
    CU_ASSERT_EQUAL(once + atomic_load(&tl.dropped), N_THREADED);
    msb_flowrec_destroy(&tl);
}

static void test_json_exact(void)
{
    struct msb_flowrec r;
    memset(&r, 0, sizeof r);
    r.opened_unix_ms = 1000;
    r.closed_unix_ms = 2500;
    r.proto = MSB_FR_TCP;
    r.action = MSB_FR_ALLOW;
    r.end = MSB_FR_END_FIN;
    r.rule = 2;
    msb_ip_parse("100.96.0.2", &r.guest);
    msb_ip_parse("198.18.0.1", &r.dst);
    r.guest_port = 40000;
    r.dst_port = 443;
    r.bytes_out = 77;
    r.bytes_in = 1048576;
    strcpy(r.hostname, "web.test");
    strcpy(r.sni, "web.test");
    char buf[MSB_FLOWREC_JSON_MAX];
    size_t n = msb_flowrec_json(&r, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf,
        "{\"v\":1,\"opened_unix_ms\":1000,\"closed_unix_ms\":2500,\"proto\":\"tcp\","
        "\"direction\":\"egress\",\"guest\":\"100.96.0.2\",\"guest_port\":40000,"
        "\"dst\":\"198.18.0.1\",\"dst_port\":443,\"hostname\":\"web.test\",\"sni\":\"web.test\","
        "\"action\":\"allow\",\"rule\":2,\"end\":\"fin\",\"bytes_out\":77,\"bytes_in\":1048576,"
        "\"packets_out\":0,\"packets_in\":0}");
    CU_ASSERT_EQUAL(n, strlen(buf));
    CU_ASSERT_EQUAL(msb_flowrec_json(&r, buf, n), 0); /* no room for the NUL */
    CU_ASSERT_EQUAL(msb_flowrec_json(&r, buf, 0), 0);
}

/* A DNS record adds its question type, rcode and answer count (and only
 * a DNS record: the TCP line above has none). */
static void test_json_dns(void)
{
    struct msb_flowrec r;
    memset(&r, 0, sizeof r);
    r.opened_unix_ms = r.closed_unix_ms = 7;
    r.proto = MSB_FR_DNS;
    r.end = MSB_FR_END_CLOSED;
    r.rule = -1;
    msb_ip_parse("100.96.0.2", &r.guest);
    msb_ip_parse("100.96.0.1", &r.dst);
    r.guest_port = 5353;
    r.dst_port = 53;
    strcpy(r.hostname, "a.test");
    r.dns_qtype = 28;
    r.dns_rcode = 3;
    r.dns_answers = 0;
    char buf[MSB_FLOWREC_JSON_MAX];
    msb_flowrec_json(&r, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf,
        "{\"v\":1,\"opened_unix_ms\":7,\"closed_unix_ms\":7,\"proto\":\"dns\","
        "\"direction\":\"egress\",\"guest\":\"100.96.0.2\",\"guest_port\":5353,"
        "\"dst\":\"100.96.0.1\",\"dst_port\":53,\"hostname\":\"a.test\",\"sni\":\"\","
        "\"action\":\"allow\",\"rule\":-1,\"end\":\"closed\",\"bytes_out\":0,\"bytes_in\":0,"
        "\"packets_out\":0,\"packets_in\":0,\"qtype\":28,\"rcode\":3,\"answers\":0,"
        "\"addrs\":[]}");
    r.dns_rcode = -1; /* no reply went */
    r.dns_answers = 65535;
    msb_flowrec_json(&r, buf, sizeof buf);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, ",\"qtype\":28,\"rcode\":-1,\"answers\":65535,"));
    /* The addresses share the SNI's room: never shown as an SNI. */
    strcpy(r.dns_addrs, "198.18.0.1,fd42::1");
    msb_flowrec_json(&r, buf, sizeof buf);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"sni\":\"\","));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, ",\"addrs\":[\"198.18.0.1\",\"fd42::1\"]}"));
    /* Whatever the room holds, the array stays valid JSON of address text. */
    strcpy(r.dns_addrs, ",,1.2\"x\\,,3::4,");
    msb_flowrec_json(&r, buf, sizeof buf);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, ",\"addrs\":[\"1.2\",\"3::4\"]}"));
    memset(r.dns_addrs, '1', sizeof r.dns_addrs); /* no NUL at all */
    CU_ASSERT(msb_flowrec_json(&r, buf, sizeof buf) > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"]}"));
}

/* A hostile SNI: quotes, backslashes, control and high bytes, no NUL in
 * the whole field.  The line stays valid JSON and round-trips. */
static void test_json_hostile(void)
{
    struct msb_flowrec r;
    memset(&r, 0, sizeof r);
    r.proto = 200; /* out of range: named "?", never read out of bounds */
    r.action = MSB_FR_REFUSED;
    r.end = MSB_FR_END_REFUSED;
    r.rule = -1;
    memset(r.sni, '"', sizeof r.sni);
    for (size_t i = 0; i < sizeof r.hostname; i++)
        r.hostname[i] = (char)(i % 3 == 0 ? '\\' : i % 3 == 1 ? 0x01 : 0xff);
    static char buf[MSB_FLOWREC_JSON_MAX];
    size_t n = msb_flowrec_json(&r, buf, sizeof buf);
    CU_ASSERT_FATAL(n > 0);
    json_error_t e;
    json_t *j = json_loads(buf, 0, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(strlen(json_string_value(json_object_get(j, "sni"))), sizeof r.sni);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "proto")), "?");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "action")), "refused");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "rule")), -1);
    json_decref(j);
}

/* Offers 10 records, protocols tcp, udp, icmp in turn (tcp 0 3 6 9). */
static void offer_all(struct msb_flow_page *pg)
{
    for (uint64_t i = 0; i < 10; i++) {
        struct msb_flowrec r = rec(i);
        r.proto = (uint8_t)(i % 3);
        r.end = MSB_FR__ENDS;
        r.closed_unix_ms = 99;
        msb_flow_page_add(pg, &r);
    }
}

static void test_page_filter(void)
{
    struct msb_flowrec out[3];
    /* Every protocol: offset 2, limit 3 take records 2, 3, 4. */
    struct msb_flow_page pg = {.offset = 2, .limit = 3, .out = out};
    offer_all(&pg);
    CU_ASSERT_EQUAL(pg.total, 10);
    CU_ASSERT_EQUAL(pg.n, 3);
    CU_ASSERT_EQUAL(out[0].opened_unix_ms, 2);
    CU_ASSERT_EQUAL(out[2].opened_unix_ms, 4);
    CU_ASSERT_EQUAL(out[0].end, MSB_FR_END_OPEN);
    CU_ASSERT_EQUAL(out[0].closed_unix_ms, 0);
    /* TCP only (0 3 6 9): the second page of 2 is 6 and 9, total 4. */
    pg = (struct msb_flow_page){.offset = 2, .limit = 2, .filtered = true,
                                .proto = MSB_FR_TCP, .out = out};
    offer_all(&pg);
    CU_ASSERT_EQUAL(pg.total, 4);
    CU_ASSERT_EQUAL(pg.n, 2);
    CU_ASSERT_EQUAL(out[0].opened_unix_ms, 6);
    CU_ASSERT_EQUAL(out[1].opened_unix_ms, 9);
    /* ICMP (2 5 8) past its end: nothing, the filtered total. */
    pg = (struct msb_flow_page){.offset = 3, .limit = 3, .filtered = true,
                                .proto = MSB_FR_ICMP, .out = out};
    offer_all(&pg);
    CU_ASSERT_EQUAL(pg.total, 3);
    CU_ASSERT_EQUAL(pg.n, 0);
}

static void test_live_proto_names(void)
{
    CU_ASSERT_EQUAL(msb_flowrec_live_proto(NULL), MSB_FR__PROTOS);
    CU_ASSERT_EQUAL(msb_flowrec_live_proto(""), MSB_FR__PROTOS);
    CU_ASSERT_EQUAL(msb_flowrec_live_proto("tcp"), MSB_FR_TCP);
    CU_ASSERT_EQUAL(msb_flowrec_live_proto("udp"), MSB_FR_UDP);
    CU_ASSERT_EQUAL(msb_flowrec_live_proto("icmp"), MSB_FR_ICMP);
    CU_ASSERT_EQUAL(msb_flowrec_live_proto("dns"), -1); /* never an open flow */
    CU_ASSERT_EQUAL(msb_flowrec_live_proto("TCP"), -1);
    CU_ASSERT_EQUAL(msb_flowrec_live_proto("tcpx"), -1);
}

int main(void)
{
    static const struct test_case tests[] = {
        {"fifo_and_drops", test_fifo_and_drops},
        {"threaded", test_threaded},
        {"json_exact", test_json_exact},
        {"json_hostile", test_json_hostile},
        {"json_dns", test_json_dns},
        {"page_filter", test_page_filter},
        {"live_proto_names", test_live_proto_names},
        {NULL, NULL},
    };
    return cunit_run("flow_records", tests);
}
