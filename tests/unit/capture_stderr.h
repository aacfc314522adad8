/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a piece of code writes to stderr, for the suites that check the
 * plugin's log lines: fn(arg) runs with fd 2 going to a temporary file.
 */
#ifndef MSB_TEST_CAPTURE_STDERR_H
#define MSB_TEST_CAPTURE_STDERR_H

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <unistd.h>

/* Returns what fn(arg) wrote (a static buffer, up to 4 KiB). */
static const char *capture_stderr(void (*fn)(void *), void *arg)
{
    static char out[4096];
    FILE *tmp = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(tmp);
    fflush(stderr);
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(out, 1, sizeof out - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
    return out;
}

#endif
