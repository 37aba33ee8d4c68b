/* test_grant_rule.c: a grant's reset step and its periods (docs/policy.md
 * 7, docs/engine.md 15.1), with their worked numbers. */
#include <string.h>

#include "grant_rule.h"
#include "harness.h"

static lnum num(const char *s)
{
    lnum v = 0;
    limitr__lnum_parse(s, strlen(s), &v);
    return v;
}

static const char *fmt(lnum v, char *buf)
{
    return limitr__lnum_format(v, buf);
}

#define DAY 86400000LL

TEST(rollover_example)
{
    grant_rule r;
    char b[64];
    lnum bal;
    limitr__grant_rule_none(&r);
    r.reset = RESET_INTERVAL;
    r.reset_inc = 30 * DAY;
    r.mode = GRANT_RESET_ROLLOVER;
    r.has_rollover_pct = r.has_rollover_max = r.has_max_balance = 1;
    r.rollover_pct = num("0.5");
    r.rollover_max = num("40");
    r.max_balance = num("130");
    bal = limitr__grant_reset(&r, num("70"), num("100"), 1); /* used 30 */
    ASSERT_STR(fmt(bal, b), "130");
    bal = limitr__grant_reset(&r, num("120"), num("100"), 1); /* used 10 */
    ASSERT_STR(fmt(bal, b), "130");
    bal = limitr__grant_reset(&r, num("5"), num("100"), 1); /* used 125 */
    ASSERT_STR(fmt(bal, b), "102.5");
    ASSERT_STR(fmt(limitr__grant_reset(&r, num("5"), num("100"), 0), b), "5");
}

TEST(add_and_hard)
{
    grant_rule r;
    char b[64];
    limitr__grant_rule_none(&r);
    r.reset = RESET_INTERVAL;
    r.reset_inc = 30 * DAY;
    r.mode = GRANT_RESET_ADD;
    ASSERT_STR(fmt(limitr__grant_reset(&r, num("70"), num("100"), 3), b),
               "370");
    ASSERT_STR(fmt(limitr__grant_reset(&r, num("70"), num("100"), 2), b),
               "270");
    r.has_max_balance = 1;
    r.max_balance = num("250");
    ASSERT_STR(fmt(limitr__grant_reset(&r, num("70"), num("100"), 3), b),
               "250");
    r.mode = GRANT_RESET_HARD;
    r.has_max_balance = 0;
    ASSERT_STR(fmt(limitr__grant_reset(&r, num("70"), num("100"), 3), b),
               "100");
    /* a huge number of steps saturates, never wraps */
    r.mode = GRANT_RESET_ADD;
    ASSERT(limitr__grant_reset(&r, num("1"), num("1e19"), INT64_MAX / 2) ==
           LNUM_MAX);
}

TEST(rollover_floor_and_all)
{
    grant_rule r;
    char b[64];
    limitr__grant_rule_none(&r);
    r.reset = RESET_INTERVAL;
    r.reset_inc = DAY;
    r.mode = GRANT_RESET_ROLLOVER;
    /* no clamps: everything carries, step after step */
    ASSERT_STR(fmt(limitr__grant_reset(&r, num("5"), num("10"), 4), b), "45");
    /* the floor keeps only what exists */
    r.has_rollover_min = 1;
    r.rollover_min = num("20");
    r.has_rollover_pct = 1;
    r.rollover_pct = num("0.1");
    ASSERT_STR(fmt(limitr__grant_reset(&r, num("5"), num("10"), 1), b), "15");
    ASSERT_STR(fmt(limitr__grant_reset(&r, num("50"), num("10"), 1), b), "30");
    /* carrying everything with only a floor: every step counts, at once */
    r.has_rollover_pct = 0;
    ASSERT_STR(fmt(limitr__grant_reset(&r, num("50"), num("1"), 60001), b),
               "60051");
    r.has_rollover_pct = 1;
    r.rollover_pct = num("1");
    ASSERT_STR(fmt(limitr__grant_reset(&r, num("50"), num("1"), 60001), b),
               "60051");
    /* a geometric rollover reaches its fixed point and stops there */
    r.has_rollover_min = 0;
    r.rollover_pct = num("0.5");
    ASSERT_STR(fmt(limitr__grant_reset(&r, num("0"), num("10"), 1000000), b),
               "20");
}

TEST(boundaries)
{
    grant_rule r;
    int64_t latest = -1, t0 = 1767225600000LL; /* 2026-01-01 */
    limitr__grant_rule_none(&r);
    ASSERT_EQ(limitr__grant_boundaries(&r, t0, t0 + 100 * DAY, 10, &latest), 0);
    r.reset = RESET_INTERVAL;
    r.reset_inc = 30 * DAY;
    ASSERT_EQ(limitr__grant_boundaries(&r, t0, t0 + 29 * DAY, -1, &latest), 0);
    ASSERT_EQ(latest, -1);
    ASSERT_EQ(limitr__grant_boundaries(&r, t0, t0 + 95 * DAY, 100, &latest), 3);
    ASSERT_EQ(latest, t0 + 90 * DAY);
    ASSERT_EQ(limitr__grant_boundaries(&r, t0, t0 + 95 * DAY, 2, &latest), 2);
    ASSERT_EQ(latest, t0 + 90 * DAY); /* skipped periods refill nothing */
    ASSERT_EQ(limitr__grant_boundaries(&r, t0, t0 - DAY, 5, &latest), 0);
    r.reset = RESET_SCHEDULE;
    ASSERT_EQ(limitr__schedule_parse("monthly:1", &r.sch, NULL, 0), 0);
    latest = -1;
    /* Jan 1 -> Apr 10: Feb 1, Mar 1, Apr 1 */
    ASSERT_EQ(limitr__grant_boundaries(&r, t0, t0 + 99 * DAY, 100, &latest), 3);
    ASSERT_EQ(latest, t0 + 90 * DAY); /* 2026-04-01 */
    ASSERT_EQ(limitr__grant_boundaries(&r, t0, t0 + 99 * DAY, 1, &latest), 1);
    ASSERT_EQ(latest, t0 + 90 * DAY);
}

int main(void)
{
    RUN(rollover_example);
    RUN(add_and_hard);
    RUN(rollover_floor_and_all);
    RUN(boundaries);
    return harness_failures != 0;
}
