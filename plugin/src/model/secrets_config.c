/* SPDX-License-Identifier: Apache-2.0 */
/* The "secrets" config list (tls_config.h): each entry's value read from
 * the config, a file or msbnetd's environment, checked by secret_scan.h's
 * rules, and given a random placeholder when none is set.  No message here
 * ever holds a value: entries are named by index and env only. */
#define _GNU_SOURCE
#include "model/tls_config.h"
#include "lib/errmsg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static const char *const violation_choices[] = {"block", "block-and-log", "block-and-terminate",
                                                NULL};

/* Wipes in a way the compiler may not drop (the tls/ wipe is a layer up). */
static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

int msb_placeholder_random(char *out, size_t len)
{
    static const char first[] = "ghijklmopqsvwxyzGHIJKLMNOPQRSTUVWXYZ";
    static const char rest[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < len;) {
        unsigned char r[64];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
            return -1;
        for (size_t k = 0; k < sizeof r && i < len; k++) {
            const char *set = i ? rest : first;
            size_t n = strlen(set);
            if (r[k] >= 256 / n * n) /* no modulo bias */
                continue;
            out[i++] = set[r[k] % n];
        }
    }
    out[len] = '\0';
    return 0;
}

static bool env_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MSB_CFG_SECRET_ENV_MAX || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

