/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy engine against the original implementation's documented
 * behaviour, case by case ("row N" labels number those cases), and against
 * the holes this one fixes.  Covered here: resolver egress checks
 * (evaluated as plain egress flows), domains, groups and classification,
 * presets, the JSON format and its validations, names, the token grammar,
 * shadows and the SNI hostname source.  Elsewhere: reading a ClientHello
 * (test_tls_sni) and the peek on a live flow (test_tcp); DNS interception
 * (test_dns_*, dataplane_dns); query-name evaluation (test_dns_policy); the
 * hostname index (test_hostindex).  Not here: a deferred hostname source
 * (a SYN is decided from the index at once: a domain rule for a
 * never-resolved address denies, and the SNI can only take an allow back),
 * the original's deny_domains builder helper (rule lists do the same), and
 * secrets (not in msbnet).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"

#include "model/config.h"
#include "capture_stderr.h"
#include "cunit_main.h"
#include "api/instance.h"
#include "proto/enforce.h"
#include "model/policy_engine.h"
#include "proto/env.h"

/* The protocols' view of an instance (what the stack builds at start), so
 * the enforcement entry points run without a stack thread. */
static struct msb_env *env_of(struct msbnet *net)
{
    static struct msb_env e;
    e = (struct msb_env){.cfg = &net->cfg,
                         .addrs = net->addrs,
                         .metrics = &net->metrics,
                         .gw = &net->gw,
                         .hidx = &net->hidx,
                         .hook = &net->hook,
                         .terminated = &net->terminated,
                         .policy = &net->policy};
    return &e;
}

/* One egress flow from the guest (100.96.0.2:40000) as the data paths ask. */
static struct msb_flow_ref egress_ref(uint8_t proto, const struct msb_ip *dst, uint16_t port)
{
    static struct msb_ip guest = {MSB_FAMILY_V4, {100, 96, 0, 2}};
    return (struct msb_flow_ref){proto, false, &guest, 40000, dst, port};
}

static bool allow(struct msbnet *net, uint8_t proto, const struct msb_ip *dst, uint16_t port)
{
    struct msb_flow_ref r = egress_ref(proto, dst, port);
    return msb_policy_allow(env_of(net), &r);
}

static bool still_allowed(struct msbnet *net, uint8_t proto, const struct msb_ip *dst,
                          uint16_t port)
{
    struct msb_flow_ref r = egress_ref(proto, dst, port);
    return msb_policy_still_allowed(env_of(net), &r);
}

static bool allow_sni(struct msbnet *net, const struct msb_ip *dst, uint16_t port,
                      const char *sni)
{
    struct msb_flow_ref r = egress_ref(MSB_IPPROTO_TCP, dst, port);
    return msb_policy_allow_sni(env_of(net), &r, sni);
}

static struct msb_gateways gw;
static struct msb_hidx hidx;
static const uint64_t NOW = 1000000;

static struct msb_ip ip(const char *s)
{
    struct msb_ip a;
    CU_ASSERT_FATAL(msb_ip_parse(s, &a) == 0);
    return a;
}

static void setup(void)
{
    /* Outside any CUnit test: plain calls, checked by the tests using them. */
    msb_gateways_init(&gw);
    struct msb_ip v4, v6;
    msb_ip_parse("100.96.0.1", &v4);
    msb_ip_parse("fd42:6d73:62::1", &v6);
    msb_gateways_set(&gw, &v4, &v6);
    msb_hidx_init(&hidx, 1024, 86400000);
}

static void teardown(void)
{
    msb_hidx_destroy(&hidx);
    msb_gateways_destroy(&gw);
}

static void cache(const char *name, const char *addr)
{
    struct msb_ip a = ip(addr);
    CU_ASSERT(msb_hidx_insert(&hidx, name, (enum msb_family)a.family, &a, 1, 60000, NOW) == 0);
}

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

static struct msb_policy *json(const char *text)
{
    char err[512];
    struct msb_policy *p = msb_policy_parse_json(text, strlen(text), err, sizeof err);
    if (!p)
        fprintf(stderr, "json: %s\n", err);
    CU_ASSERT_FATAL(p != NULL);
    return p;
}

static struct msb_pol_verdict flow(const struct msb_policy *p, enum msb_pol_dir d, unsigned proto,
                                   const char *addr, int port)
{
    struct msb_ip a = ip(addr);
    struct msb_pol_env env = {&hidx, &gw, NOW, NULL};
    struct msb_pol_flow f = {d, proto, &a, port};
    return msb_policy_eval(p, &env, &f);
}

static enum msb_pol_action out(const struct msb_policy *p, unsigned proto, const char *addr,
                               int port)
{
    return flow(p, MSB_POL_EGRESS, proto, addr, port).action;
}

#define ALLOW MSB_POL_ALLOW
#define DENY MSB_POL_DENY
#define TCP MSB_PROTO_TCP
#define UDP MSB_PROTO_UDP

/* ---- presets and resolver egress (rows 10-14, 50) ------------------------ */

static void test_presets(void)
{
    struct msb_policy *none = msb_policy_preset(MSB_PRESET_NONE);
    struct msb_policy *all = msb_policy_preset(MSB_PRESET_ALLOW_ALL);
    struct msb_policy *pub = msb_policy_preset(MSB_PRESET_PUBLIC_ONLY);
    struct msb_policy *nl = msb_policy_preset(MSB_PRESET_NON_LOCAL);
    CU_ASSERT(none->nrules == 0 && none->default_egress == DENY && none->default_ingress == DENY);
    CU_ASSERT(all->nrules == 0 && all->default_egress == ALLOW && all->default_ingress == ALLOW);
    CU_ASSERT(pub->nrules == 2 && pub->default_egress == DENY && pub->default_ingress == ALLOW);
    CU_ASSERT(nl->nrules == 3 && nl->rules[2].group == MSB_GRP_PRIVATE);
    CU_ASSERT_EQUAL(out(all, UDP, "1.1.1.1", 53), ALLOW);          /* row 10 */
    CU_ASSERT_EQUAL(out(pub, UDP, "192.168.1.53", 53), DENY);      /* row 11 */
    CU_ASSERT_EQUAL(out(none, TCP, "1.1.1.1", 53), DENY);          /* row 12 */
    CU_ASSERT_EQUAL(out(pub, UDP, "100.96.0.1", 53), ALLOW);       /* allow_dns */
    CU_ASSERT_EQUAL(out(pub, TCP, "100.96.0.1", 853), DENY);       /* not 853 */
    CU_ASSERT_EQUAL(out(pub, TCP, "100.96.0.1", 80), DENY);        /* row 50 */
    CU_ASSERT_EQUAL(out(pub, TCP, "fd42:6d73:62::1", 80), DENY);
    CU_ASSERT_EQUAL(out(pub, TCP, "198.18.0.1", 80), ALLOW);       /* benchmarking net: public */
    CU_ASSERT_EQUAL(out(nl, TCP, "10.1.2.3", 80), ALLOW);
    CU_ASSERT_EQUAL(out(nl, TCP, "127.0.0.1", 80), DENY);
    CU_ASSERT_EQUAL(flow(pub, MSB_POL_INGRESS, TCP, "8.8.8.8", 80).action, ALLOW);
    msb_policy_free(none);
    msb_policy_free(all);
    msb_policy_free(pub);
    msb_policy_free(nl);
}

