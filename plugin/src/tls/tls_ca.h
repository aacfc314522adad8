/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox's TLS interception authority: a CA (generated in memory per
 * sandbox, or the user's), the leaf certificates it mints for the names a
 * guest connects to, and a bounded, expiry-aware cache of those leaves.
 *
 * Threading: a CA and its cache belong to the stack thread; nothing here
 * takes a lock, and nothing may be shared with another thread without one.
 * Errors: every failing call returns NULL or -1 with a message in err (the
 * lib/errmsg.h pattern) and leaves OpenSSL's error queue empty, so a stale
 * entry cannot be mistaken for a later failure's cause.
 */
#ifndef MSB_TLS_CA_H
#define MSB_TLS_CA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/types.h>

#include "lib/addr.h"

/* A generated CA lives 7 days unless told otherwise: long enough for any
 * sandbox session, short enough that a leaked CA certificate in a guest's
 * trust store goes stale on its own. */
#define MSB_TLS_CA_DEFAULT_VALIDITY (7L * 24 * 3600)
/* notBefore is backdated so a guest whose clock lags the host's still
 * accepts a fresh CA or leaf. */
#define MSB_TLS_CLOCK_SKEW (3600L)
/* The longest name a leaf is minted for (the DNS limit), plus NUL. */
#define MSB_TLS_NAME_MAX 253u

struct msb_tls_ca_opts {
    long validity_secs; /* 0: MSB_TLS_CA_DEFAULT_VALIDITY */
    /* DNS name constraints (RFC 5280 permitted subtrees), NULL-terminated;
     * NULL or empty: none, the CA may mint for any name. */
    const char *const *permitted_dns;
};

/* Read-only outside tls_ca.c; the fields are here so tls_leaf.c can sign
 * and tests can inspect. */
struct msb_tls_ca {
    X509 *cert;
    EVP_PKEY *key;      /* the CA's signing key: never exported by this API */
    EVP_PKEY *leaf_key; /* one P-256 key for every leaf of this CA */
    time_t not_before, not_after;
};

/* A fresh CA: EC P-256, random 128-bit serial, subject
 * "CN=msbnet sandbox CA <random id>, O=msbnet", CA:TRUE pathlen:0 and
 * keyCertSign|cRLSign (both critical), SKI.  opts may be NULL. */
struct msb_tls_ca *msb_tls_ca_generate(const struct msb_tls_ca_opts *opts, char *err,
                                       size_t errlen);

/* The user's CA from two PEM files, given together or not at all: the key
 * unencrypted and matching the certificate, the certificate a CA
 * (basicConstraints CA:TRUE; keyCertSign if keyUsage is present) and valid
 * now. */
struct msb_tls_ca *msb_tls_ca_load(const char *cert_pem_path, const char *key_pem_path, char *err,
                                   size_t errlen);

/* Frees the CA; EVP_PKEY_free's key-type routines clear the private key
 * material (BN_clear_free, OPENSSL_clear_free) before release, so no
 * explicit zeroing is needed here. */
void msb_tls_ca_free(struct msb_tls_ca *ca);

/* The CA certificate (never its key) as PEM into buf, NUL-terminated;
 * *len gets the PEM's length without the NUL.  buf NULL: only *len. */
int msb_tls_ca_cert_pem(const struct msb_tls_ca *ca, char *buf, size_t buflen, size_t *len,
                        char *err, size_t errlen);

/* ---- leaves (tls_leaf.c) ------------------------------------------------- */

/* A client's server name made canonical (lower case, one trailing dot
 * dropped) into out, or -1 with the reason: empty, non-ASCII, over 253
 * bytes, a label empty or over 63, a character outside letters, digits,
 * '-', '_' and '.', or a wildcard (no client asks for "*.x"). */
int msb_tls_name_check(const char *sni, char out[MSB_TLS_NAME_MAX + 1], char *err, size_t errlen);

