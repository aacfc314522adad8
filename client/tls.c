/* SPDX-License-Identifier: Apache-2.0 */
/* msbnetctl ca | secrets [set FILE|-]: the sandbox CA's certificate, the
 * secrets (names, hosts, counters; never a value or a placeholder), and a
 * new set of them (SetSecrets; the file's values are wiped after). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "rpc.h"
#include "msbnet/v1/control.pb-c.h"

#define SVC "/msbnet.v1.NetworkControl/"
#define SECRETS_MAX_BYTES (1u << 20) /* 64 secrets of 4 KiB values, with room */

/* Both commands take nothing but --help: -1 to go on, else the exit status. */
static int only_help(const char *name, const char *what, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    optind = 1;
    int ch = getopt_long(argc, argv, "+h", opts, NULL);
    bool help = ch == 'h';
    if (ch != -1 || optind < argc) {
        fprintf(help ? stdout : stderr, "usage: msbnetctl [GLOBAL OPTIONS] %s\n  %s\n", name,
                what);
        return help ? 0 : EXIT_USAGE;
    }
    return -1;
}

int ctl_ca(const struct ctl_opts *o, int argc, char **argv)
{
    int rc = only_help("ca", "print the sandbox CA's certificate (PEM; JSON {\"pem\"} with "
                       "--json)", argc, argv);
    if (rc >= 0)
        return rc;
    Msbnet__V1__GetCaCertificateRequest req = MSBNET__V1__GET_CA_CERTIFICATE_REQUEST__INIT;
    ProtobufCMessage *resp;
    if ((rc = ctl_call(o, "ca", SVC "GetCaCertificate", &req.base,
                       &msbnet__v1__get_ca_certificate_response__descriptor, &resp)) != 0)
        return rc;
    const Msbnet__V1__GetCaCertificateResponse *r = (const void *)resp;
    if (o->json) {
        ctl_print_json(json_pack("{s:s}", "pem", r->pem));
    } else {
        fputs(r->pem, stdout);
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static json_t *str_array(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *secrets_doc(const Msbnet__V1__ListSecretsResponse *r)
{
    json_t *list = json_array();
    for (size_t i = 0; i < r->n_secrets; i++) {
        const Msbnet__V1__SecretInfo *s = r->secrets[i];
        json_array_append_new(
            list, json_pack("{s:s,s:o,s:o,s:s,s:I,s:I}", "env", s->env, "hosts",
                            str_array(s->hosts, s->n_hosts), "inject",
                            str_array(s->inject, s->n_inject), "on_violation", s->on_violation,
                            "substitutions", (json_int_t)s->substitutions, "violations",
                            (json_int_t)s->violations));
    }
    return json_pack("{s:b,s:b,s:o}", "intercept", r->intercept, "scan_plaintext",
                     r->scan_plaintext, "secrets", list);
}

static void print_table(const Msbnet__V1__ListSecretsResponse *r)
{
    printf("interception %s, scan_plaintext %s, %zu secret%s\n", r->intercept ? "on" : "off",
           r->scan_plaintext ? "on" : "off", r->n_secrets, r->n_secrets == 1 ? "" : "s");
    for (size_t i = 0; i < r->n_secrets; i++) {
        const Msbnet__V1__SecretInfo *s = r->secrets[i];
        printf("%-24s hosts", s->env);
        for (size_t k = 0; k < s->n_hosts; k++)
            printf("%s%s", k ? "," : " ", s->hosts[k]);
        if (!s->n_hosts) /* a tombstone: no host may receive it */
            printf(" none (removed: its placeholder is a violation anywhere)");
        printf("  inject");
        for (size_t k = 0; k < s->n_inject; k++)
            printf("%s%s", k ? "," : " ", s->inject[k]);
        printf("  on_violation %s  substitutions %llu  violations %llu\n", s->on_violation,
               (unsigned long long)s->substitutions, (unsigned long long)s->violations);
    }
}

static int list_secrets(const struct ctl_opts *o)
{
    Msbnet__V1__ListSecretsRequest req = MSBNET__V1__LIST_SECRETS_REQUEST__INIT;
    ProtobufCMessage *resp;
    int rc = ctl_call(o, "secrets", SVC "ListSecrets", &req.base,
                      &msbnet__v1__list_secrets_response__descriptor, &resp);
    if (rc)
        return rc;
    const Msbnet__V1__ListSecretsResponse *r = (const void *)resp;
    if (o->json) {
        ctl_print_json(secrets_doc(r));
    } else {
        print_table(r);
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/* The file's "secrets" list to SetSecrets; the text is wiped either way. */
static int set_secrets(const struct ctl_opts *o, const char *path)
{
    char *text = ctl_read_file(path, SECRETS_MAX_BYTES);
    if (!text)
        return EXIT_USAGE;
    Msbnet__V1__SetSecretsRequest req = MSBNET__V1__SET_SECRETS_REQUEST__INIT;
    req.json = text;
    ProtobufCMessage *resp;
    int rc = ctl_call(o, "secrets set", SVC "SetSecrets", &req.base,
                      &msbnet__v1__set_secrets_response__descriptor, &resp);
    explicit_bzero(text, strlen(text));
    free(text);
    if (rc)
        return rc;
    const Msbnet__V1__SetSecretsResponse *r = (const void *)resp;
    if (o->json)
        ctl_print_json(json_pack("{s:I,s:I}", "secrets", (json_int_t)r->secrets, "removed",
                                 (json_int_t)r->removed));
    else
        printf("%u secret%s in force, %u removed (their placeholders now violations)\n",
               r->secrets, r->secrets == 1 ? "" : "s", r->removed);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

int ctl_secrets(const struct ctl_opts *o, int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "set") == 0)
        return set_secrets(o, argv[2]);
    if (argc == 2 && strcmp(argv[1], "list") == 0)
        return list_secrets(o);
    int rc = only_help("secrets [list] | secrets set FILE|-",
                       "list the secrets: name, hosts, injection, counters (never a value or a "
                       "placeholder);\n  set: replace them with a \"secrets\" JSON list from FILE "
                       "or stdin", argc, argv);
    return rc >= 0 ? rc : list_secrets(o);
}
