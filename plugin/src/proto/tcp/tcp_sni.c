/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TLS SNI check on guest TCP flows, with the original's hole closed:
 * an allow rule naming a domain needs the SNI to match it, not just the
 * address; deny and terminate rules match on the SNI alone.
 *
 * A flow admitted while the policy has domain rules starts with PEND_SNI.
 * The host connect has already happened and host bytes flow to the guest
 * at once, so a server-speaks-first protocol is never delayed; only the
 * guest's own first bytes wait, and only while they are a TLS record that
 * does not yet hold the whole ClientHello (at most MSB_SNI_MAX_BYTES or
 * SNI_WAIT_MS).  Then the flow is decided once more with the SNI as the
 * hostname source: a refusal resets the flow (policy.sni_mismatch), and a
 * terminate rule also fires the hook.  Plain text and ClientHellos without SNI keep the
 * decision made at SYN time; broken, oversized or late hellos are judged
 * with an empty name, so only address rules can still allow them.
 */
#include <event2/event.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>

#include "lwip/pbuf.h"

#include "proto/enforce.h"
#include "proto/tcp/tcp_int.h"
#include "lib/tls_sni.h"

size_t msb_tcp_peek_to_host(const struct tcp_flow *f, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    for (const struct pbuf *q = f->to_host; q && n < cap; q = q->next) {
        size_t k = q->len < cap - n ? q->len : cap - n;
        memcpy(buf + n, q->payload, k);
        n += k;
    }
    return n;
}

static void arm_wait(struct tcp_flow *f)
{
    if (msb_tcp_flow_saw(f, EVT_SNI_WAITED) || !f->tmr)
        return;
    const struct timeval tv = {SNI_WAIT_MS / 1000, (SNI_WAIT_MS % 1000) * 1000};
    event_add(f->tmr, &tv); /* on_timer ends the wait, then re-arms the idle timeout */
    msb_tcp_flow_event(f, EVT_SNI_WAITED);
}

/* The host peer sees a reset, as for any flow the policy ends. */
static void reset_host_on_close(struct msb_tcp *t, struct tcp_flow *f)
{
    if (f->fd < 0)
        return;
    const struct linger lg = {1, 0};
    setsockopt(f->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    msb_count(&t->m->resets_to_host, 1);
}

enum msb_tcp_sni_gate msb_tcp_sni_gate(struct msb_tcp *t, struct tcp_flow *f)
{
    uint8_t buf[MSB_SNI_MAX_BYTES];
    char name[MSB_SNI_NAME_MAX + 1];
    size_t n = msb_tcp_peek_to_host(f, buf, sizeof buf);
    enum msb_sni_result r = msb_tls_sni(buf, n, name);
    if (r == MSB_SNI_NEED_MORE && !msb_tcp_flow_saw(f, EVT_SNI_EXPIRED)) {
        arm_wait(f);
        return SNI_HOLD;
    }
    msb_tcp_flow_pend(f, PEND_SNI, false);
    if (r == MSB_SNI_NOT_TLS || r == MSB_SNI_NO_SNI)
        return SNI_PASS;
    if (r != MSB_SNI_FOUND)
        name[0] = '\0';
    const struct msb_flow_ref ref = {MSB_IPPROTO_TCP, false, &f->g, f->gp, &f->d, f->dp};
    if (f->rec)
        snprintf(f->rec->sni, sizeof f->rec->sni, "%s", name);
    if (msb_policy_allow_sni(t->env, &ref, name))
        return SNI_PASS;
    /* The flow's own record says the SNI refused it (none from enforce). */
    if (f->rec) {
        f->rec->action = t->env->verdict.action;
        f->rec->rule = t->env->verdict.rule;
    }
    msb_tcp_flow_ended(f, MSB_FR_END_REFUSED);
    reset_host_on_close(t, f);
    return SNI_DENY;
}
