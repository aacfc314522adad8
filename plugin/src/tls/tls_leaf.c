/* SPDX-License-Identifier: Apache-2.0 */
/* Leaf certificates (tls_ca.h): a guest's server name checked before any
 * of it reaches a certificate, and the leaf minted for that name or for
 * the IP address the guest connected to. */
#include <stdio.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/errmsg.h"
#include "tls/tls_ca.h"

static int name_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Walks the labels of s[0..n): the guest chose these bytes, so every
 * refusal names the offset and shows no raw byte. */
static int check_labels(const char *s, size_t n, char *out, char *err, size_t errlen)
{
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80)
            return msb_fail(err, errlen, "server name: non-ASCII byte 0x%02x at offset %zu", c, i);
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (c == '.') {
            if (label == 0)
                return msb_fail(err, errlen, "server name: empty label at offset %zu", i);
            label = 0;
        } else if (name_char_ok(c)) {
            if (++label > 63)
                return msb_fail(err, errlen, "server name: label at offset %zu is over 63 bytes",
                                i + 1 - label);
        } else if (c >= 0x20 && c < 0x7f) {
            return msb_fail(err, errlen,
                            "server name: '%c' at offset %zu (only letters, digits, '-', '_' "
                            "and '.' are allowed)",
                            c, i);
        } else {
            return msb_fail(err, errlen, "server name: control byte 0x%02x at offset %zu", c, i);
        }
        out[i] = (char)c;
    }
    if (label == 0)
        return msb_fail(err, errlen, "server name: empty label at offset %zu", n);
    out[n] = '\0';
    return 0;
}

int msb_tls_name_check(const char *sni, char out[MSB_TLS_NAME_MAX + 1], char *err, size_t errlen)
{
    if (!sni || !*sni)
        return msb_fail(err, errlen, "server name: empty");
    /* A wildcard is what a certificate may claim, never what a client
     * asks for; minting one would cover every sibling name. */
    if (sni[0] == '*')
        return msb_fail(err, errlen, "server name: a wildcard (\"*.\") is not a name to connect to");
    size_t n = strnlen(sni, MSB_TLS_NAME_MAX + 2);
    if (n && sni[n - 1] == '.' && n <= MSB_TLS_NAME_MAX + 1)
        n--;
    if (n > MSB_TLS_NAME_MAX)
        return msb_fail(err, errlen, "server name: over the DNS limit of %u bytes",
                        MSB_TLS_NAME_MAX);
    return check_labels(sni, n, out, err, errlen);
}

/* Subject: CN only (the SAN is what clients match; the CN is for people
 * reading a certificate), the name cut to the 64 bytes X.520 allows. */
static int leaf_subject(X509 *x, const struct msb_tls_ca *ca, const char *cn)
{
    char buf[65];
    snprintf(buf, sizeof buf, "%.64s", cn);
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)buf, -1, -1,
                                    0))
        return -1;
    return X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) == 1 ? 0 : -1;
}

/* The SAN value is built from a checked name (LDH and '_') or a formatted
 * address, so no ',' or ':' of the guest's can inject a second entry. */
static int leaf_extensions(X509 *x, const struct msb_tls_ca *ca, const char *san)
{
    if (msb_tls_x509_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") ||
        msb_tls_x509_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature") ||
        msb_tls_x509_ext(x, ca->cert, NID_ext_key_usage, "serverAuth") ||
        msb_tls_x509_ext(x, ca->cert, NID_subject_alt_name, san) ||
        msb_tls_x509_ext(x, ca->cert, NID_subject_key_identifier, "hash") ||
        msb_tls_x509_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always"))
        return -1;
    return 0;
}

X509 *msb_tls_leaf_mint(const struct msb_tls_ca *ca, const char *name, const struct msb_ip *ip,
                        time_t now, long validity_secs, char *err, size_t errlen)
{
    if ((name == NULL) == (ip == NULL)) {
        msb_fail(err, errlen, "TLS leaf: exactly one of a name or an address is needed");
        return NULL;
    }
    if (now >= ca->not_after) {
        msb_fail(err, errlen, "TLS leaf: the CA expired; no leaf can be minted");
        return NULL;
    }
    time_t nb = now - MSB_TLS_CLOCK_SKEW, na = now + validity_secs;
    nb = nb < ca->not_before ? ca->not_before : nb;
    na = na > ca->not_after ? ca->not_after : na;
    char text[MSB_TLS_NAME_MAX + 1], san[MSB_TLS_NAME_MAX + 8];
    if (ip)
        msb_ip_format(ip, text, sizeof text);
    else
        snprintf(text, sizeof text, "%s", name);
    snprintf(san, sizeof san, "%s:%s", ip ? "IP" : "DNS", text);
    X509 *x = msb_tls_x509_new(ca->leaf_key, nb, na);
    if (x && leaf_subject(x, ca, text) == 0 && leaf_extensions(x, ca, san) == 0 &&
        msb_tls_x509_sign(x, ca->key) == 0)
        return x;
    X509_free(x);
    msb_tls_fail(err, errlen, "TLS leaf: cannot mint the certificate");
    return NULL;
}
