/* test_schedule.c: reset_sch parsing and calendar boundaries, reset_inc
 * periods (docs/policy.md section 12, docs/engine.md sections 5 and 13.4). */
#include <stdint.h>

#include "harness.h"
#include "schedule.h"

#define DAY INT64_C(86400000)
#define HOUR INT64_C(3600000)

/* ---- An independent, slow calendar: the oracle ---- */

static int leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int mlen(int64_t y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : len[m - 1];
}

/* Days since 1970-01-01 by counting whole years and months. */
static int64_t naive_days(int64_t y, int m, int d)
{
    int64_t days = 0, i;
    int j;
    if (y >= 1970)
        for (i = 1970; i < y; i++)
            days += leap(i) ? 366 : 365;
    else
        for (i = y; i < 1970; i++)
            days -= leap(i) ? 366 : 365;
    for (j = 1; j < m; j++)
        days += mlen(y, j);
    return days + d - 1;
}

/* Midnight UTC of y-m-d in ms. */
static int64_t ymd(int64_t y, int m, int d)
{
    return naive_days(y, m, d) * DAY;
}

typedef struct civil {
    int64_t y;
    int m, d, wd; /* wd: 0 = Monday */
} civil;

static civil naive_civil(int64_t day)
{
    civil c = {1970, 1, 1, 3};
    int64_t n = day;
    while (n >= (leap(c.y) ? 366 : 365))
        n -= leap(c.y++) ? 366 : 365;
    while (n < 0)
        n += leap(--c.y) ? 366 : 365;
    while (n >= mlen(c.y, c.m))
        n -= mlen(c.y, c.m++);
    c.d = (int)n + 1;
    c.wd = (int)(((day + 3) % 7 + 7) % 7);
    return c;
}

static void step(civil *c, int dir)
{
    c->wd = (c->wd + 7 + dir) % 7;
    c->d += dir;
    if (c->d > mlen(c->y, c->m)) {
        c->d = 1;
        if (++c->m > 12) c->m = 1, c->y++;
    } else if (c->d < 1) {
        if (--c->m < 1) c->m = 12, c->y--;
        c->d = mlen(c->y, c->m);
    }
}

static int min_int(int a, int b)
{
    return a < b ? a : b;
}

/* The spec's table, day by day. */
static int is_boundary(const lp_schedule *s, const civil *c)
{
    switch (s->kind) {
    case SCH_MONTHLY:
        return c->d == min_int(s->day, mlen(c->y, c->m));
    case SCH_MONTHLY_LAST:
        return c->d == mlen(c->y, c->m);
    case SCH_WEEKLY:
        return c->wd == s->weekday;
    case SCH_NTH_WEEKDAY:
        return c->wd == s->weekday && (c->d - 1) / 7 == s->n - 1;
    case SCH_YEARLY:
        return c->m == s->month && c->d == min_int(s->day, mlen(c->y, c->m));
    case SCH_QUARTERLY:
        return (c->m - 1) % 3 == 0 && c->d == min_int(s->day, mlen(c->y, c->m));
    }
    return 0;
}

static int64_t fdiv(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && a < 0);
}

/* start and next by walking day by day from t. */
static void oracle(const lp_schedule *s, int64_t t, int64_t *start,
                   int64_t *next)
{
    int64_t day = fdiv(t, DAY), k;
    civil c = naive_civil(day), c2 = c;
    for (k = day; !is_boundary(s, &c); k--)
        step(&c, -1);
    *start = k * DAY;
    k = day + 1;
    step(&c2, 1);
    for (; !is_boundary(s, &c2); k++)
        step(&c2, 1);
    *next = k * DAY;
}

/* ---- Helpers ---- */

static lp_schedule sch(const char *text)
{
    lp_schedule s;
    char err[256];
    memset(&s, 0, sizeof s);
    if (limitr__schedule_parse(text, &s, err, sizeof err) != 0) {
        fprintf(stderr, "unexpected parse error: %s\n", err);
        s.kind = (sch_kind)-1;
    }
    return s;
}

static int64_t start_of(const char *text, int64_t t)
{
    lp_schedule s = sch(text);
    return limitr__schedule_start(&s, t);
}

static int64_t next_of(const char *text, int64_t t)
{
    lp_schedule s = sch(text);
    return limitr__schedule_next(&s, t);
}

