/* SPDX-License-Identifier: Apache-2.0 */
/* The sandbox CA (tls_ca.h): generated in memory per sandbox or loaded from
 * the user's PEM files and checked, exported as PEM (certificate only), and
 * the X.509 helpers the leaf minting shares. */
#include "tls/tls_ca.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/errmsg.h"

int msb_tls_fail(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    const char *why = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    if (why)
        return msb_fail(err, errlen, "%s (%s)", what, why);
    return msb_fail(err, errlen, "%s", what);
}

/* A positive serial from 128 random bits: unique per sandbox without a
 * counter to persist, and unpredictable (CA/B forum asks for >= 64). */
static int random_serial(X509 *x)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return -1;
    b[0] &= 0x7f; /* DER INTEGER stays positive */
    b[0] |= 0x40; /* and non-zero, 16 bytes long */
    BIGNUM *bn = BN_bin2bn(b, sizeof b, NULL);
    ASN1_INTEGER *s = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    int ok = s && X509_set_serialNumber(x, s) == 1;
    ASN1_INTEGER_free(s);
    BN_free(bn);
    return ok ? 0 : -1;
}

X509 *msb_tls_x509_new(EVP_PKEY *pub, time_t not_before, time_t not_after)
{
    X509 *x = X509_new();
    if (!x)
        return NULL;
    if (X509_set_version(x, X509_VERSION_3) != 1 || random_serial(x) != 0 ||
        X509_set_pubkey(x, pub) != 1 || !ASN1_TIME_set(X509_getm_notBefore(x), not_before) ||
        !ASN1_TIME_set(X509_getm_notAfter(x), not_after)) {
        X509_free(x);
        return NULL;
    }
    return x;
}

int msb_tls_x509_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ex)
        return -1;
    int ok = X509_add_ext(cert, ex, -1) == 1;
    X509_EXTENSION_free(ex);
    return ok ? 0 : -1;
}

int msb_tls_x509_sign(X509 *cert, EVP_PKEY *key)
{
    /* EdDSA signs the whole message itself and refuses a digest. */
    int id = EVP_PKEY_get_id(key);
    const EVP_MD *md = (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448) ? NULL : EVP_sha256();
    return X509_sign(cert, key, md) > 0 ? 0 : -1;
}

static time_t asn1_time_t(const ASN1_TIME *t)
{
    struct tm tm;
    if (ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return timegm(&tm);
}

static struct msb_tls_ca *ca_new(X509 *cert, EVP_PKEY *key)
{
    struct msb_tls_ca *ca = calloc(1, sizeof *ca);
    if (!ca)
        return NULL;
    ca->cert = cert;
    ca->key = key;
    /* One leaf key per CA: minting then costs one signature, not a key
     * generation, and the key is as private as the CA's own. */
    ca->leaf_key = EVP_EC_gen("P-256");
    ca->not_before = asn1_time_t(X509_get0_notBefore(cert));
    ca->not_after = asn1_time_t(X509_get0_notAfter(cert));
    if (!ca->leaf_key) {
        free(ca);
        return NULL;
    }
    return ca;
}

void msb_tls_ca_free(struct msb_tls_ca *ca)
{
    if (!ca)
        return;
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    EVP_PKEY_free(ca->leaf_key);
    free(ca);
}

/* "critical,permitted;DNS:a,permitted;DNS:b" from the checked names; 0 with
 * *out NULL when there are none. */
static int name_constraints(const char *const *names, char **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!names || !names[0])
        return 0;
    size_t cap = 16, n = 0;
    for (size_t i = 0; names[i]; i++)
        cap += MSB_TLS_NAME_MAX + 16;
    char *s = malloc(cap);
    if (!s)
        return msb_fail(err, errlen, "TLS CA: out of memory");
    n += (size_t)snprintf(s, cap, "critical");
    for (size_t i = 0; names[i]; i++) {
        char canon[MSB_TLS_NAME_MAX + 1], why[160];
        if (msb_tls_name_check(names[i], canon, why, sizeof why) != 0) {
            free(s);
            return msb_fail(err, errlen, "TLS CA name constraint: %s", why);
        }
        n += (size_t)snprintf(s + n, cap - n, ",permitted;DNS:%s", canon);
    }
    *out = s;
    return 0;
}

