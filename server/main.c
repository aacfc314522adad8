/*
 * msbnetd: hosts libmsbnet.so for one sandbox.
 *
 * This build serves `check-config` and `version`; the frame transports,
 * `run -- CMD` and the gRPC/HTTP control plane join as they land.
 */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_loader.h"

#define EXIT_USAGE 2
#define CONFIG_MAX_BYTES (1u << 20) /* a config is a few hundred bytes; refuse megabytes */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: msbnetd [--plugin PATH] COMMAND [ARGS]\n"
            "\n"
            "commands:\n"
            "  check-config [FILE|-]  validate a JSON config with the plugin (default: stdin)\n"
            "  version                print msbnetd's and the plugin's versions\n"
            "\n"
            "options:\n"
            "  --plugin PATH          libmsbnet.so to load (default: next to msbnetd,\n"
            "                         then the install library directory)\n"
            "  -h, --help             this text\n");
}

/* Reads at most CONFIG_MAX_BYTES; NULL (with a message) on error. */
static char *read_config(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "msbnetd: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(CONFIG_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, CONFIG_MAX_BYTES + 1, f) : 0;
    bool bad = !buf || ferror(f) || n > CONFIG_MAX_BYTES;
    if (f != stdin)
        fclose(f);
    if (bad) {
        fprintf(stderr, "msbnetd: %s: unreadable or larger than %u bytes\n", path,
                CONFIG_MAX_BYTES);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static int cmd_check_config(const struct msbnet_api_v1 *api, int argc, char **argv)
{
    if (argc > 1) {
        usage(stderr);
        return EXIT_USAGE;
    }
    char *json = read_config(argc == 1 ? argv[0] : "-");
    if (!json)
        return EXIT_USAGE;
    char err[512];
    msbnet_t *net = api->create(json, err, sizeof err);
    free(json);
    if (!net) {
        fprintf(stderr, "msbnetd: %s\n", err);
        return EXIT_USAGE;
    }
    api->destroy(net);
    printf("config ok\n");
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"plugin", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *plugin_path = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c == 'p') {
            plugin_path = optarg;
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[optind];
    if (strcmp(cmd, "check-config") != 0 && strcmp(cmd, "version") != 0) {
        fprintf(stderr, "msbnetd: unknown command \"%s\"\n", cmd);
        usage(stderr);
        return EXIT_USAGE;
    }

    struct msbd_plugin plugin;
    char err[512];
    if (msbd_plugin_load(&plugin, plugin_path, err, sizeof err)) {
        fprintf(stderr, "msbnetd: %s\n", err);
        return 1;
    }
    int rc;
    if (strcmp(cmd, "version") == 0) {
        printf("msbnetd %s, plugin %s (%s), ABI %u\n", MSBNET_VERSION_STRING,
               plugin.api->version(), plugin.path, plugin.api->abi_version);
        rc = 0;
    } else {
        rc = cmd_check_config(plugin.api, argc - optind - 1, argv + optind + 1);
    }
    msbd_plugin_unload(&plugin);
    return rc;
}
