/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scan_plaintext: the guest's bytes on every TCP flow that is not
 * intercepted (a port interception does not cover, a bypassed name, a
 * non-TLS stream on an intercepted port) go through the placeholder
 * scanner of tls/secret_scan.h before any of them is queued for the host.
 * No connection of that kind may carry a secret -- substitution happens
 * only inside interception -- so every placeholder is watched and a hit is
 * a violation: that read never leaves, both sides are reset, and the
 * secret's on_violation applies (tcp_tls.c).  What it cannot see: TLS it
 * does not terminate (ciphertext), and the forms secret_scan.h lists.
 *
 * State per flow, made on its first bytes: the scanner (fixed size, about
 * 0.5 KiB) and a reference to the secrets current then, kept for the
 * flow's life like an intercepted connection's.
 */
#include <stdio.h>
#include <stdlib.h>

#include "lwip/pbuf.h"

#include "proto/tcp/tcp_int.h"
#include "tls/secret_gen.h"
#include "tls/tls_relay.h"

struct msb_tcp_pscan {
    struct msb_scan sc;
    struct msb_secret_gen *gen;
};

void msb_tcp_pscan_free(struct tcp_flow *f)
{
    if (!f->pscan)
        return;
    msb_secret_gen_unref(f->pscan->gen);
    free(f->pscan);
    f->pscan = NULL;
}

/* The flow's scanner, made on first use; NULL when there is nothing to
 * watch (*FAILED set when it could not be made). */
static struct msb_tcp_pscan *scanner(struct msb_tcp *t, struct tcp_flow *f, bool *failed)
{
    if (f->pscan)
        return f->pscan;
    struct msb_secret_gen *g = msb_tls_ctx_secrets(t->env->tls);
    if (!g || !g->set.n)
        return NULL;
    if (!(f->pscan = malloc(sizeof *f->pscan))) {
        *failed = true;
        return NULL;
    }
    f->pscan->gen = msb_secret_gen_ref(g);
    size_t n = g->set.n;
    msb_scan_init(&f->pscan->sc, n >= 64 ? ~0ull : (1ull << n) - 1);
    return f->pscan;
}

int msb_tcp_pscan(struct msb_tcp *t, struct tcp_flow *f, const struct pbuf *p)
{
    if (!t->env->cfg->scan_plaintext || !t->env->tls || f->tls)
        return 0;
    bool failed = false;
    struct msb_tcp_pscan *ps = scanner(t, f, &failed);
    if (failed) { /* unscanned bytes could carry a secret: refuse them */
        msb_count(&t->env->metrics->tls.plaintext_scan_failed, 1);
        return -1;
    }
    int hit = -1;
    for (const struct pbuf *q = p; ps && q && hit < 0; q = q->next)
        hit = msb_scan_feed(&ps->sc, &ps->gen->set, q->payload, q->len);
    if (hit < 0)
        return 0;
    msb_count(&t->env->metrics->tls.plaintext_violations, 1);
    msb_tls_ctx_count_violation(t->env->tls, ps->gen, hit);
    char d[MSB_IP_STRLEN];
    msb_ip_format(&f->d, d, sizeof d);
    msb_tcp_tls_violation(t, f, &ps->gen->cfg->s[hit], d);
    msb_tcp_tls_publish(t);
    return -1;
}
