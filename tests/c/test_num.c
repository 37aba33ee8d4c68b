/* test_num.c: exact amounts (docs/numbers.md section 1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "num.h"

static lnum from(double d)
{
    lnum v = 0;
    if (limitr__lnum_from_double(d, &v) != 0) v = -12345;
    return v;
}

static lnum parse(const char *s)
{
    lnum v = 0;
    if (limitr__lnum_parse(s, strlen(s), &v) != 0) v = -12345;
    return v;
}

TEST(million_small_additions_are_exact)
{
    lnum sum = 0, step = from(0.00002);
    int i;
    for (i = 0; i < 1000000; i++)
        sum += step;
    ASSERT(sum == lnum_from_int(20));
    ASSERT_NUM(limitr__lnum_to_double(sum), 20);
}

TEST(shortest_decimal_of_a_double)
{
    ASSERT(from(0.1) + from(0.2) == parse("0.3"));
    ASSERT(from(1.5e-10) * 100 == parse("1.5e-8"));
    ASSERT(from(-2.5) == parse("-2.5"));
    ASSERT(from(3) == lnum_from_int(3));
    ASSERT(from(1e18) == lnum_from_int(1000000000) * 1000000000);
}

TEST(parse_forms_and_errors)
{
    lnum v;
    char buf[48];
    ASSERT(parse("12") == lnum_from_int(12));
    ASSERT(parse("+0.5") == LNUM_SCALE / 2);
    ASSERT(parse("2.5e-3") == parse("0.0025"));
    ASSERT(parse("1E2") == lnum_from_int(100));
    ASSERT(parse("0.0000000000000000001") == 0); /* below 1e-18: rounds */
    ASSERT(parse("0.0000000000000000005") == 1); /* half away from zero */
    ASSERT(parse("-0.0000000000000000005") == -1);
    ASSERT_EQ(limitr__lnum_parse("", 0, &v), -1);
    ASSERT_EQ(limitr__lnum_parse("abc", 3, &v), -1);
    ASSERT_EQ(limitr__lnum_parse("1e", 2, &v), -1);
    ASSERT_EQ(limitr__lnum_parse("1.2.3", 5, &v), -1);
    ASSERT_EQ(limitr__lnum_parse("1e30", 4, &v), -1);
    ASSERT(parse("1e20") == lnum_from_int(100000000000000000LL) * 1000);
    ASSERT(from(5e19) == lnum_from_int(50000000000000000LL) * 1000);
    ASSERT_EQ(limitr__lnum_parse("2e20", 4, &v), -1);
    /* every digit an export writes: 20 whole and 18 decimal ones */
    ASSERT_STR(limitr__lnum_format(
                   parse("99999999999999999990.909090909090909091"), buf),
               "99999999999999999990.909090909090909091");
    ASSERT_STR(limitr__lnum_format(
                   parse("-1234567890123456789.123456789012345678"), buf),
               "-1234567890123456789.123456789012345678");
    ASSERT(parse("0.00000000000000000000000000000000000009") == 0);
    ASSERT_EQ(limitr__lnum_from_double(1.0 / 0.0, &v), -1);
    ASSERT_EQ(limitr__lnum_from_double(0.0 / 0.0, &v), -1);
}

TEST(compare_at_nine_decimals)
{
    ASSERT(lnum_le9(from(0.3), from(0.3)));
    ASSERT(lnum_le9(parse("0.3000000000004"), from(0.3))); /* rounds to 0.3 */
    ASSERT(!lnum_le9(parse("0.300000001"), from(0.3)));
    ASSERT(lnum_le9(from(2), from(3)));
    ASSERT(!lnum_le9(from(4), from(3)));
}

TEST(outgoing_numbers_round_to_nine_decimals)
{
    char buf[48];
    ASSERT_NUM(limitr__lnum_to_double(parse("0.1234567895")), 0.12345679);
    ASSERT_NUM(limitr__lnum_to_double(parse("-0.1234567895")), -0.12345679);
    ASSERT(limitr__lnum_to_double(from(0.3)) == 0.3);
    ASSERT_STR(limitr__lnum_format(parse("-12.50"), buf), "-12.5");
    ASSERT_STR(limitr__lnum_format(parse("0.000000000000000001"), buf),
               "0.000000000000000001");
    ASSERT_STR(limitr__lnum_format(0, buf), "0");
}

/* The printf-free path for fractions (num.c, from_fraction_fast) gives
 * what "%.15g"... "%.17g" and the decimal parser give, for doubles across
 * every magnitude it takes and the boundaries around them. */
static int by_text(double d, lnum *out)
{
    char buf[40];
    int prec;
    for (prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) break;
    }
    return limitr__lnum_parse(buf, strlen(buf), out);
}

