/* SPDX-License-Identifier: Apache-2.0 */
/* StreamFlowRecords' filter over one record's JSON line (flow_filter.h). */
#include "flow_filter.h"

#include <jansson.h>
#include <string.h>
#include <strings.h>

static bool suffix_match(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    if (!s)
        return true;
    if (n < s || strcasecmp(name + n - s, suffix) != 0)
        return false;
    return n == s || name[n - s - 1] == '.' || suffix[0] == '.';
}

bool msbd_flow_match(const char *line, const char *action, const char *protocol,
                     const char *suffix)
{
    if (!*action && !*protocol && !*suffix)
        return true;
    json_t *j = json_loads(line, 0, NULL);
    const char *a = json_string_value(json_object_get(j, "action"));
    const char *p = json_string_value(json_object_get(j, "proto"));
    const char *hn = json_string_value(json_object_get(j, "hostname"));
    const char *sni = json_string_value(json_object_get(j, "sni"));
    bool ok = j && a && p;
    if (ok && *action)
        ok = strcmp(action, "denied") == 0 ? strcmp(a, "allow") != 0 : strcmp(action, a) == 0;
    if (ok && *protocol)
        ok = strcmp(protocol, p) == 0;
    if (ok && *suffix)
        ok = (hn && *hn && suffix_match(hn, suffix)) || (sni && *sni && suffix_match(sni, suffix));
    json_decref(j);
    return ok;
}