static void test_resolver_rules(void)
{
    struct msb_policy *p = rules("deny@8.8.8.8/32:tcp", ALLOW); /* row 13 */
    CU_ASSERT_EQUAL(out(p, UDP, "8.8.8.8", 53), ALLOW);
    CU_ASSERT_EQUAL(out(p, TCP, "8.8.8.8", 53), DENY);
    msb_policy_free(p);
    p = rules("deny@1.1.1.1/32:tcp", ALLOW); /* row 14 */
    CU_ASSERT_EQUAL(out(p, TCP, "1.1.1.1", 853), DENY);
    CU_ASSERT_EQUAL(out(p, TCP, "1.0.0.1", 853), ALLOW);
    msb_policy_free(p);
}

/* ---- domains (rows 44-48, 57) -------------------------------------------- */

static void test_domain_rules(void)
{
    struct msb_policy *p = rules("allow@pypi.org:tcp:443", DENY);
    CU_ASSERT_EQUAL(out(p, TCP, "151.101.0.223", 443), DENY); /* row 45: never resolved */
    cache("pypi.org", "151.101.0.223");
    CU_ASSERT_EQUAL(out(p, TCP, "151.101.0.223", 443), ALLOW); /* row 44 */
    CU_ASSERT_EQUAL(flow(p, MSB_POL_EGRESS, TCP, "151.101.0.223", 443).rule, 0);
    CU_ASSERT_EQUAL(out(p, TCP, "151.101.0.223", 80), DENY);
    msb_policy_free(p);
    p = rules("allow@domain=PyPI.Org.", DENY);
    CU_ASSERT_STRING_EQUAL(p->rules[0].name, "pypi.org");
    CU_ASSERT_EQUAL(out(p, TCP, "151.101.0.223", 443), ALLOW);
    CU_ASSERT_EQUAL(out(p, MSB_PROTO_ICMPV4, "151.101.0.223", -1), ALLOW); /* row 57 */
    CU_ASSERT_EQUAL(out(p, TCP, "2606:4700:4700::1111", 443), DENY);       /* row 47 */
    msb_policy_free(p);
    p = rules("allow@pypi.org,deny@151.101.0.0/16", ALLOW); /* row 48 */
    CU_ASSERT_EQUAL(out(p, TCP, "151.101.0.223", 443), ALLOW);
    CU_ASSERT_EQUAL(out(p, TCP, "151.101.0.1", 443), DENY);
    msb_policy_free(p);
}

static void test_suffix_rules(void)
{
    struct msb_policy *p = rules("allow@suffix=.pythonhosted.org", DENY); /* row 46 */
    cache("pythonhosted.org", "192.0.2.1");
    cache("files.pythonhosted.org", "192.0.2.2");
    cache("evilpythonhosted.org", "192.0.2.3");
    CU_ASSERT_EQUAL(out(p, TCP, "192.0.2.1", 443), ALLOW);
    CU_ASSERT_EQUAL(out(p, TCP, "192.0.2.2", 443), ALLOW);
    CU_ASSERT_EQUAL(out(p, TCP, "192.0.2.3", 443), DENY);
    CU_ASSERT(msb_pol_suffix_match("a.b.example.com", "example.com"));
    CU_ASSERT(!msb_pol_suffix_match("xexample.com", "example.com"));
    CU_ASSERT(!msb_pol_suffix_match(".example.com", "example.com"));
    msb_policy_free(p);
}

/* ---- groups (rows 49, 51-56, 62) and the fixed holes --------------------- */

static void test_groups(void)
{
    struct msb_policy *p = rules("deny@host", ALLOW); /* row 49 */
    CU_ASSERT_EQUAL(out(p, TCP, "100.96.0.1", 80), DENY);
    CU_ASSERT_EQUAL(out(p, TCP, "fd42:6d73:62::1", 80), DENY);
    CU_ASSERT_EQUAL(out(p, TCP, "8.8.8.8", 80), ALLOW);
    msb_policy_free(p);
    struct msb_policy *pub = msb_policy_preset(MSB_PRESET_PUBLIC_ONLY); /* row 51 */
    struct msb_pol_rule host;
    msb_pol_rule_init(&host, MSB_POL_EGRESS, ALLOW, MSB_DEST_GROUP);
    host.group = MSB_GRP_HOST;
    p = msb_policy_new();
    p->default_egress = DENY;
    msb_policy_add(p, &host);
    for (size_t i = 0; i < pub->nrules; i++)
        msb_policy_add(p, &pub->rules[i]);
    CU_ASSERT_EQUAL(out(p, TCP, "100.96.0.1", 80), ALLOW);
    CU_ASSERT_EQUAL(out(p, TCP, "10.0.0.5", 80), DENY);
    CU_ASSERT_EQUAL(out(pub, TCP, "8.8.8.8", 80), ALLOW); /* row 52 */
    CU_ASSERT_EQUAL(out(pub, TCP, "10.0.0.5", 80), DENY);
    CU_ASSERT_EQUAL(out(pub, TCP, "127.0.0.1", 80), DENY);
    CU_ASSERT_EQUAL(out(pub, TCP, "169.254.169.254", 80), DENY);
    msb_policy_free(p);
    msb_policy_free(pub);
}

static enum msb_pol_group cls(const char *s)
{
    struct msb_ip a = ip(s);
    return msb_pol_classify(&a, &gw, NULL);
}

