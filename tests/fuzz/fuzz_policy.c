/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the policy parsers that read control-plane input: the
 * JSON loader and the CLI token list.  Input: one control byte (bit 0:
 * token list, else JSON), then the text.  Invariants (abort() on failure):
 * an accepted JSON policy serialises and parses back to identical rules;
 * every accepted rule obeys the validations (no inverted range, no ICMP in
 * ingress/any, ICMP without ports from JSON); shadow warnings and an
 * evaluation run on every accepted policy.
 *
 * Built with -fsanitize=fuzzer under clang (fuzz_policy), and everywhere as
 * fuzz_policy_replay (-DMSBNET_FUZZ_REPLAY): a fixed-seed run over
 * mutations of valid inputs, registered with ctest; `fuzz_policy_replay
 * --write-corpus DIR` writes those valid inputs as libFuzzer's seeds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/policy_engine.h"

#define FUZZ_TARGET "fuzz_policy"
#define FUZZ_SEED 0x13198a2e03707344ull
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long accepted;

static void check_rules(const struct msb_policy *p, int from_json)
{
    for (size_t i = 0; i < p->nrules; i++) {
        const struct msb_pol_rule *r = &p->rules[i];
        check(r->nports <= MSB_POL_MAX_PORT_RANGES, "port count");
        for (unsigned k = 0; k < r->nports; k++)
            check(r->ports[k].lo <= r->ports[k].hi, "port range order");
        check(!(r->protos & MSB_PROTO_ICMP) || r->dir == MSB_POL_EGRESS, "ICMP egress only");
        check(!from_json || !(r->protos & MSB_PROTO_ICMP) || r->nports == 0, "ICMP without ports");
        check(r->dest != MSB_DEST_DOMAIN || strlen(r->name) > 0, "domain non-empty");
    }
}

static void exercise(const struct msb_policy *p)
{
    char **w;
    long n = msb_policy_shadow_warnings(p, &w);
    check(n >= 0 && n <= MSB_POL_MAX_WARNINGS, "warning count");
    msb_pol_warnings_free(w, n);
    struct msb_ip a;
    msb_ip_parse("::ffff:10.0.0.1", &a);
    struct msb_pol_env env = {NULL, NULL, 0, NULL};
    struct msb_pol_flow f = {MSB_POL_EGRESS, MSB_PROTO_TCP, &a, 443};
    struct msb_pol_verdict v = msb_policy_eval(p, &env, &f);
    check(v.rule >= -1 && v.rule < (long)p->nrules, "verdict rule index");
    v = msb_policy_eval_sni(p, &env, &f, "a.example");
    check(v.rule >= -1 && v.rule < (long)p->nrules, "SNI verdict rule index");
}

/* set_policy's entry: a rule list the list parser takes is taken the same
 * by the text parser (unless it is blank or looks like JSON). */
static void text_agrees(const char *z, const struct msb_policy *listed)
{
    const char *s = z;
    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        s++;
    if (!*s || *s == '{')
        return;
    char err[256];
    struct msb_policy *q = msb_policy_parse_text(z, err, sizeof err);
    check(q && q->nrules == listed->nrules && q->default_egress == MSB_POL_DENY &&
              q->default_ingress == MSB_POL_ALLOW,
          "text parser agrees with the list parser");
    msb_policy_free(q);
}

static void round_trip(const struct msb_policy *p)
{
    json_t *j = msb_policy_to_json(p);
    check(j != NULL, "serialise");
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    check(text != NULL, "dump");
    char err[256];
    struct msb_policy *q = msb_policy_parse_json(text, strlen(text), err, sizeof err);
    if (!q)
        fprintf(stderr, "re-parse of %s: %s\n", text, err);
    check(q && q->nrules == p->nrules && q->default_egress == p->default_egress &&
              q->default_ingress == p->default_ingress,
          "round trip header");
    for (size_t i = 0; i < p->nrules; i++)
        check(memcmp(&q->rules[i], &p->rules[i], sizeof p->rules[i]) == 0, "round trip rule");
    msb_policy_free(q);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        char *z = malloc(len + 1);
        if (!z)
            return 0;
        memcpy(z, text, len);
        z[len] = '\0';
        struct msb_policy *p = msb_policy_new();
        struct msb_pol_tok_error e;
        if (p && msb_pol_parse_rule_list(z, p, &e) == 0) {
            check(e.kind == MSB_TOK_OK, "ok kind");
            check_rules(p, 0);
            exercise(p);
            text_agrees(z, p);
            accepted++;
        } else if (p) {
            check(e.kind != MSB_TOK_OK && strlen(e.msg) > 0, "error has a message");
        }
        msb_policy_free(p);
        free(z);
        return 0;
    }
    char err[256];
    struct msb_policy *p = msb_policy_parse_json(text, len, err, sizeof err);
    if (p) {
        check_rules(p, 1);
        exercise(p);
        round_trip(p);
        accepted++;
    } else {
        check(strlen(err) > 0, "error has a message");
    }
    msb_policy_free(p);
    return 0;
}

