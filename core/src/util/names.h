/* names.h: did-you-mean suggestions and the policy name rule. */
#ifndef LIMITR_NAMES_H
#define LIMITR_NAMES_H

#include <stddef.h>

/* The candidate nearest to word within max(1, len/3) edits (insert, delete,
 * substitute, swap of neighbours), first one on ties; NULL if none. */
const char *limitr__did_you_mean(const char *word,
                                 const char *const *candidates, size_t n);

/* A policy name: 1-64 characters from A-Z a-z 0-9 _ - (docs/policy.md 1.3). */
int limitr__valid_name(const char *s, size_t len);

/* Whether s (len bytes) is well-formed UTF-8: no overlong forms,
 * surrogates or code points past U+10FFFF. */
int limitr__utf8_valid(const char *s, size_t len);

#endif
