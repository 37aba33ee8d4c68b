/* compile.c: readers of document values shared by the policy and limit
 * compilers. Each reports what is wrong with the value's path and position
 * and returns 0, so one pass finds every problem. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "script.h"
#include "units.h"

const char *limitr__type_name(const doc_node *n)
{
    switch (n->type) {
    case DOC_NULL:
        return "null";
    case DOC_BOOL:
        return "boolean";
    case DOC_NUMBER:
        return "number";
    case DOC_STRING:
        return "string";
    case DOC_MAP:
        return "mapping";
    case DOC_LIST:
        return "list";
    }
    return "value";
}

char *limitr__child_path(compiler *cc, const char *parent, const char *key)
{
    char *path = limitr__doc_path_append(parent, key, strlen(key));
    if (path == NULL) cc->nomem = 1;
    return path;
}

char *limitr__item_path(compiler *cc, const char *parent, size_t i)
{
    char *path = limitr__doc_path_index(parent, i);
    if (path == NULL) cc->nomem = 1;
    return path;
}

char *limitr__xstrdup(compiler *cc, const char *s)
{
    char *copy = strdup(s != NULL ? s : "");
    if (copy == NULL) cc->nomem = 1;
    return copy;
}

const char *limitr__hint(char *buf, size_t size, const char *word,
                         const char *const *cands, size_t n)
{
    const char *best = limitr__did_you_mean(word, cands, n);
    if (best == NULL) return "";
    snprintf(buf, size, " (did you mean '%s'?)", best);
    return buf;
}

void limitr__check_fields(compiler *cc, const doc_node *map, const char *path,
                          const field *fields, size_t n)
{
    const char *names[40];
    /* Fields of the root mapping `policy` have paths without "policy." */
    const char *base = strcmp(path, "policy") == 0 ? "" : path;
    size_t i, j;
    for (j = 0; j < n && j < 40; j++)
        names[j] = fields[j].name;
    for (i = 0; i < map->count; i++) {
        const doc_pair *pair = &map->pairs[i];
        const field *f = NULL;
        char buf[96], *fpath;
        for (j = 0; j < n; j++)
            if (strcmp(fields[j].name, pair->key) == 0) f = &fields[j];
        if (f != NULL && f->kind == FIELD_OK) continue;
        if (f == NULL) {
            limitr__verr(&cc->errs, path, pair->key_line, pair->key_col,
                         "unknown field '%s'%s", pair->key,
                         limitr__hint(buf, sizeof buf, pair->key, names,
                                      n < 40 ? n : 40));
            continue;
        }
        fpath = limitr__child_path(cc, base, pair->key);
        if (fpath == NULL) return;
        limitr__verr(&cc->errs, fpath, pair->key_line, pair->key_col,
                     "not supported in a limitr policy"); /* upstream's */
        free(fpath);
    }
}

const doc_node *limitr__get(const doc_node *map, const char *key)
{
    const doc_pair *pair = limitr__doc_get(map, key);
    if (pair == NULL || pair->value->type == DOC_NULL) return NULL;
    return pair->value;
}

int limitr__expect(compiler *cc, const doc_node *n, const char *path,
                   doc_type type, const char *what)
{
    if (n->type == type) return 1;
    ERR(cc, path, n, "expected %s, got %s", what, limitr__type_name(n));
    return 0;
}

int limitr__refuse_lua_tag(compiler *cc, const doc_node *n, const char *path)
{
    if (!n->lua_tag) return 0;
    ERR(cc, path, n, "YAML tag '!lua' is only allowed on a Lua snippet field");
    return 1;
}

void limitr__read_string(compiler *cc, const doc_node *map, const char *path,
                         const char *key, const char *dflt, char **out)
{
    const doc_node *n = limitr__get(map, key);
    char *fpath;
    *out = NULL;
    if (n != NULL) {
        fpath = limitr__child_path(cc, path, key);
        if (fpath == NULL) return;
        if (!limitr__refuse_lua_tag(cc, n, fpath) &&
            limitr__expect(cc, n, fpath, DOC_STRING, "string")) {
            free(fpath);
            *out = limitr__xstrdup(cc, n->text);
            return;
        }
        free(fpath);
    }
    *out = limitr__xstrdup(cc, dflt);
}

int limitr__read_bool(compiler *cc, const doc_node *map, const char *path,
                      const char *key, int dflt)
{
    const doc_node *n = limitr__get(map, key);
    char *fpath;
    int ok;
    if (n == NULL) return dflt;
    fpath = limitr__child_path(cc, path, key);
    if (fpath == NULL) return dflt;
    ok = limitr__expect(cc, n, fpath, DOC_BOOL, "boolean");
    free(fpath);
    return ok ? n->boolean : dflt;
}

int limitr__looks_like_snippet(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    return strncmp(s, "function", 8) == 0 &&
           !(s[8] == '_' || (s[8] >= 'a' && s[8] <= 'z') ||
             (s[8] >= 'A' && s[8] <= 'Z') || (s[8] >= '0' && s[8] <= '9'));
}

