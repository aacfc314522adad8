/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An instance's TLS interception and secrets (issue 14) as far as the
 * control plane sees them: the parsed "tls" and "secrets" settings, the
 * secret set the data path will substitute from (tls/secret_scan.h), the
 * sandbox CA (made or loaded at the first start, kept until destroy so a
 * guest that trusts it keeps trusting it across stop/start), its
 * certificate as PEM for ca_certificate(), and per-secret counters.
 *
 * The engine's context (tls/tls_relay.h) is made with the CA at the first
 * start and handed to the stack thread, which alone uses it.  Secrets
 * replaced at run time (api/secrets_replace.h) become the current
 * generation here at once and reach the context on the stack thread's
 * next wake: new connections use them, open ones keep theirs.
 *
 * Threads: new/free belong to create/destroy; start runs under the
 * instance's life lock; the PEM and the JSON may be read from any thread
 * (the lock below guards the PEM pointer and the current generation).
 */
#ifndef MSB_API_TLS_STATE_H
#define MSB_API_TLS_STATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "model/tls_config.h"
#include "tls/secret_scan.h"
#include "tls/tls_ca.h"
#include "tls/tls_relay.h"

struct msb_tls_state {
    struct msb_tls_settings *settings; /* NULL: no "tls" key */
    bool scan_plaintext;
    struct msb_secret_gen *gen;        /* current secrets (values inside, wiped on free) */
    bool gen_pending;                  /* gen replaced since the context took it */
    struct msb_tls_ca *ca;             /* from the first start with interception on */
    struct msb_tls_ctx *ctx;           /* the engine's, made with the CA; the stack thread's */
    pthread_mutex_t lock;              /* guards ca_pem, gen, gen_pending */
    char *ca_pem;
    atomic_uint_fast64_t substitutions[MSB_SECRETS_MAX]; /* the current generation's */
    atomic_uint_fast64_t violations[MSB_SECRETS_MAX];
};

/* Takes over tls and secrets (also when it fails).  NULL with a message. */
struct msb_tls_state *msb_tls_state_new(struct msb_tls_settings *tls,
                                        struct msb_secrets_cfg *secrets, bool scan_plaintext,
                                        char *err, size_t errlen);
void msb_tls_state_free(struct msb_tls_state *t);

/* With interception on and no CA yet: the user's CA loaded or a new one
 * generated, its PEM kept.  0, or -1 with a message naming the file. */
int msb_tls_state_start(struct msb_tls_state *t, char *err, size_t errlen);

/* The CA certificate as a malloc'd PEM: MSBNET_OK, MSBNET_ESTATE when
 * interception is off or the instance has not started yet, MSBNET_ENOMEM. */
int msb_tls_state_ca_pem(struct msb_tls_state *t, char **out);

/* {"intercept": B, "scan_plaintext": B, "secrets": [{"env", "hosts",
 * "inject", "on_violation", "placeholder", "placeholder_generated",
 * "removed", "substitutions", "violations"}]} -- never a value ("removed":
 * a tombstone, secret_gen.h).  malloc'd; NULL on allocation failure. */
char *msb_tls_state_secrets_json(struct msb_tls_state *t);

#endif
