/* import.c: a state document read into the engine (docs/state.md section
 * 1), all or nothing. The text is parsed into a document tree, each
 * customer is built as a record beside the engine's (staged), every rule is
 * checked, and only then do the records enter the ID index; any failure
 * destroys what was staged and leaves the engine as it was. The first
 * problem in document order is reported with its JSON path. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "canonical.h"
#include "doc.h"
#include "engine.h"
#include "state_doc.h"
#include "units.h"

/* Bounds on what a document may hold beyond the engine's own per customer
 * (grants, caps, holds, estimates): lists, the parts of a hold, counters
 * (2^53: they count up from there). Amounts are held to the engine's own
 * range (+-1e20, LNUM_MAX) and times to the clock's (LIMITR_MAX_TIME): what
 * it exports, it imports. */
#define MAX_LIST 65536
#define MAX_HOLD_PARTS 512
#define MAX_COUNT INT64_C(9007199254740992)
#define MAX_ID_BYTES 255 /* a grant's or a cap's */

/* ---- Reading with a path ---- */

typedef struct path_seg {
    const char *key; /* NULL: list item `index` */
    size_t index;
} path_seg;

#define MAX_PATH 24

typedef struct reader {
    limitr_engine *e;
    path_seg path[MAX_PATH];
    int depth;
    int failed; /* the first failure is kept: later ones are not reported */
    int nomem;
    char err[1040]; /* path (512) + ": " + message (512) */
} reader;

static void push_key(reader *r, const char *key)
{
    if (r->depth < MAX_PATH) r->path[r->depth].key = key;
    r->depth++;
}

static void push_index(reader *r, size_t i)
{
    if (r->depth < MAX_PATH) {
        r->path[r->depth].key = NULL;
        r->path[r->depth].index = i;
    }
    r->depth++;
}

static void pop(reader *r)
{
    r->depth--;
}

static int plain_key(const char *k)
{
    if (*k == '\0') return 0;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
              (*k >= '0' && *k <= '9') || *k == '_' || *k == '-'))
            return 0;
    return 1;
}

/* The current path, "$.customers[0].id". */
static void render_path(const reader *r, char *out, size_t size)
{
    size_t n = 0;
    int i;
    n += (size_t)snprintf(out, size, "$");
    for (i = 0; i < r->depth && i < MAX_PATH && n < size; i++) {
        const path_seg *s = &r->path[i];
        if (s->key == NULL)
            n += (size_t)snprintf(out + n, size - n, "[%zu]", s->index);
        else if (plain_key(s->key))
            n += (size_t)snprintf(out + n, size - n, ".%s", s->key);
        else
            n += (size_t)snprintf(out + n, size - n, "[\"%.200s\"]", s->key);
    }
}