static void test_classify(void)
{
    CU_ASSERT_EQUAL(cls("169.254.169.254"), MSB_GRP_METADATA); /* row 53 */
    CU_ASSERT_EQUAL(cls("169.254.1.1"), MSB_GRP_LINK_LOCAL);
    CU_ASSERT_EQUAL(cls("100.96.0.1"), MSB_GRP_HOST);
    CU_ASSERT_EQUAL(cls("100.96.0.2"), MSB_GRP_PRIVATE);
    CU_ASSERT_EQUAL(cls("172.31.255.255"), MSB_GRP_PRIVATE);
    CU_ASSERT_EQUAL(cls("172.32.0.0"), MSB_GRP_PUBLIC);
    CU_ASSERT_EQUAL(cls("fc00::1"), MSB_GRP_PRIVATE);
    CU_ASSERT_EQUAL(cls("fe80::1"), MSB_GRP_LINK_LOCAL);
    CU_ASSERT_EQUAL(cls("ff02::1"), MSB_GRP_MULTICAST);
    CU_ASSERT_EQUAL(cls("224.0.0.1"), MSB_GRP_MULTICAST);
    CU_ASSERT_EQUAL(cls("::1"), MSB_GRP_LOOPBACK);
    CU_ASSERT_EQUAL(cls("198.18.0.1"), MSB_GRP_PUBLIC);
    CU_ASSERT_EQUAL(cls("2001:db8::1"), MSB_GRP_PUBLIC);
    /* The original called these "public" (row 54).  Fixed: Linux connects
     * the unspecified address to the host itself. */
    CU_ASSERT_EQUAL(cls("0.0.0.0"), MSB_GRP_LOOPBACK);
    CU_ASSERT_EQUAL(cls("0.1.2.3"), MSB_GRP_LOOPBACK);
    CU_ASSERT_EQUAL(cls("255.255.255.255"), MSB_GRP_HOST); /* delivered locally */
    CU_ASSERT_EQUAL(cls("240.0.0.1"), MSB_GRP_RESERVED);
    CU_ASSERT_EQUAL(cls("::"), MSB_GRP_LOOPBACK);
    /* Azure's wire server is metadata too. */
    CU_ASSERT_EQUAL(cls("168.63.129.16"), MSB_GRP_METADATA);
    /* IPv6 that carries IPv4: NAT64 (well-known and local-use), 6to4,
     * Teredo (client address inverted) are what they carry. */
    CU_ASSERT_EQUAL(cls("64:ff9b::808:808"), MSB_GRP_PUBLIC);
    CU_ASSERT_EQUAL(cls("64:ff9b::7f00:1"), MSB_GRP_LOOPBACK);
    CU_ASSERT_EQUAL(cls("64:ff9b::a00:1"), MSB_GRP_PRIVATE);
    CU_ASSERT_EQUAL(cls("64:ff9b::1"), MSB_GRP_LOOPBACK); /* 0.0.0.1 */
    CU_ASSERT_EQUAL(cls("64:ff9b:1::a9fe:a9fe"), MSB_GRP_METADATA);
    CU_ASSERT_EQUAL(cls("64:ff9b::6440:1"), MSB_GRP_PRIVATE); /* CGNAT */
    CU_ASSERT_EQUAL(cls("2002:7f00:1::1"), MSB_GRP_LOOPBACK);
    CU_ASSERT_EQUAL(cls("2002:a00:1::"), MSB_GRP_PRIVATE);
    CU_ASSERT_EQUAL(cls("2002:6460:1::1"), MSB_GRP_HOST); /* 6to4 of the gateway */
    CU_ASSERT_EQUAL(cls("2002:808:808::1"), MSB_GRP_PUBLIC);
    CU_ASSERT_EQUAL(cls("2001:0:4136:e378:8000:63bf:80ff:fffe"), MSB_GRP_LOOPBACK);
    CU_ASSERT_EQUAL(cls("2001:0:4136:e378:8000:63bf:3fff:fdd2"), MSB_GRP_PUBLIC);
    CU_ASSERT_EQUAL(cls("2001:db8::7f00:1"), MSB_GRP_PUBLIC); /* not Teredo */
    CU_ASSERT_EQUAL(cls("::ffff:127.0.0.1"), MSB_GRP_LOOPBACK);
    CU_ASSERT_EQUAL(cls("::ffff:169.254.169.254"), MSB_GRP_METADATA);
    CU_ASSERT_EQUAL(cls("::ffff:10.1.2.3"), MSB_GRP_PRIVATE);
    CU_ASSERT_EQUAL(cls("::ffff:100.96.0.1"), MSB_GRP_HOST);
    CU_ASSERT_EQUAL(cls("::ffff:0.0.0.0"), MSB_GRP_LOOPBACK);
    CU_ASSERT_EQUAL(cls("::127.0.0.1"), MSB_GRP_LOOPBACK); /* IPv4-compatible */
    CU_ASSERT_EQUAL(cls("::ffff:8.8.8.8"), MSB_GRP_PUBLIC);
    CU_ASSERT_EQUAL(cls("fd00:ec2::254"), MSB_GRP_METADATA); /* AWS; the original missed it */
}

static void test_holes_enforced(void)
{
    struct msb_policy *pub = msb_policy_preset(MSB_PRESET_PUBLIC_ONLY);
    const char *tricks[] = {"0.0.0.0", "::", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
                            "::ffff:10.0.0.1", "255.255.255.255", "240.0.0.1", "::127.0.0.1"};
    for (size_t i = 0; i < sizeof tricks / sizeof tricks[0]; i++)
        CU_ASSERT_EQUAL(out(pub, TCP, tricks[i], 80), DENY);
    msb_policy_free(pub);
    /* A CIDR rule sees the IPv4 inside a mapped address. */
    struct msb_policy *p = rules("deny@10.0.0.0/8", ALLOW);
    CU_ASSERT_EQUAL(out(p, TCP, "::ffff:10.9.9.9", 80), DENY);
    msb_policy_free(p);
    /* Only an explicit CIDR can allow a reserved address. */
    p = rules("allow@public,allow@0.0.0.0/8", DENY);
    CU_ASSERT_EQUAL(out(p, TCP, "0.0.0.0", 80), ALLOW);
    CU_ASSERT_EQUAL(flow(p, MSB_POL_EGRESS, TCP, "0.0.0.0", 80).rule, 1);
    msb_policy_free(p);
}

static void test_protocols_ports(void)
{
    struct msb_policy *p = json("{\"default_egress\":\"deny\",\"rules\":[{\"direction\":"
                                "\"egress\",\"destination\":{\"group\":\"public\"},\"protocols\":"
                                "[\"tcp\",\"udp\"],\"ports\":[{\"start\":443,\"end\":443}],"
                                "\"action\":\"allow\"}]}"); /* row 55 */
    CU_ASSERT_EQUAL(out(p, TCP, "8.8.8.8", 443), ALLOW);
    CU_ASSERT_EQUAL(out(p, UDP, "8.8.8.8", 443), ALLOW);
    CU_ASSERT_EQUAL(out(p, MSB_PROTO_ICMPV4, "8.8.8.8", -1), DENY);
    msb_policy_free(p);
    p = json("{\"rules\":[{\"direction\":\"egress\",\"destination\":\"any\",\"ports\":[{\"start\""
             ":80,\"end\":80},{\"start\":443,\"end\":443}],\"action\":\"allow\"}]}"); /* row 56 */
    CU_ASSERT_EQUAL(out(p, TCP, "8.8.8.8", 80), ALLOW);
    CU_ASSERT_EQUAL(out(p, TCP, "8.8.8.8", 443), ALLOW);
    CU_ASSERT_EQUAL(out(p, TCP, "8.8.8.8", 8080), DENY);
    CU_ASSERT_EQUAL(out(p, MSB_PROTO_ICMPV4, "8.8.8.8", -1), DENY); /* ports never match ICMP */
    msb_policy_free(p);
}

static void test_ingress(void)
{
    struct msb_policy *p = rules("allow:ingress@private", DENY); /* row 62 */
    CU_ASSERT_EQUAL(out(p, TCP, "10.0.0.5", 443), DENY);
    struct msb_pol_verdict v = flow(p, MSB_POL_INGRESS, TCP, "10.0.0.5", 8080);
    CU_ASSERT(v.action == ALLOW && v.rule == 0);
    msb_policy_free(p);
}

static void test_terminate_action(void)
{
    struct msb_policy *p = rules("terminate@169.254.169.254,allow@any", ALLOW);
    struct msb_pol_verdict v = flow(p, MSB_POL_EGRESS, TCP, "169.254.169.254", 80);
    CU_ASSERT(v.action == MSB_POL_TERMINATE && v.rule == 0);
    msb_policy_free(p);
}

/* ---- JSON (rows 63, 66, 67 and the new validations) ---------------------- */

