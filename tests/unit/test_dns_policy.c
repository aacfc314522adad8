/* SPDX-License-Identifier: Apache-2.0 */
/* The policy's verdict on DNS query names (policy_dns.c): domain and
 * suffix rules decide, first match wins, address rules never match a
 * name.  "Row N" labels number the original implementation's documented
 * cases. */
#include <stdio.h>
#include <string.h>

#include "cunit_main.h"
#include "lib/dns_msg.h"
#include "model/policy_engine.h"

static struct msb_policy *rules(const char *list, enum msb_pol_action def)
{
    struct msb_policy *p = msb_policy_new();
    struct msb_pol_tok_error e;
    CU_ASSERT_FATAL(p != NULL);
    if (msb_pol_parse_rule_list(list, p, &e))
        fprintf(stderr, "rule list %s: %s\n", list, e.msg);
    CU_ASSERT_FATAL(e.kind == MSB_TOK_OK);
    p->default_egress = p->default_ingress = (uint8_t)def;
    return p;
}

static enum msb_pol_action name(const struct msb_policy *p, const char *n)
{
    return msb_policy_dns_name(p, n).action;
}

/* Row 20: a domain rule refuses that name only. */
static void test_domain(void)
{
    struct msb_policy *p = rules("deny@domain=evil.com", MSB_POL_ALLOW);
    CU_ASSERT_EQUAL(name(p, "evil.com"), MSB_POL_DENY);
    CU_ASSERT_EQUAL(msb_policy_dns_name(p, "evil.com").rule, 0);
    CU_ASSERT_EQUAL(name(p, "good.com"), MSB_POL_ALLOW);
    CU_ASSERT_EQUAL(msb_policy_dns_name(p, "good.com").rule, -1);
    CU_ASSERT_EQUAL(name(p, "www.evil.com"), MSB_POL_ALLOW);
    /* Query names come in any case and may end in a dot. */
    CU_ASSERT_EQUAL(name(p, "EVIL.Com."), MSB_POL_DENY);
    msb_policy_free(p);
}

/* Row 21: a suffix covers its apex and everything under it, label-aligned. */
static void test_suffix(void)
{
    struct msb_policy *p = rules("deny@suffix=.evil.com", MSB_POL_ALLOW);
    CU_ASSERT_EQUAL(name(p, "evil.com"), MSB_POL_DENY);
    CU_ASSERT_EQUAL(name(p, "foo.evil.com"), MSB_POL_DENY);
    CU_ASSERT_EQUAL(name(p, "deep.sub.evil.com"), MSB_POL_DENY);
    CU_ASSERT_EQUAL(name(p, "notevil.com"), MSB_POL_ALLOW);
    msb_policy_free(p);
}

/* Row 25: first match wins; terminate is returned as such. */
static void test_first_match(void)
{
    struct msb_policy *p =
        rules("allow@domain=evil.com,deny@suffix=evil.com,terminate@domain=bye.com",
              MSB_POL_ALLOW);
    CU_ASSERT_EQUAL(name(p, "evil.com"), MSB_POL_ALLOW);
    CU_ASSERT_EQUAL(msb_policy_dns_name(p, "evil.com").rule, 0);
    CU_ASSERT_EQUAL(name(p, "foo.evil.com"), MSB_POL_DENY);
    CU_ASSERT_EQUAL(msb_policy_dns_name(p, "foo.evil.com").rule, 1);
    CU_ASSERT_EQUAL(name(p, "bye.com"), MSB_POL_TERMINATE);
    msb_policy_free(p);
}

/* Row 26: protocol and port filters do not narrow a name rule. */
static void test_filters_ignored(void)
{
    struct msb_policy *p = rules("deny@domain=evil.com:tcp:443", MSB_POL_ALLOW);
    CU_ASSERT_EQUAL(name(p, "evil.com"), MSB_POL_DENY);
    msb_policy_free(p);
}

