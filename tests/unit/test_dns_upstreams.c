/* SPDX-License-Identifier: Apache-2.0 */
/* resolv.conf reading: nameserver lines only, bounded, junk skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cunit_main.h"
#include "model/dns_upstreams.h"

static char path[] = "/tmp/msbnet-resolv-XXXXXX";

static void write_file(const char *text)
{
    FILE *fp = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_nameservers(void)
{
    char long_line[600];
    memset(long_line, 'x', sizeof long_line - 1);
    long_line[sizeof long_line - 1] = '\0';
    char text[2048];
    snprintf(text, sizeof text,
             "# comment\nsearch example\nnameserver 127.0.0.53\n"
             "nameserver\tfe80::1%%eth0\nnameserver not-an-ip\n%s nameserver 9.9.9.9\n"
             "options edns0\n  nameserver 192.0.2.1  \nnameserver 2001:db8::53", long_line);
    write_file(text);
    struct msb_ip ns[8];
    size_t n = msb_dns_read_resolv_conf(path, ns, 8);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    char buf[MSB_IP_STRLEN];
    CU_ASSERT_STRING_EQUAL(msb_ip_format(&ns[0], buf, sizeof buf), "127.0.0.53");
    CU_ASSERT_STRING_EQUAL(msb_ip_format(&ns[1], buf, sizeof buf), "fe80::1");
    CU_ASSERT_STRING_EQUAL(msb_ip_format(&ns[2], buf, sizeof buf), "192.0.2.1");
    CU_ASSERT_STRING_EQUAL(msb_ip_format(&ns[3], buf, sizeof buf), "2001:db8::53");
    CU_ASSERT_EQUAL(msb_dns_read_resolv_conf(path, ns, 2), 2);
}

static void test_missing_or_empty(void)
{
    struct msb_ip ns[8];
    write_file("");
    CU_ASSERT_EQUAL(msb_dns_read_resolv_conf(path, ns, 8), 0);
    CU_ASSERT_EQUAL(msb_dns_read_resolv_conf("/nonexistent/resolv.conf", ns, 8), 0);
}

int main(void)
{
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    close(fd);
    static const struct test_case tests[] = {
        {"nameservers", test_nameservers},
        {"missing_or_empty", test_missing_or_empty},
        {NULL, NULL},
    };
    int rc = cunit_run("dns_upstreams", tests);
    unlink(path);
    return rc;
}
