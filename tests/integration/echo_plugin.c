/*
 * A test double for msbnetd: the real libmsbnet.so (dlopened, so config
 * validation and the ABI are the real ones) with start/stop replaced by an
 * "echo stack" that hands every guest frame straight back to the guest, and
 * addresses_json derived from the instance's config when the real plugin
 * lacks it.  It lets msbnetd's pump and namespace setup be tested without
 * depending on the stack thread, and counts nothing of its own: the plugin's
 * metrics and msbnetd's counters tell what crossed.
 *
 * The real plugin is MSBNET_ECHO_REAL (environment) or the one built next
 * to this module.  Reaching into struct msbnet is only valid because both
 * are built from the same tree.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addressing.h"
#include "instance.h"
#include "msbnet/msbnet.h"

static const struct msbnet_api_v1 *real;
static struct msbnet_api_v1 table;

static struct {
    pthread_t thread;
    atomic_bool stop;
    struct msbnet *net; /* the one started instance, like the real stack */
} echo;

/* Drain the wake before popping, so a frame pushed meanwhile re-arms it. */
static void echo_once(struct msbnet *net)
{
    msb_wake_drain(&net->tx_wake);
    struct msb_frame *f;
    while ((f = msb_ring_pop(&net->tx)) != NULL) {
        if (msb_ring_push(&net->rx, f))
            msb_wake_signal(&net->rx_wake);
        else
            msb_frame_free(f); /* rx full: a lost echo is fine for a test double */
    }
}

static void *echo_main(void *arg)
{
    struct msbnet *net = arg;
    struct pollfd p = {.fd = msb_wake_fd(&net->tx_wake), .events = POLLIN};
    while (!atomic_load(&echo.stop)) {
        poll(&p, 1, 50);
        echo_once(net);
    }
    return NULL;
}

static int echo_start(msbnet_t *net, char *err, size_t errlen)
{
    if (echo.net) {
        snprintf(err, errlen, "echo stack already started");
        return MSBNET_ESTATE;
    }
    atomic_store(&echo.stop, false);
    if (pthread_create(&echo.thread, NULL, echo_main, net)) {
        snprintf(err, errlen, "pthread_create failed");
        return MSBNET_ESYS;
    }
    echo.net = net;
    return 0;
}

static void echo_stop(msbnet_t *net)
{
    if (!net || echo.net != net)
        return;
    atomic_store(&echo.stop, true);
    pthread_join(echo.thread, NULL);
    echo.net = NULL;
}

static void echo_destroy(msbnet_t *net)
{
    echo_stop(net);
    real->destroy(net);
}

static char *derived_addresses(msbnet_t *net)
{
    struct msb_addrs a;
    msb_addrs_derive(&net->cfg, &a);
    return msb_addrs_json(&a);
}

static const char *real_path(void)
{
    const char *env = getenv("MSBNET_ECHO_REAL");
    return env && *env ? env : MSBNET_REAL_PLUGIN;
}

__attribute__((visibility("default"))) const struct msbnet_api_v1 *
msbnet_get_api(uint32_t abi_version, char *err, size_t errlen)
{
    if (!real) {
        void *so = dlopen(real_path(), RTLD_NOW | RTLD_LOCAL);
        msbnet_get_api_fn get = so ? (msbnet_get_api_fn)dlsym(so, MSBNET_ENTRY_POINT) : NULL;
        real = get ? get(abi_version, err, errlen) : NULL;
        if (!real) {
            if (!so)
                snprintf(err, errlen, "echo plugin: %s", dlerror());
            return NULL;
        }
        memcpy(&table, real, real->struct_size < sizeof table ? real->struct_size : sizeof table);
        table.struct_size = sizeof table;
        table.start = echo_start;
        table.stop = echo_stop;
        table.destroy = echo_destroy;
        bool has_addr = real->struct_size >= sizeof table && real->addresses_json;
        table.addresses_json = has_addr ? real->addresses_json : derived_addresses;
    }
    return &table;
}