static char errbuf[512];

static const char *perr(const char *text)
{
    lp_schedule s;
    errbuf[0] = '\0';
    if (limitr__schedule_parse(text, &s, errbuf, sizeof errbuf) == 0)
        return "(parsed)";
    return errbuf;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Every schedule form: monthly:1..31, last, weekly:*, nth_weekday:*:*,
 * yearly:M-D for every valid day, quarterly:1..31. */
static size_t all_schedules(lp_schedule *out)
{
    static const char *const wd[] = {"mon", "tue", "wed", "thu",
                                     "fri", "sat", "sun"};
    char text[32];
    size_t n = 0;
    int i, j;
    for (i = 1; i <= 31; i++) {
        snprintf(text, sizeof text, "monthly:%d", i);
        out[n++] = sch(text);
        snprintf(text, sizeof text, "quarterly:%d", i);
        out[n++] = sch(text);
    }
    out[n++] = sch("monthly:last");
    for (i = 0; i < 7; i++) {
        snprintf(text, sizeof text, "weekly:%s", wd[i]);
        out[n++] = sch(text);
        for (j = 1; j <= 4; j++) {
            snprintf(text, sizeof text, "nth_weekday:%d:%s", j, wd[i]);
            out[n++] = sch(text);
        }
    }
    for (i = 1; i <= 12; i++)
        for (j = 1; j <= mlen(2000, i); j++) {
            snprintf(text, sizeof text, "yearly:%d-%d", i, j);
            out[n++] = sch(text);
        }
    return n;
}

/* ---- Tests ---- */

TEST(oracle_matches_known_dates)
{
    ASSERT_EQ(ymd(2026, 2, 15), INT64_C(1771113600000));
    ASSERT_EQ(ymd(2026, 2, 28), INT64_C(1772236800000));
    ASSERT_EQ(ymd(2500, 1, 1), INT64_C(16725225600000));
    ASSERT_EQ(ymd(1900, 1, 1), INT64_C(-2208988800000));
    ASSERT_EQ(ymd(1600, 2, 29), INT64_C(-11670998400000));
    ASSERT_EQ(ymd(2400, 2, 29), INT64_C(13574563200000));
    ASSERT_EQ(naive_civil(fdiv(ymd(1900, 1, 1), DAY)).wd, 0);  /* Monday */
    ASSERT_EQ(naive_civil(fdiv(ymd(2026, 3, 10), DAY)).wd, 1); /* Tuesday */
}

TEST(parse_forms)
{
    lp_schedule s = sch("monthly:15");
    ASSERT_EQ(s.kind, SCH_MONTHLY);
    ASSERT_EQ(s.day, 15);
    s = sch("monthly:last");
    ASSERT_EQ(s.kind, SCH_MONTHLY_LAST);
    ASSERT_EQ(s.day, 31);
    s = sch("weekly:mon");
    ASSERT_EQ(s.kind, SCH_WEEKLY);
    ASSERT_EQ(s.weekday, 0);
    s = sch("weekly:SUNDAY");
    ASSERT_EQ(s.weekday, 6);
    s = sch("weekly:Wed");
    ASSERT_EQ(s.weekday, 2);
    s = sch("nth_weekday:2:tue");
    ASSERT_EQ(s.kind, SCH_NTH_WEEKDAY);
    ASSERT_EQ(s.n, 2);
    ASSERT_EQ(s.weekday, 1);
    s = sch("nth_weekday:4:Saturday");
    ASSERT_EQ(s.n, 4);
    ASSERT_EQ(s.weekday, 5);
    s = sch("yearly:2-29");
    ASSERT_EQ(s.kind, SCH_YEARLY);
    ASSERT_EQ(s.month, 2);
    ASSERT_EQ(s.day, 29);
    s = sch("yearly:012-031");
    ASSERT_EQ(s.month, 12);
    ASSERT_EQ(s.day, 31);
    s = sch("quarterly:1");
    ASSERT_EQ(s.kind, SCH_QUARTERLY);
    ASSERT_EQ(s.day, 1);
    s = sch("monthly:0031");
    ASSERT_EQ(s.kind, SCH_MONTHLY);
    ASSERT_EQ(s.day, 31);
    /* NULL out is allowed: validation only */
    ASSERT_EQ(limitr__schedule_parse("weekly:fri", NULL, NULL, 0), 0);
}

TEST(parse_errors_from_the_spec)
{
    ASSERT_STR(perr("montly:1"), "invalid reset schedule 'montly:1': unknown "
                                 "kind 'montly' (did you mean 'monthly'?)");
    ASSERT_STR(perr("monthly:32"),
               "invalid reset schedule 'monthly:32': day must be 1-31");
    ASSERT_STR(perr("nth_weekday:5:tue"),
               "invalid reset schedule 'nth_weekday:5:tue': N must be 1-4");
    ASSERT_STR(perr("weekly:moon"),
               "invalid reset schedule 'weekly:moon': unknown weekday 'moon' "
               "(did you mean 'mon'?)");
    ASSERT_STR(perr("yearly:2-30"), "invalid reset schedule 'yearly:2-30': "
                                    "day 30 does not exist in month 2");
}

TEST(parse_errors_of_our_own)
{
    ASSERT_STR(perr(""), "invalid reset schedule '': empty schedule "
                         "(expected e.g. 'monthly:1')");
    ASSERT_STR(perr(NULL), "invalid reset schedule '': empty schedule "
                           "(expected e.g. 'monthly:1')");
    ASSERT_STR(perr(":1"), "invalid reset schedule ':1': missing kind "
                           "(expected monthly, weekly, nth_weekday, yearly "
                           "or quarterly)");
    ASSERT_STR(perr("hourly:1"),
               "invalid reset schedule 'hourly:1': unknown kind 'hourly' "
               "(expected monthly, weekly, nth_weekday, yearly or "
               "quarterly)");
    ASSERT_STR(perr("Monthly:1"),
               "invalid reset schedule 'Monthly:1': unknown kind 'Monthly' "
               "(did you mean 'monthly'?)");
    ASSERT_STR(perr("MONTHLY:1"),
               "invalid reset schedule 'MONTHLY:1': unknown kind 'MONTHLY' "
               "(did you mean 'monthly'?)");
    ASSERT_STR(perr("monthly:LAST"),
               "invalid reset schedule 'monthly:LAST': day must be 1-31 or "
               "'last', got 'LAST' (did you mean 'last'?)");
    ASSERT_STR(perr("monthly"),
               "invalid reset schedule 'monthly': missing day (expected "
               "'monthly:N' with N 1-31, or 'monthly:last')");
    ASSERT_STR(perr("monthly:"),
               "invalid reset schedule 'monthly:': missing day (expected "
               "'monthly:N' with N 1-31, or 'monthly:last')");
    ASSERT_STR(perr("monthly:1:2"),
               "invalid reset schedule 'monthly:1:2': too many parts "
               "(expected 'monthly:N' with N 1-31, or 'monthly:last')");
    ASSERT_STR(perr("monthly:0"),
               "invalid reset schedule 'monthly:0': day must be 1-31");
    ASSERT_STR(perr("monthly:99999999999999999999"),
               "invalid reset schedule 'monthly:99999999999999999999': day "
               "must be 1-31");
    ASSERT_STR(perr("monthly:-1"), "invalid reset schedule 'monthly:-1': day "
                                   "must be 1-31 or 'last', got '-1'");
    ASSERT_STR(perr("monthly: 1"), "invalid reset schedule 'monthly: 1': day "
                                   "must be 1-31 or 'last', got ' 1'");
    ASSERT_STR(perr("monthly:Last"),
               "invalid reset schedule 'monthly:Last': day must be 1-31 or "
               "'last', got 'Last' (did you mean 'last'?)");
    ASSERT_STR(perr("quarterly:last"),
               "invalid reset schedule 'quarterly:last': day must be 1-31, "
               "got 'last'");
    ASSERT_STR(perr("quarterly:32"),
               "invalid reset schedule 'quarterly:32': day must be 1-31");
    ASSERT_STR(perr("quarterly"),
               "invalid reset schedule 'quarterly': missing day (expected "
               "'quarterly:D' with D 1-31)");
    ASSERT_STR(perr("weekly"), "invalid reset schedule 'weekly': missing "
                               "weekday (expected 'weekly:D' with D "
                               "mon..sun)");
    ASSERT_STR(perr("weekly:mon:tue"),
               "invalid reset schedule 'weekly:mon:tue': too many parts "
               "(expected 'weekly:D' with D mon..sun)");
    ASSERT_STR(perr("weekly:xyz"),
               "invalid reset schedule 'weekly:xyz': unknown weekday 'xyz' "
               "(expected mon..sun or monday..sunday)");
    ASSERT_STR(perr("weekly:TUSE"),
               "invalid reset schedule 'weekly:TUSE': unknown weekday 'TUSE' "
               "(did you mean 'tue'?)");
    ASSERT_STR(perr("weekly:wednesdy"),
               "invalid reset schedule 'weekly:wednesdy': unknown weekday "
               "'wednesdy' (did you mean 'wednesday'?)");
    ASSERT_STR(perr("nth_weekday"),
               "invalid reset schedule 'nth_weekday': missing N (expected "
               "'nth_weekday:N:D' with N 1-4 and D mon..sun)");
    ASSERT_STR(perr("nth_weekday:2"),
               "invalid reset schedule 'nth_weekday:2': missing weekday "
               "(expected 'nth_weekday:N:D' with N 1-4 and D mon..sun)");
    ASSERT_STR(perr("nth_weekday:2:"),
               "invalid reset schedule 'nth_weekday:2:': missing weekday "
               "(expected 'nth_weekday:N:D' with N 1-4 and D mon..sun)");
    ASSERT_STR(perr("nth_weekday:2:tue:x"),
               "invalid reset schedule 'nth_weekday:2:tue:x': too many parts "
               "(expected 'nth_weekday:N:D' with N 1-4 and D mon..sun)");
    ASSERT_STR(perr("nth_weekday:0:tue"),
               "invalid reset schedule 'nth_weekday:0:tue': N must be 1-4");
    ASSERT_STR(perr("nth_weekday:two:tue"),
               "invalid reset schedule 'nth_weekday:two:tue': N must be 1-4, "
               "got 'two'");
    ASSERT_STR(perr("nth_weekday:2:tues"),
               "invalid reset schedule 'nth_weekday:2:tues': unknown weekday "
               "'tues' (did you mean 'tue'?)");
    ASSERT_STR(perr("yearly"), "invalid reset schedule 'yearly': missing "
                               "month and day (expected 'yearly:M-D', e.g. "
                               "'yearly:3-10')");
    ASSERT_STR(perr("yearly:3"), "invalid reset schedule 'yearly:3': missing "
                                 "day (expected 'yearly:M-D', e.g. "
                                 "'yearly:3-10')");
    ASSERT_STR(perr("yearly:3-"), "invalid reset schedule 'yearly:3-': "
                                  "missing day (expected 'yearly:M-D', e.g. "
                                  "'yearly:3-10')");
    ASSERT_STR(perr("yearly:-10"), "invalid reset schedule 'yearly:-10': "
                                   "missing month (expected 'yearly:M-D', "
                                   "e.g. 'yearly:3-10')");
    ASSERT_STR(perr("yearly:1-2-3"), "invalid reset schedule 'yearly:1-2-3': "
                                     "too many parts (expected 'yearly:M-D', "
                                     "e.g. 'yearly:3-10')");
    ASSERT_STR(perr("yearly:3:10"), "invalid reset schedule 'yearly:3:10': "
                                    "too many parts (expected 'yearly:M-D', "
                                    "e.g. 'yearly:3-10')");
    ASSERT_STR(perr("yearly:13-1"),
               "invalid reset schedule 'yearly:13-1': month must be 1-12");
    ASSERT_STR(perr("yearly:0-1"),
               "invalid reset schedule 'yearly:0-1': month must be 1-12");
    ASSERT_STR(perr("yearly:march-1"),
               "invalid reset schedule 'yearly:march-1': month must be 1-12, "
               "got 'march'");
    ASSERT_STR(perr("yearly:3-x"),
               "invalid reset schedule 'yearly:3-x': day must be 1-31, got "
               "'x'");
    ASSERT_STR(perr("yearly:4-31"), "invalid reset schedule 'yearly:4-31': "
                                    "day 31 does not exist in month 4");
    ASSERT_STR(perr("yearly:1-32"), "invalid reset schedule 'yearly:1-32': "
                                    "day 32 does not exist in month 1");
    ASSERT_STR(perr("yearly:1-0"), "invalid reset schedule 'yearly:1-0': "
                                   "day 0 does not exist in month 1");
    ASSERT_STR(perr("yearly:02-030"),
               "invalid reset schedule 'yearly:02-030': day 30 does not "
               "exist in month 2");
    ASSERT_STR(perr("monthly:15 "), "invalid reset schedule 'monthly:15 ': "
                                    "day must be 1-31 or 'last', got '15 '");
}

TEST(parse_error_buffer_is_bounded)
{
    char small[16];
    lp_schedule s;
    memset(small, 'x', sizeof small);
    ASSERT_EQ(limitr__schedule_parse("montly:1", &s, small, sizeof small), -1);
    ASSERT_STR(small, "invalid reset s");
    ASSERT_EQ(limitr__schedule_parse("montly:1", &s, NULL, 0), -1);
}

/* docs/policy.md section 12, t = 2026-03-10T12:00:00Z. */
TEST(worked_values_at_2026_03_10)
{
    int64_t t = INT64_C(1773144000000);
    ASSERT_EQ(t, ymd(2026, 3, 10) + 12 * HOUR);
    ASSERT_EQ(start_of("monthly:15", t), INT64_C(1771113600000));
    ASSERT_EQ(next_of("monthly:15", t), INT64_C(1773532800000));
    ASSERT_EQ(start_of("monthly:last", t), ymd(2026, 2, 28));
    ASSERT_EQ(next_of("monthly:last", t), ymd(2026, 3, 31));
    ASSERT_EQ(start_of("weekly:mon", t), INT64_C(1773014400000));
    ASSERT_EQ(next_of("weekly:mon", t), INT64_C(1773619200000));
    ASSERT_EQ(start_of("nth_weekday:2:tue", t), ymd(2026, 3, 10));
    ASSERT_EQ(next_of("nth_weekday:2:tue", t), INT64_C(1776124800000));
    ASSERT_EQ(start_of("nth_weekday:3:tue", t), ymd(2026, 2, 17));
    ASSERT_EQ(next_of("nth_weekday:3:tue", t), ymd(2026, 3, 17));
    ASSERT_EQ(start_of("quarterly:1", t), ymd(2026, 1, 1));
    ASSERT_EQ(next_of("quarterly:1", t), ymd(2026, 4, 1));
    ASSERT_EQ(start_of("yearly:3-10", t), ymd(2026, 3, 10));
    ASSERT_EQ(next_of("yearly:3-10", t), ymd(2027, 3, 10));
}

/* The month-end table: boundary days in Jan, Feb 2026, Feb 2028, Mar, Apr. */
TEST(month_ends_clamp_per_month)
{
    static const struct {
        const char *text;
        int days[5];
    } rows[] = {
        {"monthly:29", {29, 28, 29, 29, 29}},
        {"monthly:30", {30, 28, 29, 30, 30}},
        {"monthly:31", {31, 28, 29, 31, 30}},
        {"monthly:last", {31, 28, 29, 31, 30}},
    };
    size_t i;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *x = rows[i].text;
        const int *d = rows[i].days;
        ASSERT_EQ(next_of(x, ymd(2026, 1, 1)), ymd(2026, 1, d[0]));
        ASSERT_EQ(next_of(x, ymd(2026, 2, 1)), ymd(2026, 2, d[1]));
        ASSERT_EQ(next_of(x, ymd(2028, 2, 1)), ymd(2028, 2, d[2]));
        ASSERT_EQ(next_of(x, ymd(2026, 3, 1)), ymd(2026, 3, d[3]));
        ASSERT_EQ(next_of(x, ymd(2026, 4, 1)), ymd(2026, 4, d[4]));
        /* and the chain of next() from Jan 1 visits exactly these */
        ASSERT_EQ(next_of(x, ymd(2026, 1, d[0])), ymd(2026, 2, d[1]));
        ASSERT_EQ(next_of(x, ymd(2026, 2, d[1])), ymd(2026, 3, d[3]));
        ASSERT_EQ(next_of(x, ymd(2026, 3, d[3])), ymd(2026, 4, d[4]));
        ASSERT_EQ(next_of(x, ymd(2028, 1, d[0])), ymd(2028, 2, d[2]));
    }
}

