/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A test double for msbnetd: a complete ABI v1 plugin whose "stack" hands
 * every guest frame straight back to the guest.  Config parsing, addressing,
 * rings and wake fds are the real plugin's code (compiled in), so msbnetd's
 * config handling, namespace setup and frame pump are tested against real
 * behaviour, while the stack thread, TCP and packet parsing — other issues —
 * stay out of the way.  It counts what crossed in the same metrics fields
 * as the real plugin (schema 1 subset).
 *
 * Kept only where no real path exists: msbnetd_pump.sh's frame accounting
 * (every guest frame comes straight back, so exactly what crossed msbnetd's
 * pump in each direction is known, and a 2-frame ring is filled on demand).
 * It never fires its termination hook: termination is tested end to end
 * with the real plugin, whose reason JSON (msbnet.h's MSBNET_REASON_*) a
 * guest breaking a `terminate` rule produces (control_grpc.sh).
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "model/addressing.h"
#include "model/config.h"
#include "lib/frame.h"
#include "msbnet/msbnet.h"
#include "lib/ring.h"
#include "lib/wake.h"

struct msbnet {
    struct msb_config cfg;
    struct msb_addrs addrs;
    struct msb_ring tx, rx;
    struct msb_wake tx_wake, rx_wake;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_uint_fast64_t tx_frames, tx_ring_full, tx_bad_length, rx_frames, rx_ring_full;
};

static atomic_bool one_started; /* like lwIP: one started instance per process */

static const char *echo_version(void)
{
    return "echo-" MSBNET_VERSION_STRING;
}

static void drain_ring(struct msb_ring *r)
{
    struct msb_frame *f;
    while ((f = msb_ring_pop(r)) != NULL)
        msb_frame_free(f);
    msb_ring_destroy(r);
}

static void echo_stop(msbnet_t *net);

static void echo_destroy(msbnet_t *net)
{
    if (!net)
        return;
    msb_config_release(&net->cfg);
    echo_stop(net);
    drain_ring(&net->tx);
    drain_ring(&net->rx);
    msb_wake_close(&net->tx_wake);
    msb_wake_close(&net->rx_wake);
    free(net);
}

static msbnet_t *echo_create(const char *json, char *err, size_t errlen)
{
    struct msbnet *net = calloc(1, sizeof *net);
    if (!net || msb_config_parse(json, &net->cfg, err, errlen)) {
        free(net);
        return NULL;
    }
    msb_addrs_derive(&net->cfg, &net->addrs);
    enum msb_wake_kind wk = (enum msb_wake_kind)net->cfg.wake;
    if (msb_ring_init(&net->tx, net->cfg.queue_capacity) ||
        msb_ring_init(&net->rx, net->cfg.queue_capacity) || msb_wake_init(&net->tx_wake, wk) ||
        msb_wake_init(&net->rx_wake, wk)) {
        snprintf(err, errlen, "echo plugin: out of resources");
        echo_destroy(net);
        return NULL;
    }
    return net;
}

static int echo_write_frame(msbnet_t *net, const uint8_t *frame, size_t len)
{
    if (!net || !frame || len < MSBNET_MIN_FRAME || len > MSBNET_MAX_FRAME) {
        if (net)
            atomic_fetch_add(&net->tx_bad_length, 1);
        return MSBNET_EINVAL;
    }
    struct msb_frame *f = msb_frame_new(frame, len);
    if (!f)
        return MSBNET_ENOMEM;
    if (!msb_ring_push(&net->tx, f)) {
        msb_frame_free(f);
        atomic_fetch_add(&net->tx_ring_full, 1);
        return MSBNET_NOTHING_WRITTEN;
    }
    atomic_fetch_add(&net->tx_frames, 1);
    msb_wake_signal(&net->tx_wake);
    return MSBNET_WRITTEN;
}

static long echo_read_frame(msbnet_t *net, uint8_t *buf, size_t cap, size_t *needed)
{
    struct msb_frame *f = msb_ring_peek(&net->rx);
    if (!f) {
        msb_wake_drain(&net->rx_wake); /* drain, then look again: no lost wake */
        f = msb_ring_peek(&net->rx);
        if (!f)
            return 0;
    }
    if (f->len > cap) {
        if (needed)
            *needed = f->len;
        return MSBNET_ENOSPC;
    }
    msb_ring_pop(&net->rx);
    long n = (long)f->len;
    memcpy(buf, f->data, f->len);
    msb_frame_free(f);
    atomic_fetch_add(&net->rx_frames, 1);
    return n;
}

static int echo_rx_wake_fd(msbnet_t *net)
{
    return msb_wake_fd(&net->rx_wake);
}

static int echo_set_gateways(msbnet_t *net, const char *v4, const char *v6)
{
    (void)v4, (void)v6;
    return net ? MSBNET_OK : MSBNET_EINVAL;
}

/* Accepted and never called: nothing here has a policy to break. */
static int echo_set_hook(msbnet_t *net, msbnet_termination_fn fn, void *user)
{
    (void)fn, (void)user;
    return net ? MSBNET_OK : MSBNET_EINVAL;
}

static int echo_query(msbnet_t *net, enum msbnet_query_kind kind, const char *key, size_t offset,
                      size_t limit, char **out)
{
    (void)net, (void)kind, (void)key, (void)offset, (void)limit;
    *out = strdup("{\"total\":0,\"entries\":[]}");
    return *out ? MSBNET_OK : MSBNET_ENOMEM;
}

static char *echo_metrics(msbnet_t *net)
{
    json_t *m = json_pack(
        "{s:i,s:{s:I,s:I,s:I},s:{s:I,s:I},s:{s:i,s:I,s:I},s:{s:i}}", "schema", 1, "guest",
        "tx_frames", (json_int_t)atomic_load(&net->tx_frames), "tx_ring_full",
        (json_int_t)atomic_load(&net->tx_ring_full), "rx_frames",
        (json_int_t)atomic_load(&net->rx_frames), "drops", "tx_bad_length",
        (json_int_t)atomic_load(&net->tx_bad_length), "rx_ring_full",
        (json_int_t)atomic_load(&net->rx_ring_full), "rings", "capacity",
        (int)net->cfg.queue_capacity, "tx_depth", (json_int_t)msb_ring_count(&net->tx),
        "rx_depth", (json_int_t)msb_ring_count(&net->rx), "termination", "count", 0);
    char *s = m ? json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(m);
    return s;
}

static void echo_free_string(char *s)
{
    free(s);
}

static uint64_t echo_termination_count(msbnet_t *net)
{
    (void)net;
    return 0;
}

/* The "stack": drain the wake before popping, so a frame pushed meanwhile
 * re-arms it; echo every frame back. */
static void *echo_main(void *arg)
{
    struct msbnet *net = arg;
    struct pollfd p = {.fd = msb_wake_fd(&net->tx_wake), .events = POLLIN};
    while (!atomic_load(&net->stop)) {
        poll(&p, 1, 50);
        msb_wake_drain(&net->tx_wake);
        struct msb_frame *f;
        while ((f = msb_ring_pop(&net->tx)) != NULL) {
            if (msb_ring_push(&net->rx, f)) {
                msb_wake_signal(&net->rx_wake);
            } else {
                msb_frame_free(f);
                atomic_fetch_add(&net->rx_ring_full, 1);
            }
        }
    }
    return NULL;
}

static int echo_start(msbnet_t *net, char *err, size_t errlen)
{
    bool expected = false;
    if (!atomic_compare_exchange_strong(&one_started, &expected, true)) {
        snprintf(err, errlen, "an instance is already started in this process");
        return MSBNET_ESTATE;
    }
    atomic_store(&net->stop, false);
    if (pthread_create(&net->thread, NULL, echo_main, net)) {
        atomic_store(&one_started, false);
        snprintf(err, errlen, "pthread_create failed");
        return MSBNET_ESYS;
    }
    net->started = true;
    return 0;
}

static void echo_stop(msbnet_t *net)
{
    if (!net || !net->started)
        return;
    atomic_store(&net->stop, true);
    pthread_join(net->thread, NULL);
    net->started = false;
    atomic_store(&one_started, false);
}

static char *echo_addresses(msbnet_t *net)
{
    return net ? msb_addrs_json(&net->addrs) : NULL;
}

static const struct msbnet_api_v1 table = {
    .abi_version = 1,
    .struct_size = sizeof(struct msbnet_api_v1),
    .version = echo_version,
    .create = echo_create,
    .destroy = echo_destroy,
    .write_frame = echo_write_frame,
    .read_frame = echo_read_frame,
    .rx_wake_fd = echo_rx_wake_fd,
    .set_gateways = echo_set_gateways,
    .set_termination_hook = echo_set_hook,
    .query_hostnames = echo_query,
    .metrics_json = echo_metrics,
    .free_string = echo_free_string,
    .termination_count = echo_termination_count,
    .start = echo_start,
    .stop = echo_stop,
    .addresses_json = echo_addresses,
};

__attribute__((visibility("default"))) const struct msbnet_api_v1 *
msbnet_get_api(uint32_t abi_version, char *err, size_t errlen)
{
    if (abi_version == 1)
        return &table;
    if (err && errlen)
        snprintf(err, errlen, "echo plugin serves ABI 1 only, not %u", abi_version);
    return NULL;
}
