/* compile.h: what the policy compiler (policy.c) and the limit compiler
 * (limit.c, also used for per-customer overrides) share: the error list,
 * field tables, and readers of document values that report what is wrong
 * with its path and position. */
#ifndef LIMITR_COMPILE_H
#define LIMITR_COMPILE_H

#include <stddef.h>
#include <stdint.h>

#include "doc.h"
#include "policy.h"
#include "validate.h"

/* How a field the spec names is handled by this version. */
typedef enum field_kind {
    FIELD_OK,      /* supported */
    FIELD_UPSTREAM /* upstream Limitr only: never in a limitr policy */
} field_kind;

typedef struct field {
    const char *name;
    field_kind kind;
} field;

#define N_FIELDS(t) (sizeof(t) / sizeof((t)[0]))

typedef struct compiler {
    verrors errs;
    lp_policy *p; /* the policy being built, or the live one (overrides) */
    int nomem;
    int no_snippets; /* overrides: snippet fields are refused */
} compiler;

#define ERR(cc, path, node, ...)                                               \
    limitr__verr(&(cc)->errs, (path), (node)->line, (node)->col, __VA_ARGS__)

const char *limitr__type_name(const doc_node *n);
/* malloc'ed "<parent>.<key>"; sets cc->nomem on failure. */
char *limitr__child_path(compiler *cc, const char *parent, const char *key);
/* parent[i]: a list item's path, zero-based as the parsers write it. */
char *limitr__item_path(compiler *cc, const char *parent, size_t i);
char *limitr__xstrdup(compiler *cc, const char *s);
/* " (did you mean 'x'?)" into buf, or "". */
const char *limitr__hint(char *buf, size_t size, const char *word,
                         const char *const *cands, size_t n);
/* Reports unknown, not-yet-supported and upstream-only fields of a map. */
void limitr__check_fields(compiler *cc, const doc_node *map, const char *path,
                          const field *fields, size_t n);
/* The value of key in map; null counts as absent (docs/policy.md 1.4). */
const doc_node *limitr__get(const doc_node *map, const char *key);
int limitr__expect(compiler *cc, const doc_node *n, const char *path,
                   doc_type type, const char *what);
/* Reports a `!lua` tag on a field that is not a snippet; 1 if reported. */
int limitr__refuse_lua_tag(compiler *cc, const doc_node *n, const char *path);
void limitr__read_string(compiler *cc, const doc_node *map, const char *path,
                         const char *key, const char *dflt, char **out);
int limitr__read_bool(compiler *cc, const doc_node *map, const char *path,
                      const char *key, int dflt);

/* A credit-valued amount (docs/policy.md 11 rule 2): a number in the credit's
 * units, or a unit string converted into them. credit -1: unknown credit
 * (already reported), units are then not checked; AMOUNT_PLAIN: a plain
 * number (money, rates), where a unit is an error. 1 and *out, or 0. */
#define AMOUNT_PLAIN (-2)
int limitr__read_amount(compiler *cc, const doc_node *n, const char *path,
                        int credit, lnum *out);
/* A duration (docs/policy.md 11 rule 4): a plain number of ms (an integer) or a
 * time unit string. 1 and *ms, or 0. */
int limitr__read_duration(compiler *cc, const doc_node *n, const char *path,
                          int64_t *ms);
/* A plain number as a double. 1 and *out, or 0. */
int limitr__read_double(compiler *cc, const doc_node *n, const char *path,
                        double *out);
/* Does the string start with the keyword `function` (a snippet)? */
int limitr__looks_like_snippet(const char *s);
/* Compiles the snippet field n at path in the policy's VM (created on
 * first use). Returns its reference (> 0), or 0 after reporting. */
int limitr__read_snippet(compiler *cc, const doc_node *n, const char *path);
/* Runs the policy's `lua` chunk n. 0, or -1 after reporting. */
int limitr__read_chunk(compiler *cc, const doc_node *n);

/* A credit name (at fpath) into *credit: 1, or 0 reported (*credit -1
 * for an unknown name). */
int limitr__read_credit(compiler *cc, const doc_node *v, const char *fpath,
                        int *credit);
/* An amount with its range: min_kind 0 = any, 1 = >= 0, 2 = > 0. 1 and
 * *out, or 0 reported. */
int limitr__read_ranged(compiler *cc, const doc_node *v, const char *fpath,
                        int credit, int min_kind, lnum *out);
/* resets / reset_inc / reset_sch of map n (docs/policy.md 6 rule 1) over
 * the period on entry: `resets: true` alone means 30 days, or keeps a
 * period already there. */
void limitr__read_resets(compiler *cc, const doc_node *n, const char *path,
                         reset_kind *reset, int64_t *reset_inc,
                         lp_schedule *sch);

/* limit.c: compiles the limit mapping n at path into *lim, which holds the
 * defaults (a policy limit) or the current limit (an override) on entry.
 * is_override: `credit` is optional and `expires` is allowed. */
void limitr__limit_compile(compiler *cc, const doc_node *n, const char *path,
                           lp_limit *lim, int is_override, int64_t *expires);
/* The limit defaults of docs/policy.md section 6 (credit -1: required). */
void limitr__limit_defaults(lp_limit *lim);

#endif
