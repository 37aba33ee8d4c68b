/* num.h: exact amounts. Meter values and money are fixed-point integers with
 * 18 decimal places in 128 bits (docs/numbers.md section 1): sums are exact,
 * and whole numbers convert with one multiplication. */
#ifndef LIMITR_NUM_H
#define LIMITR_NUM_H

#include <stddef.h>
#include <stdint.h>

typedef __int128 lnum;

#define LNUM_SCALE ((lnum)1000000000000000000LL) /* 10^18 */
#define LNUM_NANO ((lnum)1000000000LL)           /* 10^9: one 1e-9 step */
#define LNUM_ZERO ((lnum)0)

/* Largest magnitude accepted from outside: 10^20 (docs/numbers.md 1.2 asks at
 * least 10^18). */
#define LNUM_MAX_WHOLE 100000000000000000000.0

/* *dst = v as two 8-byte stores. A 16-byte value the compiler spilled is
 * otherwise copied through an SSE register, and that 16-byte load of two
 * 8-byte stores misses store forwarding (about 12 cycles): measured on the
 * caps' commit, a tenth of an allow under two caps. Only for a dst that
 * lives in memory anyway (a record's field): a local written through it
 * can no longer stay in registers. */
static inline void lnum_store(lnum *dst, lnum v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    typedef uint64_t __attribute__((may_alias)) half;
    ((half *)dst)[0] = (uint64_t)v;
    ((half *)dst)[1] = (uint64_t)((unsigned __int128)v >> 64);
#else
    *dst = v;
#endif
}

/* The range of every amount the engine keeps (meter values, overhead,
 * limits): +-10^20 units. The int128 holds +-1.7 * 10^20, so a sum of two
 * amounts is checked rather than trusted. */
#define LNUM_MAX ((lnum)LNUM_MAX_WHOLE * LNUM_SCALE)

/* a + b within +-LNUM_MAX: 0 and *out, or -1 (never a wrap). The range
 * test is one unsigned comparison (r + MAX <= 2 MAX), which allow() pays on
 * every call. */
static inline int lnum_add(lnum a, lnum b, lnum *out)
{
    typedef unsigned __int128 ulnum;
    lnum r;
    if (__builtin_add_overflow(a, b, &r) ||
        (ulnum)r + (ulnum)LNUM_MAX > 2 * (ulnum)LNUM_MAX)
        return -1;
    *out = r;
    return 0;
}

/* a + b, saturated at +-LNUM_MAX (amounts each in range). */
static inline lnum lnum_add_sat(lnum a, lnum b)
{
    lnum s;
    return lnum_add(a, b, &s) == 0 ? s : (b > 0 ? LNUM_MAX : -LNUM_MAX);
}

/* a - b, saturated at +-LNUM_MAX: for derived reads (remaining) of amounts
 * that are each in range. */
static inline lnum lnum_sub_sat(lnum a, lnum b)
{
    lnum r;
    if (__builtin_sub_overflow(a, b, &r)) return a > b ? LNUM_MAX : -LNUM_MAX;
    if (r > LNUM_MAX) return LNUM_MAX;
    if (r < -LNUM_MAX) return -LNUM_MAX;
    return r;
}

/* An integer (|i| <= 10^18) as an amount. */
static inline lnum lnum_from_int(int64_t i)
{
    return (lnum)i * LNUM_SCALE;
}

/* The general case of lnum_from_double (fractions, large values). */
int limitr__lnum_from_fraction(double d, lnum *out);

/* A double as the shortest decimal that round-trips (0.00002 is exactly
 * 2e-5). Returns 0 on success, -1 when not finite or too large. Whole
 * numbers below 2^63 (the usual case) take one multiplication, inline. */
static inline int limitr__lnum_from_double(double d, lnum *out)
{
    if (d > -9.2e18 && d < 9.2e18 && d == (double)(int64_t)d) {
        *out = (lnum)(int64_t)d * LNUM_SCALE;
        return 0;
    }
    return limitr__lnum_from_fraction(d, out);
}

/* Exact decimal text ("12", "-0.5", "2.5e-3"); digits past 18 decimals round
 * half away from zero. Returns 0, or -1 when it is not a number or too large.
 */
int limitr__lnum_parse(const char *text, size_t len, lnum *out);

/* Rounded half away from zero to 9 decimals, as a double: what leaves the
 * engine (reads, payloads). */
double limitr__lnum_to_double(lnum v);

/* A room (remaining, allowance) as a double that a call given it back
 * fits: limitr__lnum_to_double, one step toward -infinity when the nearest
 * double of a large amount with decimals reads back above v at 9 decimals,
 * the resolution decisions compare at (check(remaining) passes). */
