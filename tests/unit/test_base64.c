/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/base64: encoding against RFC 4648's vectors, and the lenient decoder
 * the TLS filters read a guest's Basic credentials with (padding optional,
 * -1 on anything else), round trips at every length and every refusal.
 */
#include <stdio.h>
#include <string.h>

#include "cunit_main.h"
#include "lib/base64.h"

/* RFC 4648 section 10. */
static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const coded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                    "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

static void test_encode_vectors(void)
{
    char out[16];
    for (size_t i = 0; i < 7; i++) {
        CU_ASSERT_EQUAL(msb_base64_encode(plain[i], strlen(plain[i]), out, sizeof out),
                        strlen(coded[i]));
        CU_ASSERT_STRING_EQUAL(out, coded[i]);
    }
    CU_ASSERT_EQUAL(msb_base64_encode("foo", 3, out, 4), 0); /* no room for the NUL */
}

/* IN decodes to WANT (N bytes), or is refused when N is -1. */
static void decodes(const char *in, long n, const char *want)
{
    uint8_t out[64];
    long got = msb_base64_decode(in, strlen(in), out, sizeof out);
    CU_ASSERT_EQUAL(got, n);
    if (n >= 0 && got == n)
        CU_ASSERT(memcmp(out, want, (size_t)n) == 0);
}

static void test_decode_vectors_padding_optional(void)
{
    for (size_t i = 0; i < 7; i++) {
        decodes(coded[i], (long)strlen(plain[i]), plain[i]);
        char bare[16];
        snprintf(bare, sizeof bare, "%.*s", (int)strcspn(coded[i], "="), coded[i]);
        decodes(bare, (long)strlen(plain[i]), plain[i]);
    }
    decodes("dXNlcjpwYXNz", 9, "user:pass");
    decodes("+/+/", 3, "\xfb\xff\xbf");
}

static void test_decode_refusals(void)
{
    decodes("Z", -1, NULL);        /* one character: no byte has that length */
    decodes("Zm9vY", -1, NULL);    /* the same after whole groups */
    decodes("Zm9vY===", -1, NULL); /* padding does not make it whole */
    decodes("Zm 9v", -1, NULL);
    decodes("Zm9v\n", -1, NULL);
    decodes("Zm-_", -1, NULL); /* the URL-safe alphabet is another encoding */
    decodes("Zm=v", -1, NULL); /* '=' only at the end */
    uint8_t out[6];
    CU_ASSERT_EQUAL(msb_base64_decode("Zm\0v", 4, out, sizeof out), -1); /* a NUL inside */
    CU_ASSERT_EQUAL(msb_base64_decode("\xc3\xa9Zg", 4, out, sizeof out), -1);
    /* OUT too small is refused before anything is written. */
    CU_ASSERT_EQUAL(msb_base64_decode("Zm9vYmFy", 8, out, 5), -1);
    CU_ASSERT_EQUAL(msb_base64_decode("Zm9vYmE", 7, out, 5), 5);
    CU_ASSERT_EQUAL(msb_base64_decode("Zm9vYmFy", 8, out, 6), 6);
    CU_ASSERT_EQUAL(msb_base64_decode("", 0, out, 0), 0);
}

/* Every length 0..48 and every byte value round-trips, padded or not. */
static void test_round_trip(void)
{
    uint8_t in[48], back[48];
    char enc[80];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 37 + 250);
    for (size_t n = 0; n <= sizeof in; n++) {
        size_t len = msb_base64_encode(in, n, enc, sizeof enc);
        CU_ASSERT_EQUAL_FATAL(len, 4 * ((n + 2) / 3));
        CU_ASSERT_EQUAL(msb_base64_decode(enc, len, back, n), (long)n);
        CU_ASSERT(memcmp(in, back, n) == 0);
        size_t bare = strcspn(enc, "=");
        CU_ASSERT_EQUAL(msb_base64_decode(enc, bare, back, n), (long)n);
        CU_ASSERT(memcmp(in, back, n) == 0);
    }
}

static void test_alphabet(void)
{
    CU_ASSERT_EQUAL(strlen(msb_base64_alphabet), 64);
    for (int v = 0; v < 64; v++) {
        uint8_t out[1];
        char q[3] = {msb_base64_alphabet[v], 'A', 0};
        CU_ASSERT_EQUAL(msb_base64_decode(q, 2, out, 1), 1);
        CU_ASSERT_EQUAL(out[0] >> 2, v); /* the first character is the top six bits */
    }
}

int main(void)
{
    static const struct test_case tests[] = {
        {"encode: RFC 4648 vectors", test_encode_vectors},
        {"decode: RFC 4648 vectors, with and without padding", test_decode_vectors_padding_optional},
        {"decode: every refusal", test_decode_refusals},
        {"round trip at every length, padded or not", test_round_trip},
        {"the alphabet in value order", test_alphabet},
        {NULL, NULL},
    };
    return cunit_run("base64", tests);
}
