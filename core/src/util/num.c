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
    if (lnum_abs(r) * 2 >= d) q += v < 0 ? -1 : 1;
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
    /* Digits past 36 significant ones are below the 10^-18 resolution for
       any value in range, except that integer digits still count. */
    int dropped = 0;

    if (p < end && (*p == '+' || *p == '-')) neg = (*p++ == '-');
    for (; p < end && *p >= '0' && *p <= '9'; p++, digits++) {
        if (sig < 36) {
            mant = mant * 10 + (*p - '0');
            if (mant != 0) sig++;
        } else {
            dropped++;
        }
    }
    if (p < end && *p == '.') {
        p++;
        for (; p < end && *p >= '0' && *p <= '9'; p++, digits++) {
            if (sig < 36) {
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
        if (shift < -36) { /* mant < 10^36 rounds to 0; 10^39 overflows */
            mant = 0;
        } else {
            mant = div_pow10_round(mant, -shift);
        }
    }
    if (mant > (lnum)(LNUM_MAX_WHOLE)*LNUM_SCALE) return -1;
    *out = neg ? -mant : mant;
    return 0;
}

int limitr__lnum_from_fraction(double d, lnum *out)
{
    char buf[40];
    int prec;
    if (!isfinite(d) || fabs(d) > LNUM_MAX_WHOLE) return -1;
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
    if (v % LNUM_SCALE == 0) return (double)(v / LNUM_SCALE);
    q = div_pow10_round(v, 9); /* whole nano-units */
    if (q % LNUM_NANO == 0) return (double)(q / LNUM_NANO);
    return (double)q / 1e9;
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
