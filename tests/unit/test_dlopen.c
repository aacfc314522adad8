/* SPDX-License-Identifier: Apache-2.0 */
/* The built libmsbnet.so as a VMM loads it: by path with dlopen, one entry
 * point found with dlsym, the table usable end to end, nothing else
 * exported. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <string.h>

#include "cunit_main.h"
#include "msbnet/msbnet.h"

static void *so;
static const struct msbnet_api_v1 *api;

static void test_load_and_negotiate(void)
{
    so = dlopen(MSBNET_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(so);
    /* ISO C has no object-to-function pointer cast; POSIX guarantees the
     * representations match, so copy the bits. */
    msbnet_get_api_fn get;
    void *sym = dlsym(so, MSBNET_ENTRY_POINT);
    memcpy(&get, &sym, sizeof get);
    CU_ASSERT_PTR_NOT_NULL_FATAL(get);
    char err[256] = "";
    CU_ASSERT_PTR_NULL(get(99, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "ABI version 99 is not served"));
    api = get(MSBNET_ABI_VERSION, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(api);
    CU_ASSERT_EQUAL(api->abi_version, MSBNET_ABI_VERSION);
}

/* Internal symbols must stay private: a VMM that links its own ring or
 * hash table must not have them replaced by ours. */
static void test_only_entry_point_exported(void)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(so);
    CU_ASSERT_PTR_NULL(dlsym(so, "msb_ring_push"));
    CU_ASSERT_PTR_NULL(dlsym(so, "msb_instance_create"));
    CU_ASSERT_PTR_NULL(dlsym(so, "msb_hidx_insert"));
}

static void test_frames_through_the_table(void)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(api);
    char err[256] = "";
    msbnet_t *n = api->create("{\"queue_capacity\": 2}", err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    uint8_t f[64] = {0};
    CU_ASSERT_EQUAL(api->write_frame(n, f, sizeof f), MSBNET_WRITTEN);
    CU_ASSERT_EQUAL(api->write_frame(n, f, sizeof f), MSBNET_WRITTEN);
    CU_ASSERT_EQUAL(api->write_frame(n, f, sizeof f), MSBNET_NOTHING_WRITTEN);
    char *m = api->metrics_json(n);
    CU_ASSERT_PTR_NOT_NULL(m);
    CU_ASSERT_PTR_NOT_NULL(m ? strstr(m, "\"tx_frames\":2") : NULL);
    api->free_string(m);
    CU_ASSERT_PTR_NULL(api->create("{\"bogus\": 1}", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"bogus\""));
    api->destroy(n);
}

static void test_unload(void)
{
    CU_ASSERT_EQUAL(dlclose(so), 0);
}

int main(void)
{
    static const struct test_case tests[] = {
        {"load_and_negotiate", test_load_and_negotiate},
        {"only_entry_point_exported", test_only_entry_point_exported},
        {"frames_through_the_table", test_frames_through_the_table},
        {"unload", test_unload},
        {NULL, NULL},
    };
    return cunit_run("dlopen", tests);
}
