/* num.c: conversions between doubles, decimal text and exact amounts. */
#include "num.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lnum lnum_abs(lnum v)
{
    return v < 0 ? -v : v;
}

/* Divides by 10^k rounding half away from zero. */
static lnum div_pow10_round(lnum v, int k)
{
    lnum d = 1;
    lnum q, r;
    while (k-- > 0)
        d *= 10;
    q = v / d;
    r = v % d;
    if (lnum_abs(r) >= d - lnum_abs(r)) q += v < 0 ? -1 : 1; /* 2r: 2e38 */
    return q;
}

lnum limitr__lnum_round9(lnum v)
{
    return div_pow10_round(v, 9) * LNUM_NANO;
}

int limitr__lnum_parse(const char *text, size_t len, lnum *out)
{
    const char *p = text, *end = text + len;
    int neg = 0, digits = 0, frac_digits = 0;
    int exp = 0, shift;
    lnum mant = 0;
    int sig = 0; /* significant digits kept in mant */
    /* Digits past 38 significant ones (10^20 whole units to 18 decimals,
       what an export writes) are below the 10^-18 resolution for any value
       in range, except that integer digits still count. mant stays below
       10^38, inside the int128's 1.7 * 10^38. */
    int dropped = 0;

    if (p < end && (*p == '+' || *p == '-')) neg = (*p++ == '-');
    for (; p < end && *p >= '0' && *p <= '9'; p++, digits++) {
        if (sig < 38) {
            mant = mant * 10 + (*p - '0');
            if (mant != 0) sig++;
        } else {
            dropped++;
        }
    }
    if (p < end && *p == '.') {
        p++;
        for (; p < end && *p >= '0' && *p <= '9'; p++, digits++) {
            if (sig < 38) {
                mant = mant * 10 + (*p - '0');
                if (mant != 0) sig++;
                frac_digits++;
            }
        }
    }
    if (digits == 0) return -1;
    if (p < end && (*p == 'e' || *p == 'E')) {
        int eneg = 0, edigits = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) eneg = (*p++ == '-');
        for (; p < end && *p >= '0' && *p <= '9'; p++, edigits++)
            if (exp < 10000) exp = exp * 10 + (*p - '0');
        if (edigits == 0) return -1;
        if (eneg) exp = -exp;
    }
    if (p != end) return -1;
    /* value = mant * 10^(exp - frac_digits + dropped); we want value * 10^18 */
    shift = exp - frac_digits + dropped + 18;
    if (mant == 0) {
        *out = 0;
        return 0;
    }
    if (shift >= 0) {
        /* 10^20 whole units are 10^38 scaled, below 2^127 (1.7e38). */
        const lnum limit =
            (lnum)10000000000000000000ULL * (lnum)10000000000000000000ULL;
        while (shift-- > 0) {
            if (mant > limit / 10) return -1;
            mant *= 10;
        }
    } else {
        if (shift < -38) { /* mant < 10^38 rounds to 0; 10^39 overflows */
            mant = 0;
        } else {
            mant = div_pow10_round(mant, -shift);
        }
    }
    if (mant > (lnum)(LNUM_MAX_WHOLE)*LNUM_SCALE) return -1;
    *out = neg ? -mant : mant;
    return 0;
}

/* The common case of lnum_from_fraction without printf: |d| in [1e-8,
 * 1e15), whose 15-significant-digit decimal M x 10^-k reads back as d and
 * has at most 18 decimals. That decimal is what "%.15g" gives: within 0.11
 * of d x 10^k (a double holds more than 15.9 digits), it is the only
 * 15-digit decimal that reads back as d, hence the nearest one. 0, or -1:
 * take the long way. */
static int from_fraction_fast(double d, lnum *out)
{
    static const double p10[23] = {
        1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    double a = fabs(d), m;
    int e, k, e2;
    uint64_t bits;
    int64_t digits;
    lnum v;
    if (!(a >= 1e-8 && a < 1e15)) return -1;
    /* e ~ floor(log10(a)); one off only makes the checks below fail. The
       binary exponent gives a start at most 2 above it (log10(2) < 0.302). */
    memcpy(&bits, &a, sizeof bits);
    e2 = (int)((bits >> 52) & 0x7ff) - 1022; /* a = f 2^e2, f in [0.5, 1) */
    e = (int)((e2 - 1) * 0.30103) + 1;
    if (e > 14) e = 14;
    for (; e > -8 && a * p10[8] < p10[e + 8]; e--)
        ;
    k = 14 - e; /* 0 .. 22: every 10^k is exact */
    if (k < 0 || k > 22) return -1;
    m = nearbyint(a * p10[k]);
    if (m < 1e14 || m > 1e15 || m / p10[k] != a) return -1;
    digits = (int64_t)m;
    if (k > 18) { /* more than 18 decimals unless they end in zeros */
        int64_t drop = (int64_t)p10[k - 18];
        if (digits % drop != 0) return -1;
        v = (lnum)(digits / drop);
    } else {
        v = (lnum)digits * (lnum)(int64_t)p10[18 - k];
    }
    *out = d < 0 ? -v : v;
    return 0;
}

int limitr__lnum_from_fraction(double d, lnum *out)
{
    char buf[40];
    int prec;
    if (!isfinite(d) || fabs(d) > LNUM_MAX_WHOLE) return -1;
    if (from_fraction_fast(d, out) == 0) return 0;
    if (d == floor(d)) { /* whole, at or above 2^63 */
        snprintf(buf, sizeof buf, "%.0f", d);
        return limitr__lnum_parse(buf, strlen(buf), out);
    }
    /* Shortest decimal that reads back as the same double. */
    for (prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) break;
    }
    return limitr__lnum_parse(buf, strlen(buf), out);
}