TEST(monthly_31_in_february_and_april)
{
    int64_t feb10 = ymd(2026, 2, 10), apr10 = ymd(2026, 4, 10);
    ASSERT_EQ(start_of("monthly:31", feb10), ymd(2026, 1, 31));
    ASSERT_EQ(next_of("monthly:31", feb10), ymd(2026, 2, 28));
    ASSERT_EQ(start_of("monthly:31", apr10), ymd(2026, 3, 31));
    ASSERT_EQ(next_of("monthly:31", apr10), ymd(2026, 4, 30));
    /* read on Feb 28 itself: the next reset is Mar 31, never the past */
    ASSERT_EQ(start_of("monthly:31", ymd(2026, 2, 28) + HOUR),
              ymd(2026, 2, 28));
    ASSERT_EQ(next_of("monthly:31", ymd(2026, 2, 28) + HOUR), ymd(2026, 3, 31));
}

TEST(yearly_2_29)
{
    ASSERT_EQ(start_of("yearly:2-29", ymd(2027, 1, 10)), ymd(2026, 2, 28));
    ASSERT_EQ(next_of("yearly:2-29", ymd(2027, 1, 10)), ymd(2027, 2, 28));
    ASSERT_EQ(start_of("yearly:2-29", ymd(2028, 2, 28) + 12 * HOUR),
              ymd(2027, 2, 28));
    ASSERT_EQ(next_of("yearly:2-29", ymd(2028, 2, 28) + 12 * HOUR),
              ymd(2028, 2, 29));
    ASSERT_EQ(next_of("yearly:2-29", ymd(2028, 2, 29)), ymd(2029, 2, 28));
    /* century rules: 1900, 2100 and 2500 are common, 1600 and 2400 leap */
    ASSERT_EQ(start_of("yearly:2-29", ymd(1900, 6, 1)), ymd(1900, 2, 28));
    ASSERT_EQ(start_of("yearly:2-29", ymd(2100, 6, 1)), ymd(2100, 2, 28));
    ASSERT_EQ(start_of("yearly:2-29", ymd(2400, 6, 1)),
              INT64_C(13574563200000));
    ASSERT_EQ(start_of("yearly:2-29", ymd(1600, 6, 1)),
              INT64_C(-11670998400000));
}

