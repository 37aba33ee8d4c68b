/* schedule.h: reset periods (docs/policy.md section 12). UTC calendar schedules
 * (reset_sch) and rolling intervals (reset_inc), in ms since the epoch. */
#ifndef LIMITR_SCHEDULE_H
#define LIMITR_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

typedef enum sch_kind {
    SCH_MONTHLY,      /* monthly:N       day = N (1-31), clamped per month */
    SCH_MONTHLY_LAST, /* monthly:last    day = 31, clamped per month */
    SCH_WEEKLY,       /* weekly:D        weekday */
    SCH_NTH_WEEKDAY,  /* nth_weekday:N:D n = N (1-4), weekday */
    SCH_YEARLY,       /* yearly:M-D      month = M (1-12), day = D */
    SCH_QUARTERLY     /* quarterly:D     day = D (1-31), Jan/Apr/Jul/Oct */
} sch_kind;

/* A parsed schedule. Only the fields its kind names (above) are meaningful;
 * the others are 0. weekday is 0 = Monday ... 6 = Sunday (ISO order).
 * The functions below trust it: build it with limitr__schedule_parse. */
typedef struct lp_schedule {
    sch_kind kind;
    int n;
    int weekday;
    int month;
    int day;
} lp_schedule;

/* Parses a reset_sch string: "monthly:15", "monthly:last", "weekly:mon",
 * "nth_weekday:2:tue", "yearly:2-29", "quarterly:1". Keywords are lowercase,
 * weekdays mon..sun or monday..sunday in any case, numbers unsigned decimal
 * (leading zeros allowed), no spaces anywhere.
 * text: NUL-terminated (NULL reads as ""). out: filled on success only.
 * err/errlen: on failure receives the whole problem text, truncated to fit,
 * "invalid reset schedule '<text>': <problem>" (docs/policy.md section 13);
 * err may be NULL when errlen is 0.
 * Returns 0, or -1 when text is not a valid schedule. Thread-safe. */
int limitr__schedule_parse(const char *text, lp_schedule *out, char *err,
                           size_t errlen);

/* The period start S(t): the latest boundary <= t. Boundaries are at
 * 00:00:00.000 UTC, so t exactly on a boundary returns t (the boundary
 * instant starts the new period). t may be before 1970. Saturates at
 * INT64_MIN when the boundary is not representable. O(1), thread-safe. */
int64_t limitr__schedule_start(const lp_schedule *s, int64_t t);

/* The next reset: the earliest boundary strictly after t. Saturates at
 * INT64_MAX when the boundary is not representable. O(1), thread-safe. */
int64_t limitr__schedule_next(const lp_schedule *s, int64_t t);

/* The start of the rolling period containing t for anchor A and increment
 * inc: A + floor((t - A) / inc) * inc when t >= A, else A (no reset while
 * t < A). The next reset is the result + inc. inc <= 0 means no rolling and
 * returns A. Exact for every int64 input. Thread-safe. */
int64_t limitr__interval_start(int64_t anchor, int64_t inc, int64_t t);

/* The reset_sch text of a parsed schedule ("monthly:15") into buf. */
void limitr__schedule_format(const lp_schedule *s, char *buf, size_t size);

#endif