/* The CA's subject: a random id, so two sandboxes' CAs never share a name
 * (a guest trusting one cannot be confused by the other's chain). */
static int ca_subject(X509 *x)
{
    unsigned char id[8];
    char cn[64];
    if (RAND_bytes(id, sizeof id) != 1)
        return -1;
    int n = snprintf(cn, sizeof cn, "msbnet sandbox CA ");
    for (size_t i = 0; i < sizeof id; i++)
        n += snprintf(cn + n, sizeof cn - (size_t)n, "%02x", id[i]);
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"msbnet", -1,
                                    -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                    0))
        return -1;
    return X509_set_issuer_name(x, name) == 1 ? 0 : -1;
}

static int ca_extensions(X509 *x, const char *nc)
{
    if (msb_tls_x509_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
        msb_tls_x509_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        msb_tls_x509_ext(x, x, NID_subject_key_identifier, "hash"))
        return -1;
    return nc ? msb_tls_x509_ext(x, x, NID_name_constraints, nc) : 0;
}

/* OpenSSL's secure heap, once per process, before any CA key exists: EC
 * private keys are then allocated there (BN_secure_new), in pages it
 * mlocks and keeps out of core dumps.  Process-wide and 64 KiB: the CA
 * and leaf keys of many sandboxes fit.  When it cannot be made (or
 * cannot be locked) OpenSSL falls back to the ordinary heap; the keys are
 * still cleared when freed. */
#define SECURE_HEAP_BYTES (64u << 10)

static void secure_heap_init(void)
{
    if (!CRYPTO_secure_malloc_initialized())
        (void)CRYPTO_secure_malloc_init(SECURE_HEAP_BYTES, 32);
}

static void secure_heap(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, secure_heap_init);
}

struct msb_tls_ca *msb_tls_ca_generate(const struct msb_tls_ca_opts *opts, char *err,
                                       size_t errlen)
{
    secure_heap();
    long validity = opts && opts->validity_secs ? opts->validity_secs : MSB_TLS_CA_DEFAULT_VALIDITY;
    if (validity < 60) {
        msb_fail(err, errlen, "TLS CA: validity of %ld s is too short (60 s at least)", validity);
        return NULL;
    }
    char *nc;
    if (name_constraints(opts ? opts->permitted_dns : NULL, &nc, err, errlen) != 0)
        return NULL;
    time_t now = time(NULL);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = key ? msb_tls_x509_new(key, now - MSB_TLS_CLOCK_SKEW, now + validity) : NULL;
    int ok = x && ca_subject(x) == 0 && ca_extensions(x, nc) == 0 && msb_tls_x509_sign(x, key) == 0;
    free(nc);
    struct msb_tls_ca *ca = ok ? ca_new(x, key) : NULL;
    if (!ca) {
        X509_free(x);
        EVP_PKEY_free(key);
        msb_tls_fail(err, errlen, "TLS CA: cannot generate the certificate");
    }
    return ca;
}

/* ---- the user's CA ------------------------------------------------------- */

/* Never prompt on a terminal for a passphrase (msbnetd may have one). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static X509 *read_cert(const char *path, char *err, size_t errlen)
{
    BIO *b = BIO_new_file(path, "r");
    if (!b) {
        int e = errno;
        ERR_clear_error();
        msb_fail(err, errlen, "TLS CA certificate %s: cannot open: %s", path, strerror(e));
        return NULL;
    }
    X509 *x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    if (!x) {
        char what[512];
        snprintf(what, sizeof what, "TLS CA certificate %s: no PEM certificate in it", path);
        msb_tls_fail(err, errlen, what);
    }
    return x;
}

static EVP_PKEY *read_key(const char *path, char *err, size_t errlen)
{
    BIO *b = BIO_new_file(path, "r");
    if (!b) {
        int e = errno;
        ERR_clear_error();
        msb_fail(err, errlen, "TLS CA key %s: cannot open: %s", path, strerror(e));
        return NULL;
    }
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    if (!k) {
        char what[512];
        snprintf(what, sizeof what,
                 "TLS CA key %s: no unencrypted PEM private key in it "
                 "(passphrase-protected keys are not supported)",
                 path);
        msb_tls_fail(err, errlen, what);
    }
    return k;
}

static void fmt_time(time_t t, char *buf, size_t len)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(buf, len, "?");
}

/* The certificate may sign leaves now: a CA by basicConstraints (not just
 * self-signed v1, which X509_check_ca would also accept), keyCertSign if
 * it restricts key usage, and inside its validity. */