static void json_err(const char *text, const char *want)
{
    char err[512] = "";
    struct msb_policy *p = msb_policy_parse_json(text, strlen(text), err, sizeof err);
    CU_ASSERT_PTR_NULL(p);
    if (!strstr(err, want))
        fprintf(stderr, "\nwanted \"%s\" in \"%s\"\n", want, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    msb_policy_free(p);
}

/* The whole message: a prefix said twice ("policy: policy: ...") shows. */
static void json_err_exact(const char *text, const char *want)
{
    char err[512] = "";
    struct msb_policy *p = msb_policy_parse_json(text, strlen(text), err, sizeof err);
    CU_ASSERT_PTR_NULL(p);
    if (strcmp(err, want) != 0)
        fprintf(stderr, "\nwanted exactly \"%s\", got \"%s\"\n", want, err);
    CU_ASSERT_STRING_EQUAL(err, want);
    msb_policy_free(p);
}

#define RULE(body) "{\"rules\":[{\"direction\":\"egress\",\"destination\":\"any\"," \
                   "\"action\":\"allow\"}," body "]}"

static void test_json_parse(void)
{
    struct msb_policy *p = json("{\"rules\":[{\"direction\":\"egress\",\"destination\":{\"domain\""
                                ":\"PyPI.Org.\"},\"action\":\"allow\"}]}"); /* row 63 */
    CU_ASSERT_STRING_EQUAL(p->rules[0].name, "pypi.org");
    CU_ASSERT(p->default_egress == DENY && p->default_ingress == DENY);
    msb_policy_free(p);
    p = json("{}"); /* {} denies everything */
    CU_ASSERT_EQUAL(out(p, UDP, "100.96.0.1", 53), DENY);
    msb_policy_free(p);
}

static void test_json_validation(void)
{
    json_err(RULE("{\"direction\":\"egress\",\"destination\":\"any\",\"protocols\":[\"tcp\"],"
                  "\"ports\":[{\"start\":443,\"end\":80}],\"action\":\"allow\"}"),
             "rules[1]: invalid port range 443..80; lo must be <= hi"); /* row 66 */
    json_err(RULE("{\"direction\":\"ingress\",\"destination\":{\"group\":\"public\"},"
                  "\"protocols\":[\"icmpv4\"],\"action\":\"allow\"}"),
             "rules[1]: ICMP protocols are egress-only"); /* row 67 */
    json_err(RULE("{\"direction\":\"any\",\"destination\":\"any\",\"protocols\":[\"icmpv6\"],"
                  "\"action\":\"deny\"}"),
             "rules[1]: ICMP protocols are egress-only");
    json_err(RULE("{\"direction\":\"egress\",\"destination\":\"any\",\"protocols\":[\"icmpv4\"],"
                  "\"ports\":[{\"start\":1,\"end\":2}],\"action\":\"deny\"}"),
             "rules[1]: ICMP has no ports");
    json_err(RULE("{\"destination\":\"any\",\"action\":\"deny\"}"), "rules[1]: direction");
    json_err(RULE("{\"direction\":\"egress\",\"action\":\"deny\"}"),
             "rules[1]: missing \"destination\"");
    json_err(RULE("{\"direction\":\"egress\",\"destination\":\"any\"}"), "rules[1]: action");
    json_err(RULE("{\"direction\":\"egress\",\"destination\":\"any\",\"action\":\"deny\","
                  "\"extra\":1}"),
             "rules[1]: unknown key \"extra\"");
    json_err_exact("{\"default_egres\":\"allow\"}", "policy: unknown key \"default_egres\"");
    json_err_exact(RULE("{\"bogus\":1}"), "policy: rules[1]: unknown key \"bogus\"");
    json_err(RULE("{\"direction\":\"egress\",\"destination\":{\"cidr\":\"10.0.0.0/33\"},"
                  "\"action\":\"deny\"}"),
             "rules[1]: invalid CIDR `10.0.0.0/33`");
    json_err(RULE("{\"direction\":\"egress\",\"destination\":{\"domain\":\"https://x.com\"},"
                  "\"action\":\"deny\"}"),
             "rules[1]: invalid domain");
    json_err(RULE("{\"direction\":\"egress\",\"destination\":{\"group\":\"link-local\"},"
                  "\"action\":\"deny\"}"),
             "rules[1]: group must be");
    json_err(RULE("{\"direction\":\"egress\",\"destination\":{\"group\":\"host\",\"cidr\":\"::/0"
                  "\"},\"action\":\"deny\"}"),
             "exactly one");
    json_err(RULE("{\"direction\":\"egress\",\"destination\":\"any\",\"ports\":[{\"start\":1,"
                  "\"end\":65536}],\"action\":\"deny\"}"),
             "ports[0].end must be an integer 0..65535");
    json_err(RULE("{\"direction\":\"egress\",\"destination\":\"any\",\"protocols\":[\"sctp\"],"
                  "\"action\":\"deny\"}"),
             "protocols[0]");
    json_err("{\"default_egress\":\"maybe\"}", "default_egress must be");
    json_err("[1]", "expected a JSON object");
    json_err("{\"rules\":[1,", "invalid JSON");
    json_err("{\"rules\":[],\"rules\":[]}", "invalid JSON");
}

static void test_json_round_trip(void)
{
    const char *src =
        "{\"default_egress\":\"deny\",\"default_ingress\":\"allow\",\"rules\":["
        "{\"direction\":\"egress\",\"destination\":{\"group\":\"host\"},\"protocols\":[\"tcp\","
        "\"udp\"],\"ports\":[{\"start\":53,\"end\":53}],\"action\":\"allow\"},"
        "{\"direction\":\"any\",\"destination\":{\"cidr\":\"10.0.0.5/8\"},\"protocols\":[],"
        "\"ports\":[],\"action\":\"deny\"},"
        "{\"direction\":\"egress\",\"destination\":{\"cidr\":\"2001:db8::1/128\"},\"protocols\":[]"
        ",\"ports\":[{\"start\":1,\"end\":1024}],\"action\":\"terminate\"},"
        "{\"direction\":\"egress\",\"destination\":{\"domain_suffix\":\"example.com\"},"
        "\"protocols\":[\"icmpv4\"],\"ports\":[],\"action\":\"allow\"},"
        "{\"direction\":\"ingress\",\"destination\":\"any\",\"protocols\":[],\"ports\":[],"
        "\"action\":\"deny\"}]}";
    struct msb_policy *p = json(src);
    json_t *j = msb_policy_to_json(p);
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_t *want = json_loads(src, 0, NULL);
    CU_ASSERT(json_equal(j, want));
    struct msb_policy *q = json(text);
    CU_ASSERT_EQUAL(q->nrules, p->nrules);
    CU_ASSERT(memcmp(q->rules, p->rules, p->nrules * sizeof *p->rules) == 0);
    free(text);
    json_decref(j);
    json_decref(want);
    msb_policy_free(p);
    msb_policy_free(q);
}

static void test_json_hostile(void)
{
    /* Deep nesting: jansson stops at its depth limit; a clear error. */
    size_t n = 100000;
    char *deep = malloc(2 * n + 1);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = '\0';
    json_err(deep, "invalid JSON");
    free(deep);
    /* Too many rules. */
    size_t cnt = MSB_POL_MAX_RULES + 1;
    const char *one = "{\"direction\":\"egress\",\"destination\":\"any\",\"action\":\"deny\"},";
    char *big = malloc(cnt * strlen(one) + 32);
    strcpy(big, "{\"rules\":[");
    char *w = big + strlen(big);
    for (size_t i = 0; i < cnt; i++, w += strlen(one))
        memcpy(w, one, strlen(one));
    strcpy(w - 1, "]}");
    json_err(big, "4097 rules, at most 4096 allowed");
    free(big);
    /* A long domain and a long unknown key: errors, cut in the message. */
    char *lng = malloc(70000);
    strcpy(lng, RULE("{\"direction\":\"egress\",\"destination\":{\"domain\":\""));
    w = lng + strlen(lng);
    memset(w, 'a', 60000);
    strcpy(w + 60000, ".com\"},\"action\":\"deny\"}]}");
    json_err(lng, "longer than 253");
    free(lng);
    char err[64];
    CU_ASSERT_PTR_NULL(msb_policy_parse_json("{}", MSB_POL_JSON_MAX_BYTES + 1u, err, sizeof err));
    json_err("{\"rules\":[{\"direction\":\"egress\",\"destination\":\"any\",\"action\":\"deny\","
             "\"ports\":[" "{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},"
             "{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,"
             "\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},"
             "{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,"
             "\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},"
             "{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,"
             "\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},"
             "{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,"
             "\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},"
             "{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,"
             "\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},"
             "{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,"
             "\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},"
             "{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,"
             "\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},"
             "{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,"
             "\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},"
             "{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,"
             "\"end\":1},{\"start\":1,\"end\":1},{\"start\":1,\"end\":1}]}]}",
             "at most 64 ranges");
}

/* ---- names (row 64) ------------------------------------------------------ */

static void test_domain_names(void)
{
    char out_name[MSB_POL_NAME_MAX + 1], why[128];
    CU_ASSERT(msb_pol_domain_parse(".PyPI.Org.", 10, out_name, why, sizeof why) == 0);
    CU_ASSERT_STRING_EQUAL(out_name, "pypi.org");
    CU_ASSERT(msb_pol_domain_parse("...", 3, out_name, why, sizeof why) == -1);
    CU_ASSERT_STRING_EQUAL(why, "domain name is empty");
    CU_ASSERT(msb_pol_domain_parse("_http._tcp.example.com", 22, out_name, why, sizeof why) == 0);
    const char *bad[] = {"bar.example:443", "user@example.com", "https://example.com",
                         "example.com/path", "example.com?q=1", "example.com#frag",
                         "foo bar.example", "a..b", "\xc3\xa9.com"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT(msb_pol_domain_parse(bad[i], strlen(bad[i]), out_name, why, sizeof why) == -1);
}

/* ---- the token grammar (rows 69-76) -------------------------------------- */

static void tok_ok(const char *t, struct msb_pol_rule *r)
{
    struct msb_pol_tok_error e;
    int rc = msb_pol_parse_token(t, strlen(t), r, &e);
    if (rc)
        fprintf(stderr, "\n%s: %s\n", t, e.msg);
    CU_ASSERT_EQUAL(rc, 0);
}

static void tok_err(const char *t, enum msb_pol_tok_err kind, const char *msg)
{
    struct msb_pol_tok_error e;
    struct msb_pol_rule r;
    CU_ASSERT_EQUAL(msb_pol_parse_token(t, strlen(t), &r, &e), -1);
    CU_ASSERT_EQUAL(e.kind, kind);
    if (!strstr(e.msg, msg))
        fprintf(stderr, "\n%s: wanted \"%s\" in \"%s\"\n", t, msg, e.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, msg));
}

static void test_tokens_ok(void)
{
    struct msb_pol_rule r;
    tok_ok("allow@public", &r); /* row 69 */
    CU_ASSERT(r.dir == MSB_POL_EGRESS && r.dest == MSB_DEST_GROUP && r.group == MSB_GRP_PUBLIC &&
              r.protos == 0 && r.nports == 0 && r.action == ALLOW);
    tok_ok("deny:any@host", &r);
    CU_ASSERT(r.dir == MSB_POL_ANY_DIR && r.group == MSB_GRP_HOST && r.action == DENY);
    tok_ok("allow@public:tcp:80-443", &r);
    CU_ASSERT(r.protos == TCP && r.nports == 1 && r.ports[0].lo == 80 && r.ports[0].hi == 443);
    tok_ok("deny@198.51.100.5", &r); /* row 70 */
    CU_ASSERT(r.dest == MSB_DEST_CIDR && r.prefix == 32);
    tok_ok("allow@[2001:db8::1]:tcp:443", &r);
    CU_ASSERT(r.dest == MSB_DEST_CIDR && r.prefix == 128 && r.protos == TCP && r.ports[0].lo == 443);
    tok_ok("deny@[2001:db8::/32]:tcp", &r);
    CU_ASSERT(r.prefix == 32 && r.addr.family == MSB_FAMILY_V6);
    tok_ok("allow@suffix=.local", &r); /* row 71 */
    CU_ASSERT(r.dest == MSB_DEST_SUFFIX && strcmp(r.name, "local") == 0);
    tok_ok("allow@domain=public", &r);
    CU_ASSERT(r.dest == MSB_DEST_DOMAIN && strcmp(r.name, "public") == 0);
    tok_ok("allow:egress@public:icmpv4", &r); /* row 75 */
    tok_ok("terminate@meta", &r);
    CU_ASSERT(r.action == MSB_POL_TERMINATE && r.group == MSB_GRP_METADATA);
    tok_ok("allow@link-local:any:any", &r);
    CU_ASSERT(r.group == MSB_GRP_LINK_LOCAL && r.protos == 0 && r.nports == 0);
    tok_ok("deny@10.0.0.0/8:udp:53", &r);
    CU_ASSERT(r.prefix == 8 && r.protos == UDP);
}

static void test_tokens_errors(void)
{
    tok_err("allow public", MSB_TOK_MISSING_AT, "rule token `allow public` is missing `@`");
    tok_err("alow@public", MSB_TOK_INVALID_ACTION, "`alow` is not a recognized action. Expected "
                                                   "`allow`, `deny`, or `terminate`. Did you mean "
                                                   "`allow`?");
    tok_err("terminat@public", MSB_TOK_INVALID_ACTION, "Did you mean `terminate`?");
    tok_err("allow@piublic", MSB_TOK_AMBIGUOUS_BARE_TOKEN,
            "`piublic` is ambiguous (looks like a single-label hostname or a typoed keyword). "
            "Use `domain=piublic` to target a literal hostname. Did you mean `public`?");
    tok_err("allow@public:tpc:443", MSB_TOK_INVALID_PROTOCOL,
            "`tpc` is not a recognized protocol. Expected `any`, `tcp`, `udp`, `icmpv4`, or "
            "`icmpv6`. Did you mean `tcp`?");
    tok_err("allow:egres@public", MSB_TOK_INVALID_DIRECTION, "Did you mean `egress`?");
    tok_err("allow:@public", MSB_TOK_INVALID_DIRECTION, "`` is not a recognized direction");
    tok_err("allow@example.com:443", MSB_TOK_PORT_IN_PROTOCOL_SLOT, /* row 73 */
            "`443` is a port, not a protocol; did you mean `example.com:tcp:443`?");
    tok_err("allow@example.com:80-90", MSB_TOK_PORT_IN_PROTOCOL_SLOT, "example.com:tcp:80-90");
    tok_err("allow@2001:db8::1", MSB_TOK_TRAILING_JUNK, "wrap it as `[<addr>]`");
    tok_err("allow@public:tcp:443:extra", MSB_TOK_TRAILING_JUNK, "has trailing fields");
    tok_err("allow@[192.0.2.1]:tcp:443", MSB_TOK_BRACKETED_NOT_IPV6, /* row 74 */
            "`192.0.2.1` is not an IPv6 address or CIDR");
    tok_err("allow@[2001:db8::1:tcp:443", MSB_TOK_UNCLOSED_BRACKET, "unclosed `[`");
    tok_err("allow@[2001:db8::1]xyz", MSB_TOK_UNEXPECTED_AFTER_BRACKET, "unexpected content");
    tok_err("allow@[2001:db8::1]:tcp:1:2", MSB_TOK_TRAILING_JUNK, "trailing fields");
    tok_err("allow@[zz]", MSB_TOK_INVALID_IP, "invalid IP address `zz`");
    tok_err("allow@[::/129]", MSB_TOK_INVALID_CIDR, "invalid CIDR `::/129`");
    tok_err("allow:ingress@public:icmpv4:any", MSB_TOK_INGRESS_ICMP, /* row 75 */
            "ingress and any-direction rules do not support ICMP");
    tok_err("allow:any@public:icmpv6", MSB_TOK_INGRESS_ICMP, "do not support ICMP");
    tok_err("allow@", MSB_TOK_INVALID_TARGET, "`` is not a valid target");
    tok_err("allow@public:", MSB_TOK_INVALID_PROTOCOL, "`` is not a recognized protocol");
    tok_err("allow@public:tcp:", MSB_TOK_INVALID_PORTS, "`` is not a valid ports value");
    tok_err("allow@public:tcp:90-80", MSB_TOK_INVALID_PORT_RANGE,
            "invalid port range 90..80; lo must be <= hi");
    tok_err("allow@public:tcp:70000", MSB_TOK_INVALID_PORTS, "`70000` is not a valid ports");
    tok_err("allow@10.0.0.0/40", MSB_TOK_INVALID_CIDR, "invalid CIDR `10.0.0.0/40`");
    tok_err("allow@suffix=", MSB_TOK_INVALID_DOMAIN, "invalid domain ``: domain name is empty");
    tok_err("allow@a..b.com", MSB_TOK_INVALID_DOMAIN, "invalid domain `a..b.com`");
    tok_err("allow@xyzzy", MSB_TOK_AMBIGUOUS_BARE_TOKEN, "literal hostname");
}

static void test_token_hostile(void)
{
    char big[MSB_POL_TOKEN_MAX + 2];
    memset(big, 'a', sizeof big);
    tok_err("x", MSB_TOK_MISSING_AT, "missing");
    struct msb_pol_tok_error e;
    struct msb_pol_rule r;
    CU_ASSERT_EQUAL(msb_pol_parse_token(big, sizeof big, &r, &e), -1);
    CU_ASSERT_EQUAL(e.kind, MSB_TOK_TOO_LONG);
    /* The longest accepted token echoed three times still fits. */
    memcpy(big, "allow@", 6);
    big[20] = ':';
    CU_ASSERT_EQUAL(msb_pol_parse_token(big, MSB_POL_TOKEN_MAX, &r, &e), -1);
    CU_ASSERT(strlen(e.msg) < sizeof e.msg);
    const char nul[] = "allow@public\0:tcp";
    CU_ASSERT_EQUAL(msb_pol_parse_token(nul, sizeof nul - 1, &r, &e), -1);
    CU_ASSERT(msb_pol_edit_distance("abc", 3, "abc", 2) == 0);
    CU_ASSERT(msb_pol_edit_distance("kitten", 6, "sitting", 2) == 3);
}

static void test_rule_list(void)
{
    struct msb_policy *p = rules("allow@public,, allow@private ,", DENY); /* row 76 */
    CU_ASSERT_EQUAL(p->nrules, 2);
    struct msb_pol_tok_error e;
    CU_ASSERT_EQUAL(msb_pol_parse_rule_list("allow@host,bogus", p, &e), -1);
    CU_ASSERT_EQUAL(e.kind, MSB_TOK_MISSING_AT);
    CU_ASSERT_EQUAL(p->nrules, 3); /* appended up to the error; the caller discards */
    msb_policy_free(p);
}

/* ---- shadows (row 68) ---------------------------------------------------- */

static void test_shadows(void)
{
    struct msb_pol_rule a, b;
    tok_ok("allow@10.0.0.0/8", &a);
    tok_ok("allow@10.0.0.5", &b);
    CU_ASSERT(msb_pol_shadows(&a, &b));
    CU_ASSERT(!msb_pol_shadows(&b, &a));
    tok_ok("deny:any@public", &a);
    tok_ok("allow@public:tcp:443", &b);
    CU_ASSERT(msb_pol_shadows(&a, &b));
    tok_ok("allow@public:tcp:443", &a);
    tok_ok("allow:any@public:tcp:443", &b);
    CU_ASSERT(!msb_pol_shadows(&a, &b)); /* egress does not cover any */
    tok_ok("allow@public:tcp", &a);
    tok_ok("allow@public", &b);
    CU_ASSERT(!msb_pol_shadows(&a, &b)); /* later empty protocols: wider */
    tok_ok("deny@suffix=example.com", &a);
    tok_ok("allow@api.example.com", &b);
    CU_ASSERT(msb_pol_shadows(&a, &b));
    struct msb_policy *p =
        rules("deny@10.0.0.0/8,allow@10.1.0.0/16:tcp:443,allow@public,allow@8.8.8.8", DENY);
    char **w;
    long n = msb_policy_shadow_warnings(p, &w);
    CU_ASSERT_EQUAL(n, 1);
    if (n == 1)
        CU_ASSERT_STRING_EQUAL(w[0], "rule #1 (egress allow cidr 10.1.0.0/16 tcp port 443) is "
                                     "shadowed by rule #0 (egress deny cidr 10.0.0.0/8); to "
                                     "narrow, place the more specific rule first");
    msb_pol_warnings_free(w, n);
    msb_policy_free(p);
    /* Bounded: thousands of identical rules give at most the cap. */
    p = msb_policy_new();
    tok_ok("deny@any", &a);
    for (int i = 0; i < 2000; i++)
        msb_policy_add(p, &a);
    n = msb_policy_shadow_warnings(p, &w);
    CU_ASSERT_EQUAL(n, MSB_POL_MAX_WARNINGS);
    msb_pol_warnings_free(w, n);
    msb_policy_free(p);
}

/* ---- config and instance wiring ------------------------------------------ */

static void hook_fn(void *user, const char *reason)
{
    int *calls = user;
    (*calls)++;
    CU_ASSERT_PTR_NOT_NULL(strstr(reason, "\"rule\":0"));
    CU_ASSERT_PTR_NOT_NULL(strstr(reason, "169.254.169.254"));
}

static void test_config_policy(void)
{
    struct msb_config c;
    char err[512];
    CU_ASSERT_EQUAL(msb_config_parse("{\"policy\":{\"rules\":[{\"direction\":\"egress\","
                                     "\"destination\":{\"cidr\":\"169.254.169.254\"},\"action\":"
                                     "\"terminate\"}],\"default_egress\":\"allow\"}}",
                                     &c, err, sizeof err),
                    0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c.policy);
    struct msbnet *net = msb_instance_create(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    int calls = 0;
    msb_hook_set(&net->hook, hook_fn, &calls);
    struct msb_ip meta = ip("169.254.169.254"), pub = ip("8.8.8.8");
    CU_ASSERT(!allow(net, 6, &meta, 80));
    CU_ASSERT(!allow(net, 6, &meta, 443));
    CU_ASSERT(allow(net, 6, &pub, 443));
    CU_ASSERT_EQUAL(calls, 1); /* once per instance */
    CU_ASSERT_EQUAL(msb_read(&net->metrics.policy.terminated), 2);
    CU_ASSERT_EQUAL(msb_read(&net->metrics.policy.allowed), 1);
    msb_instance_destroy(net);

    CU_ASSERT_EQUAL(msb_config_parse("{\"policy\":{\"rules\":[{\"direction\":\"ingress\","
                                     "\"destination\":\"any\",\"protocols\":[\"icmpv4\"],"
                                     "\"action\":\"deny\"}]}}",
                                     &c, err, sizeof err),
                    -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "config: key \"policy\": policy: rules[0]: ICMP"));
    CU_ASSERT_PTR_NULL(c.policy);
    CU_ASSERT_EQUAL(msb_config_parse("{\"policy\":{},\"egress\":\"deny\"}", &c, err, sizeof err),
                    -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "exclude each other"));
    CU_ASSERT_PTR_NULL(c.policy);

    /* No "policy": the egress switch picks a preset; public_only is the default. */
    CU_ASSERT_EQUAL(msb_config_parse("{\"egress\":\"deny\"}", &c, err, sizeof err), 0);
    net = msb_instance_create(&c, err, sizeof err);
    CU_ASSERT_FATAL(net != NULL);
    CU_ASSERT(!allow(net, 6, &pub, 443));
    CU_ASSERT_EQUAL(msb_read(&net->metrics.policy.denied), 1);
    msb_instance_destroy(net);
    CU_ASSERT_EQUAL(msb_config_parse("{}", &c, err, sizeof err), 0);
    net = msb_instance_create(&c, err, sizeof err);
    CU_ASSERT_FATAL(net != NULL);
    CU_ASSERT(allow(net, 6, &pub, 443));
    struct msb_ip priv;
    msb_ip_parse("10.1.2.3", &priv);
    CU_ASSERT(!allow(net, 6, &priv, 443));
    msb_instance_destroy(net);
}