#ifdef MSBNET_FUZZ_REPLAY
/* ---- fixed-seed replay: mutations of valid inputs ------------------------- */

static const char *const seeds[] = {
    "\x00{\"default_egress\":\"deny\",\"default_ingress\":\"allow\",\"rules\":[{\"direction\":"
    "\"egress\",\"destination\":{\"group\":\"host\"},\"protocols\":[\"udp\",\"tcp\"],\"ports\":"
    "[{\"start\":53,\"end\":53}],\"action\":\"allow\"},{\"direction\":\"egress\",\"destination\":"
    "{\"group\":\"public\"},\"action\":\"allow\"}]}",
    "\x00{\"rules\":[{\"direction\":\"any\",\"destination\":{\"cidr\":\"10.0.0.5/8\"},\"action\":"
    "\"terminate\"},{\"direction\":\"egress\",\"destination\":{\"domain_suffix\":\".Example.COM\"},"
    "\"protocols\":[\"icmpv4\"],\"action\":\"deny\"},{\"direction\":\"ingress\",\"destination\":"
    "{\"cidr\":\"2001:db8::/32\"},\"ports\":[{\"start\":1,\"end\":65535}],\"action\":\"allow\"}]}",
    "\x00{\"rules\":[{\"direction\":\"egress\",\"destination\":\"any\",\"action\":\"deny\"}]}",
    "\x01allow@public,deny:any@host:tcp:80-443,allow@[2001:db8::1]:tcp:443",
    "\x01terminate@meta, allow@suffix=.pythonhosted.org:udp:53,deny@10.0.0.0/8:any:any",
    "\x01allow@pypi.org:tcp:443,deny:ingress@[fe80::/10],allow@domain=x:icmpv4",
};

static const char *const dict[] = {
    "@", ":", ",", "[", "]", "/", "-", "{", "}", "\"", "allow", "deny", "terminate", "egress",
    "ingress", "any", "icmpv4", "icmpv6", "tcp", "udp", "65535", "65536", "0", "::", "::ffff:",
    "suffix=", "domain=", "\"ports\"", "\"start\"", "\"end\"", "[[[[", "\\u0000", "link-local",
};

static size_t mutate(uint8_t *b, size_t len, size_t cap)
{
    int rounds = 1 + (int)(rnd() % 4);
    while (rounds--) {
        size_t at = len > 1 ? 1 + (size_t)(rnd() % (len - 1)) : 1;
        switch (rnd() % 4) {
        case 0: /* overwrite a byte */
            if (at < len)
                b[at] = (uint8_t)rnd();
            break;
        case 1: /* delete a span */
            if (at < len) {
                size_t n = 1 + (size_t)(rnd() % 8);
                n = n > len - at ? len - at : n;
                memmove(b + at, b + at + n, len - at - n);
                len -= n;
            }
            break;
        default: { /* insert a keyword */
            const char *w = dict[rnd() % (sizeof dict / sizeof dict[0])];
            size_t n = strlen(w);
            if (len + n <= cap && at <= len) {
                memmove(b + at + n, b + at, len - at);
                memcpy(b + at, w, n);
                len += n;
            }
        }
        }
    }
    return len;
}

/* The seeds as libFuzzer's starting corpus (control byte, then the text). */
static int write_corpus(const char *dir)
{
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        if (fuzz_write_seed(dir, i, "", 0, seeds[i], 1 + strlen(seeds[i] + 1)))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return write_corpus(argv[2]);
    unsigned long iters = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    uint8_t buf[2048];
    size_t nseeds = sizeof seeds / sizeof seeds[0];
    for (unsigned long i = 0; i < iters; i++) {
        const char *s = seeds[i % nseeds];
        size_t len = 1 + strlen(s + 1);
        memcpy(buf, s, len);
        if (i >= nseeds)
            len = mutate(buf, len, sizeof buf);
        LLVMFuzzerTestOneInput(buf, len);
    }
    check(accepted >= nseeds, "the seeds themselves are accepted");
    printf("fuzz_policy_replay: %lu inputs, %lu accepted\n", iters, accepted);
    return 0;
}
#endif
