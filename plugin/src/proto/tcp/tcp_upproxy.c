/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allowed guest TCP flows dialled through an upstream proxy (config
 * "proxy", model/proxy_config.h): the host socket connects to the proxy,
 * this file runs the SOCKS5 (RFC 1928/1929) or HTTP CONNECT handshake on
 * it, and only its success lets the held SYN reach lwIP — so the guest sees
 * SYN-ACK once the proxy has reached the destination, and RST on any
 * failure.  The destination is named by the hostname the guest resolved
 * it from when the index knows one (proxies that filter by name see it),
 * else by its address.  The policy has decided before anything is dialled.
 *
 * Replies are read exactly: never a byte past the proxy's answer, which
 * belongs to the destination (a server that speaks first).  The handshake
 * runs under the flow's connect timer; its state lives only while it runs.
 * Credentials are sent and never logged.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/base64.h"
#include "lib/clock.h"
#include "model/policy_engine.h"
#include "model/proxy_config.h"
#include "proto/tcp/tcp_int.h"

#define PXY_OUT_CAP 1400 /* the largest request: CONNECT with a 253-byte name and credentials */
#define PXY_IN_CAP 1024  /* the largest reply head accepted */

enum pxy_step { STEP_GREET, STEP_AUTH, STEP_CONNECT, STEP_HTTP };

struct tcp_pxy {
    enum pxy_step step;
    struct event *ev;
    size_t out_len, out_off, in_len;
    uint8_t out[PXY_OUT_CAP];
    uint8_t in[PXY_IN_CAP];
    char host[256]; /* the destination as the proxy is told: name or address */
};

static const struct msb_proxy_cfg *cfg_of(const struct msb_tcp *t)
{
    return t->env->cfg->proxy;
}

static bool first_name(const char *hostname, void *ctx)
{
    snprintf(ctx, 256, "%s", hostname);
    return true;
}

/* The name the guest resolved the destination from, if the index has one. */
static bool dest_name(struct msb_tcp *t, const struct tcp_flow *f, char out[256])
{
    out[0] = '\0';
    return msb_hidx_any(t->env->hidx, &f->d, msb_now_ms(), first_name, out);
}

int msb_tcp_upproxy_route(struct msb_tcp *t, struct tcp_flow *f, struct sockaddr_storage *ss,
                          unsigned *sl)
{
    const struct msb_proxy_cfg *p = cfg_of(t);
    if (!p)
        return 0;
    char name[256];
    bool named = dest_name(t, f, name);
    if (msb_gateway_is(t->env->gw, &f->d) ||
        msb_pol_classify(&f->d, t->env->gw, t->env->local) == MSB_GRP_HOST ||
        (named && msb_host_patterns_match(&p->bypass, name))) {
        msb_count(&t->env->metrics->proxy.direct, 1);
        return 0;
    }
    f->pxy = calloc(1, sizeof *f->pxy);
    if (!f->pxy)
        return -1; /* the caller fails the connect: never direct by accident */
    if (named)
        memcpy(f->pxy->host, name, sizeof name);
    else
        msb_ip_format(&f->d, f->pxy->host, sizeof f->pxy->host);
    *sl = msb_ip_to_sockaddr(&p->addr, p->port, ss);
    msb_count(&t->env->metrics->proxy.dialled, 1);
    return 1;
}

void msb_tcp_upproxy_free(struct tcp_flow *f)
{
    if (!f->pxy)
        return;
    if (f->pxy->ev)
        event_free(f->pxy->ev);
    /* the requests held the credentials */
    volatile uint8_t *b = (volatile uint8_t *)f->pxy;
    for (size_t i = 0; i < sizeof *f->pxy; i++)
        b[i] = 0;
    free(f->pxy);
    f->pxy = NULL;
}

/* ---- requests ------------------------------------------------------------ */

static void put(struct tcp_pxy *x, const void *p, size_t n)
{
    memcpy(x->out + x->out_len, p, n);
    x->out_len += n;
}

static void socks_greet(struct tcp_pxy *x, const struct msb_proxy_cfg *p)
{
    static const uint8_t none[] = {5, 1, 0}, both[] = {5, 2, 0, 2};
    put(x, p->has_auth ? both : none, p->has_auth ? sizeof both : sizeof none);
    x->step = STEP_GREET;
}

static void socks_auth(struct tcp_pxy *x, const struct msb_proxy_cfg *p)
{
    uint8_t ul = (uint8_t)strlen(p->user), pl = (uint8_t)strlen(p->pass);
    put(x, (uint8_t[]){1, ul}, 2);
    put(x, p->user, ul);
    put(x, &pl, 1);
    put(x, p->pass, pl);
    x->step = STEP_AUTH;
}