/* ---- the SNI hostname source (rows 58-60, 79) ------------------------------- */

static struct msb_pol_verdict sni_verdict(const struct msb_policy *p, const char *addr, int port,
                                          const char *name)
{
    struct msb_ip a = ip(addr);
    struct msb_pol_env env = {&hidx, &gw, NOW, NULL};
    struct msb_pol_flow f = {MSB_POL_EGRESS, TCP, &a, port};
    return msb_policy_eval_sni(p, &env, &f, name);
}

static enum msb_pol_action sni(const struct msb_policy *p, const char *addr, int port,
                               const char *name)
{
    return sni_verdict(p, addr, port, name).action;
}

static void test_sni_source(void)
{
    struct msb_policy *p = rules("allow@pypi.org", DENY);
    cache("evil.com", "203.0.113.58"); /* row 58: the index names another host */
    CU_ASSERT_EQUAL(sni(p, "203.0.113.58", 443, "pypi.org"), DENY);
    CU_ASSERT_EQUAL(sni(p, "203.0.113.59", 443, "pypi.org"), DENY); /* no binding */
    cache("pypi.org", "203.0.113.60");
    CU_ASSERT_EQUAL(sni(p, "203.0.113.60", 443, "evil.com"), DENY); /* SNI names another */
    CU_ASSERT_EQUAL(sni(p, "203.0.113.60", 443, "pypi.org"), ALLOW);
    CU_ASSERT_EQUAL(sni(p, "203.0.113.60", 443, ""), DENY); /* broken hello: no name */
    CU_ASSERT_EQUAL(sni(p, "203.0.113.60", 443, NULL), ALLOW); /* no SNI: the index alone */
    cache("evil.com", "203.0.113.61"); /* row 59: both bound to one address */
    cache("pypi.org", "203.0.113.61");
    CU_ASSERT_EQUAL(sni(p, "203.0.113.61", 443, "pypi.org"), ALLOW);
    CU_ASSERT_EQUAL(sni(p, "203.0.113.61", 443, "evil.com"), DENY);
    msb_policy_free(p);

    p = rules("allow@suffix=.pythonhosted.org", DENY); /* row 60 */
    cache("other.pythonhosted.org", "203.0.113.62");
    CU_ASSERT_EQUAL(sni(p, "203.0.113.62", 443, "files.pythonhosted.org"), ALLOW);
    CU_ASSERT_EQUAL(sni(p, "203.0.113.63", 443, "files.pythonhosted.org"), DENY);
    CU_ASSERT_EQUAL(sni(p, "203.0.113.62", 443, "evilpythonhosted.org"), DENY);
    msb_policy_free(p);

    p = rules("allow@pypi.org:tcp:443", DENY); /* row 79, over-allow */
    CU_ASSERT_EQUAL(sni(p, "203.0.113.60", 443, "evil.com"), DENY);
    msb_policy_free(p);
    p = rules("deny@ads.example.com", ALLOW); /* row 79, over-block */
    cache("ads.example.com", "203.0.113.64");
    CU_ASSERT_EQUAL(sni(p, "203.0.113.64", 443, "api.example.com"), ALLOW);
    CU_ASSERT_EQUAL(sni(p, "203.0.113.64", 443, "ads.example.com"), DENY);
    /* A deny goes by the SNI alone: a hard-coded, never resolved address
     * naming the blocked host is refused, and terminate fires. */
    CU_ASSERT_EQUAL(sni(p, "203.0.113.99", 443, "ads.example.com"), DENY);
    CU_ASSERT_EQUAL(sni(p, "203.0.113.99", 443, "api.example.com"), ALLOW);
    msb_policy_free(p);
    p = rules("terminate@suffix=.evil.test", ALLOW);
    struct msb_pol_verdict v = sni_verdict(p, "203.0.113.98", 443, "c2.evil.test");
    CU_ASSERT_EQUAL(v.action, MSB_POL_TERMINATE);
    CU_ASSERT_EQUAL(v.rule, 0);
    CU_ASSERT_EQUAL(sni(p, "203.0.113.98", 443, "evil.test.example"), ALLOW);
    msb_policy_free(p);

    /* Address rules ignore the SNI: a wrong name on an allowed CIDR passes. */
    p = rules("allow@203.0.113.0/24", DENY);
    CU_ASSERT_EQUAL(sni(p, "203.0.113.58", 443, "anything.example"), ALLOW);
    CU_ASSERT_FALSE(msb_policy_has_domain_rules(p));
    msb_policy_free(p);
    p = rules("allow:ingress@domain=x.test,allow@public", DENY);
    CU_ASSERT_FALSE(msb_policy_has_domain_rules(p)); /* ingress only: no egress SNI check */
    msb_policy_free(p);
    p = rules("allow@public,deny:any@suffix=x.test", DENY);
    CU_ASSERT_TRUE(msb_policy_has_domain_rules(p));
    msb_policy_free(p);
}

