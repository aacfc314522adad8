/* SPDX-License-Identifier: Apache-2.0 */
/* Finding the plugin, dlopening it for good (RTLD_NODELETE) and asking it
 * for the ABI this build speaks (plugin_loader.h). */
#define _GNU_SOURCE
#include "plugin_loader.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef MSBNET_INSTALL_LIBDIR
#define MSBNET_INSTALL_LIBDIR "/usr/local/lib"
#endif

static int try_open(struct msbd_plugin *p, const char *path, char *err, size_t errlen)
{
    /* NODELETE: lwIP keeps process-wide state (its timers, once started)
     * that only lives as long as the library stays mapped; unmapping it at
     * exit would turn that state into garbage LeakSanitizer reports. */
    p->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!p->handle) {
        snprintf(err, errlen, "cannot load %s: %s", path, dlerror());
        return -1;
    }
    snprintf(p->path, sizeof p->path, "%s", path);
    /* ISO C has no object-to-function pointer cast; POSIX guarantees the
     * representations match, so copy the bits. */
    msbnet_get_api_fn get;
    void *sym = dlsym(p->handle, MSBNET_ENTRY_POINT);
    memcpy(&get, &sym, sizeof get);
    if (!get) {
        snprintf(err, errlen, "%s has no %s entry point", path, MSBNET_ENTRY_POINT);
        msbd_plugin_unload(p);
        return -1;
    }
    char why[256] = "";
    p->api = get(MSBNET_ABI_VERSION, why, sizeof why);
    if (!p->api || p->api->abi_version != MSBNET_ABI_VERSION) {
        snprintf(err, errlen, "%s: %s", path, why[0] ? why : "ABI version mismatch");
        msbd_plugin_unload(p);
        return -1;
    }
    return 0;
}

/* Directory of the running executable, so an unpacked tree works anywhere. */
static int exe_dir(char *buf, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    return 0;
}

int msbd_plugin_load(struct msbd_plugin *p, const char *path, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    if (path)
        return try_open(p, path, err, errlen);
    char dir[PATH_MAX], cand[PATH_MAX + 32];
    if (exe_dir(dir, sizeof dir) == 0) {
        snprintf(cand, sizeof cand, "%s/libmsbnet.so", dir);
        if (access(cand, R_OK) == 0)
            return try_open(p, cand, err, errlen);
    }
    return try_open(p, MSBNET_INSTALL_LIBDIR "/libmsbnet.so.1", err, errlen);
}

void msbd_plugin_unload(struct msbd_plugin *p)
{
    if (p->handle)
        dlclose(p->handle);
    p->handle = NULL;
    p->api = NULL;
}
