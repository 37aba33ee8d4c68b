/* test_units.c: unit strings, conversions and durations (docs/policy.md
 * section 11). */
#include <stdint.h>

#include "harness.h"
#include "units.h"

static lnum num(const char *s)
{
    lnum v = 0;
    if (limitr__lnum_parse(s, strlen(s), &v) != 0) v = -12345;
    return v;
}

static char errbuf[512];

/* The error text of unit_split, or "(ok)". */
static const char *split_err(const char *text)
{
    lnum v;
    int u;
    errbuf[0] = '\0';
    if (limitr__unit_split(text, &v, &u, errbuf, sizeof errbuf) == 0)
        return "(ok)";
    return errbuf;
}

/* Splits text and checks the number and unit. */
static int split_is(const char *text, const char *number, int unit)
{
    lnum v = -1;
    int u = -2;
    if (limitr__unit_split(text, &v, &u, errbuf, sizeof errbuf) != 0) return 0;
    return v == num(number) && u == unit;
}

/* "text" converted to credit units `to`, as decimal text, or "(error)". */
static char convbuf[64];

static const char *conv(const char *text, int to)
{
    lnum v, out;
    int u;
    if (limitr__unit_split(text, &v, &u, NULL, 0) != 0 || u < 0 ||
        limitr__unit_convert(v, u, to, &out) != 0)
        return "(error)";
    return limitr__lnum_format(out, convbuf);
}

static int64_t dur(const char *text)
{
    int64_t ms = -424242;
    if (limitr__duration_parse(text, &ms, errbuf, sizeof errbuf) != 0)
        return -424242;
    return ms;
}

static const char *dur_err(const char *text)
{
    int64_t ms;
    errbuf[0] = '\0';
    if (limitr__duration_parse(text, &ms, errbuf, sizeof errbuf) == 0)
        return "(ok)";
    return errbuf;
}

TEST(find_symbols_and_aliases)
{
    static const struct {
        const char *name;
        int unit;
    } all[] = {
        {"B", UNIT_B},
        {"byte", UNIT_B},
        {"bytes", UNIT_B},
        {"kB", UNIT_KB},
        {"KB", UNIT_KB},
        {"MB", UNIT_MB},
        {"GB", UNIT_GB},
        {"TB", UNIT_TB},
        {"PB", UNIT_PB},
        {"KiB", UNIT_KIB},
        {"MiB", UNIT_MIB},
        {"GiB", UNIT_GIB},
        {"TiB", UNIT_TIB},
        {"PiB", UNIT_PIB},
        {"ms", UNIT_MS},
        {"millisecond", UNIT_MS},
        {"milliseconds", UNIT_MS},
        {"s", UNIT_S},
        {"sec", UNIT_S},
        {"second", UNIT_S},
        {"seconds", UNIT_S},
        {"min", UNIT_MIN},
        {"minute", UNIT_MIN},
        {"minutes", UNIT_MIN},
        {"h", UNIT_H},
        {"hr", UNIT_H},
        {"hour", UNIT_H},
        {"hours", UNIT_H},
        {"day", UNIT_DAY},
        {"days", UNIT_DAY},
        {"week", UNIT_WEEK},
        {"weeks", UNIT_WEEK},
    };
    size_t i;
    for (i = 0; i < sizeof all / sizeof all[0]; i++)
        ASSERT_EQ(limitr__unit_find(all[i].name, strlen(all[i].name)),
                  all[i].unit);
    ASSERT_EQ(limitr__unit_find("GBs", 2), UNIT_GB); /* length counts */
    ASSERT_EQ(limitr__unit_find("mb", 2), -1);
    ASSERT_EQ(limitr__unit_find("Mb", 2), -1);
    ASSERT_EQ(limitr__unit_find("kb", 2), -1);
    ASSERT_EQ(limitr__unit_find("S", 1), -1);
    ASSERT_EQ(limitr__unit_find("", 0), -1);
    ASSERT_EQ(limitr__unit_find("month", 5), -1);
    ASSERT_EQ(limitr__unit_find("year", 4), -1);
}

