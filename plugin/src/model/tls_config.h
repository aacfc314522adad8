/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The config keys of TLS interception and secret injection (issue 14):
 * "tls" (an object), "secrets" (a list) and "scan_plaintext", parsed
 * strictly like every other key (config.h).  Only the settings live here;
 * the CA, the leaf cache and the scanner are tls/'s, built from these by
 * the instance.
 *
 * Secret values never appear in an error message: every refusal names the
 * entry by its index and its "env" only.  Values are heap copies, wiped
 * before they are freed (msb_secrets_cfg_free).
 */
#ifndef MSB_TLS_CONFIG_H
#define MSB_TLS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define MSB_TLS_PORTS_MAX 16
#define MSB_TLS_BYPASS_MAX 256
#define MSB_TLS_CA_FILES_MAX 16
#define MSB_TLS_PATH_MAX 4095
#define MSB_TLS_DEFAULT_CA_VALIDITY_S (7u * 86400u)
#define MSB_TLS_DEFAULT_LEAF_CACHE 256u
/* Concurrent intercepted connections: each holds two SSL objects and
 * their buffers (about 100 KiB measured, plugin/src/tls/README.md), so a
 * guest opening thousands must meet a wall, not grow msbnetd. */
#define MSB_TLS_DEFAULT_MAX_CONNS 256u
#define MSB_TLS_MAX_CONNS_LIMIT 65536u
/* The same bounds as tls/secret_scan.h (checked there by a static assert
 * in api/, which sees both). */
#define MSB_CFG_SECRETS_MAX 64
#define MSB_CFG_SECRET_ENV_MAX 63
#define MSB_CFG_PLACEHOLDER_MIN 8
#define MSB_CFG_PLACEHOLDER_MAX 128
#define MSB_CFG_SECRET_VALUE_MAX 4096
#define MSB_SECRET_HOSTS_MAX 32

/* The inject bits: the values of tls/secret_scan.h's enum msb_inject. */
#define MSB_CFG_INJECT_HEADERS 1u
#define MSB_CFG_INJECT_BASIC 2u
#define MSB_CFG_INJECT_QUERY 4u
#define MSB_CFG_INJECT_BODY 8u

enum msb_on_violation {
    MSB_VIOLATION_BLOCK = 0,
    MSB_VIOLATION_BLOCK_LOG = 1,
    MSB_VIOLATION_BLOCK_TERMINATE = 2,
};

/* Host patterns: "name" (exact) or "*.suffix" (any name strictly under
 * suffix), stored lower-cased as given. */
struct msb_host_patterns {
    char **v;
    uint32_t n;
};

struct msb_tls_settings {
    bool intercept;
    uint16_t ports[MSB_TLS_PORTS_MAX];
    uint32_t n_ports;
    struct msb_host_patterns bypass;
    char *ca_cert, *ca_key; /* both or neither (NULL: generate a CA) */
    char *upstream_ca_files[MSB_TLS_CA_FILES_MAX];
    uint32_t n_upstream_ca_files;
    bool verify_upstream;
    uint32_t ca_validity_s;
    uint32_t leaf_cache_size;
    uint32_t max_connections; /* over it a new intercepted flow is reset */
};

struct msb_secret_cfg {
    char env[MSB_CFG_SECRET_ENV_MAX + 1];
    uint8_t *value; /* heap, wiped before free */
    size_t vlen;
    char placeholder[MSB_CFG_PLACEHOLDER_MAX + 1];
    size_t plen;
    bool placeholder_generated;
    struct msb_host_patterns hosts;
    unsigned inject;       /* MSB_CFG_INJECT_* */
    uint32_t on_violation; /* enum msb_on_violation */
};

struct msb_secrets_cfg {
    struct msb_secret_cfg s[MSB_CFG_SECRETS_MAX];
    uint32_t n;
};

/* The "tls" object into a new settings struct (*out, freed with
 * msb_tls_settings_free), or -1 with a message. */
int msb_tls_settings_from_json(json_t *v, struct msb_tls_settings **out, char *err, size_t errlen);
void msb_tls_settings_free(struct msb_tls_settings *t);

/* The "secrets" list, values read (value, value_file or value_env) and
 * placeholders generated where none is given.  -1 with a message that
 * never holds a value. */
int msb_secrets_from_json(json_t *v, struct msb_secrets_cfg **out, char *err, size_t errlen);
void msb_secrets_cfg_free(struct msb_secrets_cfg *s);

/* The rules between the keys (interception on for secrets, verification
 * kept with secrets), once every key is read.  tls and secrets may be NULL. */
int msb_tls_config_check(const struct msb_tls_settings *tls, const struct msb_secrets_cfg *secrets,
                         char *err, size_t errlen);

/* "name" or "*.suffix": letters, digits, '-', '_' and '.', labels 1..63,
 * at most 253 bytes, lower-cased into out.  0 or -1. */
int msb_host_pattern_canon(const char *in, char out[254]);

/* A list of at most MAX patterns; WHAT names it in messages ("tls.bypass",
 * "secrets[2].hosts").  Duplicates are refused: one is a typo.  On error
 * what was read stays in out for msb_host_patterns_free. */
int msb_host_patterns_from_json(json_t *v, size_t max, const char *what,
                                struct msb_host_patterns *out, char *err, size_t errlen);
void msb_host_patterns_free(struct msb_host_patterns *p);

/* True when host (canonical) matches one of the patterns. */
bool msb_host_patterns_match(const struct msb_host_patterns *p, const char *host);

/* A placeholder that passes secret_scan.h's rules: first byte a letter
 * other than a-f, A-F, b f n r t u, the rest letters and digits, from
 * getrandom().  0, or -1 when the kernel gives no randomness. */
int msb_placeholder_random(char *out, size_t len);

#endif