TEST(quarterly_31)
{
    int64_t t = ymd(2026, 1, 1);
    t = next_of("quarterly:31", t);
    ASSERT_EQ(t, ymd(2026, 1, 31));
    t = next_of("quarterly:31", t);
    ASSERT_EQ(t, ymd(2026, 4, 30));
    t = next_of("quarterly:31", t);
    ASSERT_EQ(t, ymd(2026, 7, 31));
    t = next_of("quarterly:31", t);
    ASSERT_EQ(t, ymd(2026, 10, 31));
    t = next_of("quarterly:31", t);
    ASSERT_EQ(t, ymd(2027, 1, 31));
    ASSERT_EQ(start_of("quarterly:31", ymd(2026, 4, 29)), ymd(2026, 1, 31));
    ASSERT_EQ(start_of("quarterly:31", ymd(2026, 12, 31)), ymd(2026, 10, 31));
    ASSERT_EQ(start_of("quarterly:15", ymd(2026, 1, 14)), ymd(2025, 10, 15));
}

/* docs/engine.md section 13.4: monthly:31 across February 2025. */
TEST(engine_13_4_monthly_31)
{
    int64_t created = INT64_C(1736510400000); /* 2025-01-10T12:00Z */
    int64_t feb5 = INT64_C(1738713600000), apr15 = INT64_C(1744675200000);
    ASSERT_EQ(created, ymd(2025, 1, 10) + 12 * HOUR);
    ASSERT_EQ(next_of("monthly:31", created), INT64_C(1738281600000));
    ASSERT_EQ(start_of("monthly:31", created), ymd(2024, 12, 31));
    ASSERT_EQ(start_of("monthly:31", INT64_C(1738281600000)),
              INT64_C(1738281600000));
    ASSERT_EQ(start_of("monthly:31", INT64_C(1738281600000) - 1),
              ymd(2024, 12, 31));
    ASSERT_EQ(feb5, ymd(2025, 2, 5));
    ASSERT_EQ(start_of("monthly:31", feb5), INT64_C(1738281600000));
    ASSERT_EQ(next_of("monthly:31", feb5), INT64_C(1740700800000));
    ASSERT_EQ(next_of("monthly:31", INT64_C(1740700800000)),
              INT64_C(1743379200000));
    ASSERT_EQ(next_of("monthly:31", ymd(2024, 2, 5)), INT64_C(1709164800000));
    /* idle Feb 5 -> Apr 15: one step lands in the current period */
    ASSERT_EQ(apr15, ymd(2025, 4, 15));
    ASSERT_EQ(start_of("monthly:31", apr15), INT64_C(1743379200000));
    ASSERT_EQ(next_of("monthly:31", apr15), INT64_C(1745971200000));
    ASSERT_EQ(start_of("monthly:last", apr15), INT64_C(1743379200000));
}

