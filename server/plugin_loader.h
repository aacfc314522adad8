/* SPDX-License-Identifier: Apache-2.0 */
/* Finds libmsbnet.so, dlopens it and asks it for the ABI this build speaks. */
#ifndef MSBD_PLUGIN_LOADER_H
#define MSBD_PLUGIN_LOADER_H

#include <stddef.h>

#include "msbnet/msbnet.h"

struct msbd_plugin {
    void *handle;
    const struct msbnet_api_v1 *api;
    char path[4096];
};

/* path NULL = the default search: next to this executable, then the install
 * library directory.  Returns 0, or -1 with a reason in err. */
int msbd_plugin_load(struct msbd_plugin *p, const char *path, char *err, size_t errlen);
void msbd_plugin_unload(struct msbd_plugin *p);

#endif
