/* SPDX-License-Identifier: Apache-2.0 */
/* Rate limits replaced at run time and read back (limits_replace.h). */
#include "api/limits_replace.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/instance.h"
#include "msbnet/msbnet.h"

int msb_limits_replace(struct msbnet *net, const char *text, char *err, size_t errlen)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        snprintf(err, errlen, "limits: invalid JSON at line %d column %d: %s", je.line, je.column,
                 je.text);
        return MSBNET_EINVAL;
    }
    struct msb_limits l;
    int rc = msb_limits_from_json(v, &l, err, errlen);
    json_decref(v);
    if (rc)
        return MSBNET_EINVAL;
    pthread_mutex_lock(&net->limits_lock);
    net->cfg.limits = l;
    atomic_store(&net->limits_has_pending, true);
    pthread_mutex_unlock(&net->limits_lock);
    msb_wake_signal(&net->proxy_wake); /* a stopped stack reads them at start */
    return MSBNET_OK;
}

char *msb_limits_current_json(struct msbnet *net)
{
    pthread_mutex_lock(&net->limits_lock);
    json_t *v = msb_limits_to_json(&net->cfg.limits);
    pthread_mutex_unlock(&net->limits_lock);
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(v);
    return s;
}

bool msb_limits_take(struct msbnet *net, struct msb_limits *out, bool always)
{
    if (!atomic_exchange(&net->limits_has_pending, false) && !always)
        return false;
    pthread_mutex_lock(&net->limits_lock);
    *out = net->cfg.limits;
    pthread_mutex_unlock(&net->limits_lock);
    return true;
}