double limitr__lnum_to_double(lnum v)
{
    lnum q;
    if (v >= INT64_MIN && v <= INT64_MAX) {
        /* below 9.2 units (most amounts): the same steps in 64 bits, where
           a division by a constant is a product, not a library call */
        const int64_t scale = (int64_t)LNUM_SCALE, nano = (int64_t)LNUM_NANO;
        int64_t s = (int64_t)v, n = s / nano, r = s % nano;
        if (s % scale == 0) return (double)(s / scale);
        if ((r < 0 ? -r : r) * 2 >= nano) n += s < 0 ? -1 : 1;
        if (n % nano == 0) return (double)(n / nano);
        return (double)n / 1e9;
    }
    if (v % LNUM_SCALE == 0) return (double)(v / LNUM_SCALE);
    q = div_pow10_round(v, 9); /* whole nano-units */
    if (q % LNUM_NANO == 0) return (double)(q / LNUM_NANO);
    return (double)q / 1e9;
}

double limitr__lnum_to_double_room(lnum v)
{
    /* below 2^23 units a double's step is under 1e-9: the 9 decimals read
       back as they are */
    const lnum exact = (lnum)(1 << 23) * LNUM_SCALE;
    double d = limitr__lnum_to_double(v);
    lnum back;
    if (v > -exact && v < exact) return d;
    /* the double below reads back at most the room at 9 decimals: the
       nearest double lies within half a step of it */
    if (limitr__lnum_from_double(d, &back) == 0 && back > v && /* (whole) */
        limitr__lnum_round9(back) > limitr__lnum_round9(v))
        d = nextafter(d, -INFINITY);
    return d;
}

char *limitr__lnum_format(lnum v, char *buf)
{
    char tmp[48];
    int n = 0, i, len;
    lnum a = lnum_abs(v);
    /* digits, least significant first, at least 19 so a "0." exists */
    do {
        tmp[n++] = (char)('0' + (int)(a % 10));
        a /= 10;
    } while (a != 0 || n < 19);
    len = 0;
    if (v < 0) buf[len++] = '-';
    for (i = n - 1; i >= 18; i--)
        buf[len++] = tmp[i];
    buf[len++] = '.';
    for (i = 17; i >= 0; i--)
        buf[len++] = tmp[i];
    while (buf[len - 1] == '0')
        len--;
    if (buf[len - 1] == '.') len--;
    buf[len] = '\0';
    return buf;
}

/* ---- Products and quotients ----
 *
 * A product of two amounts needs up to 2 x 127 bits before it is scaled
 * back, so both go through 256-bit magnitudes: four 64-bit limbs, least
 * significant first. */

typedef unsigned __int128 u128;
typedef struct u256 {
    uint64_t w[4];
} u256;

static u256 mul_u128(u128 a, u128 b)
{
    uint64_t a0 = (uint64_t)a, a1 = (uint64_t)(a >> 64);
    uint64_t b0 = (uint64_t)b, b1 = (uint64_t)(b >> 64);
    u128 p00 = (u128)a0 * b0, p01 = (u128)a0 * b1, p10 = (u128)a1 * b0,
         p11 = (u128)a1 * b1, mid;
    u256 r;
    r.w[0] = (uint64_t)p00;
    mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10;
    r.w[1] = (uint64_t)mid;
    mid = (mid >> 64) + (p01 >> 64) + (p10 >> 64) + (uint64_t)p11;
    r.w[2] = (uint64_t)mid;
    r.w[3] = (uint64_t)((mid >> 64) + (p11 >> 64));
    return r;
}

static u256 div_u64(u256 n, uint64_t d, uint64_t *rem)
{
    u256 q;
    uint64_t r = 0;
    int i;
    for (i = 3; i >= 0; i--) /* leading zero words divide to nothing */
        q.w[i] =
            r == 0 && n.w[i] == 0 ? 0 : limitr__div_128_64(r, n.w[i], d, &r);
    *rem = r;
    return q;
}

/* n / d for a divisor below 2^127, bit by bit (the remainder stays below
 * d, so twice it fits in 128 bits); *rem the remainder. */
