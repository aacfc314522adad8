/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "profile" config key: "standard" (the default: every key as given) or
 * "multi-tenant", one switch for operators hosting untrusted tenants, in
 * the spirit of microsandbox's deployment profile:
 *   - DNS rebinding protection on (an explicit false is refused);
 *   - the guest cannot choose its resolver: a query to any address goes to
 *     the configured upstreams (dns_force_upstreams);
 *   - no published ports, at create or at run time;
 *   - conservative caps (below), and connection and DNS rate limits, where
 *     the config does not set them; a value set above a cap is refused.
 * Applied after every other key, so the order of keys does not matter.
 */
#ifndef MSB_PROFILE_H
#define MSB_PROFILE_H

#include <stddef.h>

#include <jansson.h>

struct msb_config;

enum msb_profile { MSB_PROFILE_STANDARD = 0, MSB_PROFILE_MULTI_TENANT = 1 };

/* The profile named by "profile" in ROOT (absent: standard) applied to C,
 * whose other keys are parsed.  0, or -1 with a message naming the key. */
int msb_profile_apply(json_t *root, struct msb_config *c, char *err, size_t errlen);

#endif
