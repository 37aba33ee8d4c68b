/* validate.h: the validation error list (sorted by position, at most 50
 * lines); the name helpers every message uses are util/names.h. */
#ifndef LIMITR_VALIDATE_H
#define LIMITR_VALIDATE_H

#include <stddef.h>

#include "names.h"

#ifndef LIMITR_DEFAULT_MAX_ERRORS
#define LIMITR_DEFAULT_MAX_ERRORS 50
#endif

typedef struct verror {
    int line, col; /* 0 = position unknown: sorts first */
    size_t seq;    /* document order among equal positions */
    char *text;    /* "<path>: <problem>[ at L:C]" */
} verror;

typedef struct verrors {
    verror *items;
    size_t n, cap;
    int nomem;
} verrors;

/* Records "<path>: <problem> at L:C" (no position when line is 0). */
void limitr__verr(verrors *v, const char *path, int line, int col,
                  const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* The whole list as one malloc'ed text, sorted by position, capped at 50
 * lines plus "... and N more errors"; frees the entries. NULL: no memory. */
char *limitr__verr_join(verrors *v);
void limitr__verr_free(verrors *v);

#endif