/* Row 27: ingress-only rules never apply to queries; any-direction ones do. */
static void test_directions(void)
{
    struct msb_policy *in = rules("deny:ingress@domain=evil.com", MSB_POL_ALLOW);
    struct msb_policy *any = rules("deny:any@domain=evil.com", MSB_POL_ALLOW);
    CU_ASSERT_EQUAL(name(in, "evil.com"), MSB_POL_ALLOW);
    CU_ASSERT_EQUAL(name(any, "evil.com"), MSB_POL_DENY);
    msb_policy_free(in);
    msb_policy_free(any);
}

/* Changed from the original (rows 16, 22): address, group and "any" rules
 * and the default govern the resolver's address, not names; a name no
 * domain rule names passes even under deny-by-default. */
static void test_address_rules_never_match(void)
{
    struct msb_policy *p = rules("deny@any,deny@10.0.0.0/8,deny@public", MSB_POL_DENY);
    CU_ASSERT_EQUAL(name(p, "example.com"), MSB_POL_ALLOW);
    CU_ASSERT_EQUAL(name(p, ""), MSB_POL_ALLOW);
    msb_policy_free(p);
}

/* A name longer than any rule could hold is still under its suffix (the
 * old behaviour let it through: a tunnel past the rule); escaped bytes are
 * part of a label; a NULL policy denies nothing. */
static void test_odd_names(void)
{
    struct msb_policy *p = rules("deny@suffix=com", MSB_POL_ALLOW);
    char longname[400];
    memset(longname, 'a', sizeof longname - 5);
    strcpy(longname + sizeof longname - 5, ".com");
    CU_ASSERT_EQUAL(name(p, longname), MSB_POL_DENY);
    CU_ASSERT_EQUAL(name(p, "x\\032y.com"), MSB_POL_DENY); /* still under com */
    CU_ASSERT_EQUAL(name(NULL, "evil.com"), MSB_POL_ALLOW);
    msb_policy_free(p);
}

/* A query whose wire name carries binary labels: its text form (\DDD per
 * byte) runs past 253 characters, and a suffix rule must still see the
 * blocked domain at its end; a text that cannot be canonicalised is refused. */
static void test_long_binary_names(void)
{
    uint8_t m[512] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    size_t n = 12;
    for (int l = 0; l < 2; l++) {
        m[n++] = 63;
        memset(m + n, 1, 63);
        n += 63;
    }
    memcpy(m + n, "\4evil\3com\0\0\1\0\1", 14);
    n += 14;
    struct msb_dns_query q;
    CU_ASSERT_EQUAL_FATAL(msb_dns_parse_query(m, n, &q), MSB_DNS_OK);
    CU_ASSERT(strlen(q.name) > 500);
    struct msb_policy *p = rules("deny@suffix=evil.com, terminate@suffix=c2.test", MSB_POL_ALLOW);
    CU_ASSERT_EQUAL(name(p, q.name), MSB_POL_DENY);
    CU_ASSERT_EQUAL(msb_policy_dns_name(p, q.name).rule, 0);
    /* A label holding a dot ("x.evil" under com) is not under evil.com. */
    CU_ASSERT_EQUAL(name(p, "x\\046evil.com"), MSB_POL_ALLOW);
    char longest[MSB_DNS_NAME_TEXT_MAX + 8];
    memset(longest, 'a', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    CU_ASSERT_EQUAL(name(p, longest), MSB_POL_DENY); /* cannot be canonicalised */
    CU_ASSERT_EQUAL(msb_policy_dns_name(p, longest).rule, -1);
    msb_policy_free(p);
}

int main(void)
{
    static const struct test_case tests[] = {
        {"domain", test_domain},
        {"suffix", test_suffix},
        {"first_match", test_first_match},
        {"filters_ignored", test_filters_ignored},
        {"directions", test_directions},
        {"address_rules_never_match", test_address_rules_never_match},
        {"odd_names", test_odd_names},
        {"long_binary_names", test_long_binary_names},
        {NULL, NULL},
    };
    return cunit_run("dns_policy", tests);
}
