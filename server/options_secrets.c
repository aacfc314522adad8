/* SPDX-License-Identifier: Apache-2.0 */
/* Options of TLS interception and secrets: --tls-intercept, --tls-port,
 * --secret, --secret-file, --secret-env and --on-secret-violation, turned
 * into the plugin's "tls" and "secrets" keys.  No message here ever shows
 * a secret value: refusals name the ENV part only. */
#include <errno.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "options_int.h"

static json_t *tls_object(struct msbd_opts *o)
{
    json_t *tls = json_object_get(o->overrides, "tls");
    if (!tls) {
        tls = json_object();
        json_object_set_new(o->overrides, "tls", tls);
    }
    return tls;
}

int msbd_opts_tls_intercept(struct msbd_opts *o)
{
    json_object_set_new(tls_object(o), "intercept", json_true());
    return 0;
}

int msbd_opts_tls_port(struct msbd_opts *o, const char *cmd, const char *val)
{
    unsigned long p;
    if (msbd_parse_uint(val, 65535, &p) || p == 0)
        return msbd_opt_bad(cmd, "--tls-port: \"%s\" is not a port 1..65535", val);
    json_t *ports = json_object_get(tls_object(o), "ports");
    if (!ports) {
        ports = json_array();
        json_object_set_new(tls_object(o), "ports", ports);
    }
    json_array_append_new(ports, json_integer((json_int_t)p));
    return 0;
}

int msbd_opts_on_violation(struct msbd_opts *o, const char *cmd, const char *val)
{
    if (strcmp(val, "block") && strcmp(val, "block-and-log") && strcmp(val, "block-and-terminate"))
        return msbd_opt_bad(cmd, "--on-secret-violation: \"%s\" must be block, block-and-log "
                            "or block-and-terminate", val);
    o->on_secret_violation = val;
    return 0;
}

/* HOST[,HOST]: split for the plugin, which checks each pattern. */
static json_t *host_list(const char *s)
{
    json_t *list = json_array();
    while (list && *s) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        if (n == 0) {
            json_decref(list);
            return NULL;
        }
        json_array_append_new(list, json_stringn(s, n));
        s += n + (comma ? 1 : 0);
        if (comma && !*s) { /* a trailing comma */
            json_decref(list);
            return NULL;
        }
    }
    if (list && json_array_size(list) == 0) {
        json_decref(list);
        return NULL;
    }
    return list;
}

static const char *const opt_names[] = {"--secret", "--secret-file", "--secret-env"};
static const char *const opt_forms[] = {"ENV=VALUE@HOST[,HOST]", "ENV=PATH@HOST[,HOST]",
                                        "ENV@HOST[,HOST]"};

/* The ENV part of the argument (up to '=' or, for --secret-env, '@') for
 * messages: never what follows it, and nothing at all unless it looks like
 * a variable name (a forgotten '=' must not print the value). */
static void env_part(const char *val, enum msbd_secret_kind kind, char *out, size_t outlen)
{
    const char *stop = kind == MSBD_SECRET_ENV ? "@" : "=";
    size_t n = strcspn(val, stop);
    bool name = (val[n] != '\0' || kind == MSBD_SECRET_ENV) && n <= 63;
    for (size_t i = 0; name && i < n; i++)
        name = (val[i] >= 'A' && val[i] <= 'Z') || (val[i] >= 'a' && val[i] <= 'z') ||
               (val[i] >= '0' && val[i] <= '9') || val[i] == '_';
    snprintf(out, outlen, "%.*s", name ? (int)n : 1, name ? val : "?");
}

static int add_entry(struct msbd_opts *o, enum msbd_secret_kind kind, const char *env,
                     size_t envlen, const char *source, size_t srclen, json_t *hosts)
{
    static const char *const keys[] = {"value", "value_file", "value_env"};
    json_t *e = json_object();
    json_object_set_new(e, "env", json_stringn(env, envlen));
    json_object_set_new(e, keys[kind], json_stringn(source, srclen));
    json_object_set_new(e, "hosts", hosts);
    json_t *list = json_object_get(o->overrides, "secrets");
    if (!list) {
        list = json_array();
        json_object_set_new(o->overrides, "secrets", list);
    }
    json_array_append_new(list, e);
    return 0;
}

int msbd_opts_add_secret(struct msbd_opts *o, const char *cmd, enum msbd_secret_kind kind,
                         char *val)
{
    char env[72];
    env_part(val, kind, env, sizeof env);
    char *at = strrchr(val, '@');
    size_t envlen = strcspn(val, kind == MSBD_SECRET_ENV ? "@" : "=");
    const char *source = kind == MSBD_SECRET_ENV ? val : val + envlen + 1;
    json_t *hosts = at ? host_list(at + 1) : NULL;
    if (!at || envlen == 0 || (kind != MSBD_SECRET_ENV && (!val[envlen] || source > at)) ||
        !hosts) {
        json_decref(hosts);
        return msbd_opt_bad(cmd, "%s for \"%s\": expected %s (the value is not shown)",
                            opt_names[kind], env, opt_forms[kind]);
    }
    size_t srclen = kind == MSBD_SECRET_ENV ? envlen : (size_t)(at - source);
    if (kind == MSBD_SECRET_FILE) {
        char path[4096];
        snprintf(path, sizeof path, "%.*s", (int)srclen, source);
        if (access(path, R_OK)) {
            json_decref(hosts);
            return msbd_opt_bad(cmd, "--secret-file for \"%s\": cannot read \"%s\": %s", env,
                                path, strerror(errno));
        }
    }
    add_entry(o, kind, val, envlen, source, srclen, hosts);
    if (kind == MSBD_SECRET_VALUE) /* out of /proc/PID/cmdline from now on */
        memset((char *)source, '*', srclen);
    return 0;
}

/* --on-secret-violation applies to the secrets given as options (a config
 * file's entries say their own). */
void msbd_opts_apply_violation(const struct msbd_opts *o, void *secrets_list)
{
    json_t *list = secrets_list;
    size_t i;
    json_t *e;
    if (!o->on_secret_violation)
        return;
    json_array_foreach(list, i, e)
        json_object_set_new(e, "on_violation", json_string(o->on_secret_violation));
}

void msbd_wipe_values(void *secrets_list)
{
    json_t *list = secrets_list;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        json_t *v = json_object_get(e, "value");
        if (json_is_string(v))
            explicit_bzero((char *)json_string_value(v), json_string_length(v));
    }
}

void msbd_wipe_text(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
}
