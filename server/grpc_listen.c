/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where msbnetd's gRPC server listens: the unix socket (always; its file
 * mode is the access control) and the optional TCP listener, plain on
 * loopback and TLS elsewhere (options.c already refused the other cases).
 */
#include "grpc_listen.h"

#include <errno.h>
#include <grpc/grpc_security.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* $RUNTIME_DIRECTORY (systemd's RuntimeDirectory=, also how tests keep
 * parallel daemons of the same slot apart), else /run/msbnet as root, else
 * the user's runtime directory. */
static void default_path(char *out, size_t len, unsigned slot)
{
    const char *dir = getenv("RUNTIME_DIRECTORY");
    if (dir && *dir) {
        if (mkdir(dir, 0700) && errno != EEXIST)
            fprintf(stderr, "msbnetd: mkdir %s: %s\n", dir, strerror(errno));
        snprintf(out, len, "%s/slot-%u.sock", dir, slot);
        return;
    }
    if (geteuid() == 0) {
        if (mkdir("/run/msbnet", 0700) && errno != EEXIST)
            fprintf(stderr, "msbnetd: mkdir /run/msbnet: %s\n", strerror(errno));
        snprintf(out, len, "/run/msbnet/slot-%u.sock", slot);
        return;
    }
    dir = getenv("XDG_RUNTIME_DIR");
    snprintf(out, len, "%s/msbnet-slot-%u.sock", dir && *dir ? dir : "/tmp", slot);
}

/* grpc unlinks a socket file before binding, which would silently take the
 * path from a live msbnetd serving the same slot; refuse that instead. */
static bool socket_in_use(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool live = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return live;
}

/* Unix socket only, so insecure credentials are fine: the file mode is the
 * access control.  umask makes the socket 0600 from its bind on, with no
 * window where another user could connect; chmod is the belt to it. */
int msbd_grpc_listen_unix(grpc_server *server, const char *path)
{
    char target[128];
    snprintf(target, sizeof target, "unix:%s", path);
    if (socket_in_use(path)) {
        fprintf(stderr, "msbnetd: %s is in use by another process (another msbnetd for this "
                        "slot?)\n", path);
        return -1;
    }
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    mode_t old = umask(0177);
    int port = grpc_server_add_http2_port(server, target, creds);
    umask(old);
    grpc_server_credentials_release(creds);
    if (!port || chmod(path, 0600)) {
        fprintf(stderr, "msbnetd: cannot listen on %s%s%s\n", target, port ? ": " : "",
                port ? strerror(errno) : "");
        return -1;
    }
    return 0;
}

/* PEM files are small; the key's copy is wiped before it is freed. */
static void free_pem(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
    free(s);
}

static grpc_server_credentials *tls_credentials(const struct msbd_opts *o)
{
    char *cert = msbd_read_config(o->tls_cert), *key = msbd_read_config(o->tls_key);
    char *ca = o->tls_client_ca ? msbd_read_config(o->tls_client_ca) : NULL;
    grpc_server_credentials *creds = NULL;
    if (cert && key && (ca || !o->tls_client_ca)) {
        grpc_ssl_pem_key_cert_pair pair = {.private_key = key, .cert_chain = cert};
        /* With a client CA every client must present a certificate it signed. */
        creds = grpc_ssl_server_credentials_create_ex(
            ca, &pair, 1,
            ca ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
               : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
            NULL);
    }
    free_pem(cert);
    free_pem(key);
    free_pem(ca);
    return creds;
}

/* Options already refused a non-loopback address without TLS; plain TCP
 * is for loopback only. */
int msbd_grpc_listen_tcp(grpc_server *server, const struct msbd_opts *o)
{
    char target[80];
    bool v6 = strchr(o->control_host, ':') != NULL;
    snprintf(target, sizeof target, v6 ? "[%s]:%u" : "%s:%u", o->control_host, o->control_port);
    bool tls = o->tls_cert != NULL;
    grpc_server_credentials *creds =
        tls ? tls_credentials(o) : grpc_insecure_server_credentials_create();
    if (!creds) {
        fprintf(stderr, "msbnetd: --control-addr %s: unusable TLS certificate or key\n", target);
        return -1;
    }
    int port = grpc_server_add_http2_port(server, target, creds);
    grpc_server_credentials_release(creds);
    if (!port) {
        fprintf(stderr, "msbnetd: --control-addr: cannot listen on %s (in use, not an address "
                        "of this host%s)\n", target,
                tls ? ", or a certificate/key grpc refused: see its message above" : "");
        return -1;
    }
    if (o->verbose)
        fprintf(stderr, "msbnetd: control on %s (%s)\n", target,
                tls ? (o->tls_client_ca ? "TLS, client certificates required" : "TLS")
                    : "plain, loopback");
    return 0;
}

void msbd_grpc_socket_path(char *out, size_t len, const struct msbd_opts *o, unsigned slot)
{
    if (o->control_socket)
        snprintf(out, len, "%s", o->control_socket);
    else
        default_path(out, len, slot);
}
