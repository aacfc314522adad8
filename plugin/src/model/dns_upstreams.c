/* SPDX-License-Identifier: Apache-2.0 */
/* The host's resolvers, read from resolv.conf with bounded lines
 * (dns_upstreams.h), for when the config names no dns_upstreams. */
#include "model/dns_upstreams.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define LINE_MAX_BYTES 256
#define LINES_MAX 4096 /* a resolv.conf is a few lines: stop reading junk early */

/* The rest of an overlong line is thrown away, not read as new lines. */
static bool read_line(FILE *fp, char *line, size_t cap)
{
    if (!fgets(line, (int)cap, fp))
        return false;
    if (!strchr(line, '\n') && !feof(fp)) {
        int c;
        while ((c = fgetc(fp)) != EOF && c != '\n')
            ;
        line[0] = '\0';
    }
    return true;
}

static bool parse_nameserver(char *line, struct msb_ip *out)
{
    char *save, *kw = strtok_r(line, " \t\r\n", &save);
    if (!kw || strcmp(kw, "nameserver") != 0)
        return false;
    char *addr = strtok_r(NULL, " \t\r\n", &save);
    if (!addr)
        return false;
    char *zone = strchr(addr, '%');
    if (zone)
        *zone = '\0';
    return msb_ip_parse(addr, out) == 0;
}

size_t msb_dns_read_resolv_conf(const char *path, struct msb_ip *out, size_t max)
{
    FILE *fp = fopen(path, "re");
    if (!fp)
        return 0;
    char line[LINE_MAX_BYTES];
    size_t n = 0;
    for (int i = 0; n < max && i < LINES_MAX && read_line(fp, line, sizeof line); i++)
        if (parse_nameserver(line, &out[n]))
            n++;
    fclose(fp);
    return n;
}
