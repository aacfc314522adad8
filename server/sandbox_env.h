/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What `msbnetd run` gives CMD of TLS interception and secrets (issue 14):
 * ENV=PLACEHOLDER for every secret (replacing any real value msbnetd's own
 * environment holds for --secret-env), and, with interception on, the
 * sandbox CA in CMD's trust store view (mount.h's bundle) with
 * SSL_CERT_FILE, CURL_CA_BUNDLE, NODE_EXTRA_CA_CERTS and REQUESTS_CA_BUNDLE
 * naming it.  Values and the CA key never reach the child.
 */
#ifndef MSBD_SANDBOX_ENV_H
#define MSBD_SANDBOX_ENV_H

#include <stdbool.h>
#include <stddef.h>

#include "host.h"

struct msbd_sandbox_env {
    char **assign; /* "ENV=PLACEHOLDER" each, n of them */
    size_t n;
};

/* After msbd_host_open, before the fork: the placeholders from the
 * plugin's secrets_json.  0, or MSBD_EXIT_USAGE / 1 with a message (the
 * options ask for what the plugin's table lacks). */
int msbd_sandbox_env_prepare(struct msbd_sandbox_env *e, const struct msbd_host *h,
                             const struct msbd_opts *o);

/* After start: the CA certificate as PEM (free()), NULL when interception
 * is off.  -1 with a message when the plugin fails to give it. */
int msbd_sandbox_env_ca_pem(const struct msbd_host *h, char **pem);

/* In the child, just before CMD starts: the bundle mounted (when pem is
 * not NULL) and the variables set.  0, or -1 with a reason in err. */
int msbd_sandbox_env_apply(const struct msbd_sandbox_env *e, const char *pem, size_t len,
                           char *err, size_t errlen);

void msbd_sandbox_env_free(struct msbd_sandbox_env *e);

#endif