TEST(fractions_without_printf_agree)
{
    unsigned long long x = 0x9E3779B97F4A7C15ull;
    int i, mismatches = 0;
    for (i = 0; i < 300000; i++) {
        double d, mant, scale;
        lnum fast, slow;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        mant = (double)(x >> 11) / 9007199254740992.0; /* [0, 1) */
        scale = pow(10, (int)(x % 26) - 8);            /* 1e-8 .. 1e17 */
        d = mant * scale;
        if (i % 3 == 0) d = (double)(long long)(d * 1e6) / 1e6; /* "nice" */
        if (i % 7 == 0) d = -d;
        if (d == floor(d) || fabs(d) > 1e20) continue;
        if (limitr__lnum_from_double(d, &fast) != 0 || by_text(d, &slow) != 0 ||
            fast != slow)
            mismatches++;
    }
    ASSERT_EQ(mismatches, 0);
}

/* a op b as text ("fails" when out of range). */
static const char *op(int (*f)(lnum, lnum, lnum *), const char *a,
                      const char *b, char *buf)
{
    lnum r;
    if (f(parse(a), parse(b), &r) != 0) return "fails";
    return limitr__lnum_format(r, buf);
}

TEST(products_and_quotients_are_exact_to_18_decimals)
{
    char buf[64];
    ASSERT_STR(op(limitr__lnum_mul, "1.5", "2", buf), "3");
    ASSERT_STR(op(limitr__lnum_mul, "0.1", "0.2", buf), "0.02");
    ASSERT_STR(op(limitr__lnum_mul, "-1.5", "2", buf), "-3");
    ASSERT_STR(op(limitr__lnum_mul, "10", "1.14", buf), "11.4");
    ASSERT_STR(op(limitr__lnum_mul, "10000000000", "10000000000", buf),
               "100000000000000000000");
    ASSERT_STR(op(limitr__lnum_mul, "100000000000000000000", "1.000001", buf),
               "fails");
    ASSERT_STR(op(limitr__lnum_mul, "0.000000000000000003", "0.5", buf),
               "0.000000000000000002"); /* 1.5e-18, half away from zero */
    ASSERT_STR(op(limitr__lnum_mul, "-0.000000000000000003", "0.5", buf),
               "-0.000000000000000002");
    ASSERT_STR(op(limitr__lnum_mul, "0.000000000000000001", "0.4", buf), "0");
    ASSERT_STR(op(limitr__lnum_div, "1", "1.14", buf), "0.877192982456140351");
    ASSERT_STR(op(limitr__lnum_div, "1", "3", buf), "0.333333333333333333");
    ASSERT_STR(op(limitr__lnum_div, "2", "3", buf), "0.666666666666666667");
    ASSERT_STR(op(limitr__lnum_div, "-2", "3", buf), "-0.666666666666666667");
    ASSERT_STR(op(limitr__lnum_div, "0.0015", "0.0000375", buf), "40");
    ASSERT_STR(op(limitr__lnum_div, "1", "0", buf), "fails");
    ASSERT_STR(op(limitr__lnum_div, "100000000000000000000", "0.5", buf),
               "fails");
    ASSERT_STR(op(limitr__lnum_div, "100000000000000000000",
                  "0.000000000000000001", buf),
               "fails");
    ASSERT_STR(op(limitr__lnum_div, "100000000000000000000",
                  "100000000000000000000", buf),
               "1");
    /* a raw quotient of 2^128 - 1 that rounds up must fail, not wrap to 0 */
    ASSERT_STR(op(limitr__lnum_mul, "4.00000000000000001",
                  "85070591730234615653.167172532355513731", buf),
               "fails");
}

/* The division by 10^18 without a division instruction, against the plain
 * 128-bit one: random dividends, and the edges (quotients at and around
 * whole numbers, the largest dividend, the smallest). */
TEST(division_by_the_scale_agrees_with_the_long_way)
{
    typedef unsigned __int128 u128;
    const u128 scale = (u128)LNUM_SCALE;
    uint64_t x = 2463534242ULL, q, r;
    int i, mismatches = 0;
    for (i = 0; i < 400000; i++) {
        u128 p, want_q, want_r;
        uint64_t hi, lo;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        hi = (x >> (i % 61)) % (uint64_t)LNUM_SCALE;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        lo = x;
        p = ((u128)hi << 64) | lo;
        if (i % 7 == 0) { /* a whole quotient, or one off either side */
            u128 whole = (p / scale) * scale;
            p = i % 3 == 0 && whole > 0 ? whole - 1
                                        : whole + (u128)(i % 3 == 1);
        }
        if (i == 0) p = scale * (((u128)1 << 64) - 1) + (scale - 1); /* max */
        if (i == 1) p = 0;
        if (i == 2) p = scale - 1;
        hi = (uint64_t)(p >> 64);
        lo = (uint64_t)p;
        want_q = p / scale;
        want_r = p % scale;
        q = limitr__div_scale(hi, lo, &r);
        if (q != (uint64_t)want_q || r != (uint64_t)want_r) mismatches++;
    }
    ASSERT_EQ(mismatches, 0);
}

/* The quick product (both below 18.4 units) against the plain 128-bit
 * product rounded half away from zero, over random operands and the
 * edges of the quick path (a quotient word just below and at 10^18). */