static int fail(reader *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int fail(reader *r, const char *fmt, ...)
{
    char path[512], msg[512];
    va_list ap;
    if (r->failed) return -1;
    r->failed = 1;
    render_path(r, path, sizeof path);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(r->err, sizeof r->err, "%s: %s", path, msg);
    return -1;
}

/* An ID of 1 to most bytes (the engine's own rule), failing at name. */
static int bad_id(reader *r, const char *name, const char *id, size_t most)
{
    size_t len = strlen(id);
    if (len >= 1 && len <= most) return 0;
    push_key(r, name);
    fail(r, "must be 1 to %zu bytes", most);
    pop(r);
    return 1;
}

static int bad_alt_ids(reader *r, const strlist *l)
{
    size_t i;
    int bad = 0;
    push_key(r, "alt_ids");
    for (i = 0; i < l->n && !bad; i++) {
        size_t len = strlen(l->items[i]);
        if (len >= 1 && len <= LIMITR_DEFAULT_MAX_ID) continue;
        push_index(r, i);
        fail(r, "must be 1 to %d bytes", LIMITR_DEFAULT_MAX_ID);
        pop(r);
        bad = 1;
    }
    pop(r);
    return bad;
}

/* Amounts the engine never lets go below 0. */
static int negative(reader *r, const char *name, lnum v)
{
    if (v >= 0) return 0;
    push_key(r, name);
    fail(r, "must not be negative");
    pop(r);
    return 1;
}

static int nomem(reader *r)
{
    r->nomem = 1;
    r->failed = 1;
    return -1;
}

static const char *type_name(const doc_node *n)
{
    static const char *const names[] = {"null",   "boolean", "number",
                                        "string", "object",  "list"};
    return names[n->type];
}

static int expect(reader *r, const doc_node *n, doc_type t, const char *what)
{
    if (n->type == t) return 0;
    return fail(r, "expected %s, got %s", what, type_name(n));
}

/* Fails on a key of obj that is not in known (NULL-terminated). */
static int known_fields(reader *r, const doc_node *obj,
                        const char *const *known)
{
    size_t i;
    for (i = 0; i < obj->count; i++) {
        const char *const *k;
        for (k = known; *k != NULL; k++)
            if (strcmp(*k, obj->pairs[i].key) == 0) break;
        if (*k == NULL) {
            push_key(r, obj->pairs[i].key);
            fail(r, "unknown field '%.100s'", obj->pairs[i].key);
            pop(r);
            return -1;
        }
    }
    return 0;
}

/* obj's field `name`: NULL when absent or null (an error when required:
 * the path is obj's). */
static const doc_node *field(reader *r, const doc_node *obj, const char *name,
                             int required)
{
    const doc_pair *p = limitr__doc_get(obj, name);
    if (p != NULL && p->value->type != DOC_NULL) return p->value;
    if (required) fail(r, "missing required field '%s'", name);
    return NULL;
}

/* The reads below take the field's node and push its name for errors. */

static int read_int(reader *r, const doc_node *obj, const char *name,
                    int required, int64_t lo, int64_t hi, int64_t *out)
{
    const doc_node *n = field(r, obj, name, required);
    char *end;
    long long v;
    int status = 0;
    if (n == NULL) return r->failed ? -1 : 1;
    push_key(r, name);
    if (n->type != DOC_NUMBER || strpbrk(n->text, ".eE") != NULL)
        status = fail(r, "expected an integer, got %s",
                      n->type == DOC_NUMBER ? n->text : type_name(n));
    else {
        errno = 0;
        v = strtoll(n->text, &end, 10);
        if (errno != 0 || *end != '\0' || v < lo || v > hi)
            status = fail(r, "%s is out of range (%lld to %lld)", n->text,
                          (long long)lo, (long long)hi);
        else
            *out = v;
    }
    pop(r);
    return status;
}

static int read_time(reader *r, const doc_node *obj, const char *name,
                     int required, int64_t *out)
{
    return read_int(r, obj, name, required, -LIMITR_MAX_TIME, LIMITR_MAX_TIME,
                    out);
}

static int read_lnum_node(reader *r, const doc_node *n, lnum *out)
{
    if (n->type == DOC_NUMBER || n->type == DOC_STRING) {
        /* (the parse refuses amounts past the engine's range, +-1e20) */
        if (limitr__lnum_parse(n->text, n->text_len, out) != 0)
            return fail(r, "invalid decimal '%.60s'", n->text);
        return 0;
    }
    return fail(r, "expected a decimal string, got %s", type_name(n));
}

/* 0 read, 1 absent (out untouched), -1 failed. */
static int read_lnum(reader *r, const doc_node *obj, const char *name,
                     int required, lnum *out)
{
    const doc_node *n = field(r, obj, name, required);
    int status;
    if (n == NULL) return r->failed ? -1 : 1;
    push_key(r, name);
    status = read_lnum_node(r, n, out);
    pop(r);
    return status;
}

/* A double written as a decimal (string or number): any within +-1e250
 * (so that a units conversion keeps it finite), read as the nearest. */
static int read_double(reader *r, const doc_node *obj, const char *name,
                       int required, double *out)
{
    const doc_node *n = field(r, obj, name, required);
    char *end;
    double v;
    int status = 0;
    if (n == NULL) return r->failed ? -1 : 1;
    push_key(r, name);
    if (n->type != DOC_NUMBER && n->type != DOC_STRING)
        status = fail(r, "expected a decimal string, got %s", type_name(n));
    else if (n->text_len == 0 || isspace((unsigned char)n->text[0]) ||
             (v = strtod(n->text, &end), *end != '\0') || !isfinite(v) ||
             strpbrk(n->text, "xXnN") != NULL || fabs(v) > 1e250)
        status = fail(r, "invalid decimal '%.60s'", n->text);
    else
        *out = v;
    pop(r);
    return status;
}

static int read_bool(reader *r, const doc_node *obj, const char *name, int dflt,
                     int *out)
{
    const doc_node *n = field(r, obj, name, 0);
    int status = 0;
    *out = dflt;
    if (n == NULL) return r->failed ? -1 : 0;
    push_key(r, name);
    if (expect(r, n, DOC_BOOL, "true or false") == 0)
        *out = n->boolean;
    else
        status = -1;
    pop(r);
    return status;
}

/* A string node: its text, or NULL after failing (too long, NUL inside). */
static const char *string_of(reader *r, const doc_node *n)
{
    if (expect(r, n, DOC_STRING, "string") != 0) return NULL;
    if (strlen(n->text) != n->text_len) {
        fail(r, "contains a NUL character");
        return NULL;
    }
    return n->text;
}

/* obj.name as a string; dflt when absent. NULL after failing. */
static const char *read_str(reader *r, const doc_node *obj, const char *name,
                            int required, const char *dflt)
{
    const doc_node *n = field(r, obj, name, required);
    const char *s;
    if (n == NULL) return r->failed ? NULL : dflt;
    push_key(r, name);
    s = string_of(r, n);
    pop(r);
    return s;
}

/* An interned name from obj.name (required unless dflt_none); -1 when
 * absent (not required) or failed (r->failed). */
static int read_name(reader *r, const doc_node *obj, const char *name,
                     int required)
{
    const char *s = read_str(r, obj, name, required, NULL);
    int k;
    if (s == NULL) return -1;
    if ((k = limitr__state_intern(&r->e->st, s, strlen(s))) < 0) nomem(r);
    return k;
}

static const doc_node *read_list(reader *r, const doc_node *obj,
                                 const char *name)
{
    const doc_node *n = field(r, obj, name, 0);
    if (n == NULL) return NULL;
    push_key(r, name);
    if (expect(r, n, DOC_LIST, "list") == 0 && n->count > MAX_LIST)
        fail(r, "more than %d items", MAX_LIST);
    pop(r);
    return r->failed ? NULL : n;
}

static const doc_node *read_map(reader *r, const doc_node *obj,
                                const char *name)
{
    const doc_node *n = field(r, obj, name, 0);
    if (n == NULL) return NULL;
    push_key(r, name);
    expect(r, n, DOC_MAP, "object");
    pop(r);
    return r->failed ? NULL : n;
}

/* A list of strings into l (state memory). */
static int read_strlist(reader *r, const doc_node *obj, const char *name,
                        strlist *l)
{
    const doc_node *n = read_list(r, obj, name);
    strlist none = {NULL, 0, 0};
    size_t i;
    if (n == NULL) return r->failed ? -1 : 0;
    if (limitr__strlist_grow(&r->e->st, &none, n->count, l) != 0)
        return nomem(r);
    push_key(r, name);
    for (i = 0; i < n->count; i++) {
        const char *s;
        push_index(r, i);
        s = string_of(r, n->items[i]);
        pop(r);
        if (s == NULL) break;
        if (limitr__strlist_append(&r->e->st, l, s) != 0) {
            nomem(r);
            break;
        }
    }
    pop(r);
    return r->failed ? -1 : 0;
}

/* resets / reset_inc / reset_sch of obj. */
static int read_period(reader *r, const doc_node *obj, reset_kind *kind,
                       int64_t *inc, lp_schedule *sch)
{
    int resets, has_inc, has_sch;
    const char *text;
    *kind = RESET_NONE;
    if (read_bool(r, obj, "resets", 0, &resets) != 0) return -1;
    has_inc = field(r, obj, "reset_inc", 0) != NULL;
    has_sch = field(r, obj, "reset_sch", 0) != NULL;
    if (has_inc && has_sch)
        return fail(r, "reset_inc and reset_sch are mutually exclusive");
    if (!resets && (has_inc || has_sch))
        return fail(r, "%s without resets: true",
                    has_inc ? "reset_inc" : "reset_sch");
    if (!resets) return 0;
    if (!has_inc && !has_sch)
        return fail(r, "resets: true needs reset_inc or reset_sch");
    if (has_inc) {
        if (read_int(r, obj, "reset_inc", 1, 1, LIMITR_MAX_TIME, inc) != 0)
            return -1;
        *kind = RESET_INTERVAL;
        return 0;
    }
    if ((text = read_str(r, obj, "reset_sch", 1, NULL)) == NULL) return -1;
    {
        char err[256];
        if (limitr__schedule_parse(text, sch, err, sizeof err) != 0) {
            push_key(r, "reset_sch");
            fail(r, "%s", err);
            pop(r);
            return -1;
        }
    }
    *kind = RESET_SCHEDULE;
    return 0;
}

/* ---- The parts of a customer ---- */

static int read_estimate(reader *r, const doc_node *n, estimate *x)
{
    static const char *const known[] = {
        "alpha",  "overhead_mean", "overhead_var", "per_basis", "samples",
        "source", "updated",       "value_mean",   "value_var", NULL};
    const char *source;
    if (expect(r, n, DOC_MAP, "object") != 0 || known_fields(r, n, known) != 0)
        return -1;
    x->alpha = 0.1;
    if (read_double(r, n, "alpha", 0, &x->alpha) < 0 ||
        read_lnum(r, n, "overhead_mean", 0, &x->overhead_mean) < 0 ||
        read_lnum(r, n, "overhead_var", 0, &x->overhead_var) < 0 ||
        read_bool(r, n, "per_basis", 0, &x->per_basis) != 0 ||
        read_int(r, n, "samples", 0, 0, MAX_COUNT, &x->samples) < 0 ||
        read_time(r, n, "updated", 0, &x->updated) < 0 ||
        read_lnum(r, n, "value_mean", 0, &x->value_mean) < 0 ||
        read_lnum(r, n, "value_var", 0, &x->value_var) < 0)
        return -1;
    if (negative(r, "value_var", x->value_var) ||
        negative(r, "overhead_var", x->overhead_var))
        return -1;
    if (!(x->alpha > 0 && x->alpha <= 1)) {
        push_key(r, "alpha");
        fail(r, "must be in (0, 1]");
        pop(r);
        return -1;
    }
    source = read_str(r, n, "source", 0, "local");
    if (source == NULL) return -1;
    if (strcmp(source, "cloud") != 0 && strcmp(source, "local") != 0) {
        push_key(r, "source");
        fail(r, "expected 'cloud' or 'local', got '%.60s'", source);
        pop(r);
        return -1;
    }
    x->seeded = strcmp(source, "cloud") == 0;
    return 0;
}

/* {ent: {segment: estimate}} into l. */
static int read_estimates(reader *r, const doc_node *obj, estimate_list *l)
{
    const doc_node *m = read_map(r, obj, "estimates");
    size_t i, j;
    if (m == NULL) return r->failed ? -1 : 0;
    push_key(r, "estimates");
    for (i = 0; i < m->count && !r->failed; i++) {
        const doc_node *segs = m->pairs[i].value;
        int ent = limitr__state_intern(&r->e->st, m->pairs[i].key,
                                       m->pairs[i].key_len);
        push_key(r, m->pairs[i].key);
        if (ent < 0)
            nomem(r);
        else if (expect(r, segs, DOC_MAP, "object") == 0)
            for (j = 0; j < segs->count && !r->failed; j++) {
                int seg = limitr__state_intern(&r->e->st, segs->pairs[j].key,
                                               segs->pairs[j].key_len);
                estimate x, *slot;
                memset(&x, 0, sizeof x);
                push_key(r, segs->pairs[j].key);
                if (seg < 0)
                    nomem(r);
                else if (read_estimate(r, segs->pairs[j].value, &x) == 0) {
                    if ((slot = limitr__estimate_add(&r->e->st, l, ent, seg)) ==
                        NULL)
                        l->n >= MAX_ESTIMATES
                            ? fail(r, "more than %d estimates", MAX_ESTIMATES)
                            : nomem(r);
                    else {
                        x.ent = ent;
                        x.segment = seg;
                        *slot = x;
                    }
                }
                pop(r);
            }
        pop(r);
    }
    pop(r);
    return r->failed ? -1 : 0;
}

static int read_meter(reader *r, customer *c, const char *ent_key,
                      const doc_node *n)
{
    static const char *const known[] = {
        "credit",          "ewma_rate", "governor_last_refill",
        "governor_tokens", "history",   "overhead",
        "started",         "value",     NULL};
    int ent, credit = -1;
    int64_t started = 0;
    meter *m;
    const doc_node *h;
    const doc_pair *credit_pair;
    size_t i;
    if (expect(r, n, DOC_MAP, "object") != 0 || known_fields(r, n, known) != 0)
        return -1;
    if ((ent = limitr__state_intern(&r->e->st, ent_key, strlen(ent_key))) < 0)
        return nomem(r);
    /* credit null: a meter dormant since its units changed */
    if ((credit_pair = limitr__doc_get(n, "credit")) == NULL)
        return fail(r, "missing required field 'credit'");
    if (credit_pair->value->type != DOC_NULL &&
        (credit = read_name(r, n, "credit", 1)) < 0)
        return -1;
    if (read_time(r, n, "started", 1, &started) != 0) return -1;
    if ((m = limitr__meter_add(&r->e->st, c, ent, credit, started)) == NULL)
        return nomem(r);
    if (read_lnum(r, n, "value", 0, &m->value) < 0 ||
        read_lnum(r, n, "overhead", 0, &m->overhead) < 0)
        return -1;
    switch (read_double(r, n, "ewma_rate", 0, &m->ewma_rate)) {
    case -1:
        return -1;
    case 0:
        m->has_ewma = 1;
        break;
    }
    switch (read_lnum(r, n, "governor_tokens", 0, &m->tokens)) {
    case -1:
        return -1;
    case 0:
        if (negative(r, "governor_tokens", m->tokens)) return -1;
        m->has_bucket = 1;
        if (read_time(r, n, "governor_last_refill", 1, &m->last_refill) != 0)
            return -1;
    }
    if ((h = read_list(r, n, "history")) != NULL) {
        if (h->count > METER_HISTORY) {
            push_key(r, "history");
            fail(r, "at most %d entries", METER_HISTORY);
            pop(r);
            return -1;
        }
        push_key(r, "history");
        for (i = 0; i < h->count && !r->failed; i++) {
            static const char *const entry[] = {"delta", "ts", NULL};
            push_index(r, i);
            if (expect(r, h->items[i], DOC_MAP, "object") == 0 &&
                known_fields(r, h->items[i], entry) == 0 &&
                read_double(r, h->items[i], "delta", 1, &m->history[i].delta) ==
                    0 &&
                read_time(r, h->items[i], "ts", 1, &m->history[i].ts) == 0)
                m->n_history = (int)i + 1;
            pop(r);
        }
        pop(r);
    }
    return r->failed ? -1 : 0;
}

static int read_override(reader *r, customer *c, const char *ent_key,
                         const doc_node *n)
{
    static const char *const known[] = {"credit",
                                        "ewma_alpha",
                                        "expires",
                                        "governor_capacity",
                                        "governor_enabled",
                                        "governor_refill_rate",
                                        "grants_apply",
                                        "hard_trailing",
                                        "increment",
                                        "minimum",
                                        "mode",
                                        "reset_inc",
                                        "reset_sch",
                                        "resets",
                                        "value",
                                        NULL};
    override ov;
    limit_rule *lr = &ov.rule;
    const char *mode;
    int status;
    memset(&ov, 0, sizeof ov);
    if (expect(r, n, DOC_MAP, "object") != 0 || known_fields(r, n, known) != 0)
        return -1;
    if ((ov.ent = limitr__state_intern(&r->e->st, ent_key, strlen(ent_key))) <
        0)
        return nomem(r);
    if ((ov.credit = read_name(r, n, "credit", 1)) < 0) return -1;
    lr->increment = lnum_from_int(1);
    lr->ewma_alpha = 0.2;
    lr->grants_apply = 1;
    if ((status = read_lnum(r, n, "value", 0, &lr->value)) < 0) return -1;
    ov.own_value = status == 0;
    if (read_lnum(r, n, "increment", 0, &lr->increment) < 0 ||
        (status = read_lnum(r, n, "minimum", 0, &lr->minimum)) < 0)
        return -1;
    lr->has_minimum = status == 0;
    if (read_bool(r, n, "hard_trailing", 0, &lr->hard_trailing) != 0 ||
        read_bool(r, n, "grants_apply", 1, &lr->grants_apply) != 0 ||
        read_bool(r, n, "governor_enabled", 0, &lr->governor) != 0 ||
        read_lnum(r, n, "governor_capacity", 0, &lr->governor_capacity) < 0 ||
        read_double(r, n, "governor_refill_rate", 0,
                    &lr->governor_refill_rate) < 0 ||
        read_double(r, n, "ewma_alpha", 0, &lr->ewma_alpha) < 0 ||
        read_period(r, n, &lr->reset, &lr->reset_inc, &lr->sch) != 0)
        return -1;
    if ((status = read_time(r, n, "expires", 0, &ov.expires)) < 0) return -1;
    ov.has_expires = status == 0;
    if ((mode = read_str(r, n, "mode", 0, "hard")) == NULL) return -1;
    if (strcmp(mode, "hard") == 0)
        lr->mode = MODE_HARD;
    else if (strcmp(mode, "soft") == 0)
        lr->mode = MODE_SOFT;
    else if (strcmp(mode, "observe") == 0)
        lr->mode = MODE_OBSERVE;
    else {
        push_key(r, "mode");
        fail(r, "expected hard, soft or observe, got '%.60s'", mode);
        pop(r);
        return -1;
    }
    if (lr->increment <= 0) return fail(r, "increment must be greater than 0");
    if (negative(r, "value", lr->value) ||
        negative(r, "governor_capacity", lr->governor_capacity))
        return -1;
    if (lr->governor &&
        (lr->governor_capacity <= 0 || !(lr->governor_refill_rate > 0)))
        return fail(r, "a governor needs governor_capacity and "
                       "governor_refill_rate greater than 0");
    if (!(lr->ewma_alpha > 0 && lr->ewma_alpha <= 1))
        return fail(r, "ewma_alpha must be in (0, 1]");
    if (limitr__override_find(c, ov.ent) != NULL)
        return fail(r, "a second override of '%.100s'", ent_key);
    if (limitr__override_put(&r->e->st, c, &ov) != 0) return nomem(r);
    return 0;
}

static int credit_known(const limitr_engine *e, int credit)
{
    const char *name = limitr__state_name(&e->st, credit);
    return credit == e->rune_name ||
           limitr__credit_find(e->policy, name) >= 0 ||
           limitr__exchange_resolve(e->policy, name, &(lnum){0}, &(int){0}) ==
               EXCHANGE_OK;
}

static int read_grant(reader *r, customer *c, const doc_node *n,
                      warning_list *warnings)
{
    static const char *const known[] = {"created_on",
                                        "credit",
                                        "expires_on",
                                        "granted_on",
                                        "id",
                                        "last_reset",
                                        "max_balance",
                                        "reset_catchup_cap",
                                        "reset_inc",
                                        "reset_mode",
                                        "reset_sch",
                                        "resets",
                                        "rollover_max",
                                        "rollover_min",
                                        "rollover_pct",
                                        "starting_value",
                                        "topup",
                                        "value",
                                        NULL};
    grant g;
    grant_rule *gr = &g.rule;
    const char *id, *mode;
    int status;
    int64_t catchup = -1;
    memset(&g, 0, sizeof g);
    limitr__grant_rule_none(gr);
    if (expect(r, n, DOC_MAP, "object") != 0 || known_fields(r, n, known) != 0)
        return -1;
    if ((id = read_str(r, n, "id", 1, NULL)) == NULL ||
        bad_id(r, "id", id, MAX_ID_BYTES))
        return -1;
    if ((g.credit = read_name(r, n, "credit", 1)) < 0) return -1;
    g.topup = read_name(r, n, "topup", 0);
    if (r->failed) return -1;
    if (read_time(r, n, "created_on", 1, &g.created_on) != 0 ||
        read_time(r, n, "granted_on", 0, &g.granted_on) < 0 ||
        read_time(r, n, "last_reset", 0, &g.last_reset) < 0 ||
        read_lnum(r, n, "value", 1, &g.value) != 0 ||
        read_lnum(r, n, "starting_value", 0, &g.starting_value) < 0 ||
        read_period(r, n, &gr->reset, &gr->reset_inc, &gr->sch) != 0 ||
        read_int(r, n, "reset_catchup_cap", 0, 0, INT64_MAX, &catchup) < 0)
        return -1;
    gr->catchup_cap = catchup;
    if (negative(r, "value", g.value) ||
        negative(r, "starting_value", g.starting_value))
        return -1;
    if ((status = read_time(r, n, "expires_on", 0, &g.expires_on)) < 0)
        return -1;
    g.has_expires = status == 0;
#define OPT_LNUM(name, has, v)                                                 \
    if ((status = read_lnum(r, n, name, 0, &v)) < 0) return -1;                \
    has = status == 0
    OPT_LNUM("max_balance", gr->has_max_balance, gr->max_balance);
    OPT_LNUM("rollover_min", gr->has_rollover_min, gr->rollover_min);
    OPT_LNUM("rollover_max", gr->has_rollover_max, gr->rollover_max);
    OPT_LNUM("rollover_pct", gr->has_rollover_pct, gr->rollover_pct);
#undef OPT_LNUM
    if ((mode = read_str(r, n, "reset_mode", 0, "hard")) == NULL) return -1;
    for (status = 0; status < 3; status++)
        if (strcmp(mode, limitr__grant_reset_mode_names[status]) == 0) break;
    if (status == 3) {
        push_key(r, "reset_mode");
        fail(r, "expected hard, add or rollover, got '%.60s'", mode);
        pop(r);
        return -1;
    }
    gr->mode = (grant_reset_mode)status;
    if (limitr__grant_find(c, id) != NULL) {
        push_key(r, "id");
        fail(r, "duplicate grant id '%.100s'", id);
        pop(r);
        return -1;
    }
    if (c->n_grants >= MAX_CUSTOMER_GRANTS)
        return fail(r, "more than %d grants", MAX_CUSTOMER_GRANTS);
    if (!credit_known(r->e, g.credit)) {
        limitr__warn(warnings, "%s: grants.%s: unknown credit '%s' (skipped)",
                     c->id, id, limitr__state_name(&r->e->st, g.credit));
        return 0;
    }
    g.id = (char *)id;
    g.id_len = strlen(id);
    if (limitr__grant_add(&r->e->st, c, &g) != 0) return nomem(r);
    return 0;
}

static int read_cap(reader *r, customer *c, const doc_node *n,
                    warning_list *warnings)
{
    static const char *const known[] = {"created_on",
                                        "credit",
                                        "events",
                                        "exchangeable",
                                        "expires_on",
                                        "follow_decrements",
                                        "hard_trailing",
                                        "id",
                                        "ignore_grants",
                                        "last_reset",
                                        "meter_value",
                                        "observe_only",
                                        "overage_only",
                                        "overhead_cost",
                                        "reset_inc",
                                        "reset_sch",
                                        "resets",
                                        "scope",
                                        "shared",
                                        "shared_with",
                                        "started",
                                        "value",
                                        NULL};
    spend_cap k;
    const char *id;
    int status, ok;
    memset(&k, 0, sizeof k);
    if (expect(r, n, DOC_MAP, "object") != 0 || known_fields(r, n, known) != 0)
        return -1;
    if ((id = read_str(r, n, "id", 1, NULL)) == NULL ||
        bad_id(r, "id", id, MAX_ID_BYTES))
        return -1;
    if ((k.credit = read_name(r, n, "credit", 1)) < 0) return -1;
    if (read_lnum(r, n, "value", 1, &k.value) != 0 ||
        read_lnum(r, n, "meter_value", 0, &k.meter_value) < 0 ||
        read_time(r, n, "created_on", 1, &k.created_on) != 0 ||
        read_time(r, n, "started", 0, &k.started) < 0 ||
        read_bool(r, n, "events", 1, &k.events) != 0 ||
        read_bool(r, n, "exchangeable", 1, &k.exchangeable) != 0 ||
        read_bool(r, n, "follow_decrements", 0, &k.follow_decrements) != 0 ||
        read_bool(r, n, "hard_trailing", 0, &k.hard_trailing) != 0 ||
        read_bool(r, n, "ignore_grants", 0, &k.ignore_grants) != 0 ||
        read_bool(r, n, "observe_only", 0, &k.observe_only) != 0 ||
        read_bool(r, n, "overage_only", 0, &k.overage_only) != 0 ||
        read_bool(r, n, "overhead_cost", 0, &k.overhead_cost) != 0 ||
        read_bool(r, n, "shared", 0, &k.shared) != 0 ||
        read_period(r, n, &k.reset, &k.reset_inc, &k.sch) != 0)
        return -1;
    if (negative(r, "value", k.value)) return -1;
    if ((status = read_time(r, n, "expires_on", 0, &k.expires_on)) < 0)
        return -1;
    k.has_expires = status == 0;
    if ((status = read_time(r, n, "last_reset", 0, &k.last_reset)) < 0)
        return -1;
    k.has_last_reset = status == 0;
    if (limitr__cap_find(c, id) != NULL) {
        push_key(r, "id");
        fail(r, "duplicate cap id '%.100s'", id);
        pop(r);
        return -1;
    }
    if (c->n_caps >= MAX_CUSTOMER_CAPS)
        return fail(r, "more than %d caps", MAX_CUSTOMER_CAPS);
    if (read_strlist(r, n, "scope", &k.scope) != 0 ||
        read_strlist(r, n, "shared_with", &k.shared_with) != 0) {
        limitr__strlist_free(&r->e->st, &k.scope);
        limitr__strlist_free(&r->e->st, &k.shared_with);
        return -1;
    }
    k.id = (char *)id;
    k.id_len = strlen(id);
    ok = credit_known(r->e, k.credit);
    if (!ok)
        limitr__warn(warnings, "%s: caps.%s: unknown credit '%s' (skipped)",
                     c->id, id, limitr__state_name(&r->e->st, k.credit));
    status = ok && limitr__cap_add(&r->e->st, c, &k) != 0 ? nomem(r) : 0;
    limitr__strlist_free(&r->e->st, &k.scope); /* cap_add copied them */
    limitr__strlist_free(&r->e->st, &k.shared_with);
    return status;
}

static int read_parts(reader *r, const doc_node *h, const char *name,
                      int is_cap, reservation *res)
{
    const doc_node *l = read_list(r, h, name);
    size_t i;
    if (l == NULL) return r->failed ? -1 : 0;
    push_key(r, name);
    if (res->n_parts + l->count > MAX_HOLD_PARTS)
        fail(r, "a hold has at most %d parts", MAX_HOLD_PARTS);
    for (i = 0; i < l->count && !r->failed; i++) {
        static const char *const known[] = {"amount", "customer", "id", NULL};
        const doc_node *n = l->items[i];
        const char *holder, *id;
        hold_part *p;
        lnum amount = 0;
        push_index(r, i);
        if (expect(r, n, DOC_MAP, "object") == 0 &&
            known_fields(r, n, known) == 0 &&
            read_lnum(r, n, "amount", 1, &amount) == 0 &&
            (holder = read_str(r, n, "customer", is_cap, NULL), !r->failed) &&
            (id = read_str(r, n, "id", 1, NULL)) != NULL) {
            if ((p = limitr__hold_part_new(&r->e->st, &res->parts,
                                           &res->n_parts)) == NULL ||
                (is_cap && (p->holder = limitr__st_strdup(
                                &r->e->st, holder, strlen(holder))) == NULL) ||
                (p->id = limitr__st_strdup(&r->e->st, id, strlen(id))) == NULL)
                nomem(r);
            else {
                p->is_cap = is_cap;
                p->amount = amount;
            }
        }
        pop(r);
    }
    pop(r);
    return r->failed ? -1 : 0;
}

static int read_hold(reader *r, customer *c, const doc_node *n)
{
    static const char *const known[] = {
        "basis",   "capacity", "caps", "credit",   "entitlement",
        "expires", "grants",   "id",   "overhead", "segment",
        "tokens",  "value",    NULL};
    reservation h;
    int64_t id = 0;
    const char *segment;
    int status;
    memset(&h, 0, sizeof h);
    if (expect(r, n, DOC_MAP, "object") != 0 || known_fields(r, n, known) != 0)
        return -1;
    if (read_int(r, n, "id", 1, 1, MAX_COUNT, &id) != 0) return -1;
    h.id = (uint64_t)id;
    if ((h.ent = read_name(r, n, "entitlement", 1)) < 0) return -1;
    /* null: dormant (-1); absent: the credit its meter counts in */
    h.credit = read_name(r, n, "credit", 0);
    if (r->failed) return -1;
    if (limitr__doc_get(n, "credit") == NULL) {
        const meter *m = limitr__meter_find(c, h.ent);
        h.credit = m != NULL ? m->credit : -1;
    }
    if (read_lnum(r, n, "value", 1, &h.value) != 0 ||
        read_lnum(r, n, "overhead", 0, &h.overhead) < 0 ||
        read_lnum(r, n, "tokens", 0, &h.tokens) < 0 ||
        read_lnum(r, n, "capacity", 0, &h.capacity) < 0 ||
        read_time(r, n, "expires", 1, &h.expires) != 0)
        return -1;
    if (negative(r, "value", h.value) || negative(r, "tokens", h.tokens) ||
        negative(r, "capacity", h.capacity))
        return -1;
    if ((status = read_lnum(r, n, "basis", 0, &h.basis)) < 0) return -1;
    h.has_basis = status == 0;
    segment = read_str(r, n, "segment", 0, NULL);
    if (r->failed) return -1;
    if (limitr__hold_find(c, h.id) != NULL) {
        push_key(r, "id");
        fail(r, "duplicate hold id %lld", (long long)id);
        pop(r);
        return -1;
    }
    if (c->n_holds >= MAX_CUSTOMER_HOLDS)
        return fail(r, "more than %d holds", MAX_CUSTOMER_HOLDS);
    if ((segment != NULL &&
         (h.segment = limitr__st_strdup(&r->e->st, segment, strlen(segment))) ==
             NULL) ||
        read_parts(r, n, "caps", 1, &h) != 0 ||
        read_parts(r, n, "grants", 0, &h) != 0 ||
        limitr__hold_add(&r->e->st, c, &h) != 0) {
        limitr__hold_parts_free(&r->e->st, h.parts, h.n_parts);
        limitr__st_strfree(&r->e->st, h.segment);
        return r->failed ? -1 : nomem(r);
    }
    return 0;
}

/* A list field of a customer, item by item. */
static int read_items(reader *r, customer *c, const doc_node *obj,
                      const char *name, warning_list *warnings,
                      int (*item)(reader *, customer *, const doc_node *,
                                  warning_list *))
{
    const doc_node *l = read_list(r, obj, name);
    size_t i;
    if (l == NULL) return r->failed ? -1 : 0;
    push_key(r, name);
    for (i = 0; i < l->count && !r->failed; i++) {
        push_index(r, i);
        item(r, c, l->items[i], warnings);
        pop(r);
    }
    pop(r);
    return r->failed ? -1 : 0;
}

static int hold_item(reader *r, customer *c, const doc_node *n, warning_list *w)
{
    (void)w;
    return read_hold(r, c, n);
}

/* A map field of a customer, entry by entry. */
static int
read_entries(reader *r, customer *c, const doc_node *obj, const char *name,
             int (*entry)(reader *, customer *, const char *, const doc_node *))
{
    const doc_node *m = read_map(r, obj, name);
    size_t i;
    if (m == NULL) return r->failed ? -1 : 0;
    push_key(r, name);
    for (i = 0; i < m->count && !r->failed; i++) {
        push_key(r, m->pairs[i].key);
        if (strlen(m->pairs[i].key) != m->pairs[i].key_len)
            fail(r, "contains a NUL character");
        else
            entry(r, c, m->pairs[i].key, m->pairs[i].value);
        pop(r);
    }
    pop(r);
    return r->failed ? -1 : 0;
}

static int set_string(reader *r, char **slot, const char *s)
{
    char *copy = limitr__st_strdup(&r->e->st, s, strlen(s));
    if (copy == NULL) return nomem(r);
    limitr__st_strfree(&r->e->st, *slot);
    *slot = copy;
    return 0;
}

static int doc_depth(const doc_node *n)
{
    int deepest = 0, d;
    size_t i;
    for (i = 0; i < n->count; i++) {
        d = doc_depth(n->type == DOC_MAP ? n->pairs[i].value : n->items[i]);
        if (d > deepest) deepest = d;
    }
    return deepest + 1;
}

/* The metadata as the engine keeps it: cJSON's text of the value. */
static int read_metadata(reader *r, customer *c, const doc_node *obj)
{
    const doc_node *n = field(r, obj, "metadata", 0);
    cJSON *json;
    char *text, *copy;
    size_t len;
    if (n == NULL) return r->failed ? -1 : 0;
    if (doc_depth(n) > LIMITR_MAX_METADATA_DEPTH) { /* the parser bounds it */
        push_key(r, "metadata");
        fail(r, "nests more than %d levels deep", LIMITR_MAX_METADATA_DEPTH);
        pop(r);
        return -1;
    }
    if ((text = limitr__doc_json(n, &len)) == NULL) return nomem(r);
    json = cJSON_ParseWithLength(text, len);
    free(text);
    if (json == NULL) return nomem(r);
    text = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    if (text == NULL) return nomem(r);
    copy = limitr__st_strdup(&r->e->st, text, strlen(text));
    free(text);
    if (copy == NULL) return nomem(r);
    c->metadata_json = copy;
    return 0;
}

static int read_included(reader *r, customer *c, const doc_node *obj)
{
    const doc_node *l = read_list(r, obj, "included");
    size_t i;
    if (l == NULL) return r->failed ? -1 : 0;
    push_key(r, "included");
    for (i = 0; i < l->count && !r->failed; i++) {
        const char *s;
        int k;
        push_index(r, i);
        if ((s = string_of(r, l->items[i])) != NULL) {
            if ((k = limitr__state_intern(&r->e->st, s, strlen(s))) < 0 ||
                limitr__included_add(&r->e->st, c, k) != 0)
                nomem(r);
        }
        pop(r);
    }
    pop(r);
    return r->failed ? -1 : 0;
}

static int meter_entry(reader *r, customer *c, const char *ent,
                       const doc_node *n)
{
    if (limitr__meter_find(
            c, limitr__state_name_find(&r->e->st, ent, strlen(ent))) != NULL)
        return fail(r, "a second meter of '%.100s'", ent);
    return read_meter(r, c, ent, n);
}

static customer *read_customer(reader *r, const doc_node *n,
                               warning_list *warnings)
{
    static const char *const known[] = {
        "alt_ids",  "caps",     "created", "estimates", "grants", "holds",
        "id",       "included", "label",   "metadata",  "meters", "overrides",
        "own_plan", "refs",     "type",    NULL};
    const char *id, *s;
    int64_t created = 0;
    customer *c;
    if (expect(r, n, DOC_MAP, "object") != 0 || known_fields(r, n, known) != 0)
        return NULL;
    if ((id = read_str(r, n, "id", 1, NULL)) == NULL) return NULL;
    if (bad_id(r, "id", id, LIMITR_DEFAULT_MAX_ID)) return NULL;
    if (read_time(r, n, "created", 0, &created) < 0) return NULL;
    c = limitr__customer_new(&r->e->st, id, strlen(id),
                             limitr_hash(id, strlen(id)), created);
    if (c == NULL) {
        nomem(r);
        return NULL;
    }
    if ((s = read_str(r, n, "own_plan", 0, "")) == NULL ||
        set_string(r, &c->own_plan, s) != 0 ||
        (s = read_str(r, n, "type", 0, "user")) == NULL ||
        set_string(r, &c->type, s) != 0 ||
        (s = read_str(r, n, "label", 0, "User")) == NULL ||
        set_string(r, &c->label, s) != 0 ||
        read_strlist(r, n, "refs", &c->refs) != 0 ||
        read_strlist(r, n, "alt_ids", &c->alt_ids) != 0 ||
        bad_alt_ids(r, &c->alt_ids) || read_metadata(r, c, n) != 0 ||
        read_included(r, c, n) != 0 ||
        read_entries(r, c, n, "meters", meter_entry) != 0 ||
        read_entries(r, c, n, "overrides", read_override) != 0 ||
        read_items(r, c, n, "grants", warnings, read_grant) != 0 ||
        read_items(r, c, n, "caps", warnings, read_cap) != 0 ||
        read_items(r, c, n, "holds", warnings, hold_item) != 0 ||
        read_estimates(r, n, &c->estimates) != 0) {
        limitr__customer_destroy(&r->e->st, c);
        return NULL;
    }
    return c;
}

/* ---- The document ---- */

typedef struct staged {
    customer **items;
    size_t n, cap;
} staged;

static void staged_free(limitr_engine *e, staged *s)
{
    size_t i;
    for (i = 0; i < s->n; i++)
        limitr__customer_destroy(&e->st, s->items[i]);
    free(s->items);
    s->items = NULL;
    s->n = s->cap = 0;
}

static size_t staged_index(const staged *s, const customer *c)
{
    size_t i;
    for (i = 0; i < s->n; i++)
        if (s->items[i] == c) break;
    return i;
}

/* Indexes the staged IDs and alt IDs in ids, failing on a duplicate (or, on
 * a merge, on one the engine has). */
static int index_ids(reader *r, staged *s, idmap *ids, int replace)
{
    size_t i, j;
    for (i = 0; i < s->n; i++) {
        customer *c = s->items[i];
        for (j = 0; j <= c->alt_ids.n; j++) {
            const char *key = j == 0 ? c->id : c->alt_ids.items[j - 1];
            size_t len = j == 0 ? c->id_len : strlen(key);
            uint64_t hash = limitr_hash(key, len);
            customer *other = limitr__idmap_find(ids, key, len, hash);
            push_key(r, "customers");
            push_index(r, i);
            if (j == 0)
                push_key(r, "id");
            else {
                push_key(r, "alt_ids");
                push_index(r, j - 1);
            }
            if (other != NULL) {
                int as_id =
                    other->id_len == len && memcmp(other->id, key, len) == 0;
                fail(r, "duplicate id '%.100s' (also $.customers[%zu].%s)", key,
                     staged_index(s, other), as_id ? "id" : "alt_ids");
            } else if (!replace &&
                       limitr__customer_find(r->e, key, len, hash) != NULL)
                fail(r, "'%.100s' already exists in this engine", key);
            else if (limitr__idmap_insert(&r->e->st, ids, key, len, hash, c) !=
                     0)
                nomem(r);
            r->depth = 0;
            if (r->failed) return -1;
        }
    }
    return 0;
}

typedef struct hold_ref {
    uint64_t id;
    size_t customer, hold; /* where: staged index, hold index */
} hold_ref;

static int by_hold_id(const void *a, const void *b)
{
    uint64_t x = ((const hold_ref *)a)->id, y = ((const hold_ref *)b)->id;
    return x < y ? -1 : x > y;
}

/* Hold numbers are the engine's, one sequence for every customer (caps
 * hold room by number): unique in the document and, on a merge, new to the
 * engine; seq.hold becomes at least the largest. */
static int check_hold_ids(reader *r, const staged *s, int replace,
                          uint64_t *seq_hold)
{
    hold_ref *refs = NULL, *here = NULL;
    size_t n = 0, n_here = 0, i, j;
    int status = 0;
    for (i = 0; i < s->n; i++)
        n += s->items[i]->n_holds;
    if (n == 0) return 0;
    if ((refs = malloc(n * sizeof *refs)) == NULL) return nomem(r);
    for (n = 0, i = 0; i < s->n; i++)
        for (j = 0; j < s->items[i]->n_holds; j++) {
            refs[n].id = s->items[i]->holds[j].id;
            refs[n].customer = i;
            refs[n++].hold = j;
        }
    qsort(refs, n, sizeof *refs, by_hold_id);
    if (refs[n - 1].id > *seq_hold) *seq_hold = refs[n - 1].id;
    if (!replace) { /* the engine's, to look each up */
        const state_data *d = r->e->st.d;
        for (i = 0; i < d->customers.cap; i++) {
            customer *c = limitr__idmap_at(&d->customers, i);
            if (c != NULL) n_here += c->n_holds;
        }
        if (n_here > 0 && (here = malloc(n_here * sizeof *here)) == NULL) {
            free(refs);
            return nomem(r);
        }
        for (n_here = 0, i = 0; i < d->customers.cap; i++) {
            customer *c = limitr__idmap_at(&d->customers, i);
            for (j = 0; c != NULL && j < c->n_holds; j++)
                here[n_here++].id = c->holds[j].id;
        }
        if (n_here > 0) qsort(here, n_here, sizeof *here, by_hold_id);
    }
    for (i = 0; i < n && status == 0; i++) {
        int dup = i > 0 && refs[i].id == refs[i - 1].id;
        int taken = n_here > 0 && bsearch(&refs[i], here, n_here, sizeof *here,
                                          by_hold_id) != NULL;
        if (!dup && !taken) continue;
        push_key(r, "customers");
        push_index(r, refs[i].customer);
        push_key(r, "holds");
        push_index(r, refs[i].hold);
        push_key(r, "id");
        status = dup ? fail(r,
                            "duplicate hold id %llu (hold numbers are one "
                            "sequence for every customer)",
                            (unsigned long long)refs[i].id)
                     : fail(r, "hold %llu already exists in this engine",
                            (unsigned long long)refs[i].id);
        r->depth = 0;
    }
    free(refs);
    free(here);
    return status;
}

/* The room each hold part names, recorded in its cap or grant (which the
 * document holds); a part whose cap or grant is not there is dropped. */
static int place_holds(reader *r, staged *s, idmap *ids, warning_list *w)
{
    size_t i, j, k;
    for (i = 0; i < s->n; i++) {
        customer *c = s->items[i];
        for (j = 0; j < c->n_holds; j++) {
            reservation *h = &c->holds[j];
            for (k = 0; k < h->n_parts;) {
                hold_part *p = &h->parts[k];
                held_list *room = NULL;
                if (p->is_cap) {
                    size_t len = strlen(p->holder);
                    customer *holder = limitr__idmap_find(
                        ids, p->holder, len, limitr_hash(p->holder, len));
                    spend_cap *cap =
                        holder != NULL ? limitr__cap_find(holder, p->id) : NULL;
                    if (cap != NULL) room = &cap->held;
                } else {
                    grant *g = limitr__grant_find(c, p->id);
                    if (g != NULL) room = &g->held;
                }
                if (room == NULL) {
                    limitr__warn(w,
                                 "%s: holds: hold %llu: the %s '%s' it holds "
                                 "room in is not in the document (dropped)",
                                 c->id, (unsigned long long)h->id,
                                 p->is_cap ? "cap" : "grant", p->id);
                    limitr__st_strfree(&r->e->st, p->holder);
                    limitr__st_strfree(&r->e->st, p->id);
                    memmove(p, p + 1, (h->n_parts - k - 1) * sizeof *p);
                    h->n_parts--;
                    continue;
                }
                if (limitr__held_add(&r->e->st, room, h->id, h->expires,
                                     p->amount) != 0)
                    return nomem(r);
                k++;
            }
        }
    }
    return 0;
}

/* The policy-wide estimates after the import: the document's (replace), or
 * the engine's with the document's added, replacing those still at their
 * seed (merge). */
static int merge_estimates(reader *r, estimate_list *file, int replace,
                           estimate_list *out)
{
    const estimate_list *here = &r->e->st.d->estimates;
    size_t i;
    memset(out, 0, sizeof *out);
    if (replace) {
        *out = *file;
        memset(file, 0, sizeof *file);
        return 0;
    }
    for (i = 0; i < here->n; i++) {
        estimate *x = limitr__estimate_add(&r->e->st, out, here->items[i].ent,
                                           here->items[i].segment);
        if (x == NULL) return nomem(r);
        *x = here->items[i];
    }
    for (i = 0; i < file->n; i++) {
        const estimate *f = &file->items[i];
        estimate *x = limitr__estimate_find(out, f->ent, f->segment);
        if (x == NULL && (x = limitr__estimate_add(&r->e->st, out, f->ent,
                                                   f->segment)) == NULL)
            return out->n >= MAX_ESTIMATES
                       ? fail(r, "more than %d policy-wide estimates",
                              MAX_ESTIMATES)
                       : nomem(r);
        else if (x->samples > 0 && !x->seeded)
            continue; /* learned here: kept */
        *x = *f;
    }
    return 0;
}

static int hex_digits(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* The header: version, policy, now, units, seq. */
static int read_header(reader *r, const doc_node *root, uint64_t seq[3],
                       const char **policy)
{
    static const char *const known[] = {"limitr_state", "policy", "now",
                                        "units",        "seq",    "estimates",
                                        "customers",    NULL};
    static const char *const seq_keys[] = {"cap", "grant", "hold", NULL};
    int64_t version = 0, now = 0, v;
    const doc_node *m;
    const char *fp;
    int i;
    if (expect(r, root, DOC_MAP, "object") != 0 ||
        known_fields(r, root, known) != 0)
        return -1;
    if (read_int(r, root, "limitr_state", 1, INT64_MIN, INT64_MAX, &version) !=
        0)
        return -1;
    if (version != LIMITR_STATE_VERSION) {
        push_key(r, "limitr_state");
        fail(r, "unsupported version %lld (this engine reads %d)",
             (long long)version, LIMITR_STATE_VERSION);
        pop(r);
        return -1;
    }
    if ((fp = read_str(r, root, "policy", 1, NULL)) == NULL) return -1;
    if (strlen(fp) != 71 || strncmp(fp, "sha256:", 7) != 0 ||
        !hex_digits(fp + 7, 64)) {
        push_key(r, "policy");
        fail(r, "expected 'sha256:' and 64 hex digits");
        pop(r);
        return -1;
    }
    *policy = fp;
    if (read_time(r, root, "now", 1, &now) != 0) return -1;
    if ((m = read_map(r, root, "units")) != NULL) {
        size_t j;
        push_key(r, "units");
        for (j = 0; j < m->count && !r->failed; j++) {
            const doc_node *u = m->pairs[j].value;
            push_key(r, m->pairs[j].key);
            if (u->type != DOC_NULL &&
                (expect(r, u, DOC_STRING, "a unit symbol or null") != 0 ||
                 limitr__unit_credit_symbol(u->text) < 0))
                fail(r, "unknown unit '%.40s'", u->text);
            pop(r);
        }
        pop(r);
    }
    if (r->failed) return -1;
    if ((m = read_map(r, root, "seq")) != NULL) {
        push_key(r, "seq");
        if (known_fields(r, m, seq_keys) == 0)
            for (i = 0; i < 3; i++) {
                v = 0;
                if (read_int(r, m, seq_keys[i], 0, 0, MAX_COUNT, &v) < 0) break;
                seq[i] = (uint64_t)v;
            }
        pop(r);
    }
    return r->failed ? -1 : 0;
}

/* Credits the document keeps in other units than this policy: in the same
 * dimension every amount of the staged customers and of the document's
 * estimates converts (checked first: one out of range fails the import);
 * otherwise their meters are dormant (their next commit starts them
 * again). */
static int units_convert(reader *r, const doc_node *root, staged *s,
                         estimate_list *file_est, warning_list *w)
{
    const doc_pair *p = limitr__doc_get(root, "units");
    size_t i, j, k;
    if (p == NULL || p->value->type != DOC_MAP) return 0;
    for (i = 0; i < p->value->count; i++) {
        const char *name = p->value->pairs[i].key;
        const doc_node *node = p->value->pairs[i].value;
        int credit = limitr__credit_find(r->e->policy, name), there;
        unit_change u;
        if (credit < 0) continue; /* dormant state: units_record */
        there = node->type == DOC_NULL ? -1
                                       : limitr__unit_credit_symbol(node->text);
        if (there == r->e->policy->credits[credit].units) continue;
        limitr__unit_change(&u, name, r->e->credit_names[credit], there,
                            r->e->policy->credits[credit].units);
        if (u.convert) {
            if (limitr__convert_units(r->e, s->items, s->n, &u, 0) != 0 ||
                limitr__convert_estimates(r->e, &u, file_est, 0) != 0) {
                push_key(r, "units");
                push_key(r, name);
                fail(r, "%s -> %s: an amount in it would be out of range",
                     limitr__unit_symbol(u.from), limitr__unit_symbol(u.to));
                r->depth = 0;
                return -1;
            }
            limitr__convert_units(r->e, s->items, s->n, &u, 1);
            limitr__convert_estimates(r->e, &u, file_est, 1);
            limitr__warn(w,
                         "$.units.%s: %s in the document, %s here: every "
                         "amount in it was converted",
                         name, limitr__unit_symbol(u.from),
                         limitr__unit_symbol(u.to));
            continue;
        }
        limitr__warn(w,
                     "$.units.%s: %s in the document, %s here: its meters are "
                     "dormant (their next commit starts them again)",
                     name, u.from >= 0 ? limitr__unit_symbol(u.from) : "(none)",
                     u.to >= 0 ? limitr__unit_symbol(u.to) : "(none)");
        for (j = 0; j < s->n; j++) {
            customer *c = s->items[j];
            for (k = 0; k < c->n_meters; k++)
                if (c->meters[k].credit == u.credit) c->meters[k].credit = -1;
            for (k = 0; k < c->n_holds; k++)
                if (c->holds[k].credit == u.credit) c->holds[k].credit = -1;
        }
    }
    return 0;
}

/* After the import: the units of credits the policy does not know, as the
 * document kept them, so that a reload that brings them converts. */
static void units_record(limitr_engine *e, const doc_node *root)
{
    const doc_pair *p = limitr__doc_get(root, "units");
    size_t i;
    if (p == NULL || p->value->type != DOC_MAP) return;
    for (i = 0; i < p->value->count; i++) {
        const char *name = p->value->pairs[i].key;
        const doc_node *node = p->value->pairs[i].value;
        int k = limitr__state_name_find(&e->st, name, strlen(name));
        if (k < 0 || limitr__credit_find(e->policy, name) >= 0 ||
            limitr__state_units(&e->st, k) != UNITS_UNKNOWN)
            continue;
        limitr__state_set_units(&e->st, k,
                                node->type == DOC_NULL
                                    ? -1
                                    : limitr__unit_credit_symbol(node->text));
    }
}

static void recount_caps(state_data *d)
{
    size_t i, j;
    d->n_caps = d->n_shared_caps = 0;
    for (i = 0; i < d->customers.cap; i++) {
        customer *c = limitr__idmap_at(&d->customers, i);
        if (c == NULL) continue;
        d->n_caps += c->n_caps;
        for (j = 0; j < c->n_caps; j++)
            if (c->caps[j].shared) d->n_shared_caps++;
    }
}

/* Everything checked and allocated: the staged customers enter the engine
 * (nothing here can fail). replace: the old customers go, and the fresh
 * indexes (room reserved for every staged key) replace theirs. */
static void commit(limitr_engine *e, staged *s, int replace, idmap *fresh,
                   idmap *fresh_alt, estimate_list *estimates,
                   const uint64_t seq[3])
{
    state_data *d = e->st.d;
    size_t i, j;
    /* before customers go: the store forgets the ones it was to write
       and writes every row again */
    limitr__touch_all(e, 1); /* replaced ones too: destroying writes them */
    if (replace) {
        for (i = 0; i < d->customers.cap; i++) {
            customer *c = limitr__idmap_at(&d->customers, i);
            if (c != NULL) limitr__customer_destroy(&e->st, c);
        }
        limitr__idmap_free(&e->st, &d->customers);
        limitr__idmap_free(&e->st, &d->alt_ids);
        d->customers = *fresh;
        d->alt_ids = *fresh_alt;
        memset(fresh, 0, sizeof *fresh);
        memset(fresh_alt, 0, sizeof *fresh_alt);
        d->next_cap = seq[0];
        d->next_grant = seq[1];
        d->next_hold = seq[2];
    } else {
        if (seq[0] > d->next_cap) d->next_cap = seq[0];
        if (seq[1] > d->next_grant) d->next_grant = seq[1];
        if (seq[2] > d->next_hold) d->next_hold = seq[2];
    }
    for (i = 0; i < s->n; i++) { /* room reserved: cannot fail */
        customer *c = s->items[i];
        limitr__idmap_insert(&e->st, &d->customers, c->id, c->id_len, c->hash,
                             c);
        for (j = 0; j < c->alt_ids.n; j++) {
            const char *alt = c->alt_ids.items[j];
            size_t len = strlen(alt);
            limitr__idmap_insert(&e->st, &d->alt_ids, alt, len,
                                 limitr_hash(alt, len), c);
        }
    }
    limitr__estimate_list_free(&e->st, &d->estimates);
    d->estimates = *estimates;
    memset(estimates, 0, sizeof *estimates);
    recount_caps(d);
    limitr__state_changed(&e->st);
    e->draw.valid = 0;
    e->walk.n = -1;
}

/* Room for every staged key: in the engine's indexes (merge), or in fresh
 * ones that replace them (replace). */
static int reserve_ids(reader *r, const staged *s, int replace, idmap *fresh,
                       idmap *fresh_alt)
{
    state_data *d = r->e->st.d;
    size_t i, n_alt = 0;
    for (i = 0; i < s->n; i++)
        n_alt += s->items[i]->alt_ids.n;
    if (replace ? limitr__idmap_reserve(&r->e->st, fresh, s->n) != 0 ||
                      limitr__idmap_reserve(&r->e->st, fresh_alt, n_alt) != 0
                : limitr__idmap_reserve(&r->e->st, &d->customers, s->n) != 0 ||
                      limitr__idmap_reserve(&r->e->st, &d->alt_ids, n_alt) != 0)
        return nomem(r);
    return 0;
}

static char *parse_error(const char *msg)
{
    /* the parser's "(document): ..." and "<path>: ..." as "$..." paths */
    size_t len = strlen(msg) + 4;
    char *out = malloc(len);
    if (out == NULL) return NULL;
    if (strncmp(msg, "(document)", 10) == 0)
        snprintf(out, len, "$%s", msg + 10);
    else
        snprintf(out, len, "$%s%s", msg[0] == '[' ? "" : ".", msg);
    return out;
}

static int import_call(limitr_engine *e, const char *text, size_t len,
                       int replace, const char **result_json)
{
    return limitr__import(e, text, len, replace, LIMITR_MAX_STATE_DOCUMENT,
                          result_json);
}

int limitr_import(limitr_engine *e, const char *text, size_t len, int replace,
                  const char **result_json)
{
    LIMITR_ENTER(e);
    return limitr__stored(e, import_call(e, text, len, replace, result_json));
}

int limitr__import(limitr_engine *e, const char *text, size_t len, int replace,
                   size_t max_len, const char **result_json)
{
    reader r;
    doc_node *root;
    char *perr = NULL;
    staged s = {NULL, 0, 0};
    idmap ids = {NULL, 0, 0, 0}, fresh = {NULL, 0, 0, 0},
          fresh_alt = {NULL, 0, 0, 0};
    estimate_list file_est = {NULL, 0, 0}, merged = {NULL, 0, 0};
    uint64_t seq[3] = {0, 0, 0};
    const char *fingerprint = NULL;
    warning_list w = {NULL, 0, 0, 0};
    const doc_node *list;
    cJSON *result;
    size_t i;
    int status;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "import");
    LIMITR_LOG_OP(e, "import", NULL, replace ? "replace" : "merge");
    if (result_json != NULL) *result_json = NULL;
    if (text == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL, "import: no text given");
    if (len > max_len)
        return limitr__fail(e, LIMITR_INVALID, "invalid_state",
                            "$: the document is larger than %zu MiB",
                            max_len >> 20);
    root = limitr__doc_parse_json(text, len, &perr);
    if (root == NULL) {
        char *msg = perr != NULL ? parse_error(perr) : NULL;
        free(perr);
        if (msg == NULL) return limitr__nomem(e);
        status = limitr__fail(e, LIMITR_INVALID, "invalid_state", "%s", msg);
        free(msg);
        return status;
    }
    memset(&r, 0, sizeof r);
    r.e = e;
    if ((w.list = cJSON_CreateArray()) == NULL) {
        limitr__doc_free(root);
        return limitr__nomem(e);
    }
    if (read_header(&r, root, seq, &fingerprint) != 0 ||
        read_estimates(&r, root, &file_est) != 0)
        goto fail;
    if (strcmp(fingerprint, e->policy->fingerprint) != 0)
        limitr__warn(&w, "$.policy: exported under %s, running %s", fingerprint,
                     e->policy->fingerprint);
    if ((list = field(&r, root, "customers", 1)) == NULL) goto fail;
    push_key(&r, "customers");
    if (expect(&r, list, DOC_LIST, "list") != 0) goto fail;
    if ((s.items = malloc((list->count + 1) * sizeof *s.items)) == NULL) {
        nomem(&r);
        goto fail;
    }
    for (i = 0; i < list->count; i++) {
        customer *c;
        push_index(&r, i);
        c = read_customer(&r, list->items[i], &w);
        pop(&r);
        if (c == NULL) goto fail;
        s.items[s.n++] = c;
    }
    pop(&r);
    if (index_ids(&r, &s, &ids, replace) != 0 ||
        check_hold_ids(&r, &s, replace, &seq[2]) != 0 ||
        place_holds(&r, &s, &ids, &w) != 0 ||
        units_convert(&r, root, &s, &file_est, &w) != 0 ||
        merge_estimates(&r, &file_est, replace, &merged) != 0 ||
        reserve_ids(&r, &s, replace, &fresh, &fresh_alt) != 0)
        goto fail;
    commit(e, &s, replace, &fresh, &fresh_alt, &merged, seq);
    units_record(e, root);
    for (i = 0; i < s.n; i++)
        limitr__warn_customer(e, s.items[i], &w);
    limitr__warn_end(&w);
    limitr__idmap_free(&e->st, &ids);
    limitr__estimate_list_free(&e->st, &file_est);
    limitr__doc_free(root);
    result = cJSON_CreateObject();
    if (result == NULL ||
        !cJSON_AddNumberToObject(result, "customers", (double)s.n) ||
        !cJSON_AddItemToObject(result, "warnings", w.list)) {
        if (result == NULL || cJSON_GetObjectItem(result, "warnings") == NULL)
            cJSON_Delete(w.list);
        cJSON_Delete(result);
        free(s.items);
        return limitr__ok(e); /* imported: only the report is lost */
    }
    free(s.items);
    if (limitr__set_result(e, result, result_json) != LIMITR_OK)
        return limitr__ok(e);
    return LIMITR_OK;

fail:
    staged_free(e, &s);
    limitr__idmap_free(&e->st, &ids);
    limitr__idmap_free(&e->st, &fresh);
    limitr__idmap_free(&e->st, &fresh_alt);
    limitr__estimate_list_free(&e->st, &file_est);
    limitr__estimate_list_free(&e->st, &merged);
    limitr__doc_free(root);
    cJSON_Delete(w.list);
    if (r.nomem) return limitr__nomem(e);
    return limitr__fail(e, LIMITR_INVALID, "invalid_state", "%s", r.err);
}