/* A leaf for exactly one of a canonical DNS name or an IP address, valid
 * from max(now - skew, CA notBefore) to min(now + validity, CA notAfter):
 * SAN DNS:name or IP:addr, CN the name (cut to 64), EKU serverAuth,
 * keyUsage digitalSignature (critical), SKI and AKI.  Its key is
 * ca->leaf_key.  NULL with a message if the CA is past its notAfter. */
X509 *msb_tls_leaf_mint(const struct msb_tls_ca *ca, const char *name, const struct msb_ip *ip,
                        time_t now, long validity_secs, char *err, size_t errlen);

/* ---- the leaf cache (tls_leaf_cache.c) ------------------------------------ */

#define MSB_TLS_CACHE_DEFAULT_CAPACITY 256u
#define MSB_TLS_LEAF_DEFAULT_VALIDITY (24L * 3600)
#define MSB_TLS_LEAF_DEFAULT_REFRESH (3600L)

struct msb_tls_cache_opts {
    size_t capacity;          /* 0: MSB_TLS_CACHE_DEFAULT_CAPACITY */
    long leaf_validity_secs;  /* 0: MSB_TLS_LEAF_DEFAULT_VALIDITY */
    long refresh_margin_secs; /* 0: MSB_TLS_LEAF_DEFAULT_REFRESH */
};

/* Plain counters the caller copies into its metrics. */
struct msb_tls_cache_stats {
    uint64_t hits, misses; /* a miss is a get that had to mint (or tried to) */
    uint64_t evictions;    /* least recently used entries dropped at capacity */
    uint64_t refreshes;    /* entries re-minted because their leaf was near its end */
    uint64_t mint_errors;  /* refused names and failed mints */
};

/* A leaf to hand to SSL_use_certificate / SSL_use_PrivateKey (which take
 * references of their own): both pointers are borrowed, valid until the
 * next msb_tls_leaf_get on the cache or its free. */
struct msb_tls_leaf {
    X509 *cert;
    EVP_PKEY *key;
};

struct msb_tls_cache;

/* The cache keeps ca borrowed: free the cache first.  opts may be NULL. */
struct msb_tls_cache *msb_tls_cache_new(const struct msb_tls_ca *ca,
                                        const struct msb_tls_cache_opts *opts, char *err,
                                        size_t errlen);
void msb_tls_cache_free(struct msb_tls_cache *c);

/* The leaf for sni, or for ip when sni is NULL (a guest that sent no SNI;
 * the address it connected to).  An sni that is an IP literal gets an IP
 * SAN.  now is the caller's clock (time(NULL)), a parameter so tests can
 * move it.  0, or -1 with a message (the name's fault or the CA's). */
int msb_tls_leaf_get(struct msb_tls_cache *c, const char *sni, const struct msb_ip *ip, time_t now,
                     struct msb_tls_leaf *out, char *err, size_t errlen);

size_t msb_tls_cache_size(const struct msb_tls_cache *c);
const struct msb_tls_cache_stats *msb_tls_cache_stats(const struct msb_tls_cache *c);

/* ---- shared by tls_ca.c and tls_leaf.c ------------------------------------ */

/* A new v3 certificate with a random positive 128-bit serial, the given
 * public key and validity; NULL on failure (the queue is left for the
 * caller's message). */
X509 *msb_tls_x509_new(EVP_PKEY *pub, time_t not_before, time_t not_after);
/* Adds one extension in openssl.cnf syntax ("critical,CA:TRUE"), with
 * issuer as the AKI source.  0 or -1. */
int msb_tls_x509_ext(X509 *cert, X509 *issuer, int nid, const char *value);
/* Signs cert with key (SHA-256, or the key's own for EdDSA).  0 or -1. */
int msb_tls_x509_sign(X509 *cert, EVP_PKEY *key);
/* msb_fail with OpenSSL's last reason appended, the queue then cleared. */
int msb_tls_fail(char *err, size_t errlen, const char *what);

#endif
