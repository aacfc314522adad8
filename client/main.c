/*
 * msbnetctl: the command-line client of msbnetd's NetworkControl service.
 *
 * The gRPC transport lands with the control plane; until then this binary
 * knows the commands and the wire messages (it links the generated
 * protobuf-c code) but refuses to pretend it can reach a daemon.
 */
#include <stdio.h>
#include <string.h>

#include "msbnet/v1/control.pb-c.h"

#define EXIT_USAGE 2
#define EXIT_UNAVAILABLE 69 /* EX_UNAVAILABLE */

static const char *const commands[] = {
    "set-gateways", "watch-termination", "hostnames", "metrics", "status", "policy", NULL,
};

static void usage(FILE *out)
{
    fprintf(out, "usage: msbnetctl [--socket PATH | --addr HOST:PORT] COMMAND [ARGS]\n\n"
                 "commands: set-gateways, watch-termination, hostnames, metrics, status, policy\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("msbnetctl %s (API %s)\n", MSBNET_VERSION_STRING,
               msbnet__v1__network_control__descriptor.name);
        return 0;
    }
    for (int i = 0; commands[i]; i++) {
        if (strcmp(argv[1], commands[i]) == 0) {
            fprintf(stderr, "msbnetctl: %s: this build has no gRPC transport yet\n", argv[1]);
            return EXIT_UNAVAILABLE;
        }
    }
    fprintf(stderr, "msbnetctl: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
