/* units.h: unit strings and durations (docs/policy.md section 11): "2GB",
 * "250 MB", "1.5h", "30days", and their conversion between units. */
#ifndef LIMITR_UNITS_H
#define LIMITR_UNITS_H

#include <stddef.h>
#include <stdint.h>

#include "num.h"

typedef enum unit_dim { DIM_NONE = 0, DIM_DATA, DIM_TIME } unit_dim;

/* Unit indices: one per canonical symbol (first column of the table);
 * aliases find the index of their symbol ("KB" and "kB" are UNIT_KB). */
enum {
    UNIT_B,
    UNIT_KB,
    UNIT_MB,
    UNIT_GB,
    UNIT_TB,
    UNIT_PB,
    UNIT_KIB,
    UNIT_MIB,
    UNIT_GIB,
    UNIT_TIB,
    UNIT_PIB,
    UNIT_MS,
    UNIT_S,
    UNIT_MIN,
    UNIT_H,
    UNIT_DAY,
    UNIT_WEEK,
    UNIT_COUNT
};

/* Finds a unit symbol or alias, case-sensitively: B byte bytes kB KB MB GB
 * TB PB KiB MiB GiB TiB PiB ms millisecond milliseconds s sec second
 * seconds min minute minutes h hr hour hours day days week weeks.
 * symbol: len bytes, need not be NUL-terminated.
 * Returns the unit index (UNIT_...), or -1. Thread-safe. */
int limitr__unit_find(const char *symbol, size_t len);

/* The dimension of a unit index; DIM_NONE for an invalid index. */
unit_dim limitr__unit_dim(int unit);

/* The canonical symbol of a unit index ("B", "kB", ..., "ms", "s", "min",
 * "h", "day", "week"), static; NULL for an invalid index. */
const char *limitr__unit_symbol(int unit);

/* Is symbol (NUL-terminated) a valid credit `units` value? Only canonical
 * symbols are (docs/policy.md 11 rule 1): "kB" yes, "KB" or "bytes" no.
 * Returns the unit index, or -1. */
int limitr__unit_credit_symbol(const char *symbol);

/* Splits a unit string: a number (optional sign; digits with single '_'
 * between digits, in the integer and fraction parts; an optional fraction
 * '.' with digits on both sides; an optional exponent e/E, sign, digits),
 * optional spaces, then a unit symbol or alias, or nothing. No other
 * spaces: leading and trailing spaces are errors.
 * text: NUL-terminated. number: the exact value of the number part (digits
 * past 18 decimals round half away from zero). unit: the unit index, -1
 * when there is no unit. Outputs are written on success only.
 * err/errlen: the problem text on failure, truncated to fit (err may be
 * NULL when errlen is 0): "expected a number with an optional unit, got
 * 'GB'", "unknown unit 'Mb' (did you mean 'MB'?)", "misplaced '_' in
 * '1__000' (use single '_' between digits)", ...
 * Returns 0 or -1. Thread-safe. */
int limitr__unit_split(const char *text, lnum *number, int *unit, char *err,
                       size_t errlen);

/* Converts x from unit `from` into unit `to` of the same dimension:
 * x * factor(from) / factor(to) in double precision, taken as the shortest
 * decimal that round-trips (1GiB in MB = 1073.741824). from == to gives x
 * unchanged. Returns 0 and *out, or -1 (invalid index, dimension mismatch,
 * result too large or not finite). Thread-safe. */
int limitr__unit_convert(lnum x, int from, int to, lnum *out);

/* Parses the string form of a duration field (reset_inc, expires_after,
 * trial_period, hold_ttl): a unit string with a time unit that comes to a
 * whole number of ms, computed exactly ("1.5h" = 5400000). A string without
 * a unit is an error (a plain number is the caller's case); the sign is
 * kept (range checks are the caller's).
 * Returns 0 and *ms, or -1 and err as for limitr__unit_split, or
 * "'0.5ms' is not a whole number of milliseconds", "'2GB' is not a
 * duration (GB is a data unit)", "'100' is not a duration (add a time
 * unit: ms, s, min, h, day or week)", "'1e20 week' is out of range".
 * Thread-safe. */
int limitr__duration_parse(const char *text, int64_t *ms, char *err,
                           size_t errlen);

#endif