TEST(boundary_instant_starts_the_new_period)
{
    static lp_schedule all[600];
    size_t n = all_schedules(all), i;
    int64_t t = INT64_C(1773144000000);
    for (i = 0; i < n; i++) {
        int64_t b = limitr__schedule_next(&all[i], t);
        ASSERT(b > t);
        ASSERT_EQ(limitr__schedule_start(&all[i], b), b);
        ASSERT(limitr__schedule_next(&all[i], b) > b);
        ASSERT(limitr__schedule_start(&all[i], b - 1) < b);
        ASSERT_EQ(limitr__schedule_next(&all[i], b - 1), b);
    }
}

TEST(before_1970)
{
    ASSERT_EQ(start_of("monthly:15", -1), INT64_C(-1468800000));
    ASSERT_EQ(next_of("monthly:15", -1), ymd(1970, 1, 15));
    ASSERT_EQ(start_of("weekly:thu", -1), INT64_C(-604800000));
    ASSERT_EQ(next_of("weekly:thu", -1), 0);
    ASSERT_EQ(start_of("weekly:thu", 0), 0);
    ASSERT_EQ(start_of("monthly:1", -1), ymd(1969, 12, 1));
    ASSERT_EQ(next_of("monthly:1", -1), 0);
    ASSERT_EQ(start_of("yearly:1-1", -DAY), ymd(1969, 1, 1));
    ASSERT_EQ(start_of("weekly:mon", INT64_C(-2208988800000)),
              INT64_C(-2208988800000)); /* 1900-01-01 was a Monday */
    ASSERT_EQ(start_of("nth_weekday:1:mon", ymd(1900, 1, 20)), ymd(1900, 1, 1));
    ASSERT_EQ(start_of("quarterly:31", ymd(1899, 12, 31) - 1),
              ymd(1899, 10, 31));
    ASSERT_EQ(start_of("monthly:last", ymd(1, 3, 1)), ymd(1, 2, 28));
}

