/* SPDX-License-Identifier: Apache-2.0 */
/* One plugin instance (instance.h): create and destroy, start and stop as
 * the stack's owner, and the guest frame path through the rings with rx
 * backpressure. */
#include "api/instance.h"

#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#include "api/frame_fds.h"
#include "api/limits_replace.h"
#include "model/proxy_config.h"
#include "api/policy_replace.h"
#include "api/secrets_replace.h"
#include "api/tls_state.h"
#include "lib/clock.h"
#include "lib/vnet_hdr.h"
#include "model/policy_model.h"
#include "proto/dns_forward.h"
#include "proto/dns_tcp.h"
#include "msbnet/msbnet.h"
#include "stack/stack.h"

static void free_queued(struct msb_ring *r)
{
    if (!r->cells)
        return;
    struct msb_frame *f;
    while ((f = msb_ring_pop(r)) != NULL)
        msb_frame_free(f);
    msb_ring_destroy(r);
}

static int init_parts(struct msbnet *net, char *err, size_t errlen)
{
    const struct msb_config *c = &net->cfg;
    enum msb_wake_kind wk = (enum msb_wake_kind)c->wake;
    if (msb_ring_init(&net->tx, c->queue_capacity) || msb_ring_init(&net->rx, c->queue_capacity)) {
        snprintf(err, errlen, "out of memory for %u-frame rings", c->queue_capacity);
        return -1;
    }
    net->tx_wake.rfd = net->rx_wake.rfd = net->proxy_wake.rfd = -1;
    net->tx_wake.wfd = net->rx_wake.wfd = net->proxy_wake.wfd = -1;
    if (msb_wake_init(&net->tx_wake, wk) || msb_wake_init(&net->rx_wake, wk) ||
        msb_wake_init(&net->proxy_wake, wk)) {
        snprintf(err, errlen, "cannot create wake descriptors");
        return -1;
    }
    if (msb_hidx_init(&net->hidx, c->hostname_index_max_entries,
                      (uint64_t)c->hostname_index_max_ttl_s * 1000u)) {
        snprintf(err, errlen, "cannot create the hostname index");
        return -1;
    }
    if (msb_flowrec_init(&net->flows)) {
        snprintf(err, errlen, "cannot create the flow-record ring");
        return -1;
    }
    return 0;
}

/* The preset a config without "policy" gets from its "egress" switch. */
static enum msb_pol_preset egress_preset(uint32_t egress)
{
    switch (egress) {
    case MSB_EGRESS_ALLOW:
        return MSB_PRESET_ALLOW_ALL;
    case MSB_EGRESS_DENY:
        return MSB_PRESET_NONE;
    default:
        return MSB_PRESET_PUBLIC_ONLY;
    }
}

/* Every flow holds a host descriptor.  Caps that add up to more than the
 * process may open would fail at the worst moment, and a guest could use
 * up the descriptors of the VMM that loaded the plugin: the caps are scaled
 * down to what RLIMIT_NOFILE leaves (an eighth and 64 more are kept for the
 * host), and the new values are said on stderr. */
static void fit_descriptor_limit(struct msb_config *c)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY)
        return;
    uint64_t keep = 64 + rl.rlim_cur / 8;
    uint64_t avail = rl.rlim_cur > keep + 64 ? rl.rlim_cur - keep : 64;
    uint64_t fixed = MSB_DNS_MAX_IN_FLIGHT + MSB_DNS_TCP_MAX_CONNS;
    uint64_t want = (uint64_t)c->max_flows + c->max_udp_sessions + c->max_icmp_echoes +
                    2u * c->max_inbound_flows + fixed;
    if (want <= avail)
        return;
    uint64_t room = avail > fixed + 16 ? avail - fixed : 16;
    uint32_t *caps[] = {&c->max_flows, &c->max_udp_sessions, &c->max_icmp_echoes,
                        &c->max_inbound_flows};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        /* Rounded up: a small cap set on purpose is not halved by a
         * limit that barely binds. */
        uint64_t v = ((uint64_t)*caps[i] * room + (want - fixed) - 1) / (want - fixed);
        *caps[i] = v ? (uint32_t)v : 1;
    }
    /* Said at warn level when it bites (fewer than 1024 TCP flows, as in a
     * VMM at the common soft limit of 1024), else at info level. */
    if (c->log_level < MSB_LOG_INFO && c->max_flows >= 1024)
        return;
    fprintf(stderr,
            "msbnet[%u]: RLIMIT_NOFILE %llu leaves room for fewer flows: max_flows %u, "
            "max_udp_sessions %u, max_icmp_echoes %u, max_inbound_flows %u (raise the limit "
            "to keep the configured caps)\n",
            c->slot, (unsigned long long)rl.rlim_cur, c->max_flows, c->max_udp_sessions,
            c->max_icmp_echoes, c->max_inbound_flows);
}

