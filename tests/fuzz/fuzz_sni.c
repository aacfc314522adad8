/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the TLS ClientHello SNI reader (tls_sni.c): the first
 * bytes a guest sends on a TCP flow.  Invariants (abort() on failure): the
 * result is one of the enum values; a found name is 1..253 characters of
 * [a-z0-9._-] with no empty label and no trailing dot; the verdict on a
 * prefix is consistent with the whole (a prefix of a found hello never says
 * found with another name, and NOT_TLS is decided by the first two bytes).
 *
 * Built with -fsanitize=fuzzer under clang (fuzz_sni), and everywhere as
 * fuzz_sni_replay (-DMSBNET_FUZZ_REPLAY): a fixed-seed run over mutations
 * of a valid hello, registered with ctest.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/tls_sni.h"

#define FUZZ_TARGET "fuzz_sni"
#define FUZZ_SEED 0x243f6a8885a308d3ull
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long found, malformed;

static void check_name(const char *n)
{
    size_t len = strlen(n), label = 0;
    check(len >= 1 && len <= MSB_SNI_NAME_MAX, "name length");
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (c == '.') {
            check(label > 0, "empty label");
            label = 0;
            continue;
        }
        check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_',
              "name character");
        check(++label <= 63, "label length");
    }
    check(label > 0, "trailing dot");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy: ASan/valgrind see any read past the end. */
    uint8_t *b = malloc(size ? size : 1);
    check(b != NULL, "malloc");
    memcpy(b, data, size);
    char name[MSB_SNI_NAME_MAX + 1], pname[MSB_SNI_NAME_MAX + 1];
    enum msb_sni_result r = msb_tls_sni(b, size, name);
    check(r >= MSB_SNI_NEED_MORE && r <= MSB_SNI_MALFORMED, "result range");
    if (size >= 2)
        check((r == MSB_SNI_NOT_TLS) == (b[0] != 22 || b[1] != 3), "not TLS from 2 bytes");
    if (r == MSB_SNI_FOUND) {
        found++;
        check_name(name);
        /* Half the input: never a different name. */
        if (msb_tls_sni(b, size / 2, pname) == MSB_SNI_FOUND)
            check(strcmp(name, pname) == 0, "prefix names another host");
    } else if (r == MSB_SNI_MALFORMED) {
        malformed++;
    }
    free(b);
    return 0;
}

#ifdef MSBNET_FUZZ_REPLAY
/* A TLS 1.3 ClientHello for "www.example.com" in one record, trimmed to
 * one cipher suite, SNI and supported_versions. */
static const uint8_t seed[] = {
    22, 3, 1, 0, 78, /* record */
    1, 0, 0, 74,     /* handshake */
    3, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
    24, 25, 26, 27, 28, 29, 30, 31, 32, 0,          /* version, random, session id */
    0, 2, 0x13, 0x01, 1, 0,                         /* suites, compression */
    0, 31,                                          /* extensions */
    0, 0, 0, 20, 0, 18, 0, 0, 15, 'w', 'w', 'w', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.',
    'c', 'o', 'm', 0, 43, 0, 3, 2, 3, 4};

/* Edge values: record/handshake bytes and 16-bit lengths. */
static const uint8_t edge8[] = {0x00, 0xff, 0x16, 0x03, 0x01, 0x2e, 0x40};
static const uint16_t edge16[] = {0, 0xffff, 1, 0x4000, 0x4001, 20};
static const struct fuzz_edges edges = {edge8, sizeof edge8, edge16,
                                        sizeof edge16 / sizeof edge16[0], 32};

static int write_corpus(const char *dir)
{
    return fuzz_write_seed(dir, 0, "", 0, seed, sizeof seed);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return write_corpus(argv[2]);
    long runs = argc == 2 ? strtol(argv[1], NULL, 10) : 200000;
    uint8_t in[512];
    char name[MSB_SNI_NAME_MAX + 1];
    check(msb_tls_sni(seed, sizeof seed, name) == MSB_SNI_FOUND &&
              strcmp(name, "www.example.com") == 0,
          "seed reads");
    for (long i = 0; i < runs; i++) {
        size_t len = sizeof seed;
        memcpy(in, seed, len);
        for (int m = (int)(rnd() % 4); m >= 0; m--)
            fuzz_mutate(in, &len, sizeof in, &edges);
        LLVMFuzzerTestOneInput(in, len);
    }
    printf("fuzz_sni_replay: %ld inputs, %lu names found, %lu malformed\n", runs, found,
           malformed);
    check(found > 0 && malformed > 0, "the mutations reach both outcomes");
    return 0;
}
#endif
