/* The policy's verdict on DNS query names (policy_dns.c): domain and
 * suffix rules decide, first match wins, address rules never match a
 * name.  Row numbers refer to the reference table of the original. */
#include <stdio.h>
#include <string.h>

#include "cunit_main.h"
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

/* Names no rule could hold (too long, escaped bytes) match nothing; a
 * NULL policy denies nothing. */
static void test_odd_names(void)
{
    struct msb_policy *p = rules("deny@suffix=com", MSB_POL_ALLOW);
    char longname[400];
    memset(longname, 'a', sizeof longname - 5);
    strcpy(longname + sizeof longname - 5, ".com");
    CU_ASSERT_EQUAL(name(p, longname), MSB_POL_ALLOW);
    CU_ASSERT_EQUAL(name(p, "x\\032y.com"), MSB_POL_DENY); /* still under com */
    CU_ASSERT_EQUAL(name(NULL, "evil.com"), MSB_POL_ALLOW);
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
        {NULL, NULL},
    };
    return cunit_run("dns_policy", tests);
}
