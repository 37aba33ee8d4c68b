/* schedule.c: reset_sch parsing and UTC calendar boundaries (docs/policy.md
 * section 12), plus the rolling reset_inc period start. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "schedule.h"
#include "names.h"

#define DAY_MS INT64_C(86400000)

/* ---- Civil dates (proleptic Gregorian, UTC) ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && (a < 0) != (b < 0)) q--;
    return q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    return a - floor_div(a, b) * b;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_len(int64_t y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

/* Days since 1970-01-01 of y-m-d. Years are counted from March so the leap
 * day is the last day of its year; a 400-year era has 146097 days. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;
    int mp = m > 2 ? m - 3 : m + 9; /* March = 0 ... February = 11 */
    if (m <= 2) y--;
    era = floor_div(y, 400);
    yoe = y - era * 400;
    doy = (153 * mp + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468; /* 719468: 0000-03-01 to epoch */
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;
    z += 719468;
    era = floor_div(z, 146097);
    doe = z - era * 146097;
    /* years of the era: remove the leap days before doe, then / 365 */
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (yoe * 365 + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = era * 400 + yoe + (*m <= 2);
}

/* 0 = Monday ... 6 = Sunday; 1970-01-01 was a Thursday. */
static int weekday_of(int64_t day)
{
    return (int)floor_mod(day + 3, 7);
}

/* Midnight of a day in ms, saturating instead of overflowing. */
static int64_t day_ms(int64_t day)
{
    if (day > INT64_MAX / DAY_MS) return INT64_MAX;
    if (day < INT64_MIN / DAY_MS) return INT64_MIN;
    return day * DAY_MS;
}

/* ---- Boundaries ----
 * Every schedule has exactly one boundary per unit (a week, month, quarter
 * or year, numbered k), lying inside that unit, so boundaries increase with
 * k and the neighbours of a day are found in units k-1, k and k+1. */

/* The unit number of a day. */
static int64_t unit_of(const lp_schedule *s, int64_t day)
{
    int64_t y;
    int m, d;
    if (s->kind == SCH_WEEKLY)
        return floor_div(day - floor_mod(s->weekday - 3, 7), 7);
    civil_from_days(day, &y, &m, &d);
    switch (s->kind) {
    case SCH_YEARLY:
        return y;
    case SCH_QUARTERLY:
        return floor_div(y * 12 + m - 1, 3);
    default:
        return y * 12 + m - 1; /* month number */
    }
}

/* Day of the 1st of month number mi (y * 12 + m - 1). */
static int64_t month_first(int64_t mi, int64_t *y, int *m)
{
    *y = floor_div(mi, 12);
    *m = (int)floor_mod(mi, 12) + 1;
    return days_from_civil(*y, *m, 1);
}

static int clamp_day(int day, int64_t y, int m)
{
    int len = month_len(y, m);
    return day < len ? day : len;
}

/* The boundary day of unit k. */
static int64_t unit_boundary(const lp_schedule *s, int64_t k)
{
    int64_t y, first;
    int m, off;
    switch (s->kind) {
    case SCH_WEEKLY:
        return k * 7 + floor_mod(s->weekday - 3, 7);
    case SCH_YEARLY:
        return days_from_civil(k, s->month, clamp_day(s->day, k, s->month));
    case SCH_QUARTERLY:
        first = month_first(k * 3, &y, &m);
        return first + clamp_day(s->day, y, m) - 1;
    case SCH_NTH_WEEKDAY:
        first = month_first(k, &y, &m);
        off = (int)floor_mod(s->weekday - weekday_of(first), 7);
        return first + off + 7 * (s->n - 1); /* at most the 28th */
    case SCH_MONTHLY_LAST:
        first = month_first(k, &y, &m);
        return first + month_len(y, m) - 1;
    default:
        first = month_first(k, &y, &m);
        return first + clamp_day(s->day, y, m) - 1;
    }
}

int64_t limitr__schedule_start(const lp_schedule *s, int64_t t)
{
    int64_t day = floor_div(t, DAY_MS);
    int64_t k = unit_of(s, day);
    int64_t b = unit_boundary(s, k);
    if (b > day) b = unit_boundary(s, k - 1);
    return day_ms(b);
}

int64_t limitr__schedule_next(const lp_schedule *s, int64_t t)
{
    int64_t day = floor_div(t, DAY_MS);
    int64_t k = unit_of(s, day);
    int64_t b = unit_boundary(s, k);
    /* a boundary on t's own day is at its midnight, so never after t */
    if (b <= day) b = unit_boundary(s, k + 1);
    return day_ms(b);
}

int64_t limitr__interval_start(int64_t anchor, int64_t inc, int64_t t)
{
    uint64_t elapsed;
    if (inc <= 0 || t < anchor) return anchor;
    /* t - anchor can exceed INT64_MAX; as unsigned it is exact, and the
       result lies in [anchor, t], so the wrap back to signed is exact too */
    elapsed = (uint64_t)t - (uint64_t)anchor;
    elapsed -= elapsed % (uint64_t)inc;
    return (int64_t)((uint64_t)anchor + elapsed);
}

/* ---- Parsing ---- */

typedef struct span {
    const char *s;
    size_t len;
} span;

static const char *const kind_names[] = {"monthly", "weekly", "nth_weekday",
                                         "yearly", "quarterly"};
static const sch_kind kind_values[] = {SCH_MONTHLY, SCH_WEEKLY, SCH_NTH_WEEKDAY,
                                       SCH_YEARLY, SCH_QUARTERLY};
/* The expected form, said when a part is missing or extra. */
static const char *const kind_forms[] = {
    "'monthly:N' with N 1-31, or 'monthly:last'",
    "'weekly:D' with D mon..sun",
    "'nth_weekday:N:D' with N 1-4 and D mon..sun",
    "'yearly:M-D', e.g. 'yearly:3-10'",
    "'quarterly:D' with D 1-31",
};
static const char *const weekday_short[] = {"mon", "tue", "wed", "thu",
                                            "fri", "sat", "sun"};
static const char *const weekday_long[] = {"monday",   "tuesday", "wednesday",
                                           "thursday", "friday",  "saturday",
                                           "sunday"};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define SPAN_ARGS(sp) (int)((sp).len > 200 ? 200 : (sp).len), (sp).s

/* Writes "invalid reset schedule '<text>': <problem>" into err. */
static int fail(char *err, size_t errlen, const char *text, const char *fmt,
                ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int fail(char *err, size_t errlen, const char *text, const char *fmt,
                ...)
{
    va_list ap;
    int n;
    if (err == NULL || errlen == 0) return -1;
    n = snprintf(err, errlen, "invalid reset schedule '%s': ", text);
    if (n < 0 || (size_t)n >= errlen) return -1;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int span_is(span sp, const char *word)
{
    return strlen(word) == sp.len && memcmp(sp.s, word, sp.len) == 0;
}

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int span_is_nocase(span sp, const char *word)
{
    size_t i;
    if (strlen(word) != sp.len) return 0;
    for (i = 0; i < sp.len; i++)
        if (ascii_lower(sp.s[i]) != word[i]) return 0;
    return 1;
}

/* An unsigned decimal: 0 and *v (saturated at 1000000, which is out of
 * every range), or -1 when sp is empty or has a non-digit. */
static int parse_uint(span sp, int *v)
{
    size_t i;
    int x = 0;
    if (sp.len == 0) return -1;
    for (i = 0; i < sp.len; i++) {
        if (sp.s[i] < '0' || sp.s[i] > '9') return -1;
        x = x * 10 + (sp.s[i] - '0');
        if (x > 1000000) x = 1000000;
    }
    *v = x;
    return 0;
}

/* The digits of sp without leading zeros, for messages ("030" -> "30"). */
static span trim_zeros(span sp)
{
    while (sp.len > 1 && sp.s[0] == '0') {
        sp.s++;
        sp.len--;
    }
    return sp;
}

/* The did-you-mean candidate for sp, or NULL. Every keyword is lowercase,
 * so the word is lowercased first ("MONTHLY" -> "monthly"). */
static const char *suggest(span sp, const char *const *cands, size_t n)
{
    char word[64];
    size_t i;
    if (sp.len >= sizeof word) return NULL;
    for (i = 0; i < sp.len; i++)
        word[i] = ascii_lower(sp.s[i]);
    word[sp.len] = '\0';
    return limitr__did_you_mean(word, cands, n);
}

/* weekday index 0-6 or -1. */
static int find_weekday(span sp)
{
    int i;
    for (i = 0; i < 7; i++)
        if (span_is_nocase(sp, weekday_short[i]) ||
            span_is_nocase(sp, weekday_long[i]))
            return i;
    return -1;
}

static int parse_weekday(span sp, int *wd, char *err, size_t errlen,
                         const char *text)
{
    const char *hint;
    *wd = find_weekday(sp);
    if (*wd >= 0) return 0;
    /* short names first (the spec's candidates), full names as a fallback */
    hint = suggest(sp, weekday_short, 7);
    if (hint == NULL) hint = suggest(sp, weekday_long, 7);
    if (hint != NULL)
        return fail(err, errlen, text,
                    "unknown weekday '%.*s' (did you mean '%s'?)",
                    SPAN_ARGS(sp), hint);
    return fail(err, errlen, text,
                "unknown weekday '%.*s' (expected mon..sun or "
                "monday..sunday)",
                SPAN_ARGS(sp));
}

/* A day of month 1-31 (monthly, quarterly). */
static int parse_month_day(span sp, int *day, int allow_last, char *err,
                           size_t errlen, const char *text)
{
    static const char *const last[] = {"last"};
    const char *hint;
    if (parse_uint(sp, day) != 0) {
        if (!allow_last)
            return fail(err, errlen, text, "day must be 1-31, got '%.*s'",
                        SPAN_ARGS(sp));
        hint = suggest(sp, last, 1);
        if (hint != NULL)
            return fail(err, errlen, text,
                        "day must be 1-31 or 'last', got '%.*s' (did you "
                        "mean 'last'?)",
                        SPAN_ARGS(sp));
        return fail(err, errlen, text, "day must be 1-31 or 'last', got '%.*s'",
                    SPAN_ARGS(sp));
    }
    if (*day < 1 || *day > 31)
        return fail(err, errlen, text, "day must be 1-31");
    return 0;
}

static int parse_yearly(span sp, lp_schedule *sch, char *err, size_t errlen,
                        const char *text, const char *form)
{
    const char *dash = memchr(sp.s, '-', sp.len);
    span mon, day;
    if (dash == NULL)
        return fail(err, errlen, text, "missing day (expected %s)", form);
    mon.s = sp.s;
    mon.len = (size_t)(dash - sp.s);
    day.s = dash + 1;
    day.len = sp.len - mon.len - 1;
    if (mon.len == 0)
        return fail(err, errlen, text, "missing month (expected %s)", form);
    if (day.len == 0)
        return fail(err, errlen, text, "missing day (expected %s)", form);
    if (memchr(day.s, '-', day.len) != NULL)
        return fail(err, errlen, text, "too many parts (expected %s)", form);
    if (parse_uint(mon, &sch->month) != 0)
        return fail(err, errlen, text, "month must be 1-12, got '%.*s'",
                    SPAN_ARGS(mon));
    if (sch->month < 1 || sch->month > 12)
        return fail(err, errlen, text, "month must be 1-12");
    if (parse_uint(day, &sch->day) != 0)
        return fail(err, errlen, text, "day must be 1-31, got '%.*s'",
                    SPAN_ARGS(day));
    /* the day must exist in a leap year: 2-29 is valid, 2-30 is not */
    if (sch->day < 1 || sch->day > month_len(2000, sch->month)) {
        day = trim_zeros(day);
        return fail(err, errlen, text, "day %.*s does not exist in month %d",
                    SPAN_ARGS(day), sch->month);
    }
    return 0;
}

int limitr__schedule_parse(const char *text, lp_schedule *out, char *err,
                           size_t errlen)
{
    span parts[4];
    size_t nparts = 0, need, k;
    const char *p, *colon;
    lp_schedule sch;
    const char *hint;

    if (text == NULL) text = "";
    if (*text == '\0')
        return fail(err, errlen, text,
                    "empty schedule (expected e.g. 'monthly:1')");
    /* split on ':', counting parts past the fourth too */
    for (p = text;; p = colon + 1) {
        colon = strchr(p, ':');
        if (nparts < N_OF(parts)) {
            parts[nparts].s = p;
            parts[nparts].len = colon ? (size_t)(colon - p) : strlen(p);
        }
        nparts++;
        if (colon == NULL) break;
    }
    if (parts[0].len == 0)
        return fail(err, errlen, text,
                    "missing kind (expected monthly, weekly, nth_weekday, "
                    "yearly or quarterly)");
    for (k = 0; k < N_OF(kind_names); k++)
        if (span_is(parts[0], kind_names[k])) break;
    if (k == N_OF(kind_names)) {
        hint = suggest(parts[0], kind_names, N_OF(kind_names));
        if (hint != NULL)
            return fail(err, errlen, text,
                        "unknown kind '%.*s' (did you mean '%s'?)",
                        SPAN_ARGS(parts[0]), hint);
        return fail(err, errlen, text,
                    "unknown kind '%.*s' (expected monthly, weekly, "
                    "nth_weekday, yearly or quarterly)",
                    SPAN_ARGS(parts[0]));
    }

    memset(&sch, 0, sizeof sch);
    sch.kind = kind_values[k];
    need = sch.kind == SCH_NTH_WEEKDAY ? 3 : 2;
    if (nparts < 2 || parts[1].len == 0)
        return fail(err, errlen, text, "missing %s (expected %s)",
                    sch.kind == SCH_NTH_WEEKDAY ? "N"
                    : sch.kind == SCH_WEEKLY    ? "weekday"
                    : sch.kind == SCH_YEARLY    ? "month and day"
                                                : "day",
                    kind_forms[k]);
    if (need == 3 && (nparts < 3 || parts[2].len == 0))
        return fail(err, errlen, text, "missing weekday (expected %s)",
                    kind_forms[k]);
    if (nparts > need)
        return fail(err, errlen, text, "too many parts (expected %s)",
                    kind_forms[k]);

    switch (sch.kind) {
    case SCH_MONTHLY:
        if (span_is(parts[1], "last")) {
            sch.kind = SCH_MONTHLY_LAST;
            sch.day = 31; /* the same days as monthly:31 */
        } else if (parse_month_day(parts[1], &sch.day, 1, err, errlen, text) !=
                   0) {
            return -1;
        }
        break;
    case SCH_QUARTERLY:
        if (parse_month_day(parts[1], &sch.day, 0, err, errlen, text) != 0)
            return -1;
        break;
    case SCH_WEEKLY:
        if (parse_weekday(parts[1], &sch.weekday, err, errlen, text) != 0)
            return -1;
        break;
    case SCH_NTH_WEEKDAY:
        if (parse_uint(parts[1], &sch.n) != 0)
            return fail(err, errlen, text, "N must be 1-4, got '%.*s'",
                        SPAN_ARGS(parts[1]));
        if (sch.n < 1 || sch.n > 4)
            return fail(err, errlen, text, "N must be 1-4");
        if (parse_weekday(parts[2], &sch.weekday, err, errlen, text) != 0)
            return -1;
        break;
    default: /* SCH_YEARLY */
        if (parse_yearly(parts[1], &sch, err, errlen, text, kind_forms[k]) != 0)
            return -1;
        break;
    }
    if (out != NULL) *out = sch;
    return 0;
}

static const char *const weekday_names[] = {"mon", "tue", "wed", "thu",
                                            "fri", "sat", "sun"};

void limitr__schedule_format(const lp_schedule *s, char *buf, size_t size)
{
    switch (s->kind) {
    case SCH_MONTHLY:
        snprintf(buf, size, "monthly:%d", s->day);
        break;
    case SCH_MONTHLY_LAST:
        snprintf(buf, size, "monthly:last");
        break;
    case SCH_WEEKLY:
        snprintf(buf, size, "weekly:%s", weekday_names[s->weekday % 7]);
        break;
    case SCH_NTH_WEEKDAY:
        snprintf(buf, size, "nth_weekday:%d:%s", s->n,
                 weekday_names[s->weekday % 7]);
        break;
    case SCH_YEARLY:
        snprintf(buf, size, "yearly:%d-%d", s->month, s->day);
        break;
    case SCH_QUARTERLY:
        snprintf(buf, size, "quarterly:%d", s->day);
        break;
    }
}