/* ---- policy text: JSON or tokens (set_policy, config) ------------------------ */

static void test_parse_text(void)
{
    char err[512];
    struct msb_policy *p = msb_policy_parse_text(" allow@public , allow@host:udp:53", err,
                                                 sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(p->nrules, 2);
    CU_ASSERT_EQUAL(p->default_egress, DENY); /* the original CLI's assembly */
    CU_ASSERT_EQUAL(p->default_ingress, ALLOW);
    msb_policy_free(p);
    p = msb_policy_parse_text("\n {\"default_egress\":\"allow\"}", err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(p->default_egress == ALLOW && p->default_ingress == DENY && p->nrules == 0);
    msb_policy_free(p);
    CU_ASSERT_PTR_NULL(msb_policy_parse_text("", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "empty"));
    CU_ASSERT_PTR_NULL(msb_policy_parse_text("allow@public,allow@piublic", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "Did you mean `public`?"));
    CU_ASSERT_PTR_NULL(msb_policy_parse_text("{\"rules\":1}", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "rules"));

    struct msb_config c;
    CU_ASSERT_EQUAL(msb_config_parse("{\"policy\":\"allow@host, terminate@meta\"}", &c, err,
                                     sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c.policy);
    CU_ASSERT_EQUAL(c.policy->nrules, 2);
    CU_ASSERT_EQUAL(c.policy->rules[1].action, MSB_POL_TERMINATE);
    msb_config_release(&c);
    CU_ASSERT_EQUAL(msb_config_parse("{\"policy\":\"alow@host\"}", &c, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "config: key \"policy\": policy: `alow`"));
    CU_ASSERT_EQUAL(msb_config_parse("{\"policy\":\"{}\"}", &c, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "as an object"));
    CU_ASSERT_EQUAL(msb_config_parse("{\"policy\":7}", &c, err, sizeof err), -1);
    CU_ASSERT_PTR_NULL(c.policy);
}

/* ---- counters by rule, the debug line, re-checks ------------------------------ */

static struct msbnet *instance(const char *config)
{
    struct msb_config c;
    char err[512];
    CU_ASSERT_EQUAL_FATAL(msb_config_parse(config, &c, err, sizeof err), 0);
    struct msbnet *net = msb_instance_create(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    return net;
}

static uint64_t bucket(struct msbnet *net, size_t i)
{
    return msb_read(&net->metrics.policy.by_rule[i]);
}

static void test_by_rule(void)
{
    /* 70 rules: the 70th (index 69) lands in the "later" bucket. */
    char list[4096] = "";
    for (int i = 0; i < 69; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "deny@10.0.%d.0/24,", i);
    strcat(list, "allow@public");
    char cfg[4200];
    snprintf(cfg, sizeof cfg, "{\"policy\":\"%s\"}", list);
    struct msbnet *net = instance(cfg);
    struct msb_ip a = ip("10.0.0.9"), b = ip("10.0.5.1"), pub = ip("8.8.8.8"), other = ip("10.9.9.9");
    CU_ASSERT(!allow(net, 6, &a, 80));
    CU_ASSERT(!allow(net, 17, &a, 53));
    CU_ASSERT(!allow(net, 6, &b, 80));
    CU_ASSERT(allow(net, 6, &pub, 443));
    CU_ASSERT(!allow(net, 6, &other, 443));
    CU_ASSERT_EQUAL(bucket(net, 0), 2);
    CU_ASSERT_EQUAL(bucket(net, 5), 1);
    CU_ASSERT_EQUAL(bucket(net, MSB_POLICY_BUCKET_LATER), 1);
    CU_ASSERT_EQUAL(bucket(net, MSB_POLICY_BUCKET_DEFAULT), 1);
    CU_ASSERT_EQUAL(msb_read(&net->metrics.policy.denied), 4);
    /* A re-check after a swap counts nothing. */
    CU_ASSERT_FALSE(still_allowed(net, 6, &a, 80));
    CU_ASSERT_TRUE(still_allowed(net, 6, &pub, 80));
    CU_ASSERT_EQUAL(msb_read(&net->metrics.policy.denied), 4);
    CU_ASSERT_EQUAL(bucket(net, 0), 2);
    msb_instance_destroy(net);
}

/* The SNI decision counts only a refusal (the allow was counted at SYN). */
static void test_sni_decision_counted(void)
{
    struct msbnet *net = instance("{\"policy\":\"allow@domain=pypi.org\"}");
    struct msb_ip a = ip("203.0.113.70");
    CU_ASSERT_EQUAL(msb_hidx_insert(&net->hidx, "pypi.org", MSB_FAMILY_V4, &a, 1, 60000,
                                    msb_now_ms()), 0);
    CU_ASSERT_TRUE(msb_policy_wants_sni(env_of(net)));
    CU_ASSERT_TRUE(allow(net, 6, &a, 443));
    CU_ASSERT_TRUE(allow_sni(net, &a, 443, "pypi.org"));
    CU_ASSERT_FALSE(allow_sni(net, &a, 443, "evil.com"));
    CU_ASSERT_EQUAL(msb_read(&net->metrics.policy.allowed), 1);
    CU_ASSERT_EQUAL(msb_read(&net->metrics.policy.denied), 1);
    CU_ASSERT_EQUAL(msb_read(&net->metrics.policy.sni_mismatch), 1);
    CU_ASSERT_EQUAL(bucket(net, 0), 1);
    CU_ASSERT_EQUAL(bucket(net, MSB_POLICY_BUCKET_DEFAULT), 1);
    msb_instance_destroy(net);
}

static void two_decisions(void *arg)
{
    struct msbnet *net = arg;
    struct msb_ip a = ip("10.1.2.3"), v6 = ip("2001:db8::5");
    allow(net, 6, &a, 8080);
    allow(net, 58, &v6, 0);
}

static void test_debug_log(void)
{
    struct msbnet *net = instance("{\"policy\":\"deny@10.0.0.0/8\", \"log_level\": \"debug\"}");
    const char *out = capture_stderr(two_decisions, net);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "policy deny by rule #0: egress tcp 10.1.2.3 port 8080\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "policy deny by rule default: egress icmpv6 2001:db8::5\n"));
    msb_instance_destroy(net);
    net = instance("{\"policy\":\"deny@10.0.0.0/8\"}"); /* default level: warn, silent */
    CU_ASSERT_STRING_EQUAL(capture_stderr(two_decisions, net), "");
    msb_instance_destroy(net);
    struct msb_config c;
    char err[256];
    CU_ASSERT_EQUAL(msb_config_parse("{\"log_level\":\"verbose\"}", &c, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "key \"log_level\" must be one of: error, warn, info, debug"));
}

int main(void)
{
    setup();
    static const struct test_case tests[] = {
        {"presets and resolver egress (rows 10-14, 50)", test_presets},
        {"resolver rules by transport (rows 13, 14)", test_resolver_rules},
        {"domain rules need a live binding (rows 44, 45, 47, 48, 57)", test_domain_rules},
        {"suffix rules are label-aware (row 46)", test_suffix_rules},
        {"groups (rows 49, 51, 52)", test_groups},
        {"classification incl. fixed holes (rows 53, 54)", test_classify},
        {"mapped/unspecified tricks are denied", test_holes_enforced},
        {"protocols and ports (rows 55, 56)", test_protocols_ports},
        {"ingress walk (row 62)", test_ingress},
        {"terminate action", test_terminate_action},
        {"JSON parse and defaults (row 63)", test_json_parse},
        {"JSON validations (rows 66, 67, new)", test_json_validation},
        {"JSON round trip", test_json_round_trip},
        {"JSON hostile input", test_json_hostile},
        {"domain names (row 64)", test_domain_names},
        {"tokens (rows 69-71, 75)", test_tokens_ok},
        {"token errors and suggestions (rows 72-75)", test_tokens_errors},
        {"token hostile input", test_token_hostile},
        {"rule lists (row 76)", test_rule_list},
        {"shadow warnings (row 68)", test_shadows},
        {"config key and instance wiring", test_config_policy},
        {"SNI hostname source (rows 58-60, 79)", test_sni_source},
        {"policy text: JSON or tokens, config string", test_parse_text},
        {"decisions by rule, re-check counts nothing", test_by_rule},
        {"SNI decision counted only when it refuses", test_sni_decision_counted},
        {"debug log line names rule and flow", test_debug_log},
        {NULL, NULL},
    };
    int rc = cunit_run("policy", tests);
    teardown();
    return rc;
}
