/* SPDX-License-Identifier: Apache-2.0 */
/* The TLS interception RPCs: GetCaCertificate, ListSecrets and SetSecrets,
 * from the plugin's ca_certificate, secrets_json and set_secrets.
 * ListSecrets leaves out the placeholders as well as the values: a
 * controller needs names, hosts and counters; the guest already has its
 * placeholders. */
#include "rpc.h"

#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define HAS_FIELD(api, f)                                                                     \
    ((api)->struct_size >= offsetof(struct msbnet_api_v1, f) + sizeof((api)->f) && (api)->f)

void msbd_rpc_get_ca_certificate(struct msbd_call *c, const ProtobufCMessage *req)
{
    (void)req;
    const struct msbd_host *h = c->g->host;
    if (!HAS_FIELD(h->api, ca_certificate)) {
        msbd_call_finish(c, GRPC_STATUS_UNIMPLEMENTED, "the plugin has no TLS interception");
        return;
    }
    char *pem = NULL;
    int rc = h->api->ca_certificate(h->net, &pem);
    if (rc == MSBNET_OK) {
        Msbnet__V1__GetCaCertificateResponse r = MSBNET__V1__GET_CA_CERTIFICATE_RESPONSE__INIT;
        r.pem = pem;
        msbd_call_reply(c, &r.base);
    } else if (rc == MSBNET_ESTATE) {
        msbd_call_finish(c, GRPC_STATUS_FAILED_PRECONDITION,
                         "TLS interception is off (msbnetd run --tls-intercept)");
    } else {
        msbd_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    h->api->free_string(pem);
}

/* Strings of a JSON array as a calloc'd vector pointing into it. */
static char **strings(json_t *a, size_t *n)
{
    *n = json_array_size(a);
    char **v = calloc(*n + 1, sizeof *v);
    if (!v)
        *n = 0;
    for (size_t i = 0; v && i < *n; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        v[i] = (char *)(s ? s : "");
    }
    return v;
}

static void fill_secret(Msbnet__V1__SecretInfo *s, json_t *j)
{
    msbnet__v1__secret_info__init(s);
    const char *env = json_string_value(json_object_get(j, "env"));
    const char *viol = json_string_value(json_object_get(j, "on_violation"));
    s->env = (char *)(env ? env : "");
    s->on_violation = (char *)(viol ? viol : "");
    s->hosts = strings(json_object_get(j, "hosts"), &s->n_hosts);
    s->inject = strings(json_object_get(j, "inject"), &s->n_inject);
    s->substitutions = (uint64_t)json_integer_value(json_object_get(j, "substitutions"));
    s->violations = (uint64_t)json_integer_value(json_object_get(j, "violations"));
}

static void reply_secrets(struct msbd_call *c, json_t *root)
{
    Msbnet__V1__ListSecretsResponse r = MSBNET__V1__LIST_SECRETS_RESPONSE__INIT;
    json_t *list = json_object_get(root, "secrets");
    size_t n = json_array_size(list);
    Msbnet__V1__SecretInfo *ss = calloc(n + 1, sizeof *ss);
    Msbnet__V1__SecretInfo **ptrs = calloc(n + 1, sizeof *ptrs);
    r.intercept = json_is_true(json_object_get(root, "intercept"));
    r.scan_plaintext = json_is_true(json_object_get(root, "scan_plaintext"));
    if (!ss || !ptrs) {
        msbd_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    } else {
        for (size_t i = 0; i < n; i++) {
            fill_secret(&ss[i], json_array_get(list, i));
            ptrs[i] = &ss[i];
        }
        r.n_secrets = n;
        r.secrets = ptrs;
        msbd_call_reply(c, &r.base);
    }
    for (size_t i = 0; ss && i < n; i++) {
        free(ss[i].hosts);
        free(ss[i].inject);
    }
    free(ss);
    free(ptrs);
}

void msbd_rpc_list_secrets(struct msbd_call *c, const ProtobufCMessage *req)
{
    (void)req;
    const struct msbd_host *h = c->g->host;
    if (!HAS_FIELD(h->api, secrets_json)) {
        msbd_call_finish(c, GRPC_STATUS_UNIMPLEMENTED, "the plugin has no secrets");
        return;
    }
    char *js = h->api->secrets_json(h->net);
    json_t *root = js ? json_loads(js, 0, NULL) : NULL;
    h->api->free_string(js);
    if (!root)
        msbd_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    else
        reply_secrets(c, root);
    json_decref(root);
}

/* In force after a replacement: {secrets, removed} counted from the list. */
static void count_secrets(const struct msbd_host *h, uint32_t *live, uint32_t *removed)
{
    char *js = h->api->secrets_json(h->net);
    json_t *root = js ? json_loads(js, 0, NULL) : NULL;
    h->api->free_string(js);
    size_t i;
    json_t *e;
    *live = *removed = 0;
    json_array_foreach(json_object_get(root, "secrets"), i, e) {
        if (json_is_true(json_object_get(e, "removed")))
            (*removed)++;
        else
            (*live)++;
    }
    json_decref(root);
}

/* The request holds values: wiped once the plugin has parsed it (the
 * gRPC receive buffers are not ours to wipe). */
void msbd_rpc_set_secrets(struct msbd_call *c, const ProtobufCMessage *req)
{
    const Msbnet__V1__SetSecretsRequest *r = (const Msbnet__V1__SetSecretsRequest *)req;
    const struct msbd_host *h = c->g->host;
    if (!HAS_FIELD(h->api, set_secrets) || !HAS_FIELD(h->api, secrets_json)) {
        msbd_call_finish(c, GRPC_STATUS_UNIMPLEMENTED, "the plugin cannot replace secrets");
        return;
    }
    char err[512] = "";
    int rc = r->json && *r->json ? h->api->set_secrets(h->net, r->json, err, sizeof err)
                                 : (snprintf(err, sizeof err, "json: empty (\"[]\" removes "
                                             "every secret)"), MSBNET_EINVAL);
    if (r->json)
        memset(r->json, 0, strlen(r->json));
    if (rc != MSBNET_OK) {
        msbd_call_finish(c, rc == MSBNET_EINVAL   ? GRPC_STATUS_INVALID_ARGUMENT
                            : rc == MSBNET_ESTATE ? GRPC_STATUS_FAILED_PRECONDITION
                                                  : GRPC_STATUS_RESOURCE_EXHAUSTED, err);
        return;
    }
    Msbnet__V1__SetSecretsResponse resp = MSBNET__V1__SET_SECRETS_RESPONSE__INIT;
    count_secrets(h, &resp.secrets, &resp.removed);
    msbd_call_reply(c, &resp.base);
}