TEST(far_future)
{
    int64_t t = ymd(2500, 3, 10) + 5 * HOUR;
    ASSERT_EQ(start_of("yearly:1-1", t), INT64_C(16725225600000));
    ASSERT_EQ(start_of("yearly:2-29", t), ymd(2500, 2, 28));
    ASSERT_EQ(next_of("monthly:last", t), ymd(2500, 3, 31));
    ASSERT_EQ(start_of("weekly:fri", ymd(2500, 1, 1)), INT64_C(16725225600000));
    ASSERT_EQ(next_of("nth_weekday:4:sun", t), ymd(2500, 3, 28));
    ASSERT_EQ(start_of("quarterly:30", t), ymd(2500, 1, 30));
}

TEST(extreme_times_saturate)
{
    lp_schedule s = sch("monthly:1");
    ASSERT_EQ(limitr__schedule_next(&s, INT64_MAX), INT64_MAX);
    ASSERT_EQ(limitr__schedule_start(&s, INT64_MIN), INT64_MIN);
    ASSERT(limitr__schedule_start(&s, INT64_MAX) <= INT64_MAX);
    ASSERT(limitr__schedule_next(&s, INT64_MIN) > INT64_MIN);
    s = sch("yearly:12-31");
    ASSERT(limitr__schedule_start(&s, INT64_MAX) < INT64_MAX);
    ASSERT_EQ(limitr__schedule_next(&s, INT64_MAX - DAY * 100), INT64_MAX);
}

