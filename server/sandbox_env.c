/* SPDX-License-Identifier: Apache-2.0 */
/* CMD's placeholders and trust store (sandbox_env.h): read from the
 * plugin before the fork, applied in the child before CMD starts. */
#include "sandbox_env.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mount.h"

#define HAS_FIELD(api, f)                                                                     \
    ((api)->struct_size >= offsetof(struct msbnet_api_v1, f) + sizeof((api)->f) && (api)->f)

/* True when the options or the config ask for interception or secrets. */
static bool asked(const struct msbd_opts *o)
{
    return json_object_get(o->overrides, "tls") || json_object_get(o->overrides, "secrets");
}

static int collect(struct msbd_sandbox_env *e, json_t *list)
{
    size_t i;
    json_t *s;
    e->assign = calloc(json_array_size(list) + 1, sizeof *e->assign);
    if (!e->assign)
        return -1;
    json_array_foreach(list, i, s) {
        const char *env = json_string_value(json_object_get(s, "env"));
        const char *ph = json_string_value(json_object_get(s, "placeholder"));
        if (!env || !ph)
            return -1;
        size_t len = strlen(env) + strlen(ph) + 2;
        if (!(e->assign[e->n] = malloc(len)))
            return -1;
        snprintf(e->assign[e->n++], len, "%s=%s", env, ph);
    }
    return 0;
}

int msbd_sandbox_env_prepare(struct msbd_sandbox_env *e, const struct msbd_host *h,
                             const struct msbd_opts *o)
{
    memset(e, 0, sizeof *e);
    if (!HAS_FIELD(h->api, secrets_json) || !HAS_FIELD(h->api, ca_certificate)) {
        if (!asked(o))
            return 0;
        fprintf(stderr, "msbnetd: plugin %s (%s) has no TLS interception (ca_certificate and "
                        "secrets_json missing from its ABI table)\n", h->plugin.path,
                h->api->version());
        return MSBD_EXIT_USAGE;
    }
    char *js = h->api->secrets_json(h->net);
    json_t *root = js ? json_loads(js, 0, NULL) : NULL;
    h->api->free_string(js);
    int rc = root ? collect(e, json_object_get(root, "secrets")) : -1;
    json_decref(root);
    if (rc) {
        fprintf(stderr, "msbnetd: cannot read the secrets' placeholders from the plugin\n");
        msbd_sandbox_env_free(e);
        return 1;
    }
    return 0;
}

int msbd_sandbox_env_ca_pem(const struct msbd_host *h, char **pem)
{
    *pem = NULL;
    if (!HAS_FIELD(h->api, ca_certificate))
        return 0;
    char *p = NULL;
    int rc = h->api->ca_certificate(h->net, &p);
    if (rc == MSBNET_ESTATE)
        return 0; /* interception is off */
    if (rc == MSBNET_OK && p && (*pem = strdup(p)) == NULL)
        rc = MSBNET_ENOMEM;
    h->api->free_string(p);
    if (rc != MSBNET_OK) {
        fprintf(stderr, "msbnetd: the plugin gave no CA certificate (%d)\n", rc);
        return -1;
    }
    return 0;
}

int msbd_sandbox_env_apply(const struct msbd_sandbox_env *e, const char *pem, size_t len,
                           char *err, size_t errlen)
{
    static const char *const vars[] = {"SSL_CERT_FILE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
                                       "REQUESTS_CA_BUNDLE"};
    if (pem && msbd_mount_ca_bundle(pem, len, err, errlen))
        return -1;
    for (size_t i = 0; pem && i < sizeof vars / sizeof vars[0]; i++)
        setenv(vars[i], MSBD_CA_BUNDLE, 1);
    for (size_t i = 0; i < e->n; i++) {
        char *eq = strchr(e->assign[i], '=');
        *eq = '\0';
        int rc = setenv(e->assign[i], eq + 1, 1);
        *eq = '=';
        if (rc) {
            snprintf(err, errlen, "cannot set the placeholder of %.*s", (int)(eq - e->assign[i]),
                     e->assign[i]);
            return -1;
        }
    }
    return 0;
}

void msbd_sandbox_env_free(struct msbd_sandbox_env *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->assign[i]);
    free(e->assign);
    e->assign = NULL;
    e->n = 0;
}