TEST(quick_products_agree_with_the_long_way)
{
    typedef unsigned __int128 u128;
    uint64_t x = 88172645463325252ULL;
    int i, mismatches = 0;
    for (i = 0; i < 200000; i++) {
        lnum a, b, got, want;
        u128 ma, mb, p;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        ma = (u128)(x >> (i % 64));
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        mb = (u128)(x >> ((i / 64) % 64));
        if (i % 5 == 0) mb = (u128)LNUM_SCALE * (u128)(i % 19); /* whole */
        a = (i & 1) ? -(lnum)ma : (lnum)ma;
        b = (i & 2) ? -(lnum)mb : (lnum)mb;
        p = ma * mb; /* below 2^128: both below 2^64 */
        want = (lnum)(p / (u128)LNUM_SCALE +
                      (p % (u128)LNUM_SCALE >= (u128)LNUM_SCALE / 2));
        if ((a < 0) != (b < 0)) want = -want;
        if (p / (u128)LNUM_SCALE > (u128)LNUM_MAX) continue; /* out of range */
        if (limitr__lnum_mul(a, b, &got) != 0 || got != want ||
            lnum_mul(a, b, &got) != 0 || got != want)
            mismatches++;
    }
    ASSERT_EQ(mismatches, 0);
}

/* The outgoing double of v as docs/numbers.md says, in 128 bits: rounded
 * half away from zero to 1e-9, then divided. */
static double to_double_reference(lnum v)
{
    lnum q = v / LNUM_NANO, r = v % LNUM_NANO;
    if ((r < 0 ? -r : r) * 2 >= LNUM_NANO) q += v < 0 ? -1 : 1;
    if (v % LNUM_SCALE == 0) return (double)(v / LNUM_SCALE);
    if (q % LNUM_NANO == 0) return (double)(q / LNUM_NANO);
    return (double)q / 1e9;
}

TEST(outgoing_doubles_agree_in_and_past_64_bits)
{
    uint64_t x = 2463534242ULL;
    int i, mismatches = 0;
    for (i = 0; i < 200000; i++) {
        lnum v;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        v = (lnum)(int64_t)(x >> (i % 64)); /* small and large, both signs */
        if (i % 7 == 0) v = (v / LNUM_NANO) * LNUM_NANO + LNUM_NANO / 2;
        if (i % 11 == 0) v = (lnum)(int64_t)(i - 100000) * LNUM_SCALE;
        if (i % 13 == 0) v *= (lnum)1000000007; /* past 64 bits */
        if (i & 1) v = -v;
        if (limitr__lnum_to_double(v) != to_double_reference(v)) mismatches++;
    }
    ASSERT_EQ(mismatches, 0);
    ASSERT(limitr__lnum_to_double((lnum)INT64_MAX) ==
           to_double_reference((lnum)INT64_MAX));
    ASSERT(limitr__lnum_to_double((lnum)INT64_MIN) ==
           to_double_reference((lnum)INT64_MIN));
    ASSERT(limitr__lnum_to_double(LNUM_NANO / 2) == 1e-9);
    ASSERT(limitr__lnum_to_double(-LNUM_NANO / 2) == -1e-9);
}

/* A room read back never passes the room at 9 decimals, the resolution
 * decisions compare at: large amounts with decimals step down to the
 * double below; amounts a double holds to 1e-9 read as before. */
TEST(rooms_read_back_within_the_room)
{
    static const char *rooms[] = {"369726324.772727272727", "123456789.123456789",
                                  "99999999999.999999999", "-369726324.7727272727",
                                  "0.1", "2.5", "1e15", "7"};
    size_t i;
    for (i = 0; i < sizeof rooms / sizeof rooms[0]; i++) {
        lnum v = parse(rooms[i]), back = from(limitr__lnum_to_double_room(v));
        ASSERT(limitr__lnum_round9(back) <= limitr__lnum_round9(v));
        /* one double below the nearest at most: never further down */
        ASSERT(v - back < LNUM_SCALE / 1000);
    }
    ASSERT(limitr__lnum_to_double_room(parse("369726324.772727272727")) <
           limitr__lnum_to_double(parse("369726324.772727272727")));
    ASSERT_NUM(limitr__lnum_to_double_room(parse("0.1")), 0.1);
    ASSERT_NUM(limitr__lnum_to_double_room(parse("2.5")), 2.5);
    ASSERT_NUM(limitr__lnum_to_double_room(parse("7")), 7);
}

int main(void)
{
    RUN(million_small_additions_are_exact);
    RUN(shortest_decimal_of_a_double);
    RUN(parse_forms_and_errors);
    RUN(compare_at_nine_decimals);
    RUN(outgoing_numbers_round_to_nine_decimals);
    RUN(fractions_without_printf_agree);
    RUN(products_and_quotients_are_exact_to_18_decimals);
    RUN(division_by_the_scale_agrees_with_the_long_way);
    RUN(quick_products_agree_with_the_long_way);
    RUN(outgoing_doubles_agree_in_and_past_64_bits);
    RUN(rooms_read_back_within_the_room);
    return HARNESS_EXIT();
}