static void socks_connect(struct tcp_pxy *x, const struct tcp_flow *f)
{
    put(x, (uint8_t[]){5, 1, 0}, 3);
    struct msb_ip ip;
    if (msb_ip_parse(x->host, &ip) == 0) {
        put(x, (uint8_t[]){f->d.family == MSB_FAMILY_V4 ? 1 : 4}, 1);
        put(x, f->d.b, f->d.family == MSB_FAMILY_V4 ? 4 : 16);
    } else {
        uint8_t n = (uint8_t)strlen(x->host);
        put(x, (uint8_t[]){3, n}, 2);
        put(x, x->host, n);
    }
    put(x, (uint8_t[]){(uint8_t)(f->dp >> 8), (uint8_t)f->dp}, 2);
    x->step = STEP_CONNECT;
}

static void http_connect(struct tcp_pxy *x, const struct tcp_flow *f,
                         const struct msb_proxy_cfg *p)
{
    char target[270], auth[740] = "";
    bool v6 = strchr(x->host, ':') != NULL;
    snprintf(target, sizeof target, v6 ? "[%s]:%u" : "%s:%u", x->host, f->dp);
    if (p->has_auth) {
        char pair[2 * MSB_PROXY_CRED_MAX + 2], b64[700];
        int n = snprintf(pair, sizeof pair, "%s:%s", p->user, p->pass);
        msb_base64_encode(pair, (size_t)n, b64, sizeof b64);
        snprintf(auth, sizeof auth, "Proxy-Authorization: Basic %s\r\n", b64);
        memset(pair, 0, sizeof pair);
        memset(b64, 0, sizeof b64);
    }
    int n = snprintf((char *)x->out, sizeof x->out, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n",
                     target, target, auth);
    memset(auth, 0, sizeof auth);
    x->out_len = (size_t)n;
    x->step = STEP_HTTP;
}

/* ---- replies ------------------------------------------------------------- */

enum rd { RD_MORE, RD_DONE, RD_FAIL };

/* Bytes of a SOCKS reply still missing (0: complete), -1 when malformed. */
static long socks_need(const struct tcp_pxy *x)
{
    if (x->step != STEP_CONNECT)
        return 2 - (long)x->in_len;
    if (x->in_len < 5)
        return 5 - (long)x->in_len;
    uint8_t atyp = x->in[3];
    long addr = atyp == 1 ? 4 : atyp == 4 ? 16 : atyp == 3 ? 1 + (long)x->in[4] : -1;
    return addr < 0 ? -1 : 4 + addr + 2 - (long)x->in_len;
}