TEST(symbols_and_dimensions)
{
    static const char *const syms[UNIT_COUNT] = {
        "B",   "kB",  "MB", "GB", "TB",  "PB", "KiB", "MiB", "GiB",
        "TiB", "PiB", "ms", "s",  "min", "h",  "day", "week"};
    int i;
    for (i = 0; i < UNIT_COUNT; i++) {
        ASSERT_STR(limitr__unit_symbol(i), syms[i]);
        ASSERT_EQ(limitr__unit_dim(i), i < UNIT_MS ? DIM_DATA : DIM_TIME);
        ASSERT_EQ(limitr__unit_credit_symbol(syms[i]), i);
    }
    ASSERT(limitr__unit_symbol(-1) == NULL);
    ASSERT(limitr__unit_symbol(UNIT_COUNT) == NULL);
    ASSERT_EQ(limitr__unit_dim(-1), DIM_NONE);
    ASSERT_EQ(limitr__unit_dim(UNIT_COUNT), DIM_NONE);
    /* aliases are values, not credit units (rule 1) */
    ASSERT_EQ(limitr__unit_credit_symbol("KB"), -1);
    ASSERT_EQ(limitr__unit_credit_symbol("bytes"), -1);
    ASSERT_EQ(limitr__unit_credit_symbol("sec"), -1);
    ASSERT_EQ(limitr__unit_credit_symbol("days"), -1);
    ASSERT_EQ(limitr__unit_credit_symbol("month"), -1);
    ASSERT_EQ(limitr__unit_credit_symbol(""), -1);
    ASSERT_EQ(limitr__unit_credit_symbol(NULL), -1);
}

TEST(split_forms)
{
    ASSERT(split_is("2GB", "2", UNIT_GB));
    ASSERT(split_is("250 MB", "250", UNIT_MB));
    ASSERT(split_is("250    MB", "250", UNIT_MB));
    ASSERT(split_is("1.5h", "1.5", UNIT_H));
    ASSERT(split_is("30days", "30", UNIT_DAY));
    ASSERT(split_is("100_000", "100000", -1));
    ASSERT(split_is("1_000_000.000_5 KiB", "1000000.0005", UNIT_KIB));
    ASSERT(split_is("-3", "-3", -1));
    ASSERT(split_is("+3", "3", -1));
    ASSERT(split_is("1e3 s", "1000", UNIT_S));
    ASSERT(split_is("1e3s", "1000", UNIT_S));
    ASSERT(split_is("2.5E-3GB", "0.0025", UNIT_GB));
    ASSERT(split_is("1e+2 bytes", "100", UNIT_B));
    ASSERT(split_is("007min", "7", UNIT_MIN));
    ASSERT(split_is("0", "0", -1));
    ASSERT(split_is("-0.5 week", "-0.5", UNIT_WEEK));
    ASSERT(split_is("0.1234567890123456789", "0.123456789012345679", -1));
    ASSERT(split_is("1e19 B", "1e19", UNIT_B));
    /* NULL outputs are allowed: validation only */
    ASSERT_EQ(limitr__unit_split("5GB", NULL, NULL, NULL, 0), 0);
}

