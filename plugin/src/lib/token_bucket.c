/* SPDX-License-Identifier: Apache-2.0 */
/* Token buckets in nano-tokens (token_bucket.h): exact refills, 64-bit safe. */
#include "lib/token_bucket.h"

#define NANO 1000000000ull

static uint64_t clamp(uint64_t v, uint64_t max)
{
    return v > max ? max : v;
}

static uint64_t cap_of(const struct msb_tbucket *b)
{
    return b->burst * NANO;
}

/* Adds rate x dt nano-tokens, never past the burst.  dt is compared with
 * the time to fill first, so rate x dt is only computed when it is below
 * the cap (no overflow whatever the gap since the last call). */
static void refill(struct msb_tbucket *b, uint64_t now_ns)
{
    if (now_ns <= b->last_ns)
        return; /* a clock that did not move (or a caller's older reading) */
    uint64_t dt = now_ns - b->last_ns;
    b->last_ns = now_ns;
    uint64_t room = cap_of(b) - b->nanotokens;
    if (b->rate == 0 || dt >= room / b->rate + 1) {
        b->nanotokens = cap_of(b);
        return;
    }
    b->nanotokens += b->rate * dt;
    if (b->nanotokens > cap_of(b))
        b->nanotokens = cap_of(b);
}

void msb_tb_set(struct msb_tbucket *b, uint64_t rate, uint64_t burst, uint64_t now_ns)
{
    refill(b, now_ns);
    b->rate = clamp(rate, MSB_TB_RATE_MAX);
    b->burst = clamp(burst ? burst : b->rate, MSB_TB_BURST_MAX);
    if (b->burst == 0)
        b->burst = 1;
    if (b->nanotokens > cap_of(b))
        b->nanotokens = cap_of(b);
}

void msb_tb_init(struct msb_tbucket *b, uint64_t rate, uint64_t burst, uint64_t now_ns)
{
    *b = (struct msb_tbucket){.last_ns = now_ns};
    msb_tb_set(b, rate, burst, now_ns);
    b->nanotokens = cap_of(b);
}

bool msb_tb_take(struct msb_tbucket *b, uint64_t n, uint64_t now_ns)
{
    if (b->rate == 0) {
        b->granted += n;
        return true;
    }
    refill(b, now_ns);
    if (n > b->burst || n * NANO > b->nanotokens) {
        b->refused += n;
        return false;
    }
    b->nanotokens -= n * NANO;
    b->granted += n;
    return true;
}

uint64_t msb_tb_grant(struct msb_tbucket *b, uint64_t want, uint64_t now_ns)
{
    if (b->rate == 0) {
        b->granted += want;
        return want;
    }
    refill(b, now_ns);
    uint64_t have = b->nanotokens / NANO;
    uint64_t n = want < have ? want : have;
    b->nanotokens -= n * NANO;
    b->granted += n;
    b->refused += want - n;
    return n;
}

void msb_tb_refund(struct msb_tbucket *b, uint64_t n)
{
    n = n < b->granted ? n : b->granted;
    b->granted -= n;
    if (b->rate == 0)
        return;
    uint64_t room = (cap_of(b) - b->nanotokens) / NANO;
    b->nanotokens += (n < room ? n : room) * NANO;
}

uint64_t msb_tb_wait_ns(struct msb_tbucket *b, uint64_t n, uint64_t now_ns)
{
    if (b->rate == 0)
        return 0;
    refill(b, now_ns);
    uint64_t need = clamp(n, b->burst) * NANO;
    if (need <= b->nanotokens)
        return 0;
    return (need - b->nanotokens + b->rate - 1) / b->rate; /* rounded up */
}

void msb_tb_note_wait(struct msb_tbucket *b, uint64_t waited_ns)
{
    b->throttled_ns += waited_ns;
}