static bool placeholder_ok(const char *p)
{
    size_t n = strlen(p);
    if (n < MSB_CFG_PLACEHOLDER_MIN || n > MSB_CFG_PLACEHOLDER_MAX || strchr("bfnrtu", p[0]) ||
        strchr("0123456789abcdefABCDEF", p[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') ||
              (p[i] >= '0' && p[i] <= '9') || strchr("._~-", p[i])))
            return false;
    return true;
}

static bool value_ok(const uint8_t *v, size_t n, unsigned inject)
{
    if (n == 0 || n > MSB_CFG_SECRET_VALUE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (v[i] < 0x20 || v[i] == 0x7f || (v[i] == ' ' && (inject & MSB_CFG_INJECT_QUERY)))
            return false;
    return true;
}

#define ENTRY "config: key \"secrets\"[%u] (\"%s\"): "

/* A value file: at most 4096 bytes after one trailing newline ("\n" or
 * "\r\n", as editors and `echo` leave) is dropped. */
static int read_value_file(struct msb_secret_cfg *s, unsigned i, const char *path, char *err,
                           size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return msb_fail(err, errlen, ENTRY "cannot open value_file %s: %s", i, s->env, path,
                        strerror(errno));
    setvbuf(f, NULL, _IONBF, 0); /* no stdio buffer keeps a copy */
    uint8_t buf[MSB_CFG_SECRET_VALUE_MAX + 3];
    size_t n = fread(buf, 1, sizeof buf, f);
    bool bad = ferror(f);
    fclose(f);
    if (n && buf[n - 1] == '\n')
        n--;
    if (n && buf[n - 1] == '\r')
        n--;
    int rc = 0;
    if (bad || n > MSB_CFG_SECRET_VALUE_MAX)
        rc = msb_fail(err, errlen, ENTRY "value_file %s is unreadable or longer than %d bytes", i,
                      s->env, path, MSB_CFG_SECRET_VALUE_MAX);
    else if (n && !(s->value = malloc(n)))
        rc = msb_fail(err, errlen, ENTRY "out of memory", i, s->env);
    if (!rc && n) {
        memcpy(s->value, buf, n);
        s->vlen = n;
    }
    wipe(buf, sizeof buf);
    return rc;
}

static int copy_value(struct msb_secret_cfg *s, unsigned i, const char *v, char *err,
                      size_t errlen)
{
    size_t n = strlen(v);
    if (n == 0 || n > MSB_CFG_SECRET_VALUE_MAX)
        return 0; /* refused by value_ok with the one message */
    if (!(s->value = malloc(n)))
        return msb_fail(err, errlen, ENTRY "out of memory", i, s->env);
    memcpy(s->value, v, n);
    s->vlen = n;
    return 0;
}

/* Exactly one of value, value_file, value_env. */
static int read_value(json_t *e, struct msb_secret_cfg *s, unsigned i, char *err, size_t errlen)
{
    json_t *val = json_object_get(e, "value"), *file = json_object_get(e, "value_file"),
           *env = json_object_get(e, "value_env");
    if ((val != NULL) + (file != NULL) + (env != NULL) != 1)
        return msb_fail(err, errlen, ENTRY "give exactly one of \"value\", \"value_file\", "
                        "\"value_env\"", i, s->env);
    if (val && !json_is_string(val))
        return msb_fail(err, errlen, ENTRY "\"value\" must be a string", i, s->env);
    if (val)
        return copy_value(s, i, json_string_value(val), err, errlen);
    const char *name = json_string_value(file ? file : env);
    if (!name || !*name || strlen(name) > MSB_TLS_PATH_MAX)
        return msb_fail(err, errlen, ENTRY "\"%s\" must be a %s", i, s->env,
                        file ? "value_file" : "value_env", file ? "file path" : "variable name");
    if (file)
        return read_value_file(s, i, name, err, errlen);
    const char *v = getenv(name);
    if (!v || !*v)
        return msb_fail(err, errlen, ENTRY "environment variable %s (value_env) is not set or "
                        "empty", i, s->env, name);
    return copy_value(s, i, v, err, errlen);
}

static int read_inject(json_t *v, struct msb_secret_cfg *s, unsigned i, char *err, size_t errlen)
{
    static const char *const keys[] = {"headers", "basic_auth", "query", "body"};
    if (!json_is_object(v))
        return msb_fail(err, errlen, ENTRY "\"inject\" must be an object", i, s->env);
    const char *key;
    json_t *e;
    json_object_foreach(v, key, e) {
        size_t k = 0;
        while (k < 4 && strcmp(keys[k], key) != 0)
            k++;
        if (k == 4)
            return msb_fail(err, errlen, ENTRY "unknown key \"inject.%s\" (headers, basic_auth, "
                            "query, body)", i, s->env, key);
        if (!json_is_boolean(e))
            return msb_fail(err, errlen, ENTRY "\"inject.%s\" must be true or false", i, s->env,
                            key);
        s->inject = json_is_true(e) ? s->inject | (1u << k) : s->inject & ~(1u << k);
    }
    if (!s->inject)
        return msb_fail(err, errlen, ENTRY "\"inject\" allows nothing: set one of headers, "
                        "basic_auth, query, body", i, s->env);
    return 0;
}

static int read_violation(json_t *v, struct msb_secret_cfg *s, unsigned i, char *err,
                          size_t errlen)
{
    for (uint32_t k = 0; json_is_string(v) && violation_choices[k]; k++)
        if (strcmp(json_string_value(v), violation_choices[k]) == 0) {
            s->on_violation = k;
            return 0;
        }
    return msb_fail(err, errlen, ENTRY "\"on_violation\" must be one of: block, block-and-log, "
                    "block-and-terminate", i, s->env);
}

static int check_keys(json_t *e, unsigned i, const char *env, char *err, size_t errlen)
{
    static const char *const known[] = {"env", "value", "value_file", "value_env", "placeholder",
                                        "hosts", "inject", "on_violation", NULL};
    const char *key;
    json_t *v;
    json_object_foreach(e, key, v) {
        size_t k = 0;
        while (known[k] && strcmp(known[k], key) != 0)
            k++;
        if (!known[k])
            return msb_fail(err, errlen, ENTRY "unknown key \"%s\"", i, env, key);
    }
    return 0;
}

static int read_placeholder(json_t *v, struct msb_secret_cfg *s, unsigned i, char *err,
                            size_t errlen)
{
    if (v) {
        const char *p = json_string_value(v);
        if (!p || !placeholder_ok(p))
            return msb_fail(err, errlen, ENTRY "\"placeholder\" must be %d..%d bytes of "
                            "[A-Za-z0-9._~-], not starting with a hex digit or one of b f n r t u",
                            i, s->env, MSB_CFG_PLACEHOLDER_MIN, MSB_CFG_PLACEHOLDER_MAX);
        s->plen = strlen(p);
        memcpy(s->placeholder, p, s->plen + 1);
        return 0;
    }
    /* As long as the value (8..128), so a redacted echo of it comes back to
     * the guest as its exact placeholder (tls/README.md). */
    s->plen = s->vlen < MSB_CFG_PLACEHOLDER_MIN   ? MSB_CFG_PLACEHOLDER_MIN
              : s->vlen > MSB_CFG_PLACEHOLDER_MAX ? MSB_CFG_PLACEHOLDER_MAX
                                                  : s->vlen;
    s->placeholder_generated = true;
    if (msb_placeholder_random(s->placeholder, s->plen))
        return msb_fail(err, errlen, ENTRY "no randomness for a placeholder: %s", i, s->env,
                        strerror(errno));
    return 0;
}

static int read_entry(json_t *e, struct msb_secret_cfg *s, unsigned i, char *err, size_t errlen)
{
    if (!json_is_object(e))
        return msb_fail(err, errlen, "config: key \"secrets\"[%u] must be an object", i);
    const char *env = json_string_value(json_object_get(e, "env"));
    if (!env || !env_ok(env))
        return msb_fail(err, errlen, "config: key \"secrets\"[%u]: \"env\" must be a variable "
                        "name of 1..%d bytes of [A-Za-z0-9_], not starting with a digit", i,
                        MSB_CFG_SECRET_ENV_MAX);
    strcpy(s->env, env);
    s->inject = MSB_CFG_INJECT_HEADERS | MSB_CFG_INJECT_BASIC;
    json_t *hosts = json_object_get(e, "hosts"), *inject = json_object_get(e, "inject");
    json_t *viol = json_object_get(e, "on_violation");
    char what[96];
    snprintf(what, sizeof what, "secrets[%u].hosts", i);
    if (check_keys(e, i, env, err, errlen) || (inject && read_inject(inject, s, i, err, errlen)) ||
        (viol && read_violation(viol, s, i, err, errlen)))
        return -1;
    if (!json_is_array(hosts) || json_array_size(hosts) == 0)
        return msb_fail(err, errlen, ENTRY "\"hosts\" must list at least one host (\"name\" or "
                        "\"*.suffix\"): a secret allowed everywhere is not kept secret", i, env);
    if (msb_host_patterns_from_json(hosts, MSB_SECRET_HOSTS_MAX, what, &s->hosts, err, errlen) ||
        read_value(e, s, i, err, errlen))
        return -1;
    if (!value_ok(s->value, s->vlen, s->inject))
        return msb_fail(err, errlen, ENTRY "the value must be 1..%d bytes without control "
                        "characters%s", i, env, MSB_CFG_SECRET_VALUE_MAX,
                        s->inject & MSB_CFG_INJECT_QUERY ? ", and without spaces for query "
                                                           "injection" : "");
    return read_placeholder(json_object_get(e, "placeholder"), s, i, err, errlen);
}

static bool contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

/* Distinct env names; no placeholder inside another (substitution would
 * be ambiguous).  Placeholders are not secret but are not echoed either. */
static int check_clashes(const struct msb_secrets_cfg *c, char *err, size_t errlen)
{
    for (uint32_t i = 0; i < c->n; i++)
        for (uint32_t k = 0; k < i; k++) {
            const struct msb_secret_cfg *a = &c->s[k], *b = &c->s[i];
            if (strcmp(a->env, b->env) == 0)
                return msb_fail(err, errlen, "config: key \"secrets\"[%u] repeats env \"%s\" of "
                                "[%u]", i, b->env, k);
            if (contains(a->placeholder, b->placeholder) || contains(b->placeholder, a->placeholder))
                return msb_fail(err, errlen, "config: key \"secrets\"[%u] (\"%s\"): its "
                                "placeholder and that of [%u] (\"%s\") contain one another", i,
                                b->env, k, a->env);
        }
    return 0;
}

int msb_secrets_from_json(json_t *v, struct msb_secrets_cfg **out, char *err, size_t errlen)
{
    if (!json_is_array(v) || json_array_size(v) > MSB_CFG_SECRETS_MAX)
        return msb_fail(err, errlen, "config: key \"secrets\" must be an array of at most %d "
                        "objects", MSB_CFG_SECRETS_MAX);
    struct msb_secrets_cfg *c = calloc(1, sizeof *c);
    if (!c)
        return msb_fail(err, errlen, "config: key \"secrets\": out of memory");
    size_t i;
    json_t *e;
    int rc = 0;
    json_array_foreach(v, i, e) {
        c->n = (uint32_t)i + 1; /* so a failed entry is freed too */
        if ((rc = read_entry(e, &c->s[i], (unsigned)i, err, errlen)) != 0)
            break;
    }
    if (!rc)
        rc = check_clashes(c, err, errlen);
    if (rc) {
        msb_secrets_cfg_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void msb_secrets_cfg_free(struct msb_secrets_cfg *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; i < c->n; i++) {
        struct msb_secret_cfg *s = &c->s[i];
        if (s->value)
            wipe(s->value, s->vlen);
        free(s->value);
        msb_host_patterns_free(&s->hosts);
    }
    wipe(c, sizeof *c);
    free(c);
}