TEST(split_errors)
{
    ASSERT_STR(split_err("5Mb"), "unknown unit 'Mb' (did you mean 'MB'?)");
    ASSERT_STR(split_err("GB"),
               "expected a number with an optional unit, got 'GB'");
    ASSERT_STR(split_err("5 GBs"), "unknown unit 'GBs' (did you mean 'GB'?)");
    ASSERT_STR(split_err("10mb"), "unknown unit 'mb' (did you mean 'MB'?)");
    ASSERT_STR(split_err("10kb"), "unknown unit 'kb' (did you mean 'kB'?)");
    ASSERT_STR(split_err("10 Seconds"),
               "unknown unit 'Seconds' (did you mean 'seconds'?)");
    ASSERT_STR(split_err("3 minuts"),
               "unknown unit 'minuts' (did you mean 'minute'?)");
    ASSERT_STR(split_err("3 months"), "unknown unit 'months'");
    ASSERT_STR(split_err("3 fortnight"), "unknown unit 'fortnight'");
    ASSERT_STR(split_err(""),
               "expected a number with an optional unit, got ''");
    ASSERT_STR(split_err(NULL),
               "expected a number with an optional unit, got ''");
    ASSERT_STR(split_err("1e"), "missing exponent digits in '1e'");
    ASSERT_STR(split_err("1e+ s"), "missing exponent digits in '1e+ s'");
    ASSERT_STR(split_err("--1"),
               "expected a number with an optional unit, got '--1'");
    ASSERT_STR(split_err("-"),
               "expected a number with an optional unit, got '-'");
    ASSERT_STR(split_err("1__000"),
               "misplaced '_' in '1__000' (use single '_' between digits)");
    ASSERT_STR(split_err("_1"),
               "misplaced '_' in '_1' (use single '_' between digits)");
    ASSERT_STR(split_err("1_"),
               "misplaced '_' in '1_' (use single '_' between digits)");
    ASSERT_STR(split_err("1_ GB"),
               "misplaced '_' in '1_ GB' (use single '_' between digits)");
    ASSERT_STR(split_err("1_.5"),
               "misplaced '_' in '1_.5' (use single '_' between digits)");
    ASSERT_STR(split_err("1._5"),
               "misplaced '_' in '1._5' (use single '_' between digits)");
    ASSERT_STR(split_err("1e_5"),
               "misplaced '_' in '1e_5' (use single '_' between digits)");
    ASSERT_STR(split_err("5."), "missing digits after '.' in '5.'");
    ASSERT_STR(split_err("5.GB"), "missing digits after '.' in '5.GB'");
    ASSERT_STR(split_err(".5"),
               "expected a number with an optional unit, got '.5'");
    ASSERT_STR(split_err(" 5GB"),
               "expected a number with an optional unit, got ' 5GB'");
    ASSERT_STR(split_err("5GB "), "unexpected trailing space in '5GB '");
    ASSERT_STR(split_err("5 "), "unexpected trailing space in '5 '");
    ASSERT_STR(split_err("5\tGB"),
               "expected a number with an optional unit, got '5\tGB'");
    ASSERT_STR(split_err("1.2.3"),
               "expected a number with an optional unit, got '1.2.3'");
    ASSERT_STR(split_err("1,000"),
               "expected a number with an optional unit, got '1,000'");
    ASSERT_STR(split_err("ten"),
               "expected a number with an optional unit, got 'ten'");
    ASSERT_STR(split_err("inf"),
               "expected a number with an optional unit, got 'inf'");
    ASSERT_STR(split_err("1e21 B"), "'1e21 B' is out of range");
    ASSERT_STR(split_err("0x10"), "unknown unit 'x10'");
}

TEST(split_long_numbers)
{
    char text[1200];
    memset(text, '1', 300);
    text[300] = '\0';
    ASSERT_CONTAINS(split_err(text), "' is out of range");
    memset(text, '1', 400);
    strcpy(text + 400, "GB");
    ASSERT_CONTAINS(split_err(text), "number too long in '111");
    /* many zeros after the point are fine up to the length cap */
    strcpy(text, "0.");
    memset(text + 2, '0', 200);
    strcpy(text + 202, "1 GB");
    ASSERT(split_is(text, "0", UNIT_GB));
}

TEST(split_error_buffer_is_bounded)
{
    char small[8];
    lnum v;
    int u;
    ASSERT_EQ(limitr__unit_split("5 GBs", &v, &u, small, sizeof small), -1);
    ASSERT_STR(small, "unknown");
    ASSERT_EQ(limitr__unit_split("5 GBs", &v, &u, NULL, 0), -1);
}

