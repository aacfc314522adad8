/* SPDX-License-Identifier: Apache-2.0 */
/* Options of the control plane: listener endpoints, TLS files, the
 * termination signal action, and the rule that only loopback is plain. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "options_int.h"
#include "flow_log.h"

/* HOST:PORT with HOST an IPv4 literal or [IPv6] literal: a name would make
 * the listening address depend on a resolver at start. */
int msbd_opts_set_endpoint(const char *cmd, const char *opt, const char *val, char *host,
                           size_t hostlen, unsigned *port)
{
    const char *colon = strrchr(val, ':');
    const char *h = val, *hend = colon;
    if (colon && val[0] == '[') {
        h = val + 1;
        hend = colon > val && colon[-1] == ']' ? colon - 1 : NULL;
    }
    unsigned long p;
    size_t n = hend ? (size_t)(hend - h) : 0;
    if (!colon || !hend || n == 0 || n >= hostlen || msbd_parse_uint(colon + 1, 65535, &p) || !p)
        return msbd_opt_bad(cmd, "%s: \"%s\" is not ADDR:PORT (IPv4 or [IPv6] literal, port 1..65535)",
                   opt, val);
    memcpy(host, h, n);
    host[n] = '\0';
    int family = val[0] == '[' ? AF_INET6 : AF_INET;
    if (!msbd_is_ip(family, host))
        return msbd_opt_bad(cmd, "%s: \"%s\" is not an %s address (names are not resolved)", opt,
                   host, family == AF_INET6 ? "IPv6" : "IPv4");
    *port = (unsigned)p;
    return 0;
}

/* Checked now so a typo fails at start with exit 2, not later. */
int msbd_opts_set_file(const char *cmd, const char *opt, const char *val, const char **out)
{
    if (access(val, R_OK))
        return msbd_opt_bad(cmd, "%s: cannot read \"%s\": %s", opt, val, strerror(errno));
    *out = val;
    return 0;
}

static const struct {
    const char *name;
    int sig;
} signal_names[] = {
    {"HUP", SIGHUP}, {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
    {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},
};

/* A number 1..SIGRTMAX or a name with or without "SIG". */
static int parse_signal(const char *s)
{
    unsigned long v;
    if (msbd_parse_uint(s, (unsigned long)SIGRTMAX, &v) == 0)
        return v ? (int)v : -1;
    if (strncmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
        if (strcmp(s, signal_names[i].name) == 0)
            return signal_names[i].sig;
    return -1;
}

/* PID:SIG.  PID 0 or negative would signal a process group or every
 * process; the parser takes neither.  The process must exist now. */
int msbd_opts_set_term_signal(struct msbd_opts *o, const char *cmd, const char *val)
{
    char pid_text[16];
    const char *colon = strchr(val, ':');
    size_t n = colon ? (size_t)(colon - val) : 0;
    unsigned long pid;
    int sig = colon ? parse_signal(colon + 1) : -1;
    if (!colon || n == 0 || n >= sizeof pid_text)
        return msbd_opt_bad(cmd, "--on-terminate-signal: \"%s\" is not PID:SIGNAL", val);
    memcpy(pid_text, val, n);
    pid_text[n] = '\0';
    if (msbd_parse_uint(pid_text, 4194304, &pid) || pid == 0 || sig < 0)
        return msbd_opt_bad(cmd, "--on-terminate-signal: \"%s\" is not PID:SIGNAL (PID > 0, SIGNAL a "
                        "number or a name such as TERM or USR1)", val);
    if (kill((pid_t)pid, 0) && errno != EPERM)
        return msbd_opt_bad(cmd, "--on-terminate-signal: no process %lu", pid);
    if (kill((pid_t)pid, 0))
        return msbd_opt_bad(cmd, "--on-terminate-signal: not allowed to signal process %lu", pid);
    o->term_pid = (int)pid;
    o->term_sig = sig;
    return 0;
}

static bool is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) != 1)
        return false;
    if (IN6_IS_ADDR_LOOPBACK(&a6))
        return true;
    return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
}

/* The control API can stop the sandbox's network and rewrite its policy:
 * off the machine it travels only with TLS. */
int msbd_opts_check_control_tls(const struct msbd_opts *o, const char *cmd)
{
    bool tls = o->tls_cert || o->tls_key;
    if ((tls || o->tls_client_ca) && !o->control_tcp)
        return msbd_opt_bad(cmd, "--tls-cert/--tls-key/--tls-client-ca need --control-addr");
    if (tls && !(o->tls_cert && o->tls_key))
        return msbd_opt_bad(cmd, "--tls-cert and --tls-key go together");
    if (o->tls_client_ca && !tls)
        return msbd_opt_bad(cmd, "--tls-client-ca needs --tls-cert and --tls-key");
    if (o->control_tcp && !tls && !is_loopback(o->control_host))
        return msbd_opt_bad(cmd, "--control-addr %s is not a loopback address: it needs TLS "
                        "(--tls-cert FILE --tls-key FILE [--tls-client-ca FILE])",
                   o->control_host);
    return 0;
}

int msbd_opts_set_flow_log(struct msbd_opts *o, const char *cmd, const char *arg, bool max)
{
    if (!max) {
        if (!*arg)
            return msbd_opt_bad(cmd, "--flow-log: empty path");
        o->flow_log = arg;
        return 0;
    }
    unsigned long v;
    if (msbd_parse_uint(arg, 1ul << 40, &v) || v < MSBD_FLOW_LOG_MIN_MAX)
        return msbd_opt_bad(cmd, "--flow-log-max-bytes: expected %u..%lu", MSBD_FLOW_LOG_MIN_MAX,
                            1ul << 40);
    o->flow_log_max = v;
    return 0;
}