TEST(property_random_times_1900_2400)
{
    static lp_schedule all[600];
    size_t n = all_schedules(all), i;
    int64_t lo = ymd(1900, 1, 1), hi = ymd(2401, 1, 1);
    int j;
    ASSERT_EQ(n, 31 + 31 + 1 + 7 + 28 + 366);
    for (i = 0; i < n; i++) {
        const lp_schedule *s = &all[i];
        for (j = 0; j < 2000; j++) {
            int64_t t = lo + (int64_t)(rnd() % (uint64_t)(hi - lo));
            int64_t st, nx;
            if (j % 4 == 0) t -= t % DAY; /* midnights too */
            st = limitr__schedule_start(s, t);
            nx = limitr__schedule_next(s, t);
            ASSERT(st <= t && t < nx);
            ASSERT_EQ(st % DAY, 0);
            ASSERT_EQ(nx % DAY, 0);
            ASSERT_EQ(limitr__schedule_start(s, st), st);
            ASSERT_EQ(limitr__schedule_next(s, st), nx);
            ASSERT_EQ(limitr__schedule_start(s, nx - 1), st);
            ASSERT_EQ(limitr__schedule_start(s, nx), nx);
            ASSERT(nx - st <= 366 * DAY);
        }
    }
}

TEST(agrees_with_day_by_day_oracle)
{
    static lp_schedule all[600];
    size_t n = all_schedules(all), i;
    int64_t lo = ymd(1890, 1, 1), hi = ymd(2410, 1, 1);
    int j;
    for (i = 0; i < n; i++) {
        for (j = 0; j < 40; j++) {
            int64_t t = lo + (int64_t)(rnd() % (uint64_t)(hi - lo));
            int64_t st, nx;
            if (j % 3 == 0) t -= t % DAY;
            oracle(&all[i], t, &st, &nx);
            ASSERT_EQ(limitr__schedule_start(&all[i], t), st);
            ASSERT_EQ(limitr__schedule_next(&all[i], t), nx);
        }
    }
}

