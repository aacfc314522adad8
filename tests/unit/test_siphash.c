/* SPDX-License-Identifier: Apache-2.0 */
/* SipHash-2-4 against the reference vectors of its authors' paper
 * (key 00..0f, messages 00, 00 01, ... of growing length). */
#include "cunit_main.h"
#include "lib/siphash.h"

static const struct msb_sipkey key = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};

static uint64_t hash_prefix(size_t len)
{
    uint8_t msg[64];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)i;
    return msb_siphash(&key, msg, len);
}

static void test_vectors(void)
{
    CU_ASSERT_EQUAL(hash_prefix(0), 0x726fdb47dd0e0e31ull);
    CU_ASSERT_EQUAL(hash_prefix(1), 0x74f839c593dc67fdull);
    CU_ASSERT_EQUAL(hash_prefix(7), 0xab0200f58b01d137ull);
    CU_ASSERT_EQUAL(hash_prefix(8), 0x93f5f5799a932462ull);
    CU_ASSERT_EQUAL(hash_prefix(15), 0xa129ca6149be45e5ull);
    CU_ASSERT_EQUAL(hash_prefix(63), 0x958a324ceb064572ull);
}

static void test_random_keys_differ(void)
{
    struct msb_sipkey a, b;
    msb_sipkey_random(&a);
    msb_sipkey_random(&b);
    CU_ASSERT(a.k0 != b.k0 || a.k1 != b.k1);
    CU_ASSERT_NOT_EQUAL(msb_siphash(&a, "x", 1), msb_siphash(&b, "x", 1));
}

int main(void)
{
    static const struct test_case tests[] = {
        {"reference_vectors", test_vectors},
        {"random_keys_differ", test_random_keys_differ},
        {NULL, NULL},
    };
    return cunit_run("siphash", tests);
}