/* Exactly the bytes the reply still needs, never more. */
static enum rd read_socks(int fd, struct tcp_pxy *x)
{
    long need;
    while ((need = socks_need(x)) > 0) {
        ssize_t n = recv(fd, x->in + x->in_len, (size_t)need, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return RD_MORE;
        if (n <= 0)
            return RD_FAIL;
        x->in_len += (size_t)n;
    }
    return need == 0 ? RD_DONE : RD_FAIL;
}

/* The response head up to its blank line: peeked, then only the head's
 * bytes taken. */
static enum rd read_http(int fd, struct tcp_pxy *x)
{
    ssize_t n = recv(fd, x->in + x->in_len, PXY_IN_CAP - x->in_len, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return RD_MORE;
    if (n <= 0)
        return RD_FAIL;
    size_t from = x->in_len > 3 ? x->in_len - 3 : 0, end = x->in_len + (size_t)n, take = (size_t)n;
    for (size_t i = from; i + 4 <= end; i++) {
        if (memcmp(x->in + i, "\r\n\r\n", 4) == 0) {
            take = i + 4 - x->in_len;
            break;
        }
    }
    if (recv(fd, x->in + x->in_len, take, 0) != (ssize_t)take)
        return RD_FAIL;
    x->in_len += take;
    if (x->in_len >= 4 && memcmp(x->in + x->in_len - 4, "\r\n\r\n", 4) == 0)
        return RD_DONE;
    return x->in_len == PXY_IN_CAP ? RD_FAIL : RD_MORE;
}

/* ---- the handshake ------------------------------------------------------- */

enum verdict { V_NEXT, V_OK, V_AUTH, V_REJECTED, V_BAD };

static enum verdict judge_socks(struct tcp_pxy *x, const struct tcp_flow *f,
                                const struct msb_proxy_cfg *p)
{
    uint8_t ver = x->in[0], code = x->in[1];
    x->out_len = x->out_off = x->in_len = 0;
    if (x->step == STEP_GREET) {
        if (ver != 5)
            return V_BAD;
        if (code == 0xff || (code == 2 && !p->has_auth))
            return V_AUTH;
        if (code == 2)
            socks_auth(x, p);
        else if (code == 0)
            socks_connect(x, f);
        else
            return V_BAD;
        return V_NEXT;
    }
    if (x->step == STEP_AUTH) {
        if (code != 0)
            return V_AUTH;
        socks_connect(x, f);
        return V_NEXT;
    }
    if (ver != 5)
        return V_BAD;
    return code == 0 ? V_OK : V_REJECTED;
}

static enum verdict judge_http(const struct tcp_pxy *x)
{
    unsigned code;
    if (x->in_len < 12 || memcmp(x->in, "HTTP/1.", 7) != 0 || x->in[8] != ' ' ||
        sscanf((const char *)x->in + 9, "%3u", &code) != 1)
        return V_BAD;
    if (code >= 200 && code < 300)
        return V_OK;
    /* 407 is the standard answer; some proxies (tinyproxy) send 401 */
    return code == 407 || code == 401 ? V_AUTH : V_REJECTED;
}

static void on_pxy(evutil_socket_t fd, short what, void *arg);

static int arm(struct msb_tcp *t, struct tcp_flow *f, short what)
{
    struct tcp_pxy *x = f->pxy;
    if (x->ev)
        event_free(x->ev);
    x->ev = event_new(t->env->base, f->fd, what | EV_PERSIST, on_pxy, f);
    return x->ev && event_add(x->ev, NULL) == 0 ? 0 : -1;
}

static void finish(struct msb_tcp *t, struct tcp_flow *f, enum verdict v)
{
    struct msb_proxy_metrics *m = &t->env->metrics->proxy;
    msb_count(v == V_OK ? &m->established : v == V_AUTH ? &m->auth_failed
                                      : v == V_REJECTED ? &m->rejected : &m->bad_reply, 1);
    msb_tcp_upproxy_free(f);
    if (v == V_OK)
        msb_tcp_proxy_connected(t, f);
    else
        msb_tcp_proxy_connect_failed(t, f, v == V_REJECTED ? ECONNREFUSED : EPROTO);
}

/* Sends what is queued; true once all of it is out. */
static bool send_out(struct tcp_flow *f, bool *failed)
{
    struct tcp_pxy *x = f->pxy;
    while (x->out_off < x->out_len) {
        ssize_t n = send(f->fd, x->out + x->out_off, x->out_len - x->out_off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return false;
        if (n < 0) {
            *failed = true;
            return false;
        }
        x->out_off += (size_t)n;
    }
    return true;
}

static void step(struct msb_tcp *t, struct tcp_flow *f)
{
    struct tcp_pxy *x = f->pxy;
    bool failed = false;
    if (x->out_off < x->out_len) {
        if (send_out(f, &failed) && arm(t, f, EV_READ) < 0)
            failed = true;
        if (failed)
            finish(t, f, V_BAD);
        return;
    }
    enum rd r = x->step == STEP_HTTP ? read_http(f->fd, x) : read_socks(f->fd, x);
    if (r != RD_DONE) {
        if (r == RD_FAIL)
            finish(t, f, V_BAD);
        return;
    }
    enum verdict v = x->step == STEP_HTTP ? judge_http(x) : judge_socks(x, f, cfg_of(t));
    if (v != V_NEXT)
        finish(t, f, v);
    else if (arm(t, f, EV_WRITE) < 0)
        finish(t, f, V_BAD);
}

static void on_pxy(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct tcp_flow *f = arg;
    step(f->t, f);
}

void msb_tcp_upproxy_begin(struct msb_tcp *t, struct tcp_flow *f)
{
    const struct msb_proxy_cfg *p = cfg_of(t);
    if (p->kind == MSB_PROXY_HTTP)
        http_connect(f->pxy, f, p);
    else
        socks_greet(f->pxy, p);
    if (arm(t, f, EV_WRITE) < 0)
        finish(t, f, V_BAD);
}

void msb_tcp_upproxy_unreachable(struct msb_tcp *t, struct tcp_flow *f)
{
    if (f->pxy)
        msb_count(&t->env->metrics->proxy.unreachable, 1);
}

bool msb_tcp_upproxy_is_endpoint(const struct msb_tcp *t, const struct msb_ip *d, uint16_t dp)
{
    const struct msb_proxy_cfg *p = cfg_of(t);
    return p && p->port == dp && msb_ip_equal(&p->addr, d);
}
