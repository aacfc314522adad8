/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "limits" config key (issue 16): token-bucket rates for bytes each
 * way, new flows and DNS queries, read strictly like every other key, and
 * the quantity syntax operators write ("50mbit", "2MiB", "1.5GB").
 *
 *   "limits": {
 *     "egress":      {"rate": "50mbit", "burst": "256KiB"},  guest -> world bytes
 *     "ingress":     {"rate": 6250000},                      world -> guest bytes
 *     "connections": {"rate": 100, "burst": 20},             new TCP flows + UDP sessions
 *     "dns_queries": {"rate": 50}                            queries answered
 *   }
 *
 * A kind left out is unlimited; a rate of 0 is refused (it would stop all
 * traffic of that kind: leave the kind out, or set a policy, instead).
 * A burst left out is one second's worth of the rate.
 */
#ifndef MSB_LIMITS_CONFIG_H
#define MSB_LIMITS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum msb_limit_kind {
    MSB_LIMIT_EGRESS = 0,
    MSB_LIMIT_INGRESS,
    MSB_LIMIT_CONNECTIONS,
    MSB_LIMIT_DNS,
    MSB_LIMIT_KINDS,
};

/* rate 0: unlimited (the kind was left out). */
struct msb_limit {
    uint64_t rate;  /* bytes/s for egress and ingress, events/s otherwise */
    uint64_t burst; /* bytes or events; 0 with a rate: one second's worth */
};

struct msb_limits {
    struct msb_limit k[MSB_LIMIT_KINDS];
};

/* The config name of a kind: "egress", "ingress", "connections", "dns_queries". */
const char *msb_limit_kind_name(enum msb_limit_kind kind);

/* A quantity: digits with an optional fraction (up to 9 digits), then a
 * unit.  BYTES true (rates and bursts of egress/ingress): none or "B"
 * bytes; "kB" "MB" "GB" (10^3..10^9 bytes); "KiB" "MiB" "GiB" (2^10..2^30);
 * "bit" "kbit" "mbit" "gbit" (bits, 10^0..10^9, divided by 8).  Units are
 * case-insensitive except that "b" alone is bytes.  BYTES false: a plain
 * count, no unit, no fraction.  The result, rounded down, must be 1 ..
 * MAX.  0 or -1 with a message naming WHAT. */
int msb_quantity_parse(const char *s, bool bytes, uint64_t max, const char *what, uint64_t *out,
                       char *err, size_t errlen);

/* The "limits" object into out (zeroed first), or -1 with a message. */
int msb_limits_from_json(json_t *v, struct msb_limits *out, char *err, size_t errlen);

/* The limits as the same object (rates and bursts as integers, bursts as
 * in force: a defaulted burst shows its value); NULL on allocation failure. */
json_t *msb_limits_to_json(const struct msb_limits *l);

#endif