/* docs/policy.md 11 rule 2. */
TEST(convert_examples)
{
    ASSERT_STR(conv("1GB", UNIT_MB), "1000");
    ASSERT_STR(conv("1GiB", UNIT_MB), "1073.741824");
    ASSERT_STR(conv("90min", UNIT_S), "5400");
    ASSERT_STR(conv("1KiB", UNIT_KB), "1.024");
    /* the double is 0.0009313225746154785; amounts keep 18 decimals */
    ASSERT_STR(conv("1 MB", UNIT_GIB), "0.000931322574615479");
    ASSERT_STR(conv("1day", UNIT_WEEK), "0.14285714285714285");
    ASSERT_STR(conv("2 weeks", UNIT_DAY), "14");
    ASSERT_STR(conv("0.1h", UNIT_S), "360");
    ASSERT_STR(conv("1.1GB", UNIT_MB), "1100");
    ASSERT_STR(conv("-2 GB", UNIT_MB), "-2000");
    ASSERT_STR(conv("1.5 KB", UNIT_B), "1500");
    ASSERT_STR(conv("1 PiB", UNIT_B), "1125899906842624");
    ASSERT_STR(conv("0 TB", UNIT_KIB), "0");
    /* large results stay exact (whole doubles) */
    ASSERT_STR(conv("1e16 kB", UNIT_B), "10000000000000000000");
    ASSERT_STR(conv("1e17 kB", UNIT_B), "100000000000000000000");
    ASSERT_STR(conv("1e18 kB", UNIT_B), "(error)"); /* above 10^20 */
    ASSERT_STR(conv("1e20 PiB", UNIT_B), "(error)");
    /* the same unit (or an alias of it) is not converted at all */
    ASSERT_STR(conv("0.1234567890123456789 GB", UNIT_GB),
               "0.123456789012345679");
    ASSERT_STR(conv("5 KB", UNIT_KB), "5");
}

TEST(convert_refuses_mixed_dimensions)
{
    lnum out = 77;
    ASSERT_EQ(limitr__unit_convert(lnum_from_int(1), UNIT_GB, UNIT_S, &out),
              -1);
    ASSERT_EQ(limitr__unit_convert(lnum_from_int(1), UNIT_H, UNIT_B, &out), -1);
    ASSERT_EQ(limitr__unit_convert(lnum_from_int(1), -1, UNIT_B, &out), -1);
    ASSERT_EQ(limitr__unit_convert(lnum_from_int(1), UNIT_B, UNIT_COUNT, &out),
              -1);
    ASSERT_EQ(limitr__unit_convert(lnum_from_int(1), -1, -1, &out), -1);
    ASSERT(out == 77);
}

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* The amount is turned into the double strtod reads from its decimal text:
 * check through a factor-1000 conversion (exact for doubles below 2^43). */
TEST(convert_reads_the_nearest_double)
{
    int i;
    for (i = 0; i < 50000; i++) {
        char text[64], buf[64];
        lnum v, out, want;
        double d;
        int digits = 1 + (int)(rnd() % 17);
        int e = -18 + (int)(rnd() % (unsigned)(37 - digits)); /* < 1e19 */
        uint64_t m = rnd() % 100000000000000000u;
        uint64_t p10 = 1;
        int k;
        for (k = 0; k < digits; k++)
            p10 *= 10;
        m %= p10;
        snprintf(text, sizeof text, "%s%llue%d", (rnd() & 1) ? "-" : "",
                 (unsigned long long)m, e);
        ASSERT_EQ(limitr__lnum_parse(text, strlen(text), &v), 0);
        d = strtod(limitr__lnum_format(v, buf), NULL) / 1000.0;
        ASSERT_EQ(limitr__unit_convert(v, UNIT_B, UNIT_KB, &out), 0);
        ASSERT_EQ(limitr__lnum_from_double(d, &want), 0);
        if (out != want)
            HARNESS_FAIL("%s: got %s", text, limitr__lnum_format(out, buf));
        d = strtod(limitr__lnum_format(v, buf), NULL);
        if (fabs(d * 1000.0) >= 9e18) continue; /* lnum_from_double: int64 */
        ASSERT_EQ(limitr__unit_convert(v, UNIT_KB, UNIT_B, &out), 0);
        ASSERT_EQ(limitr__lnum_from_double(d * 1000.0, &want), 0);
        if (out != want)
            HARNESS_FAIL("%s * 1000: got %s", text,
                         limitr__lnum_format(out, buf));
    }
}

