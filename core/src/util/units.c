/* units.c: the unit table, unit strings ("250 MB", "1.5h"), conversions
 * between units and duration fields (docs/policy.md section 11). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "units.h"
#include "names.h"

/* ---- The table ---- */

typedef struct unit_info {
    const char *symbol;
    unit_dim dim;
    int64_t factor; /* in bytes or ms; exact as a double too (< 2^53) */
} unit_info;

static const unit_info units[UNIT_COUNT] = {
    {"B", DIM_DATA, 1},
    {"kB", DIM_DATA, INT64_C(1000)},
    {"MB", DIM_DATA, INT64_C(1000000)},
    {"GB", DIM_DATA, INT64_C(1000000000)},
    {"TB", DIM_DATA, INT64_C(1000000000000)},
    {"PB", DIM_DATA, INT64_C(1000000000000000)},
    {"KiB", DIM_DATA, INT64_C(1) << 10},
    {"MiB", DIM_DATA, INT64_C(1) << 20},
    {"GiB", DIM_DATA, INT64_C(1) << 30},
    {"TiB", DIM_DATA, INT64_C(1) << 40},
    {"PiB", DIM_DATA, INT64_C(1) << 50},
    {"ms", DIM_TIME, 1},
    {"s", DIM_TIME, INT64_C(1000)},
    {"min", DIM_TIME, INT64_C(60000)},
    {"h", DIM_TIME, INT64_C(3600000)},
    {"day", DIM_TIME, INT64_C(86400000)},
    {"week", DIM_TIME, INT64_C(604800000)},
};

/* Every name a unit string may use, in table order (did-you-mean ties go
 * to the first), and the unit each one means. */
static const char *const names[] = {
    "B",   "byte",        "bytes",        "kB",    "KB",  "MB",     "GB",
    "TB",  "PB",          "KiB",          "MiB",   "GiB", "TiB",    "PiB",
    "ms",  "millisecond", "milliseconds", "s",     "sec", "second", "seconds",
    "min", "minute",      "minutes",      "h",     "hr",  "hour",   "hours",
    "day", "days",        "week",         "weeks",
};
static const signed char name_unit[] = {
    UNIT_B,   UNIT_B,   UNIT_B,    UNIT_KB,   UNIT_KB,  UNIT_MB,  UNIT_GB,
    UNIT_TB,  UNIT_PB,  UNIT_KIB,  UNIT_MIB,  UNIT_GIB, UNIT_TIB, UNIT_PIB,
    UNIT_MS,  UNIT_MS,  UNIT_MS,   UNIT_S,    UNIT_S,   UNIT_S,   UNIT_S,
    UNIT_MIN, UNIT_MIN, UNIT_MIN,  UNIT_H,    UNIT_H,   UNIT_H,   UNIT_H,
    UNIT_DAY, UNIT_DAY, UNIT_WEEK, UNIT_WEEK,
};

#define N_NAMES (sizeof(names) / sizeof(names[0]))

_Static_assert(sizeof(name_unit) == N_NAMES, "names and name_unit differ");

int limitr__unit_find(const char *symbol, size_t len)
{
    size_t i;
    if (symbol == NULL) return -1;
    for (i = 0; i < N_NAMES; i++)
        if (strlen(names[i]) == len && memcmp(names[i], symbol, len) == 0)
            return name_unit[i];
    return -1;
}

unit_dim limitr__unit_dim(int unit)
{
    return unit >= 0 && unit < UNIT_COUNT ? units[unit].dim : DIM_NONE;
}

const char *limitr__unit_symbol(int unit)
{
    return unit >= 0 && unit < UNIT_COUNT ? units[unit].symbol : NULL;
}

int limitr__unit_credit_symbol(const char *symbol)
{
    int i;
    if (symbol == NULL) return -1;
    for (i = 0; i < UNIT_COUNT; i++)
        if (strcmp(units[i].symbol, symbol) == 0) return i;
    return -1;
}

/* ---- Unit strings ---- */

#define NUM_MAX 320 /* longest number part accepted, in characters */

static int fail(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || errlen == 0) return -1;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int same_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (ascii_lower(*a) != ascii_lower(*b)) return 0;
    return *a == *b;
}

/* The suggestion for an unknown unit: a name equal but for case first
 * ("Mb" -> "MB", which plain edit distance would tie with "B"), else the
 * did-you-mean among all names. NULL if none. */
static const char *unit_hint(const char *word)
{
    size_t i;
    for (i = 0; i < N_NAMES; i++)
        if (same_nocase(word, names[i])) return names[i];
    return limitr__did_you_mean(word, names, N_NAMES);
}

/* Copies a digit run starting at *pp (a digit) into buf, skipping single
 * '_' between digits. Returns 0, -1 for a misplaced '_', -2 when buf is
 * full. */
static int read_digits(const char **pp, char *buf, size_t *n)
{
    const char *p = *pp;
    for (;;) {
        for (; is_digit(*p); p++) {
            if (*n >= NUM_MAX) return -2;
            buf[(*n)++] = *p;
        }
        if (*p != '_') break;
        if (!is_digit(p[1])) return -1; /* "1__0", "1_", "1_.5" */
        p++;
    }
    *pp = p;
    return 0;
}

