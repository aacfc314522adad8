/* SPDX-License-Identifier: Apache-2.0 */
/* The "tls" config object (tls_config.h): interception switch, ports,
 * bypass patterns, the user's CA, upstream CA files and limits; host
 * patterns shared with "secrets"; the rules between the keys. */
#include "model/tls_config.h"
#include "lib/errmsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int label_ok(const char *s, size_t n)
{
    if (n == 0 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

int msb_host_pattern_canon(const char *in, char out[254])
{
    size_t n = strlen(in);
    if (n == 0 || n > 253)
        return -1;
    for (size_t i = 0; i <= n; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] - 'A' + 'a' : in[i]);
    const char *p = out;
    if (strncmp(p, "*.", 2) == 0)
        p += 2;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (!label_ok(p, len))
            return -1;
        if (!dot)
            return 0;
        p = dot + 1;
    }
}

bool msb_host_patterns_match(const struct msb_host_patterns *p, const char *host)
{
    size_t hn = strlen(host);
    for (uint32_t i = 0; i < p->n; i++) {
        const char *pat = p->v[i];
        if (strncmp(pat, "*.", 2) != 0) {
            if (strcmp(pat, host) == 0)
                return true;
            continue;
        }
        size_t sn = strlen(pat) - 1; /* ".suffix" */
        if (hn > sn && strcmp(host + hn - sn, pat + 1) == 0)
            return true;
    }
    return false;
}

static void patterns_free(struct msb_host_patterns *p)
{
    for (uint32_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
    p->v = NULL;
    p->n = 0;
}

int msb_host_patterns_from_json(json_t *v, size_t max, const char *what,
                                struct msb_host_patterns *out, char *err, size_t errlen)
{
    if (!json_is_array(v) || json_array_size(v) > max)
        return msb_fail(err, errlen, "config: key \"%s\" must be an array of at most %zu host "
                        "patterns (\"name\" or \"*.suffix\")", what, max);
    out->v = calloc(json_array_size(v) + 1, sizeof *out->v);
    if (!out->v)
        return msb_fail(err, errlen, "config: key \"%s\": out of memory", what);
    size_t i;
    json_t *e;
    char canon[254];
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) || msb_host_pattern_canon(json_string_value(e), canon))
            return msb_fail(err, errlen, "config: key \"%s\"[%zu] must be a host name or "
                            "\"*.suffix\" (letters, digits, '-', '_', '.'; labels of 1..63)",
                            what, i);
        for (uint32_t k = 0; k < out->n; k++)
            if (strcmp(out->v[k], canon) == 0)
                return msb_fail(err, errlen, "config: key \"%s\"[%zu] repeats [%u]", what, i, k);
        if (!(out->v[out->n] = strdup(canon)))
            return msb_fail(err, errlen, "config: key \"%s\": out of memory", what);
        out->n++;
    }
    return 0;
}

static int set_path(json_t *v, const char *what, char **out, char *err, size_t errlen)
{
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > MSB_TLS_PATH_MAX)
        return msb_fail(err, errlen, "config: key \"%s\" must be a file path", what);
    *out = strdup(s);
    return *out ? 0 : msb_fail(err, errlen, "config: key \"%s\": out of memory", what);
}

static int set_ports(json_t *v, struct msb_tls_settings *t, char *err, size_t errlen)
{
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > MSB_TLS_PORTS_MAX)
        return msb_fail(err, errlen, "config: key \"tls.ports\" must be an array of 1..%d ports",
                        MSB_TLS_PORTS_MAX);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        json_int_t p = json_is_integer(e) ? json_integer_value(e) : 0;
        if (p < 1 || p > 65535)
            return msb_fail(err, errlen, "config: key \"tls.ports\"[%zu] must be a port 1..65535",
                            i);
        for (size_t k = 0; k < i; k++)
            if (t->ports[k] == p)
                return msb_fail(err, errlen, "config: key \"tls.ports\"[%zu] repeats port %lld",
                                i, (long long)p);
        t->ports[i] = (uint16_t)p;
    }
    t->n_ports = (uint32_t)i;
    return 0;
}

static int set_ca_files(json_t *v, struct msb_tls_settings *t, char *err, size_t errlen)
{
    if (!json_is_array(v) || json_array_size(v) > MSB_TLS_CA_FILES_MAX)
        return msb_fail(err, errlen, "config: key \"tls.upstream_ca_files\" must be an array of "
                        "at most %d file paths", MSB_TLS_CA_FILES_MAX);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (set_path(e, "tls.upstream_ca_files", &t->upstream_ca_files[i], err, errlen))
            return -1;
        t->n_upstream_ca_files = (uint32_t)i + 1;
    }
    return 0;
}