/* docs/policy.md 11 rule 4. */
TEST(duration_examples)
{
    ASSERT_EQ(dur("30days"), INT64_C(2592000000));
    ASSERT_EQ(dur("1day"), 86400000);
    ASSERT_EQ(dur("10min"), 600000);
    ASSERT_EQ(dur("1.5h"), 5400000);
    ASSERT_EQ(dur("1.5 hours"), 5400000);
    ASSERT_EQ(dur("2 hr"), 7200000);
    ASSERT_EQ(dur("1 week"), 604800000);
    ASSERT_EQ(dur("1_000 ms"), 1000);
    ASSERT_EQ(dur("1e3 s"), 1000000);
    ASSERT_EQ(dur("0.001s"), 1);
    ASSERT_EQ(dur("0.1h"), 360000);
    ASSERT_EQ(dur("-3s"), -3000);
    ASSERT_EQ(dur("0ms"), 0);
    ASSERT_EQ(dur("45 seconds"), 45000);
    ASSERT_EQ(dur("9223372036854775807ms"), INT64_MAX);
    ASSERT_EQ(dur("-9223372036854775808 ms"), INT64_MIN);
    ASSERT_EQ(dur("15250284452 week"), INT64_C(9223372036569600000));
}

TEST(duration_errors)
{
    ASSERT_STR(dur_err("0.5ms"),
               "'0.5ms' is not a whole number of milliseconds");
    ASSERT_STR(dur_err("0.0001s"),
               "'0.0001s' is not a whole number of milliseconds");
    ASSERT_STR(dur_err("2GB"), "'2GB' is a data size, not a duration");
    ASSERT_STR(dur_err("2 bytes"), "'2 bytes' is a data size, not a duration");
    ASSERT_STR(dur_err("100"), "'100' is not a duration (add a time unit: "
                               "ms, s, min, h, day or week)");
    ASSERT_STR(dur_err("10 mins"), "unknown unit 'mins' (did you mean 'min'?)");
    ASSERT_STR(dur_err("1 month"), "unknown unit 'month'");
    ASSERT_STR(dur_err("day"),
               "expected a number with an optional unit, got 'day'");
    ASSERT_STR(dur_err(""), "expected a number with an optional unit, got ''");
    ASSERT_STR(dur_err("9223372036854775808ms"),
               "'9223372036854775808ms' is out of range");
    ASSERT_STR(dur_err("-9223372036854775809ms"),
               "'-9223372036854775809ms' is out of range");
    ASSERT_STR(dur_err("15250284453 week"),
               "'15250284453 week' is out of range");
    ASSERT_STR(dur_err("1e20 week"), "'1e20 week' is out of range");
    ASSERT_STR(dur_err("1e21 ms"), "'1e21 ms' is out of range");
}

int main(void)
{
    RUN(find_symbols_and_aliases);
    RUN(symbols_and_dimensions);
    RUN(split_forms);
    RUN(split_errors);
    RUN(split_long_numbers);
    RUN(split_error_buffer_is_bounded);
    RUN(convert_examples);
    RUN(convert_refuses_mixed_dimensions);
    RUN(convert_reads_the_nearest_double);
    RUN(duration_examples);
    RUN(duration_errors);
    return HARNESS_EXIT();
}
