/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every fuzz target shares.  Define FUZZ_TARGET (its name, for
 * messages) and, for replay builds, FUZZ_SEED before including.
 *   check(): an invariant; aborts, so libFuzzer and the replay runs both
 *            stop on the input that broke it.
 *   rnd():   (replay) a seeded xorshift64*: the same inputs on every run.
 *   fuzz_mutate(): (replay) one byte-level mutation of a valid input, with
 *            the edge values that matter to the format being fuzzed.
 *   fuzz_write_seed(): (replay) one seed file of the corpus that
 *            `REPLAY --write-corpus DIR` writes for run_libfuzzer.sh; every
 *            target has that option, and a failure to write is its status.
 */
#ifndef MSB_FUZZ_COMMON_H
#define MSB_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, FUZZ_TARGET " invariant broken: %s\n", what);
        abort();
    }
}

#ifdef MSBNET_FUZZ_REPLAY
static uint64_t rng = FUZZ_SEED;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}

/* Edge values for one format: bytes and (big-endian) 16-bit fields, and
 * how many random bytes an append may add. */
struct fuzz_edges {
    const uint8_t *b8;
    size_t n8;
    const uint16_t *b16;
    size_t n16;
    size_t max_append;
};

/* DIR/seedI holding PREFIX (NPREFIX bytes, e.g. a control byte) then B:
 * 0, or 1 with the reason on stderr. */
__attribute__((unused)) static int fuzz_write_seed(const char *dir, size_t i, const void *prefix,
                                                   size_t nprefix, const void *b, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/seed%zu", dir, i);
    FILE *fp = fopen(path, "wb");
    int bad = !fp || fwrite(prefix, 1, nprefix, fp) != nprefix || fwrite(b, 1, n, fp) != n;
    if (fp && fclose(fp))
        bad = 1;
    if (bad)
        perror(path);
    return bad;
}

__attribute__((unused)) static void fuzz_mutate(uint8_t *b, size_t *len, size_t cap,
                                                const struct fuzz_edges *e)
{
    size_t pos = *len ? (size_t)(rnd() % *len) : 0;
    switch (rnd() % 6) {
    case 0: /* flip a bit */
        if (*len)
            b[pos] ^= (uint8_t)(1u << (rnd() % 8));
        break;
    case 1: /* an edge byte */
        if (*len)
            b[pos] = e->b8[rnd() % e->n8];
        break;
    case 2: /* a random byte */
        if (*len)
            b[pos] = (uint8_t)rnd();
        break;
    case 3: /* an edge 16-bit field (lengths, counts, types) */
        if (*len >= 2) {
            pos = (size_t)(rnd() % (*len - 1));
            uint16_t v = e->b16[rnd() % e->n16];
            b[pos] = (uint8_t)(v >> 8);
            b[pos + 1] = (uint8_t)v;
        }
        break;
    case 4: /* truncate */
        *len = *len ? (size_t)(rnd() % (*len + 1)) : 0;
        break;
    default: /* append random bytes (padding, trailing junk) */
        for (size_t k = rnd() % e->max_append; k > 0 && *len < cap; k--)
            b[(*len)++] = (uint8_t)rnd();
    }
}
#endif

#endif