int limitr__unit_split(const char *text, lnum *number, int *unit, char *err,
                       size_t errlen)
{
    char buf[NUM_MAX + 8];
    size_t n = 0;
    const char *p;
    const char *hint;
    int rc = 0, u = -1;
    lnum v;

    if (text == NULL) text = "";
    p = text;
    if (*p == '+' || *p == '-') buf[n++] = *p++;
    if (*p == '_' && is_digit(p[1]))
        return fail(err, errlen,
                    "misplaced '_' in '%s' (use single '_' between digits)",
                    text);
    if (!is_digit(*p))
        return fail(err, errlen,
                    "expected a number with an optional unit, got '%s'", text);
    rc = read_digits(&p, buf, &n);
    if (rc == 0 && *p == '.') {
        buf[n++] = *p++;
        if (*p == '_')
            rc = -1;
        else if (!is_digit(*p))
            return fail(err, errlen, "missing digits after '.' in '%s'", text);
        else
            rc = read_digits(&p, buf, &n);
    }
    /* no unit starts with e or E, so an e after the digits is an exponent */
    if (rc == 0 && (*p == 'e' || *p == 'E')) {
        buf[n++] = *p++;
        if (*p == '+' || *p == '-') buf[n++] = *p++;
        if (*p == '_')
            rc = -1;
        else if (!is_digit(*p))
            return fail(err, errlen, "missing exponent digits in '%s'", text);
        else
            rc = read_digits(&p, buf, &n);
    }
    if (rc == -1)
        return fail(err, errlen,
                    "misplaced '_' in '%s' (use single '_' between digits)",
                    text);
    if (rc == -2) return fail(err, errlen, "number too long in '%s'", text);
    if (*p != '\0' && p[strlen(p) - 1] == ' ')
        return fail(err, errlen, "unexpected trailing space in '%s'", text);
    while (*p == ' ')
        p++;
    if (*p == '\0') {
        /* a plain number */
    } else if (!is_alpha(*p)) {
        return fail(err, errlen,
                    "expected a number with an optional unit, got '%s'", text);
    } else {
        u = limitr__unit_find(p, strlen(p));
        if (u < 0) {
            hint = unit_hint(p);
            if (hint != NULL)
                return fail(err, errlen,
                            "unknown unit '%s' (did you mean '%s'?)", p, hint);
            return fail(err, errlen, "unknown unit '%s'", p);
        }
    }
    if (limitr__lnum_parse(buf, n, &v) != 0)
        return fail(err, errlen, "'%s' is out of range", text);
    if (number != NULL) *number = v;
    if (unit != NULL) *unit = u;
    return 0;
}

/* ---- Conversion ---- */

static int bit_length(unsigned __int128 a)
{
    int n = 0;
    while (a != 0) {
        a >>= 1;
        n++;
    }
    return n;
}

/* The double nearest to the amount v (v / 10^18), ties to even: what
 * strtod would give for its decimal text, without text or locale. */
static double lnum_nearest_double(lnum v)
{
    const unsigned __int128 scale = (unsigned __int128)LNUM_SCALE;
    unsigned __int128 a, q, rest, half;
    int shift = 0, drop;
    int sticky;
    uint64_t mant;
    double d;

    if (v == 0) return 0.0;
    a = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
    /* scale a up to 125 bits so the quotient keeps 65+ significant bits */
    if (bit_length(a) < 125) {
        shift = 125 - bit_length(a);
        a <<= shift;
    }
    q = a / scale;
    sticky = a % scale != 0;
    drop = bit_length(q) - 53;
    mant = (uint64_t)(q >> drop);
    rest = q & (((unsigned __int128)1 << drop) - 1);
    half = (unsigned __int128)1 << (drop - 1);
    if (rest > half || (rest == half && (sticky || (mant & 1))))
        mant++; /* 2^53 is still exact */
    d = ldexp((double)mant, drop - shift);
    return v < 0 ? -d : d;
}

int limitr__unit_convert(lnum x, int from, int to, lnum *out)
{
    double d;
    if (limitr__unit_dim(from) == DIM_NONE ||
        limitr__unit_dim(from) != limitr__unit_dim(to))
        return -1;
    if (from == to) {
        *out = x;
        return 0;
    }
    d = lnum_nearest_double(x) * (double)units[from].factor /
        (double)units[to].factor;
    if (!isfinite(d) || fabs(d) > LNUM_MAX_WHOLE) return -1;
    /* lnum_from_double goes through int64_t for whole numbers; doubles this
       large are whole, and convert exactly through __int128 */
    if (fabs(d) >= 4611686018427387904.0) { /* 2^62 */
        *out = (lnum)d * LNUM_SCALE;
        return 0;
    }
    return limitr__lnum_from_double(d, out);
}

/* ---- Durations ---- */

int limitr__duration_parse(const char *text, int64_t *ms, char *err,
                           size_t errlen)
{
    lnum x, v, whole;
    int u;
    int64_t f;
    if (limitr__unit_split(text, &x, &u, err, errlen) != 0) return -1;
    if (u < 0)
        return fail(err, errlen,
                    "'%s' is not a duration (add a time unit: ms, s, min, h, "
                    "day or week)",
                    text);
    if (units[u].dim != DIM_TIME)
        return fail(err, errlen, "'%s' is a data size, not a duration", text);
    /* exact: x * factor must be a whole number of ms that fits int64 */
    f = units[u].factor;
    whole = (x < 0 ? -x : x) / LNUM_SCALE;
    if (whole >
        (lnum)(INT64_MAX / f) + 1) /* the product still fits in 128 bits */
        return fail(err, errlen, "'%s' is out of range", text);
    v = x * f;
    if (v % LNUM_SCALE != 0)
        return fail(err, errlen, "'%s' is not a whole number of milliseconds",
                    text);
    whole = v / LNUM_SCALE;
    if (whole > INT64_MAX || whole < INT64_MIN)
        return fail(err, errlen, "'%s' is out of range", text);
    *ms = (int64_t)whole;
    return 0;
}
