/* SPDX-License-Identifier: Apache-2.0 */
/* The "limits" key and its quantity syntax (limits_config.h). */
#include "model/limits_config.h"
#include "lib/errmsg.h"
#include "lib/token_bucket.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const kind_names[MSB_LIMIT_KINDS] = {"egress", "ingress", "connections",
                                                        "dns_queries"};

const char *msb_limit_kind_name(enum msb_limit_kind kind)
{
    return (unsigned)kind < MSB_LIMIT_KINDS ? kind_names[kind] : "?";
}

struct unit {
    const char *name;
    uint64_t mul, div; /* bytes = value x mul / div */
};

static const struct unit units[] = {
    {"", 1, 1},           {"b", 1, 1},          {"kb", 1000, 1},         {"mb", 1000000, 1},
    {"gb", 1000000000, 1}, {"kib", 1u << 10, 1}, {"mib", 1u << 20, 1},    {"gib", 1u << 30, 1},
    {"bit", 1, 8},        {"kbit", 1000, 8},    {"mbit", 1000000, 8},    {"gbit", 1000000000, 8},
};

static const struct unit *unit_of(const char *s)
{
    if (strcmp(s, "b") == 0) /* "b" alone is bytes; bits are always "bit" */
        return &units[1];
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcasecmp(s, units[i].name) == 0)
            return &units[i];
    return NULL;
}

/* Digits, then an optional '.' and up to 9 digits: whole and fraction
 * (the fraction scaled to 10^9).  The end of the number in *end. */
static int number(const char *s, uint64_t *whole, uint64_t *frac, const char **end)
{
    uint64_t w = 0, f = 0, scale = 100000000;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (w > 1000000000000000ull)
            return -1; /* 10^15: far over any bound; stop before it wraps */
        w = w * 10 + (uint64_t)(*p - '0');
    }
    if (p == s)
        return -1;
    if (*p == '.') {
        const char *q = ++p;
        for (; *p >= '0' && *p <= '9'; p++, scale /= 10) {
            if (scale == 0)
                return -1;
            f += (uint64_t)(*p - '0') * scale;
        }
        if (p == q)
            return -1;
    }
    *whole = w, *frac = f, *end = p;
    return 0;
}

int msb_quantity_parse(const char *s, bool bytes, uint64_t max, const char *what, uint64_t *out,
                       char *err, size_t errlen)
{
    uint64_t w, f;
    const char *end;
    const struct unit *u = NULL;
    if (!s || number(s, &w, &f, &end) || (!bytes && (f || *end)) || !(u = unit_of(end)))
        return msb_fail(err, errlen, "config: %s must be %s", what,
                        bytes ? "a quantity like 6250000, \"50mbit\", \"2MiB\" or \"1.5GB\""
                              : "a whole number");
    /* Past UINT64_MAX / 2 / mul it is over any max; below it, with the
     * fraction part under 10^9 x 2^30, nothing wraps. */
    bool huge = w > UINT64_MAX / 2 / u->mul;
    uint64_t v = huge ? UINT64_MAX : (w * u->mul + f * u->mul / 1000000000) / u->div;
    if (v == 0 || v > max)
        return msb_fail(err, errlen, "config: %s must be 1 .. %llu%s (leave the kind out "
                        "for no limit)", what, (unsigned long long)max, bytes ? " bytes" : "");
    *out = v;
    return 0;
}

/* A JSON integer or (for byte quantities) a string. */
static int quantity(json_t *v, bool bytes, uint64_t max, const char *what, uint64_t *out,
                    char *err, size_t errlen)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 1 || (uint64_t)i > max)
            return msb_fail(err, errlen, "config: %s must be 1 .. %llu (leave the kind out for "
                            "no limit)", what, (unsigned long long)max);
        *out = (uint64_t)i;
        return 0;
    }
    if (bytes && json_is_string(v))
        return msb_quantity_parse(json_string_value(v), true, max, what, out, err, errlen);
    return msb_fail(err, errlen, "config: %s must be %s", what,
                    bytes ? "an integer or a quantity string" : "an integer");
}

static int limit_from_json(json_t *v, enum msb_limit_kind kind, struct msb_limit *out, char *err,
                           size_t errlen)
{
    bool bytes = kind == MSB_LIMIT_EGRESS || kind == MSB_LIMIT_INGRESS;
    const char *name = kind_names[kind];
    char what[64];
    if (!json_is_object(v))
        return msb_fail(err, errlen, "config: limits.%s must be an object {\"rate\", "
                        "\"burst\"?}", name);
    const char *key;
    json_t *e;
    json_object_foreach(v, key, e) {
        bool is_rate = strcmp(key, "rate") == 0;
        if (!is_rate && strcmp(key, "burst") != 0)
            return msb_fail(err, errlen, "config: unknown key \"limits.%s.%.64s\"", name, key);
        snprintf(what, sizeof what, "limits.%s.%s", name, key);
        if (quantity(e, bytes, is_rate ? MSB_TB_RATE_MAX : MSB_TB_BURST_MAX, what,
                     is_rate ? &out->rate : &out->burst, err, errlen))
            return -1;
    }
    if (!out->rate)
        return msb_fail(err, errlen, "config: limits.%s needs a \"rate\"", name);
    if (!out->burst) /* one second's worth, as the bucket would take it */
        out->burst = out->rate < MSB_TB_BURST_MAX ? out->rate : MSB_TB_BURST_MAX;
    return 0;
}

int msb_limits_from_json(json_t *v, struct msb_limits *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(v))
        return msb_fail(err, errlen, "config: key \"limits\" must be an object");
    const char *key;
    json_t *e;
    json_object_foreach(v, key, e) {
        unsigned k = 0;
        while (k < MSB_LIMIT_KINDS && strcmp(key, kind_names[k]) != 0)
            k++;
        if (k == MSB_LIMIT_KINDS)
            return msb_fail(err, errlen, "config: unknown key \"limits.%.64s\" (egress, "
                            "ingress, connections, dns_queries)", key);
        if (limit_from_json(e, (enum msb_limit_kind)k, &out->k[k], err, errlen))
            return -1;
    }
    return 0;
}

json_t *msb_limits_to_json(const struct msb_limits *l)
{
    json_t *o = json_object();
    for (unsigned k = 0; o && k < MSB_LIMIT_KINDS; k++) {
        if (!l->k[k].rate)
            continue;
        json_t *e = json_pack("{s:I, s:I}", "rate", (json_int_t)l->k[k].rate, "burst",
                              (json_int_t)l->k[k].burst);
        if (!e || json_object_set_new(o, kind_names[k], e)) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}