double limitr__lnum_to_double_room(lnum v);

/* v rounded half away from zero to a multiple of 10^-9. */
lnum limitr__lnum_round9(lnum v);

/* a <= b when both are rounded to 9 decimals (decisions compare at 1e-9).
 * Exact comparison first: rounding is only needed when they are that close. */
static inline int lnum_le9(lnum a, lnum b)
{
    lnum d;
    if (a <= b) return 1;
    if (__builtin_sub_overflow(a, b, &d) || d >= LNUM_NANO) return 0;
    return limitr__lnum_round9(a) <= limitr__lnum_round9(b);
}

/* (hi * 2^64 + lo) / d for hi < d (the quotient fits 64 bits), *r the
 * remainder: one instruction on x86-64, where a 128-bit division would be a
 * library call. */
static inline uint64_t limitr__div_128_64(uint64_t hi, uint64_t lo, uint64_t d,
                                          uint64_t *r)
{
#if defined(__x86_64__) && defined(__GNUC__)
    uint64_t q, rem;
    __asm__("divq %4" : "=a"(q), "=d"(rem) : "a"(lo), "d"(hi), "r"(d));
    *r = rem;
    return q;
#else
    unsigned __int128 cur = ((unsigned __int128)hi << 64) | lo;
    *r = (uint64_t)(cur % d);
    return (uint64_t)(cur / d);
#endif
}

/* (hi * 2^64 + lo) / 10^18 for hi < 10^18 (the quotient fits 64 bits), *r
 * the remainder, by multiplying instead of dividing: a 128-bit division
 * waits about 20 cycles here, and learning and pricing make chains of them.
 * 10^18 = 2^18 * 5^18: the low 18 bits are shifted out, and x / 5^18 is
 * x * M / 2^105 with M = floor(2^105 / 5^18), which falls at most 2 short
 * (x < 2^106); the remainder sets it right. */
static inline uint64_t limitr__div_scale(uint64_t hi, uint64_t lo, uint64_t *r)
{
    typedef unsigned __int128 u128;
    const uint64_t five18 = 3814697265625ULL;   /* 5^18 */
    const uint64_t m = 10633823966279326983ULL; /* floor(2^105 / 5^18) */
    uint64_t xh = hi >> 18, xl = (hi << 46) | (lo >> 18), q;
    u128 x = ((u128)xh << 64) | xl, rest;
    int k;
    q = (uint64_t)((((u128)xh * m) + (uint64_t)(((u128)xl * m) >> 64)) >> 41);
    rest = x - (u128)q * five18;
    for (k = 0; k < 2 && rest >= five18; k++) { /* at most 2 (see above) */
        q++;
        rest -= five18;
    }
    *r = ((uint64_t)rest << 18) | (lo & ((1u << 18) - 1));
    return q;
}

/* a * b and a / b at the full resolution (1e-18), rounded half away from
 * zero: 0 and *out, or -1 when the result passes +-LNUM_MAX (or b is 0).
 * For money (prices, exchange, learned estimates). */
int limitr__lnum_mul(lnum a, lnum b, lnum *out);
int limitr__lnum_div(lnum a, lnum b, lnum *out);

/* a * b when it is quick: a zero, or both below 18.4 units (means,
 * weights, prices: one product, one word division). 1 and *out (exact as
 * the long way), or 0: take the long way. */
static inline int lnum_mul_quick(lnum a, lnum b, lnum *out)
{
    typedef unsigned __int128 ulnum;
    ulnum ma, mb, p;
    uint64_t hi, q, rem;
    if (a == 0 || b == 0) {
        *out = 0;
        return 1;
    }
    ma = a < 0 ? (ulnum)0 - (ulnum)a : (ulnum)a;
    mb = b < 0 ? (ulnum)0 - (ulnum)b : (ulnum)b;
    if (((ma | mb) >> 64) != 0) return 0;
    p = ma * mb;
    hi = (uint64_t)(p >> 64);
    if (hi >= (uint64_t)LNUM_SCALE) return 0;
    q = limitr__div_scale(hi, (uint64_t)p, &rem);
    *out = (lnum)q + (rem >= (uint64_t)LNUM_SCALE / 2);
    if ((a < 0) != (b < 0)) *out = -*out;
    return 1;
}

/* limitr__lnum_mul inline, for loops of many products. */
static inline int lnum_mul(lnum a, lnum b, lnum *out)
{
    return lnum_mul_quick(a, b, out) ? 0 : limitr__lnum_mul(a, b, out);
}

/* Decimal text of v with up to 18 decimals, trailing zeros dropped, into buf
 * (at least 48 bytes). Returns buf. */
char *limitr__lnum_format(lnum v, char *buf);

#endif