static int check_ca_cert(X509 *x, const char *path, char *err, size_t errlen)
{
    uint32_t flags = X509_get_extension_flags(x);
    if (!(flags & EXFLAG_BCONS) || !(flags & EXFLAG_CA))
        return msb_fail(err, errlen,
                        "TLS CA certificate %s: not a CA certificate (no basicConstraints CA:TRUE)",
                        path);
    if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN))
        return msb_fail(err, errlen,
                        "TLS CA certificate %s: its keyUsage does not allow keyCertSign", path);
    char when[40];
    time_t now = time(NULL);
    time_t nb = asn1_time_t(X509_get0_notBefore(x)), na = asn1_time_t(X509_get0_notAfter(x));
    if (nb > now) {
        fmt_time(nb, when, sizeof when);
        return msb_fail(err, errlen, "TLS CA certificate %s: not valid yet (notBefore %s)", path,
                        when);
    }
    if (na <= now) {
        fmt_time(na, when, sizeof when);
        return msb_fail(err, errlen, "TLS CA certificate %s: expired (notAfter %s)", path, when);
    }
    return 0;
}

static int both_or_neither(const char *cert, const char *key, char *err, size_t errlen)
{
    if (cert && key)
        return 0;
    if (!cert && !key)
        return msb_fail(err, errlen, "TLS CA: neither a certificate nor a key file given");
    return msb_fail(err, errlen,
                    "TLS CA: the certificate and the key are given together or not at all "
                    "(only the %s: %s)",
                    cert ? "certificate" : "key", cert ? cert : key);
}

struct msb_tls_ca *msb_tls_ca_load(const char *cert_pem_path, const char *key_pem_path, char *err,
                                   size_t errlen)
{
    secure_heap();
    const char *cp = cert_pem_path && *cert_pem_path ? cert_pem_path : NULL;
    const char *kp = key_pem_path && *key_pem_path ? key_pem_path : NULL;
    if (both_or_neither(cp, kp, err, errlen) != 0)
        return NULL;
    X509 *x = read_cert(cp, err, errlen);
    EVP_PKEY *k = x ? read_key(kp, err, errlen) : NULL;
    struct msb_tls_ca *ca = NULL;
    if (k && X509_check_private_key(x, k) != 1) {
        ERR_clear_error();
        msb_fail(err, errlen, "TLS CA: the key in %s does not match the certificate in %s", kp,
                 cp);
    } else if (k && check_ca_cert(x, cp, err, errlen) == 0) {
        ca = ca_new(x, k);
        if (!ca)
            msb_tls_fail(err, errlen, "TLS CA: cannot make the leaf key");
    }
    if (!ca) {
        X509_free(x);
        EVP_PKEY_free(k);
    }
    return ca;
}

int msb_tls_ca_cert_pem(const struct msb_tls_ca *ca, char *buf, size_t buflen, size_t *len,
                        char *err, size_t errlen)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n = b && PEM_write_bio_X509(b, ca->cert) == 1 ? BIO_get_mem_data(b, &p) : -1;
    if (n <= 0) {
        BIO_free(b);
        return msb_tls_fail(err, errlen, "TLS CA: cannot write the certificate as PEM");
    }
    *len = (size_t)n;
    int rc = 0;
    if (buf && (size_t)n < buflen) {
        memcpy(buf, p, (size_t)n);
        buf[n] = '\0';
    } else if (buf) {
        rc = msb_fail(err, errlen, "TLS CA: the PEM certificate needs %ld bytes, the buffer has %zu",
                      n + 1, buflen);
    }
    BIO_free(b);
    return rc;
}
