/* SPDX-License-Identifier: Apache-2.0 */
/* The sandbox CA, its leaves and the leaf cache (tls/tls_ca.h), checked by
 * OpenSSL itself: leaves verify with X509_verify_cert against a store
 * holding only the CA, a real TLS handshake over a socketpair succeeds
 * with the CA and fails with another, user CAs are refused with the
 * message a user needs, and guest names that are not DNS names never
 * reach a certificate.  Prints the mint rate. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cunit_main.h"
#include "tls/tls_ca.h"

static char err[512];
static char tmpdir[64];

/* ---- helpers ----------------------------------------------------------------- */

/* X509_verify_cert of leaf against a store holding only ca, for host or ip
 * (either may be NULL); returns the verify error, X509_V_OK on success. */
static int verify(X509 *ca, X509 *leaf, const char *host, const char *ip)
{
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_add_cert(st, ca);
    X509_STORE_CTX_init(ctx, st, leaf, NULL);
    X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_purpose(p, X509_PURPOSE_SSL_SERVER);
    if (host)
        X509_VERIFY_PARAM_set1_host(p, host, 0);
    if (ip)
        X509_VERIFY_PARAM_set1_ip_asc(p, ip);
    int ok = X509_verify_cert(ctx);
    int e = X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    ERR_clear_error();
    return ok == 1 ? X509_V_OK : (e == X509_V_OK ? -1 : e);
}

static struct msb_tls_ca *gen(void)
{
    struct msb_tls_ca *ca = msb_tls_ca_generate(NULL, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ca);
    return ca;
}

