/* SPDX-License-Identifier: Apache-2.0 */
/* KIND=RATE[/BURST] into a "limits" object entry (limit_spec.h). */
#include "limit_spec.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char *const kinds[] = {"egress", "ingress", "connections", "dns_queries"};

/* All digits: an integer (counts must be); anything else stays a string
 * for the plugin's quantity parser, which names what is wrong. */
static json_t *quantity(const char *s, size_t n)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return NULL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (strspn(buf, "0123456789") == n && n <= 15) {
        long long v = 0;
        sscanf(buf, "%lld", &v);
        return json_integer(v);
    }
    return json_string(buf);
}

static int known_kind(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (strlen(kinds[i]) == n && memcmp(kinds[i], s, n) == 0)
            return (int)i;
    return -1;
}

int msbd_limit_spec_add(void *limits, const char *token, char *err, size_t errlen)
{
    const char *eq = strchr(token, '=');
    int k = eq ? known_kind(token, (size_t)(eq - token)) : -1;
    if (k < 0) {
        snprintf(err, errlen, "\"%s\": expected KIND=RATE[/BURST] with KIND egress, ingress, "
                 "connections or dns_queries", token);
        return -1;
    }
    const char *rate = eq + 1, *slash = strchr(rate, '/');
    json_t *r = quantity(rate, slash ? (size_t)(slash - rate) : strlen(rate));
    json_t *b = slash ? quantity(slash + 1, strlen(slash + 1)) : NULL;
    if (!r || (slash && !b)) {
        json_decref(r);
        json_decref(b);
        snprintf(err, errlen, "\"%s\": the rate and the burst are 1 to 63 characters", token);
        return -1;
    }
    json_t *o = json_object();
    json_object_set_new(o, "rate", r);
    if (b)
        json_object_set_new(o, "burst", b);
    json_object_set_new(limits, kinds[k], o);
    return 0;
}