static int set_bounded(json_t *v, const char *what, uint32_t lo, uint32_t hi, uint32_t *out,
                       char *err, size_t errlen)
{
    json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;
    if (n < (json_int_t)lo || n > (json_int_t)hi)
        return msb_fail(err, errlen, "config: key \"%s\" must be an integer in %u..%u", what, lo,
                        hi);
    *out = (uint32_t)n;
    return 0;
}

static int set_flag(json_t *v, const char *what, bool *out, char *err, size_t errlen)
{
    if (!json_is_boolean(v))
        return msb_fail(err, errlen, "config: key \"%s\" must be true or false", what);
    *out = json_is_true(v);
    return 0;
}

static int tls_key(const char *key, json_t *v, struct msb_tls_settings *t, char *err,
                   size_t errlen)
{
    if (strcmp(key, "intercept") == 0)
        return set_flag(v, "tls.intercept", &t->intercept, err, errlen);
    if (strcmp(key, "verify_upstream") == 0)
        return set_flag(v, "tls.verify_upstream", &t->verify_upstream, err, errlen);
    if (strcmp(key, "ports") == 0)
        return set_ports(v, t, err, errlen);
    if (strcmp(key, "bypass") == 0)
        return msb_host_patterns_from_json(v, MSB_TLS_BYPASS_MAX, "tls.bypass", &t->bypass, err,
                                           errlen);
    if (strcmp(key, "ca_cert") == 0)
        return set_path(v, "tls.ca_cert", &t->ca_cert, err, errlen);
    if (strcmp(key, "ca_key") == 0)
        return set_path(v, "tls.ca_key", &t->ca_key, err, errlen);
    if (strcmp(key, "upstream_ca_files") == 0)
        return set_ca_files(v, t, err, errlen);
    if (strcmp(key, "ca_validity_s") == 0) /* an hour .. a year */
        return set_bounded(v, "tls.ca_validity_s", 3600, 366u * 86400u, &t->ca_validity_s, err,
                           errlen);
    if (strcmp(key, "leaf_cache_size") == 0)
        return set_bounded(v, "tls.leaf_cache_size", 1, 65536, &t->leaf_cache_size, err, errlen);
    if (strcmp(key, "max_connections") == 0)
        return set_bounded(v, "tls.max_connections", 1, MSB_TLS_MAX_CONNS_LIMIT,
                           &t->max_connections, err, errlen);
    return msb_fail(err, errlen, "config: unknown key \"tls.%s\"", key);
}

int msb_tls_settings_from_json(json_t *v, struct msb_tls_settings **out, char *err, size_t errlen)
{
    if (!json_is_object(v))
        return msb_fail(err, errlen, "config: key \"tls\" must be an object");
    struct msb_tls_settings *t = calloc(1, sizeof *t);
    if (!t)
        return msb_fail(err, errlen, "config: key \"tls\": out of memory");
    t->ports[0] = 443;
    t->n_ports = 1;
    t->verify_upstream = true;
    t->ca_validity_s = MSB_TLS_DEFAULT_CA_VALIDITY_S;
    t->leaf_cache_size = MSB_TLS_DEFAULT_LEAF_CACHE;
    t->max_connections = MSB_TLS_DEFAULT_MAX_CONNS;
    const char *key;
    json_t *e;
    int rc = 0;
    json_object_foreach(v, key, e) {
        if ((rc = tls_key(key, e, t, err, errlen)) != 0)
            break;
    }
    if (!rc && !t->ca_cert != !t->ca_key)
        rc = msb_fail(err, errlen, "config: keys \"tls.ca_cert\" and \"tls.ca_key\" go together: "
                      "give both (your CA) or neither (a CA generated per sandbox)");
    if (rc) {
        msb_tls_settings_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void msb_tls_settings_free(struct msb_tls_settings *t)
{
    if (!t)
        return;
    patterns_free(&t->bypass);
    free(t->ca_cert);
    free(t->ca_key);
    for (uint32_t i = 0; i < t->n_upstream_ca_files; i++)
        free(t->upstream_ca_files[i]);
    free(t);
}

void msb_host_patterns_free(struct msb_host_patterns *p)
{
    patterns_free(p);
}

int msb_tls_config_check(const struct msb_tls_settings *tls, const struct msb_secrets_cfg *secrets,
                         char *err, size_t errlen)
{
    bool any = secrets && secrets->n > 0;
    if (any && !(tls && tls->intercept))
        return msb_fail(err, errlen, "config: key \"secrets\" needs \"tls\": {\"intercept\": true} "
                        "(secrets are injected only into intercepted connections)");
    if (any && !tls->verify_upstream)
        return msb_fail(err, errlen, "config: key \"tls.verify_upstream\" may be false only "
                        "without secrets (an unverified upstream could be anyone)");
    return 0;
}