static u256 div_u128(u256 n, u128 d, u128 *rem)
{
    u256 q = {{0, 0, 0, 0}};
    u128 r = 0;
    int i;
    for (i = 255; i >= 0; i--) {
        r = (r << 1) | ((n.w[i / 64] >> (i % 64)) & 1);
        if (r >= d) {
            r -= d;
            q.w[i / 64] |= (uint64_t)1 << (i % 64);
        }
    }
    *rem = r;
    return q;
}

/* q (+1 when round_up) with sign `neg` as an amount within +-LNUM_MAX. */
static int to_amount(u256 q, int round_up, int neg, lnum *out)
{
    u128 m;
    if (q.w[2] != 0 || q.w[3] != 0) return -1;
    m = ((u128)q.w[1] << 64) | q.w[0];
    if (m > (u128)LNUM_MAX - (round_up != 0)) return -1; /* no wrap at +1 */
    if (round_up) m++;
    *out = neg ? -(lnum)m : (lnum)m;
    return 0;
}

/* |v| as unsigned: defined for every value, the most negative included. */
static u128 magnitude(lnum v)
{
    return v < 0 ? (u128)0 - (u128)v : (u128)v;
}

/* a * k for a whole k (|k| <= 2^63), checked against the range. */
static int mul_whole(lnum a, lnum k, lnum *out)
{
    u128 m = magnitude(a), mk = magnitude(k);
    /* |a| < 2^127 and |k| < 2^63: the product is below 2^64 * 2^64 when
       the high half of |a| is zero, else checked with 64-bit parts */
    if (m >> 64) {
        if (mk > 1 && (uint64_t)(m >> 64) > UINT64_MAX / (uint64_t)mk)
            return -1;
        {
            u128 hi = (m >> 64) * mk, lo = (u128)(uint64_t)m * mk;
            if (hi >> 64 || (hi << 64) > ~(u128)0 - lo) return -1;
            m = (hi << 64) + lo;
        }
    } else {
        m *= mk; /* both below 2^64 */
    }
    if (m > (u128)LNUM_MAX) return -1;
    *out = (a < 0) != (k < 0) ? -(lnum)m : (lnum)m;
    return 0;
}

/* Whether v is a whole number below 2^63 units, and which (64-bit
 * arithmetic only: most operands are, a price times 1 unit, a factor 1). */
static int whole_of(lnum v, lnum *k)
{
    u128 m = magnitude(v);
    uint64_t w, r, q;
    if (m >> 64) { /* two word divisions: a count up to 2^63 */
        if ((uint64_t)(m >> 64) >= (uint64_t)LNUM_SCALE) return 0;
        q = limitr__div_128_64((uint64_t)(m >> 64), (uint64_t)m,
                               (uint64_t)LNUM_SCALE, &r);
        if (r != 0 || q >> 63) return 0;
        *k = v < 0 ? -(lnum)q : (lnum)q;
        return 1;
    }
    w = (uint64_t)m;
    if (w % (uint64_t)LNUM_SCALE != 0) return 0;
    *k = (lnum)(w / (uint64_t)LNUM_SCALE);
    if (v < 0) *k = -*k;
    return 1;
}

int limitr__lnum_mul(lnum a, lnum b, lnum *out)
{
    uint64_t rem;
    lnum k;
    if (lnum_mul_quick(a, b, out)) return 0;
    if (whole_of(b, &k)) return mul_whole(a, k, out);
    if (whole_of(a, &k)) return mul_whole(b, k, out);
    u256 q = div_u64(mul_u128(magnitude(a), magnitude(b)), (uint64_t)LNUM_SCALE,
                     &rem);
    return to_amount(q, rem >= (uint64_t)LNUM_SCALE / 2, (a < 0) != (b < 0),
                     out);
}

int limitr__lnum_div(lnum a, lnum b, lnum *out)
{
    u128 rem, d = magnitude(b);
    u256 q;
    lnum k;
    if (b == 0 || d >> 127) return -1; /* div_u128 wants d below 2^127 */
    if (whole_of(b, &k) && k != 0) {
        /* a / k: no scaling, word by word (most divisors are counts) */
        uint64_t r64, mk = (uint64_t)(k < 0 ? -k : k);
        u128 m = magnitude(a);
        u256 n = {{(uint64_t)m, (uint64_t)(m >> 64), 0, 0}};
        q = div_u64(n, mk, &r64);
        return to_amount(q, r64 >= mk - r64, (a < 0) != (b < 0), out);
    }
    if ((d >> 64) == 0) { /* a divisor below 2^64: word by word too */
        uint64_t r64;
        q = div_u64(mul_u128(magnitude(a), (u128)LNUM_SCALE), (uint64_t)d,
                    &r64);
        return to_amount(q, r64 >= (uint64_t)d - r64, (a < 0) != (b < 0), out);
    }
    q = div_u128(mul_u128(magnitude(a), (u128)LNUM_SCALE), d, &rem);
    return to_amount(q, rem >= d - rem, (a < 0) != (b < 0), out);
}