/* docs/policy.md 12: reset_inc 1day from 2026-03-01, touched 2026-03-10T12Z. */
TEST(interval_start)
{
    int64_t a = ymd(2026, 3, 1), t = ymd(2026, 3, 10) + 12 * HOUR;
    int64_t st = limitr__interval_start(a, DAY, t);
    ASSERT_EQ(st, ymd(2026, 3, 10));
    ASSERT_EQ(st + DAY, ymd(2026, 3, 11));
    ASSERT_EQ(limitr__interval_start(a, DAY, a), a);
    ASSERT_EQ(limitr__interval_start(a, DAY, a + DAY - 1), a);
    ASSERT_EQ(limitr__interval_start(a, DAY, a + DAY), a + DAY);
    ASSERT_EQ(limitr__interval_start(a, DAY, a - 5), a); /* t < A */
    ASSERT_EQ(limitr__interval_start(a, 30 * DAY, a + 95 * DAY), a + 90 * DAY);
    ASSERT_EQ(limitr__interval_start(-1000, 300, -1), -100);
    ASSERT_EQ(limitr__interval_start(-1000, 300, 200), 200);
    ASSERT_EQ(limitr__interval_start(a, 0, t), a);
    ASSERT_EQ(limitr__interval_start(a, -DAY, t), a);
    ASSERT_EQ(limitr__interval_start(INT64_MIN, 1, INT64_MAX), INT64_MAX);
    ASSERT_EQ(limitr__interval_start(INT64_MIN, INT64_MAX, INT64_MAX),
              INT64_MAX - 1);
    ASSERT_EQ(limitr__interval_start(INT64_MIN, 2, INT64_MAX), INT64_MAX - 1);
}

int main(void)
{
    RUN(oracle_matches_known_dates);
    RUN(parse_forms);
    RUN(parse_errors_from_the_spec);
    RUN(parse_errors_of_our_own);
    RUN(parse_error_buffer_is_bounded);
    RUN(worked_values_at_2026_03_10);
    RUN(month_ends_clamp_per_month);
    RUN(monthly_31_in_february_and_april);
    RUN(yearly_2_29);
    RUN(quarterly_31);
    RUN(engine_13_4_monthly_31);
    RUN(boundary_instant_starts_the_new_period);
    RUN(before_1970);
    RUN(far_future);
    RUN(extreme_times_saturate);
    RUN(property_random_times_1900_2400);
    RUN(agrees_with_day_by_day_oracle);
    RUN(interval_start);
    return HARNESS_EXIT();
}