static struct msbnet *create(const struct msb_config *cfg, char *err, size_t errlen)
{
    struct msbnet *net = calloc(1, sizeof *net);
    if (!net) {
        msb_policy_free(cfg->policy);
        msb_proxy_cfg_free(cfg->proxy);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    net->tx_fd = net->rx_fd = -1;
    net->cfg = *cfg;
    fit_descriptor_limit(&net->cfg);
    net->cfg.policy = NULL;
    net->cfg.tls = NULL;
    net->cfg.secrets = NULL;
    net->cfg.publish = NULL;
    net->cfg.n_publish = 0;
    msb_publish_init(&net->pub);
    net->policy = cfg->policy ? cfg->policy : msb_policy_preset(egress_preset(cfg->egress));
    atomic_init(&net->terminated, false);
    if (!net->policy) {
        snprintf(err, errlen, "out of memory for the policy");
        free(net);
        return NULL;
    }
    msb_addrs_derive(cfg, &net->addrs);
    atomic_init(&net->rx_blocked, false);
    msb_metrics_init(&net->metrics);
    if (msb_hook_init(&net->hook)) {
        snprintf(err, errlen, "cannot create the termination hook lock");
        msb_policy_free(net->policy);
        msb_proxy_cfg_free(net->cfg.proxy);
        free(net);
        return NULL;
    }
    atomic_init(&net->policy_has_pending, false);
    atomic_init(&net->limits_has_pending, false);
    if (msb_gateways_init(&net->gw) || pthread_mutex_init(&net->life, NULL) ||
        pthread_mutex_init(&net->policy_lock, NULL) || pthread_mutex_init(&net->limits_lock, NULL) ||
        msb_flow_live_init(&net->live)) {
        snprintf(err, errlen, "cannot create the instance locks");
        msb_hook_destroy(&net->hook);
        msb_policy_free(net->policy);
        msb_proxy_cfg_free(net->cfg.proxy);
        free(net);
        return NULL;
    }
    if (init_parts(net, err, errlen)) {
        msb_instance_destroy(net);
        return NULL;
    }
    return net;
}

struct msbnet *msb_instance_create(const struct msb_config *cfg, char *err, size_t errlen)
{
    struct msb_tls_state *tls = msb_tls_state_new(cfg->tls, cfg->secrets, cfg->scan_plaintext,
                                                  err, errlen);
    struct msbnet *net = NULL;
    if (!tls)
        msb_policy_free(cfg->policy);
    else if (!(net = create(cfg, err, errlen)))
        msb_tls_state_free(tls);
    else
        net->tls = tls;
    for (uint32_t i = 0; net && i < cfg->n_publish; i++) {
        if (msb_publish_open(net, &cfg->publish[i], err, errlen) != MSBNET_OK) {
            msb_instance_destroy(net);
            net = NULL;
        }
    }
    free(cfg->publish);
    return net;
}

void msb_instance_destroy(struct msbnet *net)
{
    if (!net)
        return;
    msb_instance_stop(net);
    free_queued(&net->tx);
    free_queued(&net->rx);
    msb_wake_close(&net->tx_wake);
    msb_wake_close(&net->rx_wake);
    msb_wake_close(&net->proxy_wake);
    if (net->hidx.heap)
        msb_hidx_destroy(&net->hidx);
    msb_flowrec_destroy(&net->flows);
    msb_gateways_destroy(&net->gw);
    msb_hook_destroy(&net->hook);
    pthread_mutex_destroy(&net->life);
    pthread_mutex_destroy(&net->policy_lock);
    pthread_mutex_destroy(&net->limits_lock);
    msb_flow_live_destroy(&net->live);
    msb_policy_free(net->policy);
    msb_policy_free(net->policy_pending);
    msb_publish_destroy(&net->pub);
    msb_tls_state_free(net->tls);
    msb_proxy_cfg_free(net->cfg.proxy);
    free(net);
}

/* ---- the stack's owner (stack/stack.h) ------------------------------------ */

static bool own_take_policy(void *ctx)
{
    return msb_policy_take_pending(ctx);
}

static bool own_take_limits(void *ctx, struct msb_limits *out, bool always)
{
    return msb_limits_take(ctx, out, always);
}

static int own_attach(void *ctx, struct msb_stack *s)
{
    if (msb_frame_fds_start(ctx, s))
        return -1;
    msb_publish_sync(ctx, s); /* listeners published before start */
    return 0;
}

static void own_detach(void *ctx, struct msb_stack *s)
{
    (void)s;
    msb_publish_detach(ctx);
    msb_frame_fds_stop(ctx);
}

static void own_sync(void *ctx, struct msb_stack *s)
{
    msb_publish_sync(ctx, s);
    msb_flow_live_serve(&((struct msbnet *)ctx)->live, s);
    msb_secrets_take(ctx);
}

static bool own_emit(void *ctx, struct msb_frame *f)
{
    return msb_instance_emit(ctx, f);
}

static bool own_rx_room(void *ctx, size_t frames)
{
    return msb_instance_rx_has_room(ctx, frames);
}

static struct msb_stack_owner owner_of(struct msbnet *net)
{
    return (struct msb_stack_owner){.ctx = net,
                                    .cfg = &net->cfg,
                                    .addrs = &net->addrs,
                                    .metrics = &net->metrics,
                                    .gw = &net->gw,
                                    .hidx = &net->hidx,
                                    .flows = &net->flows,
                                    .hook = &net->hook,
                                    .terminated = &net->terminated,
                                    .policy = &net->policy,
                                    .tls = net->tls->ctx,
                                    .tls_settings = net->tls->settings,
                                    .secret_substitutions = net->tls->substitutions,
                                    .secret_violations = net->tls->violations,
                                    .tx = &net->tx,
                                    .tx_wake = &net->tx_wake,
                                    .proxy_wake = &net->proxy_wake,
                                    .take_policy = own_take_policy,
                                    .take_limits = own_take_limits,
                                    .attach = own_attach,
                                    .detach = own_detach,
                                    .sync = own_sync,
                                    .emit = own_emit,
                                    .rx_room = own_rx_room};
}

int msb_instance_start(struct msbnet *net, char *err, size_t errlen)
{
    pthread_mutex_lock(&net->life);
    int rc = MSBNET_OK;
    if (net->stack) {
        snprintf(err, errlen, "already started");
        rc = MSBNET_ESTATE;
    } else if (msb_tls_state_start(net->tls, err, errlen)) {
        rc = MSBNET_EINVAL; /* the user's CA files, or no CA could be made */
    } else {
        msb_policy_set_stack_live(net, true);
        struct msb_stack_owner own = owner_of(net);
        if (!(net->stack = msb_stack_start(&own, err, errlen))) {
            msb_policy_set_stack_live(net, false);
            rc = MSBNET_ESTATE;
        }
    }
    pthread_mutex_unlock(&net->life);
    return rc;
}

void msb_instance_stop(struct msbnet *net)
{
    pthread_mutex_lock(&net->life);
    if (net->stack) {
        msb_stack_stop(net->stack);
        net->stack = NULL;
        msb_policy_set_stack_live(net, false);
    }
    pthread_mutex_unlock(&net->life);
}

/* The guest frame as the stack will see it: a plain copy, or (vnet_hdr)
 * the frame behind the header with its offloads resolved or tagged.
 * NULL with *rc set when refused (the drop is counted). */
static struct msb_frame *take_frame(struct msbnet *net, const uint8_t *frame, size_t len,
                                    struct msb_vnet_ingested *vn, int *rc)
{
    enum msb_drop_reason why = MSB_DROP_TX_BAD_LENGTH;
    struct msb_frame *f = NULL;
    if (net->cfg.vnet_hdr)
        f = msb_vnet_ingest(frame, len, vn, &why);
    else if (len >= MSBNET_MIN_FRAME && len <= MSBNET_MAX_FRAME && !(f = msb_frame_new(frame, len)))
        why = MSB_DROP_TX_NO_MEMORY;
    if (!f) {
        msb_drop(&net->metrics, why);
        *rc = why == MSB_DROP_TX_NO_MEMORY ? MSBNET_ENOMEM : MSBNET_EINVAL;
    }
    return f;
}

static void count_vnet(struct msb_metrics *m, const struct msb_vnet_ingested *vn)
{
    msb_count(&m->vnet.frames, 1);
    if (vn->csum_completed)
        msb_count(&m->vnet.csum_completed, 1);
    if (vn->gso)
        msb_count(&m->vnet.gso_frames, 1);
}

/* Counted only once accepted: a retried frame is not counted twice.
 * Bytes are the Ethernet frame's (flen), without a virtio-net header; the
 * length is taken before the push, as the frame is the stack's after it. */
static void count_accepted(struct msbnet *net, size_t flen, const struct msb_vnet_ingested *vn)
{
    msb_count(&net->metrics.tx_bytes, flen);
    msb_count(&net->metrics.tx_frames, 1);
    if (net->cfg.vnet_hdr)
        count_vnet(&net->metrics, vn);
}

int msb_instance_write_frame(struct msbnet *net, const uint8_t *frame, size_t len)
{
    struct msb_vnet_ingested vn;
    int rc = MSBNET_EINVAL;
    struct msb_frame *f = take_frame(net, frame, len, &vn, &rc);
    if (!f)
        return rc;
    size_t flen = f->len; /* the stack thread may free f once it is pushed */
    if (!msb_ring_push(&net->tx, f)) {
        msb_frame_free(f);
        msb_count(&net->metrics.tx_ring_full, 1);
        return MSBNET_NOTHING_WRITTEN;
    }
    count_accepted(net, flen, &vn);
    msb_wake_signal(&net->tx_wake);
    return MSBNET_WRITTEN;
}

struct msb_frame *msb_instance_take_direct(struct msbnet *net, const uint8_t *frame, size_t len)
{
    struct msb_vnet_ingested vn;
    int rc;
    struct msb_frame *f = take_frame(net, frame, len, &vn, &rc);
    if (f)
        count_accepted(net, f->len, &vn);
    return f;
}

void msb_instance_count_rx(struct msbnet *net, const struct msb_frame *f)
{
    msb_count(&net->metrics.rx_bytes, f->len);
    msb_count(&net->metrics.rx_frames, 1);
}

int msb_instance_set_frame_fds(struct msbnet *net, int tx_fd, int rx_fd)
{
    pthread_mutex_lock(&net->life);
    int rc = net->stack ? MSBNET_ESTATE : MSBNET_OK;
    if (rc == MSBNET_OK) {
        net->tx_fd = tx_fd;
        net->rx_fd = rx_fd;
    }
    pthread_mutex_unlock(&net->life);
    return rc;
}

/* After the reader frees a slot, tell a stack that stopped for lack of room. */
static void note_room(struct msbnet *net)
{
    if (atomic_load_explicit(&net->rx_blocked, memory_order_relaxed) &&
        atomic_exchange(&net->rx_blocked, false))
        msb_wake_signal(&net->proxy_wake);
}

long msb_instance_read_frame(struct msbnet *net, uint8_t *buf, size_t cap, size_t *needed)
{
    if (net->rx_fd >= 0)
        return 0; /* the stack thread writes the frames to rx_fd itself */
    struct msb_frame *f = msb_ring_peek(&net->rx);
    if (!f) {
        /* Drain only when empty: the fd stays readable while frames wait, so
         * a reader that stops early is woken again; then look once more for
         * a frame pushed between the peek and the drain. */
        msb_wake_drain(&net->rx_wake);
        f = msb_ring_peek(&net->rx);
        if (!f)
            return 0;
    }
    /* vnet_hdr: a zeroed header (no offload asked of the VMM: every
     * checksum in f is complete) in front of the frame, or with
     * "vnet_guest_tso" a TSO super-frame's (vnet_hdr.h). */
    size_t hdr = net->cfg.vnet_hdr ? MSBNET_VNET_HDR_LEN : 0;
    if (hdr + f->len > cap) {
        if (needed)
            *needed = hdr + f->len;
        return MSBNET_ENOSPC;
    }
    msb_ring_pop(&net->rx);
    if (hdr)
        msb_vnet_rx_hdr(f, buf);
    memcpy(buf + hdr, f->data, f->len);
    msb_instance_count_rx(net, f);
    long len = (long)(hdr + f->len);
    msb_frame_free(f);
    note_room(net);
    return len;
}

static bool rx_room(struct msbnet *net, size_t frames)
{
    return msb_ring_count(&net->rx) + frames <= msb_ring_capacity(&net->rx);
}

/* Asks the reader for a proxy_wake when it frees room.  The flag is set
 * before looking again, so a pop racing with us either sees the flag or
 * leaves room that the second look finds: no wake is lost.  Returns true
 * when there is room after all (a spurious wake may follow; harmless). */
static bool wait_for_room(struct msbnet *net, size_t frames)
{
    atomic_store(&net->rx_blocked, true);
    return rx_room(net, frames);
}

bool msb_instance_emit(struct msbnet *net, struct msb_frame *f)
{
    if (net->rx_fd >= 0)
        return msb_frame_fds_emit(net, f);
    if (msb_ring_push(&net->rx, f)) {
        msb_wake_signal(&net->rx_wake);
        return true;
    }
    msb_frame_free(f);
    msb_drop(&net->metrics, MSB_DROP_RX_RING_FULL);
    if (wait_for_room(net, 1))
        msb_wake_signal(&net->proxy_wake);
    return false;
}

bool msb_instance_rx_has_room(struct msbnet *net, size_t frames)
{
    return rx_room(net, frames) || wait_for_room(net, frames);
}