static struct msb_tls_cache *cache(const struct msb_tls_ca *ca, size_t cap, long validity,
                                   long margin)
{
    struct msb_tls_cache_opts o = {cap, validity, margin};
    struct msb_tls_cache *c = msb_tls_cache_new(ca, &o, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    return c;
}

static X509 *leaf_for(struct msb_tls_cache *c, const char *sni, const char *ip)
{
    struct msb_ip a;
    if (ip)
        CU_ASSERT_EQUAL_FATAL(msb_ip_parse(ip, &a), 0);
    struct msb_tls_leaf l = {NULL, NULL};
    int rc = msb_tls_leaf_get(c, sni, ip ? &a : NULL, time(NULL), &l, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "leaf_get(%s): %s\n", sni ? sni : ip, err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(l.key);
    return l.cert;
}

static const char *path(const char *name)
{
    static char p[4][128];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", tmpdir, name);
    return p[i];
}

static void write_cert(const char *file, X509 *x)
{
    FILE *f = fopen(path(file), "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(PEM_write_X509(f, x), 1);
    fclose(f);
}

static void write_key(const char *file, EVP_PKEY *k)
{
    FILE *f = fopen(path(file), "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

static void write_text(const char *file, const char *text)
{
    FILE *f = fopen(path(file), "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static int has(const char *needle)
{
    if (strstr(err, needle))
        return 1;
    fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, needle);
    return 0;
}

/* A self-signed certificate with a fresh key, for the refusals the
 * generator never produces (expired CA). */
static X509 *self_signed(EVP_PKEY **key, time_t nb, time_t na, const char *bc)
{
    *key = EVP_EC_gen("P-256");
    X509 *x = msb_tls_x509_new(*key, nb, na);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"test", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    CU_ASSERT_EQUAL(msb_tls_x509_ext(x, x, NID_basic_constraints, bc), 0);
    CU_ASSERT_EQUAL(msb_tls_x509_sign(x, *key), 0);
    return x;
}

/* ---- the generated CA ----------------------------------------------------------- */

static void test_generated_ca_properties(void)
{
    time_t now = time(NULL);
    struct msb_tls_ca *ca = gen();
    X509 *x = ca->cert;
    CU_ASSERT_EQUAL(X509_get_version(x), X509_VERSION_3);
    CU_ASSERT_EQUAL(X509_verify(x, ca->key), 1);
    char group[32] = "";
    EVP_PKEY_get_group_name(ca->key, group, sizeof group, NULL);
    CU_ASSERT_STRING_EQUAL(group, "prime256v1");
    const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
    CU_ASSERT_EQUAL(serial->length, 16);
    CU_ASSERT_EQUAL(serial->type, V_ASN1_INTEGER); /* positive */
    int crit = -1;
    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bc);
    CU_ASSERT(bc->ca);
    CU_ASSERT_EQUAL(ASN1_INTEGER_get(bc->pathlen), 0);
    CU_ASSERT_EQUAL(crit, 1);
    BASIC_CONSTRAINTS_free(bc);
    ASN1_BIT_STRING *ku = X509_get_ext_d2i(x, NID_key_usage, &crit, NULL);
    CU_ASSERT_PTR_NOT_NULL(ku);
    CU_ASSERT_EQUAL(crit, 1);
    ASN1_BIT_STRING_free(ku);
    CU_ASSERT_EQUAL(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    CU_ASSERT_PTR_NOT_NULL(X509_get0_subject_key_id(x));
    CU_ASSERT_EQUAL(X509_get_ext_by_NID(x, NID_name_constraints, -1), -1);
    char cn[128] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
    CU_ASSERT_EQUAL(strncmp(cn, "msbnet sandbox CA ", 18), 0);
    CU_ASSERT_EQUAL(strlen(cn), 18 + 16);
    CU_ASSERT(ca->not_before <= now - MSB_TLS_CLOCK_SKEW + 2 &&
              ca->not_before >= now - MSB_TLS_CLOCK_SKEW - 2);
    CU_ASSERT_EQUAL(ca->not_after - ca->not_before,
                    MSB_TLS_CA_DEFAULT_VALIDITY + MSB_TLS_CLOCK_SKEW);
    msb_tls_ca_free(ca);
}

static void test_two_cas_differ(void)
{
    struct msb_tls_ca *a = gen(), *b = gen();
    CU_ASSERT_NOT_EQUAL(ASN1_INTEGER_cmp(X509_get0_serialNumber(a->cert),
                                         X509_get0_serialNumber(b->cert)),
                        0);
    CU_ASSERT_NOT_EQUAL(X509_NAME_cmp(X509_get_subject_name(a->cert),
                                      X509_get_subject_name(b->cert)),
                        0);
    CU_ASSERT_NOT_EQUAL(EVP_PKEY_eq(a->key, b->key), 1);
    CU_ASSERT_NOT_EQUAL(EVP_PKEY_eq(a->leaf_key, b->leaf_key), 1);
    CU_ASSERT_NOT_EQUAL(EVP_PKEY_eq(a->key, a->leaf_key), 1);
    msb_tls_ca_free(a);
    msb_tls_ca_free(b);
}

/* The CA's keys live in OpenSSL's secure heap (locked, undumpable):
 * made by the first CA, the private keys take room in it and give it
 * back when freed. */
static void test_keys_in_secure_heap(void)
{
    struct msb_tls_ca *a = gen();
    CU_ASSERT_EQUAL(CRYPTO_secure_malloc_initialized(), 1);
    size_t used = CRYPTO_secure_used();
    CU_ASSERT(used > 0);
    struct msb_tls_ca *b = gen();
    CU_ASSERT(CRYPTO_secure_used() > used); /* two more private keys */
    msb_tls_ca_free(b);
    CU_ASSERT_EQUAL(CRYPTO_secure_used(), used);
    msb_tls_ca_free(a);
}

static void test_generate_options(void)
{
    struct msb_tls_ca_opts o = {.validity_secs = 30};
    CU_ASSERT_PTR_NULL(msb_tls_ca_generate(&o, err, sizeof err));
    CU_ASSERT(has("too short"));
    const char *bad[] = {"example.com", "bad name", NULL};
    o = (struct msb_tls_ca_opts){.validity_secs = 600, .permitted_dns = bad};
    CU_ASSERT_PTR_NULL(msb_tls_ca_generate(&o, err, sizeof err));
    CU_ASSERT(has("name constraint: server name: ' ' at offset 3"));
    CU_ASSERT_EQUAL(ERR_peek_error(), 0);
    o.permitted_dns = NULL;
    struct msb_tls_ca *ca = msb_tls_ca_generate(&o, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ca);
    CU_ASSERT_EQUAL(ca->not_after - ca->not_before, 600 + MSB_TLS_CLOCK_SKEW);
    msb_tls_ca_free(ca);
}

/* With permitted subtrees, OpenSSL refuses a leaf outside them even though
 * the CA signed it: the constraint binds the CA, not only msbnet. */
static void test_name_constraints(void)
{
    const char *permit[] = {"example.com", NULL};
    struct msb_tls_ca_opts o = {.permitted_dns = permit};
    struct msb_tls_ca *ca = msb_tls_ca_generate(&o, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ca);
    CU_ASSERT_NOT_EQUAL(X509_get_ext_by_NID(ca->cert, NID_name_constraints, -1), -1);
    struct msb_tls_cache *c = cache(ca, 0, 0, 0);
    X509 *in = leaf_for(c, "api.example.com", NULL);
    CU_ASSERT_EQUAL(verify(ca->cert, in, "api.example.com", NULL), X509_V_OK);
    X509 *out = leaf_for(c, "example.org", NULL);
    CU_ASSERT_EQUAL(verify(ca->cert, out, "example.org", NULL), X509_V_ERR_PERMITTED_VIOLATION);
    msb_tls_cache_free(c);
    msb_tls_ca_free(ca);
}

static void test_pem_export(void)
{
    struct msb_tls_ca *ca = gen();
    size_t len = 0;
    CU_ASSERT_EQUAL(msb_tls_ca_cert_pem(ca, NULL, 0, &len, err, sizeof err), 0);
    CU_ASSERT(len > 100 && len < 2000);
    char small[64];
    size_t len2 = 0;
    CU_ASSERT_EQUAL(msb_tls_ca_cert_pem(ca, small, sizeof small, &len2, err, sizeof err), -1);
    CU_ASSERT(has("the PEM certificate needs"));
    CU_ASSERT_EQUAL(len2, len);
    char buf[4096];
    CU_ASSERT_EQUAL(msb_tls_ca_cert_pem(ca, buf, sizeof buf, &len, err, sizeof err), 0);
    CU_ASSERT_EQUAL(strlen(buf), len);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "-----BEGIN CERTIFICATE-----"));
    CU_ASSERT_PTR_NULL(strstr(buf, "PRIVATE"));
    BIO *b = BIO_new_mem_buf(buf, (int)len);
    X509 *back = PEM_read_bio_X509(b, NULL, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    CU_ASSERT_EQUAL(X509_cmp(back, ca->cert), 0);
    X509_free(back);
    BIO_free(b);
    msb_tls_ca_free(ca);
}

/* ---- leaves ----------------------------------------------------------------- */

static void test_leaf_dns_verifies(void)
{
    struct msb_tls_ca *ca = gen();
    struct msb_tls_cache *c = cache(ca, 0, 0, 0);
    X509 *l = leaf_for(c, "API.Example.com.", NULL);
    CU_ASSERT_EQUAL(verify(ca->cert, l, "api.example.com", NULL), X509_V_OK);
    CU_ASSERT_EQUAL(verify(ca->cert, l, "other.example.com", NULL), X509_V_ERR_HOSTNAME_MISMATCH);
    CU_ASSERT_EQUAL(verify(ca->cert, l, NULL, "10.0.0.1"), X509_V_ERR_IP_ADDRESS_MISMATCH);
    CU_ASSERT(X509_get_extended_key_usage(l) & XKU_SSL_SERVER);
    CU_ASSERT_EQUAL(X509_get_key_usage(l), KU_DIGITAL_SIGNATURE);
    int crit = -1;
    ASN1_BIT_STRING *ku = X509_get_ext_d2i(l, NID_key_usage, &crit, NULL);
    CU_ASSERT_EQUAL(crit, 1);
    ASN1_BIT_STRING_free(ku);
    CU_ASSERT_EQUAL(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(l),
                                          X509_get0_subject_key_id(ca->cert)),
                    0);
    CU_ASSERT_EQUAL(X509_check_ca(l), 0);
    char cn[128] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(l), NID_commonName, cn, sizeof cn);
    CU_ASSERT_STRING_EQUAL(cn, "api.example.com");
    CU_ASSERT_EQUAL(X509_check_private_key(l, ca->leaf_key), 1);
    CU_ASSERT_EQUAL(ASN1_TIME_cmp_time_t(X509_get0_notAfter(l), ca->not_after), -1);
    msb_tls_cache_free(c);
    msb_tls_ca_free(ca);
}

/* No SNI: the address the guest connected to, both families; an SNI that
 * is an IP literal gets an IP SAN too.  A long name's CN is cut to 64. */
static void test_leaf_ip_and_long_cn(void)
{
    struct msb_tls_ca *ca = gen();
    struct msb_tls_cache *c = cache(ca, 0, 0, 0);
    X509 *v4 = leaf_for(c, NULL, "192.0.2.7");
    CU_ASSERT_EQUAL(verify(ca->cert, v4, NULL, "192.0.2.7"), X509_V_OK);
    CU_ASSERT_EQUAL(verify(ca->cert, v4, NULL, "192.0.2.8"), X509_V_ERR_IP_ADDRESS_MISMATCH);
    X509 *v6 = leaf_for(c, NULL, "2001:db8::1");
    CU_ASSERT_EQUAL(verify(ca->cert, v6, NULL, "2001:db8::1"), X509_V_OK);
    CU_ASSERT_EQUAL(verify(ca->cert, v6, NULL, "2001:db8::2"), X509_V_ERR_IP_ADDRESS_MISMATCH);
    X509 *lit = leaf_for(c, "198.51.100.1", NULL);
    CU_ASSERT_EQUAL(verify(ca->cert, lit, NULL, "198.51.100.1"), X509_V_OK);
    char name[100], cn[128] = "";
    memset(name, 'a', 70);
    strcpy(name + 70, ".example");
    name[60] = '.';
    X509 *l = leaf_for(c, name, NULL);
    CU_ASSERT_EQUAL(verify(ca->cert, l, name, NULL), X509_V_OK);
    X509_NAME_get_text_by_NID(X509_get_subject_name(l), NID_commonName, cn, sizeof cn);
    CU_ASSERT_EQUAL(strlen(cn), 64);
    struct msb_tls_leaf out;
    CU_ASSERT_EQUAL(msb_tls_leaf_get(c, NULL, NULL, time(NULL), &out, err, sizeof err), -1);
    CU_ASSERT(has("no server name and no address"));
    msb_tls_cache_free(c);
    msb_tls_ca_free(ca);
}

static void refused(struct msb_tls_cache *c, const char *sni, const char *msg)
{
    struct msb_tls_leaf out = {NULL, NULL};
    err[0] = '\0';
    CU_ASSERT_EQUAL(msb_tls_leaf_get(c, sni, NULL, time(NULL), &out, err, sizeof err), -1);
    CU_ASSERT_PTR_NULL(out.cert);
    CU_ASSERT(has(msg));
}

static void test_invalid_sni_refused(void)
{
    struct msb_tls_ca *ca = gen();
    struct msb_tls_cache *c = cache(ca, 0, 0, 0);
    char big[300];
    refused(c, "exa\xc3\xa9mple.com", "non-ASCII byte 0xc3 at offset 3");
    memset(big, 'a', 254);
    for (int i = 50; i < 254; i += 50)
        big[i] = '.';
    big[254] = '\0';
    refused(c, big, "over the DNS limit of 253 bytes");
    big[253] = '\0'; /* 253 bytes: the longest name allowed */
    CU_ASSERT_PTR_NOT_NULL(leaf_for(c, big, NULL));
    memset(big, 'b', 64);
    strcpy(big + 64, ".example");
    refused(c, big, "label at offset 0 is over 63 bytes");
    strcpy(big + 63, ".example"); /* 63 bytes: allowed */
    CU_ASSERT_PTR_NOT_NULL(leaf_for(c, big, NULL));
    refused(c, "a..example", "empty label at offset 2");
    refused(c, ".example", "empty label at offset 0");
    refused(c, "*.x", "a wildcard");
    refused(c, "", "empty");
    refused(c, "a.com,DNS:bank.com", "',' at offset 5");
    refused(c, "tab\there", "control byte 0x09 at offset 3");
    refused(c, "x.\x7f", "control byte 0x7f");
    CU_ASSERT_EQUAL(msb_tls_cache_stats(c)->mint_errors, 10);
    CU_ASSERT_EQUAL(msb_tls_cache_size(c), 2);
    CU_ASSERT_EQUAL(ERR_peek_error(), 0);
    msb_tls_cache_free(c);
    msb_tls_ca_free(ca);
}

/* ---- the user's CA --------------------------------------------------------- */

static void test_load_good_and_both_or_neither(void)
{
    struct msb_tls_ca *orig = gen();
    write_cert("ca.pem", orig->cert);
    write_key("ca.key", orig->key);
    struct msb_tls_ca *ca = msb_tls_ca_load(path("ca.pem"), path("ca.key"), err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ca);
    CU_ASSERT_EQUAL(X509_cmp(ca->cert, orig->cert), 0);
    struct msb_tls_cache *c = cache(ca, 0, 0, 0);
    CU_ASSERT_EQUAL(verify(orig->cert, leaf_for(c, "pypi.org", NULL), "pypi.org", NULL),
                    X509_V_OK);
    msb_tls_cache_free(c);
    msb_tls_ca_free(ca);
    CU_ASSERT_PTR_NULL(msb_tls_ca_load(path("ca.pem"), NULL, err, sizeof err));
    CU_ASSERT(has("given together or not at all (only the certificate:"));
    CU_ASSERT_PTR_NULL(msb_tls_ca_load("", path("ca.key"), err, sizeof err));
    CU_ASSERT(has("given together or not at all (only the key:"));
    CU_ASSERT_PTR_NULL(msb_tls_ca_load(NULL, NULL, err, sizeof err));
    CU_ASSERT(has("neither a certificate nor a key"));
    msb_tls_ca_free(orig);
}

static void test_load_refusals(void)
{
    struct msb_tls_ca *a = gen(), *b = gen();
    write_cert("a.pem", a->cert);
    write_key("b.key", b->key);
    CU_ASSERT_PTR_NULL(msb_tls_ca_load(path("a.pem"), path("b.key"), err, sizeof err));
    CU_ASSERT(has("does not match the certificate"));
    struct msb_tls_cache *c = cache(a, 0, 0, 0);
    write_cert("leaf.pem", leaf_for(c, "example.com", NULL));
    write_key("leaf.key", a->leaf_key);
    CU_ASSERT_PTR_NULL(msb_tls_ca_load(path("leaf.pem"), path("leaf.key"), err, sizeof err));
    CU_ASSERT(has("not a CA certificate (no basicConstraints CA:TRUE)"));
    EVP_PKEY *k;
    time_t now = time(NULL);
    X509 *old = self_signed(&k, now - 10 * 86400, now - 86400, "critical,CA:TRUE");
    write_cert("old.pem", old);
    write_key("old.key", k);
    CU_ASSERT_PTR_NULL(msb_tls_ca_load(path("old.pem"), path("old.key"), err, sizeof err));
    CU_ASSERT(has("expired (notAfter 20"));
    X509_free(old);
    EVP_PKEY_free(k);
    write_text("junk.pem", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n");
    CU_ASSERT_PTR_NULL(msb_tls_ca_load(path("junk.pem"), path("b.key"), err, sizeof err));
    CU_ASSERT(has("no PEM certificate in it"));
    write_text("text.pem", "hello\n");
    CU_ASSERT_PTR_NULL(msb_tls_ca_load(path("a.pem"), path("text.pem"), err, sizeof err));
    CU_ASSERT(has("no unencrypted PEM private key in it"));
    CU_ASSERT_PTR_NULL(msb_tls_ca_load(path("none.pem"), path("b.key"), err, sizeof err));
    CU_ASSERT(has("none.pem: cannot open: No such file or directory"));
    CU_ASSERT_EQUAL(ERR_peek_error(), 0);
    msb_tls_cache_free(c);
    msb_tls_ca_free(a);
    msb_tls_ca_free(b);
}

/* A CA as a user makes one with the openssl CLI (RSA, its own extensions)
 * loads and signs leaves a client accepts. */
static void test_load_openssl_cli_ca(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 2 "
             "-subj /CN=user-ca -addext basicConstraints=critical,CA:TRUE "
             "-addext keyUsage=critical,keyCertSign 2>/dev/null",
             path("cli.key"), path("cli.pem"));
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    struct msb_tls_ca *ca = msb_tls_ca_load(path("cli.pem"), path("cli.key"), err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ca);
    struct msb_tls_cache *c = cache(ca, 0, 0, 0);
    X509 *l = leaf_for(c, "registry.npmjs.org", NULL);
    CU_ASSERT_EQUAL(verify(ca->cert, l, "registry.npmjs.org", NULL), X509_V_OK);
    msb_tls_cache_free(c);
    msb_tls_ca_free(ca);
}

/* ---- the cache ------------------------------------------------------------- */

static void test_cache_hit_same_cert(void)
{
    struct msb_tls_ca *ca = gen();
    struct msb_tls_cache *c = cache(ca, 0, 0, 0);
    X509 *a = leaf_for(c, "example.com", NULL);
    CU_ASSERT_PTR_EQUAL(leaf_for(c, "EXAMPLE.com.", NULL), a);
    X509 *ip = leaf_for(c, NULL, "192.0.2.1");
    CU_ASSERT_PTR_EQUAL(leaf_for(c, "192.0.2.1", NULL), ip); /* the literal shares the key */
    const struct msb_tls_cache_stats *s = msb_tls_cache_stats(c);
    CU_ASSERT_EQUAL(s->hits, 2);
    CU_ASSERT_EQUAL(s->misses, 2);
    CU_ASSERT_EQUAL(msb_tls_cache_size(c), 2);
    struct msb_tls_cache_opts bad = {.leaf_validity_secs = 60, .refresh_margin_secs = 120};
    CU_ASSERT_PTR_NULL(msb_tls_cache_new(ca, &bad, err, sizeof err));
    CU_ASSERT(has("must exceed the refresh margin"));
    msb_tls_cache_free(c);
    msb_tls_ca_free(ca);
}

static ASN1_INTEGER *serial_of(X509 *x)
{
    return ASN1_INTEGER_dup(X509_get0_serialNumber(x));
}

static int same_serial(X509 *x, ASN1_INTEGER *s)
{
    return ASN1_INTEGER_cmp(X509_get0_serialNumber(x), s) == 0;
}

/* Capacity 3: the least recently used name goes, a hit refreshes recency. */
static void test_cache_lru_order(void)
{
    struct msb_tls_ca *ca = gen();
    struct msb_tls_cache *c = cache(ca, 3, 0, 0);
    ASN1_INTEGER *sa = serial_of(leaf_for(c, "a.test", NULL));
    ASN1_INTEGER *sb = serial_of(leaf_for(c, "b.test", NULL));
    leaf_for(c, "c.test", NULL);
    leaf_for(c, "a.test", NULL); /* a newest: b is now the oldest */
    leaf_for(c, "d.test", NULL); /* evicts b */
    const struct msb_tls_cache_stats *s = msb_tls_cache_stats(c);
    CU_ASSERT_EQUAL(s->evictions, 1);
    CU_ASSERT_EQUAL(msb_tls_cache_size(c), 3);
    CU_ASSERT(same_serial(leaf_for(c, "a.test", NULL), sa));
    leaf_for(c, "c.test", NULL);
    CU_ASSERT_EQUAL(s->hits, 3);
    CU_ASSERT(!same_serial(leaf_for(c, "b.test", NULL), sb)); /* re-minted, evicts d */
    CU_ASSERT_EQUAL(s->evictions, 2);
    CU_ASSERT_EQUAL(s->misses, 5);
    leaf_for(c, "d.test", NULL); /* evicts a (c and b used since) */
    CU_ASSERT(!same_serial(leaf_for(c, "a.test", NULL), sa));
    CU_ASSERT_EQUAL(s->evictions, 4);
    ASN1_INTEGER_free(sa);
    ASN1_INTEGER_free(sb);
    msb_tls_cache_free(c);
    msb_tls_ca_free(ca);
}

static int get_at(struct msb_tls_cache *c, const char *sni, time_t now, X509 **x)
{
    struct msb_tls_leaf l = {NULL, NULL};
    int rc = msb_tls_leaf_get(c, sni, NULL, now, &l, err, sizeof err);
    *x = l.cert;
    return rc;
}

/* Leaves live 2 h and are re-minted with 1 h left; a CA near its end caps
 * the leaf, and past its end nothing is minted. */
static void test_cache_expiry_refresh(void)
{
    struct msb_tls_ca *ca = gen();
    struct msb_tls_cache *c = cache(ca, 0, 7200, 3600);
    time_t t0 = time(NULL);
    X509 *x;
    CU_ASSERT_EQUAL_FATAL(get_at(c, "e.test", t0, &x), 0);
    ASN1_INTEGER *s0 = serial_of(x);
    time_t end = t0 + 7200;
    CU_ASSERT_EQUAL(ASN1_TIME_cmp_time_t(X509_get0_notAfter(x), end), 0);
    CU_ASSERT_EQUAL(get_at(c, "e.test", t0 + 3599, &x), 0);
    CU_ASSERT(same_serial(x, s0));
    CU_ASSERT_EQUAL(get_at(c, "e.test", t0 + 3600, &x), 0);
    CU_ASSERT(!same_serial(x, s0));
    CU_ASSERT_EQUAL(msb_tls_cache_stats(c)->refreshes, 1);
    CU_ASSERT_EQUAL(msb_tls_cache_size(c), 1);
    time_t late = ca->not_after - 600;
    CU_ASSERT_EQUAL(get_at(c, "f.test", late, &x), 0);
    CU_ASSERT_EQUAL(ASN1_TIME_cmp_time_t(X509_get0_notAfter(x), ca->not_after), 0);
    CU_ASSERT_EQUAL(get_at(c, "f.test", ca->not_after, &x), -1);
    CU_ASSERT(has("the CA expired"));
    CU_ASSERT_EQUAL(msb_tls_cache_stats(c)->mint_errors, 1);
    ASN1_INTEGER_free(s0);
    msb_tls_cache_free(c);
    msb_tls_ca_free(ca);
}

/* A guest cycling through 10,000 names holds the cache at its capacity.
 * (The valgrind run sets TEST_TLS_CA_NAMES lower: each mint is a signature,
 * and 10,000 of them under valgrind take minutes without adding a path.) */
static void test_cache_bounded(void)
{
    const char *env = getenv("TEST_TLS_CA_NAMES");
    int names = env ? atoi(env) : 10000;
    CU_ASSERT_FATAL(names > (int)MSB_TLS_CACHE_DEFAULT_CAPACITY);
    struct msb_tls_ca *ca = gen();
    struct msb_tls_cache *c = cache(ca, 0, 0, 0);
    char name[64];
    size_t most = 0;
    for (int i = 0; i < names; i++) {
        snprintf(name, sizeof name, "h%d.example", i);
        leaf_for(c, name, NULL);
        size_t n = msb_tls_cache_size(c);
        most = n > most ? n : most;
    }
    CU_ASSERT_EQUAL(most, MSB_TLS_CACHE_DEFAULT_CAPACITY);
    CU_ASSERT_EQUAL(msb_tls_cache_stats(c)->evictions,
                    (uint64_t)names - MSB_TLS_CACHE_DEFAULT_CAPACITY);
    CU_ASSERT_EQUAL(msb_tls_cache_stats(c)->misses, (uint64_t)names);
    msb_tls_cache_free(c);
    msb_tls_ca_free(ca);
}

static void test_mint_rate(void)
{
    struct msb_tls_ca *ca = gen();
    struct timespec a, b;
    int ok = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 200; i++) {
        char name[32];
        snprintf(name, sizeof name, "m%d.example", i);
        X509 *x = msb_tls_leaf_mint(ca, name, NULL, time(NULL), 86400, err, sizeof err);
        ok += x != NULL;
        X509_free(x);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("\n  minted 200 leaves in %.3f s: %.0f leaves/s\n", s, 200 / s);
    CU_ASSERT_EQUAL(ok, 200);
    msb_tls_ca_free(ca);
}

/* ---- a real handshake -------------------------------------------------------- */

/* Drives both ends over a non-blocking socketpair until both finish or one
 * fails; returns 1 when both handshakes completed. */
static int handshake(SSL *cli, SSL *srv)
{
    int cdone = 0, sdone = 0;
    for (int i = 0; i < 1000 && !(cdone && sdone); i++) {
        int r;
        if (!cdone && (r = SSL_do_handshake(cli)) != 1) {
            int e = SSL_get_error(cli, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                return 0;
        } else {
            cdone = 1;
        }
        if (!sdone && (r = SSL_do_handshake(srv)) != 1) {
            int e = SSL_get_error(srv, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                return 0;
        } else {
            sdone = 1;
        }
    }
    return cdone && sdone;
}

/* A client trusting only `trust` and checking the name `host` against a
 * server presenting leaf; returns the client's verify result, or -1 when
 * the handshake succeeded with a result other than OK (never expected). */
static long try_handshake(X509 *trust, const struct msb_tls_leaf *leaf, const char *host, int *ok)
{
    int sv[2];
    CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    CU_ASSERT_EQUAL(SSL_CTX_use_certificate(sctx, leaf->cert), 1);
    CU_ASSERT_EQUAL(SSL_CTX_use_PrivateKey(sctx, leaf->key), 1);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), trust);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
    SSL *srv = SSL_new(sctx), *cli = SSL_new(cctx);
    SSL_set_fd(srv, sv[0]);
    SSL_set_fd(cli, sv[1]);
    SSL_set_accept_state(srv);
    SSL_set_connect_state(cli);
    SSL_set_tlsext_host_name(cli, host);
    SSL_set1_host(cli, host);
    *ok = handshake(cli, srv);
    long v = SSL_get_verify_result(cli);
    SSL_free(cli);
    SSL_free(srv);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
    close(sv[0]);
    close(sv[1]);
    ERR_clear_error();
    return v;
}

static void test_tls_handshake(void)
{
    struct msb_tls_ca *ca = gen(), *other = gen();
    struct msb_tls_cache *c = cache(ca, 0, 0, 0);
    struct msb_tls_leaf leaf;
    CU_ASSERT_EQUAL_FATAL(
        msb_tls_leaf_get(c, "api.openai.com", NULL, time(NULL), &leaf, err, sizeof err), 0);
    int ok = 0;
    CU_ASSERT_EQUAL(try_handshake(ca->cert, &leaf, "api.openai.com", &ok), X509_V_OK);
    CU_ASSERT_EQUAL(ok, 1);
    CU_ASSERT_EQUAL(try_handshake(other->cert, &leaf, "api.openai.com", &ok),
                    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    CU_ASSERT_EQUAL(ok, 0);
    CU_ASSERT_EQUAL(try_handshake(ca->cert, &leaf, "evil.example", &ok),
                    X509_V_ERR_HOSTNAME_MISMATCH);
    CU_ASSERT_EQUAL(ok, 0);
    msb_tls_cache_free(c);
    msb_tls_ca_free(ca);
    msb_tls_ca_free(other);
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_tls_ca.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    static const struct test_case tests[] = {
        {"generated CA: key, serial, extensions, validity", test_generated_ca_properties},
        {"two generated CAs differ", test_two_cas_differ},
        {"CA keys in the secure heap", test_keys_in_secure_heap},
        {"generate options refused or applied", test_generate_options},
        {"name constraints bind the CA", test_name_constraints},
        {"PEM export parses back, no key, bounded", test_pem_export},
        {"DNS leaf verifies, mismatch fails", test_leaf_dns_verifies},
        {"IP leaves (v4, v6, literal SNI), long CN", test_leaf_ip_and_long_cn},
        {"invalid SNI refused with reasons", test_invalid_sni_refused},
        {"user CA loads; both or neither", test_load_good_and_both_or_neither},
        {"user CA refusals with messages", test_load_refusals},
        {"user CA from the openssl CLI", test_load_openssl_cli_ca},
        {"cache hit returns the same leaf", test_cache_hit_same_cert},
        {"cache evicts in LRU order", test_cache_lru_order},
        {"cache re-mints near expiry", test_cache_expiry_refresh},
        {"10,000 names stay at capacity", test_cache_bounded},
        {"mint rate (200 leaves)", test_mint_rate},
        {"TLS handshake over a socketpair", test_tls_handshake},
        {NULL, NULL},
    };
    int rc = cunit_run("tls_ca", tests);
    remove_tmpdir();
    return rc;
}
