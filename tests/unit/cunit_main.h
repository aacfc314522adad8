/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared main() for the CUnit suites: each test file lists its tests in a
 * `struct test_case[]` and calls cunit_run(); the basic runner prints
 * CUnit's own summary (which ctest and CI read) and the exit status is the
 * number of failures.
 */
#ifndef MSBNET_CUNIT_MAIN_H
#define MSBNET_CUNIT_MAIN_H

#include <CUnit/Basic.h>
#include <stdio.h>

struct test_case {
    const char *name;
    void (*fn)(void);
};

static inline int cunit_run(const char *suite_name, const struct test_case *tests)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite suite = CU_add_suite(suite_name, NULL, NULL);
    if (!suite) {
        CU_cleanup_registry();
        return 1;
    }
    for (const struct test_case *t = tests; t->name; t++) {
        if (!CU_add_test(suite, t->name, t->fn)) {
            CU_cleanup_registry();
            return 1;
        }
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    /* A suite that ran nothing is a broken suite, not a green one. */
    return (run == 0 || failed) ? 1 : 0;
}

#endif