int limitr__read_amount(compiler *cc, const doc_node *n, const char *path,
                        int credit, lnum *out)
{
    char err[160];
    lnum number;
    int unit, to;
    const lp_credit *cr;
    if (n->lua_tag ||
        (n->type == DOC_STRING && limitr__looks_like_snippet(n->text))) {
        ERR(cc, path, n, "a Lua snippet is not allowed here");
        return 0;
    }
    if (n->type == DOC_NUMBER) {
        if (limitr__lnum_parse(n->text, n->text_len, out) != 0) {
            ERR(cc, path, n, "number %s is out of range", n->text);
            return 0;
        }
        return 1;
    }
    if (n->type != DOC_STRING) {
        ERR(cc, path, n, "expected number, got %s", limitr__type_name(n));
        return 0;
    }
    if (limitr__unit_split(n->text, &number, &unit, err, sizeof err) != 0) {
        ERR(cc, path, n, "%s", err);
        return 0;
    }
    if (unit < 0) {
        *out = number;
        return 1;
    }
    if (credit == AMOUNT_PLAIN) {
        ERR(cc, path, n,
            "expected a plain number, got '%s' (money has no "
            "units)",
            n->text);
        return 0;
    }
    if (credit < 0) return 0; /* the unknown credit is reported already */
    cr = &cc->p->credits[credit];
    to = cr->units;
    if (to < 0) {
        ERR(cc, path, n, "'%s' has a unit but credit '%s' has no units",
            n->text, cr->name);
        return 0;
    }
    if (limitr__unit_dim(unit) != limitr__unit_dim(to)) {
        ERR(cc, path, n, "'%s' is a %s but credit '%s' is measured in %s",
            n->text, limitr__unit_dim(unit) == DIM_TIME ? "duration" : "size",
            cr->name, limitr__unit_symbol(to));
        return 0;
    }
    if (limitr__unit_convert(number, unit, to, out) != 0) {
        ERR(cc, path, n, "'%s' is out of range", n->text);
        return 0;
    }
    return 1;
}

int limitr__read_duration(compiler *cc, const doc_node *n, const char *path,
                          int64_t *ms)
{
    char err[160];
    if (limitr__refuse_lua_tag(cc, n, path)) return 0;
    if (n->type == DOC_NUMBER) {
        lnum v;
        if (limitr__lnum_parse(n->text, n->text_len, &v) != 0 ||
            v / LNUM_SCALE > INT64_MAX / 2 ||
            v / LNUM_SCALE < -(INT64_MAX / 2)) {
            /* (a number past the range of amounts fails to parse) */
            ERR(cc, path, n, "'%s' is out of range", n->text);
            return 0;
        }
        if (v % LNUM_SCALE != 0) {
            ERR(cc, path, n, "'%s' is not a whole number of milliseconds",
                n->text);
            return 0;
        }
        *ms = (int64_t)(v / LNUM_SCALE);
        return 1;
    }
    if (n->type != DOC_STRING) {
        ERR(cc, path, n, "expected duration, got %s", limitr__type_name(n));
        return 0;
    }
    if (limitr__duration_parse(n->text, ms, err, sizeof err) != 0) {
        ERR(cc, path, n, "%s", err);
        return 0;
    }
    return 1;
}

int limitr__read_double(compiler *cc, const doc_node *n, const char *path,
                        double *out)
{
    if (limitr__refuse_lua_tag(cc, n, path)) return 0;
    if (n->type != DOC_NUMBER) {
        ERR(cc, path, n, "expected number, got %s", limitr__type_name(n));
        return 0;
    }
    *out = n->number;
    return 1;
}

/* ---- Snippets (docs/policy.md section 10) ---- */

static script *policy_vm(compiler *cc, const doc_node *n, const char *path)
{
    const char *err = NULL;
    if (cc->p->vm != NULL) return cc->p->vm;
    cc->p->vm = limitr__script_open(&cc->p->limits, &err);
    if (cc->p->vm == NULL) ERR(cc, path, n, "%s", err);
    return cc->p->vm;
}

int limitr__read_snippet(compiler *cc, const doc_node *n, const char *path)
{
    script *vm;
    char *err = NULL;
    int ref;
    if (cc->no_snippets) {
        ERR(cc, path, n, "a Lua snippet is not allowed in an override");
        return 0;
    }
    if (n->type != DOC_STRING) {
        ERR(cc, path, n, "expected Lua snippet, got %s", limitr__type_name(n));
        return 0;
    }
    if (!limitr__looks_like_snippet(n->text)) {
        ERR(cc, path, n,
            "expected a Lua function expression (function(...) ... end)");
        return 0;
    }
    if ((vm = policy_vm(cc, n, path)) == NULL) return 0;
    ref = limitr__script_compile(vm, n->text, n->text_len, path, &err);
    if (ref == 0) {
        if (err == NULL) {
            cc->nomem = 1;
        } else {
            ERR(cc, path, n, "%s", err);
            free(err);
        }
    }
    return ref;
}

int limitr__read_chunk(compiler *cc, const doc_node *n)
{
    script *vm;
    char *err = NULL;
    if (n->type != DOC_STRING) {
        ERR(cc, "lua", n, "expected Lua chunk, got %s", limitr__type_name(n));
        return -1;
    }
    if ((vm = policy_vm(cc, n, "lua")) == NULL) return -1;
    if (limitr__script_run_chunk(vm, n->text, n->text_len, &err) != LIMITR_OK) {
        if (err == NULL) {
            cc->nomem = 1;
        } else {
            ERR(cc, "lua", n, "%s", err);
            free(err);
        }
        return -1;
    }
    return 0;
}
