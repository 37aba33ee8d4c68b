/* policy.c: validates a document tree and compiles it into the immutable
 * lp_policy the engine decides with. Every problem is reported (sorted by
 * position); a document with any problem yields no policy at all. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "internal.h"
#include "validate.h"

/* ---- Field tables ---- */

/* How a field the spec names is handled by this version. */
typedef enum field_kind {
    FIELD_OK,      /* supported */
    FIELD_LATER,   /* in the spec, not implemented yet: refused, said so */
    FIELD_UPSTREAM /* upstream Limitr only: never in a limitr policy */
} field_kind;

typedef struct field {
    const char *name;
    field_kind kind;
} field;

#define N_FIELDS(t) (sizeof(t) / sizeof((t)[0]))

static const field root_fields[] = {
    {"version", FIELD_OK},
    {"credits", FIELD_OK},
    {"plans", FIELD_OK},
    {"exchange", FIELD_LATER},
    {"lua", FIELD_LATER},
    {"handlers", FIELD_LATER},
    {"notifications", FIELD_LATER},
    {"estimates", FIELD_LATER},
    {"estimate_min_samples", FIELD_LATER},
    {"hold_ttl", FIELD_LATER},
    {"customers", FIELD_UPSTREAM},
    {"alt_customer_ids", FIELD_UPSTREAM},
    {"capabilities", FIELD_UPSTREAM},
    {"invoices", FIELD_UPSTREAM},
    {"limitr_cloud", FIELD_UPSTREAM},
};

static const field credit_fields[] = {
    {"label", FIELD_OK},       {"unit", FIELD_OK},
    {"description", FIELD_OK}, {"resets", FIELD_OK},
    {"metadata", FIELD_OK},    {"units", FIELD_LATER},
    {"price", FIELD_LATER},    {"pricing_model", FIELD_LATER},
    {"tiers", FIELD_LATER},    {"overhead_cost", FIELD_LATER},
    {"overhead", FIELD_LATER}, {"stof_units", FIELD_UPSTREAM},
};

static const field plan_fields[] = {
    {"label", FIELD_OK},           {"description", FIELD_OK},
    {"default", FIELD_OK},         {"hidden", FIELD_OK},
    {"entitlements", FIELD_OK},    {"metadata", FIELD_OK},
    {"period", FIELD_LATER},       {"subscription", FIELD_LATER},
    {"trial_period", FIELD_LATER}, {"extends", FIELD_LATER},
    {"topups", FIELD_LATER},
};

static const field entitlement_fields[] = {
    {"description", FIELD_OK},
    {"limit", FIELD_OK},
    {"hidden", FIELD_OK},
    {"metadata", FIELD_OK},
    {"scope", FIELD_LATER},
    {"estimate_basis", FIELD_LATER},
    {"estimate_segment", FIELD_LATER},
};

static const field limit_fields[] = {
    {"credit", FIELD_OK},
    {"value", FIELD_OK},
    {"increment", FIELD_OK},
    {"mode", FIELD_OK},
    {"minimum", FIELD_LATER},
    {"hard_trailing", FIELD_LATER},
    {"grants_apply", FIELD_LATER},
    {"resets", FIELD_LATER},
    {"reset_inc", FIELD_LATER},
    {"reset_sch", FIELD_LATER},
    {"governor_enabled", FIELD_LATER},
    {"governor_capacity", FIELD_LATER},
    {"governor_refill_rate", FIELD_LATER},
    {"ewma_alpha", FIELD_LATER},
    {"on_exceed", FIELD_LATER},
    {"override_expires_on", FIELD_UPSTREAM},
};

/* ---- The compiler ---- */

typedef struct compiler {
    verrors errs;
    lp_policy *p;
    int nomem;
} compiler;

static const char *type_name(const doc_node *n)
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

#define ERR(cc, path, node, ...)                                               \
    limitr__verr(&(cc)->errs, (path), (node)->line, (node)->col, __VA_ARGS__)

static char *child_path(compiler *cc, const char *parent, const char *key)
{
    char *path = limitr__doc_path_append(parent, key, strlen(key));
    if (path == NULL) cc->nomem = 1;
    return path;
}

static char *xstrdup(compiler *cc, const char *s)
{
    char *copy = strdup(s != NULL ? s : "");
    if (copy == NULL) cc->nomem = 1;
    return copy;
}

/* Formats " (did you mean 'x'?)" or "" into buf. */
static const char *hint(char *buf, size_t size, const char *word,
                        const char *const *cands, size_t n)
{
    const char *best = limitr__did_you_mean(word, cands, n);
    if (best == NULL) return "";
    snprintf(buf, size, " (did you mean '%s'?)", best);
    return buf;
}

/* Reports unknown, not-yet-supported and upstream-only fields of a map.
 * Supported fields pass silently; the caller reads them. */
static void check_fields(compiler *cc, const doc_node *map, const char *path,
                         const field *fields, size_t n)
{
    const char *names[32];
    /* Fields of the root mapping `policy` have paths without "policy." */
    const char *base = strcmp(path, "policy") == 0 ? "" : path;
    size_t i, j;
    for (j = 0; j < n && j < 32; j++)
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
                         hint(buf, sizeof buf, pair->key, names, n));
            continue;
        }
        fpath = child_path(cc, base, pair->key);
        if (fpath == NULL) return;
        if (f->kind == FIELD_UPSTREAM)
            limitr__verr(&cc->errs, fpath, pair->key_line, pair->key_col,
                         "not supported in a limitr policy");
        else
            limitr__verr(&cc->errs, fpath, pair->key_line, pair->key_col,
                         "not supported yet by this version of limitr");
        free(fpath);
    }
}

/* The value of key in map, with null treated as absent (policy.md 1.4). */
static const doc_node *get(const doc_node *map, const char *key)
{
    const doc_pair *pair = limitr__doc_get(map, key);
    if (pair == NULL || pair->value->type == DOC_NULL) return NULL;
    return pair->value;
}

static int expect(compiler *cc, const doc_node *n, const char *path,
                  doc_type type, const char *what)
{
    if (n->type == type) return 1;
    ERR(cc, path, n, "expected %s, got %s", what, type_name(n));
    return 0;
}

/* A Lua tag is allowed only on snippet fields, none of which this version
 * supports yet. */
static int refuse_lua_tag(compiler *cc, const doc_node *n, const char *path)
{
    if (!n->lua_tag) return 0;
    ERR(cc, path, n,
        "Lua snippets are not supported yet by this version "
        "of limitr");
    return 1;
}

/* Copies the string field key of map (default dflt) into *out. */
static void read_string(compiler *cc, const doc_node *map, const char *path,
                        const char *key, const char *dflt, char **out)
{
    const doc_node *n = get(map, key);
    char *fpath;
    *out = NULL;
    if (n != NULL) {
        fpath = child_path(cc, path, key);
        if (fpath == NULL) return;
        if (!refuse_lua_tag(cc, n, fpath) &&
            expect(cc, n, fpath, DOC_STRING, "string")) {
            free(fpath);
            *out = xstrdup(cc, n->text);
            return;
        }
        free(fpath);
    }
    *out = xstrdup(cc, dflt);
}

static int read_bool(compiler *cc, const doc_node *map, const char *path,
                     const char *key, int dflt)
{
    const doc_node *n = get(map, key);
    char *fpath;
    int ok;
    if (n == NULL) return dflt;
    fpath = child_path(cc, path, key);
    if (fpath == NULL) return dflt;
    ok = expect(cc, n, fpath, DOC_BOOL, "boolean");
    free(fpath);
    return ok ? n->boolean : dflt;
}

/* ---- Amounts: numbers and number strings ---- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A number string of policy.md section 11 without a unit: sign, digits with
 * single '_' between them, fraction, exponent. Copies it without '_' into
 * buf; returns the length of the numeric prefix, or 0 if there is none. */
static size_t number_prefix(const char *s, char *buf, size_t size,
                            size_t *buf_len)
{
    size_t i = 0, n = 0, digits = 0;
#define PUT(c) (n + 1 < size ? (void)(buf[n++] = (c)) : (void)0)
    if (s[i] == '+' || s[i] == '-') PUT(s[i++]);
    while (is_digit(s[i]) ||
           (s[i] == '_' && i > 0 && is_digit(s[i - 1]) && is_digit(s[i + 1]))) {
        if (s[i] != '_') {
            PUT(s[i]);
            digits++;
        }
        i++;
    }
    if (s[i] == '.' && is_digit(s[i + 1])) {
        PUT(s[i++]);
        while (is_digit(s[i])) {
            PUT(s[i++]);
            digits++;
        }
    }
    if (digits == 0) return 0;
    if ((s[i] == 'e' || s[i] == 'E') &&
        (is_digit(s[i + 1]) ||
         ((s[i + 1] == '+' || s[i + 1] == '-') && is_digit(s[i + 2])))) {
        PUT(s[i++]);
        if (s[i] == '+' || s[i] == '-') PUT(s[i++]);
        while (is_digit(s[i]))
            PUT(s[i++]);
    }
#undef PUT
    buf[n] = '\0';
    *buf_len = n;
    return i;
}

static const char *const unit_symbols[] = {
    "B",   "byte",        "bytes",        "kB",    "KB",  "MB",     "GB",
    "TB",  "PB",          "KiB",          "MiB",   "GiB", "TiB",    "PiB",
    "ms",  "millisecond", "milliseconds", "s",     "sec", "second", "seconds",
    "min", "minute",      "minutes",      "h",     "hr",  "hour",   "hours",
    "day", "days",        "week",         "weeks",
};

/* Reads a credit-valued amount (a number, or a number string) of credit
 * `credit_name`. Returns 1 and sets *out, or 0 after reporting. */
static int read_amount(compiler *cc, const doc_node *n, const char *path,
                       const char *credit_name, lnum *out)
{
    char buf[128];
    size_t len = 0, used;
    if (refuse_lua_tag(cc, n, path)) return 0;
    if (n->type == DOC_NUMBER) {
        if (limitr__lnum_parse(n->text, n->text_len, out) != 0) {
            ERR(cc, path, n, "number %s is out of range", n->text);
            return 0;
        }
        return 1;
    }
    if (n->type != DOC_STRING) {
        ERR(cc, path, n, "expected number, got %s", type_name(n));
        return 0;
    }
    {
        const char *s = n->text;
        while (*s == ' ' || *s == '\t' || *s == '\n')
            s++;
        if (strncmp(s, "function", 8) == 0 &&
            !(s[8] == '_' || (s[8] >= 'a' && s[8] <= 'z') ||
              (s[8] >= 'A' && s[8] <= 'Z') || is_digit(s[8]))) {
            ERR(cc, path, n,
                "Lua snippets are not supported yet by this "
                "version of limitr");
            return 0;
        }
    }
    used = number_prefix(n->text, buf, sizeof buf, &len);
    if (used == 0) {
        ERR(cc, path, n, "expected number, got string");
        return 0;
    }
    if (n->text[used] == '\0') {
        if (limitr__lnum_parse(buf, len, out) != 0) {
            ERR(cc, path, n, "number '%s' is out of range", n->text);
            return 0;
        }
        return 1;
    }
    {
        const char *unit = n->text + used;
        size_t i;
        char hbuf[96];
        while (*unit == ' ')
            unit++;
        for (i = 0; i < N_FIELDS(unit_symbols); i++) {
            if (strcmp(unit, unit_symbols[i]) == 0) {
                ERR(cc, path, n, "'%s' has a unit but credit '%s' has no units",
                    n->text, credit_name);
                return 0;
            }
        }
        ERR(cc, path, n, "unknown unit '%s'%s", unit,
            hint(hbuf, sizeof hbuf, unit, unit_symbols,
                 N_FIELDS(unit_symbols)));
        return 0;
    }
}

/* ---- Sections ---- */

static int valid_key(compiler *cc, const doc_pair *pair, const char *path,
                     const char *what)
{
    if (limitr__valid_name(pair->key, pair->key_len)) return 1;
    limitr__verr(&cc->errs, path, pair->key_line, pair->key_col,
                 "invalid %s name '%s' (use A-Z a-z 0-9 _ -)", what, pair->key);
    return 0;
}

static void compile_credits(compiler *cc, const doc_node *credits)
{
    lp_policy *p = cc->p;
    size_t i;
    if (!expect(cc, credits, "credits", DOC_MAP, "mapping")) return;
    p->credits =
        calloc(credits->count ? credits->count : 1, sizeof *p->credits);
    if (p->credits == NULL) {
        cc->nomem = 1;
        return;
    }
    for (i = 0; i < credits->count; i++) {
        const doc_pair *pair = &credits->pairs[i];
        const doc_node *n = pair->value;
        lp_credit *cr = &p->credits[p->n_credits];
        char *path = child_path(cc, "credits", pair->key);
        if (path == NULL) return;
        if (!valid_key(cc, pair, path, "credit")) {
            free(path);
            continue;
        }
        if (strcmp(pair->key, "rune") == 0) {
            limitr__verr(&cc->errs, path, pair->key_line, pair->key_col,
                         "'rune' is reserved");
            free(path);
            continue;
        }
        /* A credit written as null or {} takes every default. */
        if (n->type != DOC_NULL && !expect(cc, n, path, DOC_MAP, "mapping")) {
            free(path);
            continue;
        }
        if (n->type == DOC_MAP)
            check_fields(cc, n, path, credit_fields, N_FIELDS(credit_fields));
        cr->name = xstrdup(cc, pair->key);
        read_string(cc, n, path, "label", "Credit", &cr->label);
        read_string(cc, n, path, "unit", "credit", &cr->unit);
        read_string(cc, n, path, "description", "", &cr->description);
        read_bool(cc, n, path, "resets", 0);
        p->n_credits++;
        free(path);
    }
}

static int find_credit(const lp_policy *p, const char *name)
{
    size_t i;
    for (i = 0; i < p->n_credits; i++)
        if (strcmp(p->credits[i].name, name) == 0) return (int)i;
    return -1;
}

/* Interns an entitlement name; returns its index or -1 (no memory). */
static int intern_entitlement(compiler *cc, const char *name)
{
    lp_policy *p = cc->p;
    size_t i;
    char **names;
    size_t *lens;
    for (i = 0; i < p->n_ent_names; i++)
        if (strcmp(p->ent_names[i], name) == 0) return (int)i;
    names = realloc(p->ent_names, (p->n_ent_names + 1) * sizeof *names);
    if (names == NULL) goto nomem;
    p->ent_names = names;
    lens = realloc(p->ent_name_lens, (p->n_ent_names + 1) * sizeof *lens);
    if (lens == NULL) goto nomem;
    p->ent_name_lens = lens;
    names[p->n_ent_names] = strdup(name);
    if (names[p->n_ent_names] == NULL) goto nomem;
    lens[p->n_ent_names] = strlen(name);
    return (int)p->n_ent_names++;
nomem:
    cc->nomem = 1;
    return -1;
}

static void compile_limit(compiler *cc, const doc_node *n, const char *path,
                          lp_limit *lim)
{
    const doc_node *credit = get(n, "credit"), *v;
    const lp_policy *p = cc->p;
    const char *credit_name = "?";
    char *fpath;
    if (!expect(cc, n, path, DOC_MAP, "mapping")) return;
    check_fields(cc, n, path, limit_fields, N_FIELDS(limit_fields));
    lim->credit = -1;
    lim->value = 0;
    lim->increment = LNUM_SCALE;
    if (credit == NULL) {
        ERR(cc, path, n, "missing required field 'credit'");
    } else if ((fpath = child_path(cc, path, "credit")) != NULL) {
        if (expect(cc, credit, fpath, DOC_STRING, "string")) {
            lim->credit = find_credit(p, credit->text);
            credit_name = credit->text;
            if (lim->credit < 0) {
                const char *cands[256];
                size_t i, nc = p->n_credits < 256 ? p->n_credits : 256;
                char buf[96];
                for (i = 0; i < nc; i++)
                    cands[i] = p->credits[i].name;
                ERR(cc, fpath, credit, "unknown credit '%s'%s", credit->text,
                    hint(buf, sizeof buf, credit->text, cands, nc));
            }
        }
        free(fpath);
    }
    if ((v = get(n, "value")) != NULL &&
        (fpath = child_path(cc, path, "value")) != NULL) {
        if (read_amount(cc, v, fpath, credit_name, &lim->value) &&
            lim->value < 0) {
            char num[48];
            ERR(cc, fpath, v, "must not be negative, got %s",
                limitr__lnum_format(lim->value, num));
        }
        free(fpath);
    }
    if ((v = get(n, "increment")) != NULL &&
        (fpath = child_path(cc, path, "increment")) != NULL) {
        if (read_amount(cc, v, fpath, credit_name, &lim->increment) &&
            lim->increment <= 0) {
            char num[48];
            ERR(cc, fpath, v, "must be greater than 0, got %s",
                limitr__lnum_format(lim->increment, num));
        }
        free(fpath);
    }
    if ((v = get(n, "mode")) != NULL &&
        (fpath = child_path(cc, path, "mode")) != NULL) {
        static const char *const modes[] = {"hard", "soft", "observe"};
        char buf[96];
        if (expect(cc, v, fpath, DOC_STRING, "string")) {
            if (strcmp(v->text, "soft") == 0 || strcmp(v->text, "observe") == 0)
                ERR(cc, fpath, v,
                    "mode '%s' is not supported yet by this "
                    "version of limitr",
                    v->text);
            else if (strcmp(v->text, "hard") != 0)
                ERR(cc, fpath, v, "unknown mode '%s'%s", v->text,
                    hint(buf, sizeof buf, v->text, modes, 3));
        }
        free(fpath);
    }
}

static void compile_entitlements(compiler *cc, const doc_node *ents,
                                 const char *path, lp_plan *plan)
{
    size_t i;
    if (!expect(cc, ents, path, DOC_MAP, "mapping")) return;
    plan->ents = calloc(ents->count ? ents->count : 1, sizeof *plan->ents);
    if (plan->ents == NULL) {
        cc->nomem = 1;
        return;
    }
    for (i = 0; i < ents->count; i++) {
        const doc_pair *pair = &ents->pairs[i];
        const doc_node *n = pair->value, *limit;
        lp_entitlement *ent = &plan->ents[plan->n_ents];
        char *epath = child_path(cc, path, pair->key);
        if (epath == NULL) return;
        if (!valid_key(cc, pair, epath, "entitlement")) {
            free(epath);
            continue;
        }
        if (n->type == DOC_BOOL && !n->boolean) {
            ERR(cc, epath, n,
                "'false' removes an inherited entitlement and "
                "needs 'extends', which is not supported yet");
            free(epath);
            continue;
        }
        if (n->type != DOC_NULL && !expect(cc, n, epath, DOC_MAP, "mapping")) {
            free(epath);
            continue;
        }
        if (n->type == DOC_MAP)
            check_fields(cc, n, epath, entitlement_fields,
                         N_FIELDS(entitlement_fields));
        ent->name = intern_entitlement(cc, pair->key);
        read_string(cc, n, epath, "description", "", &ent->description);
        read_bool(cc, n, epath, "hidden", 0);
        limit = get(n, "limit");
        if (limit != NULL) {
            char *lpath = child_path(cc, epath, "limit");
            if (lpath != NULL) {
                ent->has_limit = 1;
                compile_limit(cc, limit, lpath, &ent->limit);
                free(lpath);
            }
        }
        plan->n_ents++;
        free(epath);
    }
}

static void compile_plans(compiler *cc, const doc_node *plans)
{
    lp_policy *p = cc->p;
    size_t i;
    if (!expect(cc, plans, "plans", DOC_MAP, "mapping")) return;
    p->plans = calloc(plans->count ? plans->count : 1, sizeof *p->plans);
    if (p->plans == NULL) {
        cc->nomem = 1;
        return;
    }
    for (i = 0; i < plans->count; i++) {
        const doc_pair *pair = &plans->pairs[i];
        const doc_node *n = pair->value, *ents;
        lp_plan *plan = &p->plans[p->n_plans];
        char *path = child_path(cc, "plans", pair->key);
        if (path == NULL) return;
        if (!valid_key(cc, pair, path, "plan")) {
            free(path);
            continue;
        }
        if (n->type != DOC_NULL && !expect(cc, n, path, DOC_MAP, "mapping")) {
            free(path);
            continue;
        }
        if (n->type == DOC_MAP)
            check_fields(cc, n, path, plan_fields, N_FIELDS(plan_fields));
        plan->name = xstrdup(cc, pair->key);
        read_string(cc, n, path, "label", "", &plan->label);
        read_string(cc, n, path, "description", "", &plan->description);
        plan->hidden = read_bool(cc, n, path, "hidden", 0);
        plan->is_default = read_bool(cc, n, path, "default", 0);
        if (plan->is_default) {
            if (p->default_plan >= 0) {
                const doc_pair *d = limitr__doc_get(n, "default");
                char *dpath = child_path(cc, path, "default");
                if (dpath != NULL)
                    ERR(cc, dpath, d->value,
                        "more than one default plan (also plans.%s)",
                        p->plans[p->default_plan].name);
                free(dpath);
            } else {
                p->default_plan = (int)p->n_plans;
            }
        }
        if ((ents = get(n, "entitlements")) != NULL) {
            char *epath = child_path(cc, path, "entitlements");
            if (epath != NULL) compile_entitlements(cc, ents, epath, plan);
            free(epath);
        }
        p->n_plans++;
        free(path);
    }
}

static void compile_root(compiler *cc, const doc_node *root)
{
    const doc_node *policy, *n;
    size_t i;
    if (root->type != DOC_MAP || root->count == 0) {
        ERR(cc, "(document)", root,
            "expected a mapping with the single key 'policy'");
        return;
    }
    for (i = 0; i < root->count; i++) {
        const doc_pair *pair = &root->pairs[i];
        static const char *const only[] = {"policy"};
        char buf[96];
        if (strcmp(pair->key, "policy") == 0) continue;
        limitr__verr(&cc->errs, "(document)", pair->key_line, pair->key_col,
                     "unknown top-level key '%s'%s", pair->key,
                     hint(buf, sizeof buf, pair->key, only, 1));
    }
    policy = get(root, "policy");
    if (policy == NULL) {
        if (limitr__doc_get(root, "policy") != NULL)
            ERR(cc, "policy", limitr__doc_get(root, "policy")->value,
                "expected mapping, got null");
        else if (cc->errs.n == 0)
            ERR(cc, "(document)", root,
                "expected a mapping with the single key 'policy'");
        return;
    }
    if (!expect(cc, policy, "policy", DOC_MAP, "mapping")) return;
    check_fields(cc, policy, "policy", root_fields, N_FIELDS(root_fields));
    /* Errors below `policy` use paths without the leading "policy." */
    read_string(cc, policy, "", "version", "", &cc->p->version);
    if ((n = get(policy, "credits")) != NULL) compile_credits(cc, n);
    if ((n = get(policy, "plans")) != NULL) compile_plans(cc, n);
}

/* ---- Entry points ---- */

static const char *detect_format(const char *text, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        char c = text[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        return c == '{' ? "json" : "yaml";
    }
    return "yaml";
}

lp_policy *limitr__policy_compile(const char *text, size_t len,
                                  const char *format, char **err)
{
    compiler cc;
    doc_node *root;
    char *parse_err = NULL;
    *err = NULL;
    if (format == NULL) format = detect_format(text, len);
    root = limitr__doc_parse(text, len, format, &parse_err);
    if (root == NULL) {
        *err = parse_err;
        return NULL;
    }
    memset(&cc, 0, sizeof cc);
    cc.p = calloc(1, sizeof *cc.p);
    if (cc.p == NULL) {
        limitr__doc_free(root);
        return NULL;
    }
    cc.p->default_plan = -1;
    compile_root(&cc, root);
    limitr__doc_free(root);
    if (cc.nomem || cc.errs.nomem) {
        limitr__verr_free(&cc.errs);
        limitr__policy_free(cc.p);
        return NULL;
    }
    if (cc.errs.n > 0) {
        *err = limitr__verr_join(&cc.errs);
        limitr__policy_free(cc.p);
        return NULL;
    }
    limitr__verr_free(&cc.errs);
    /* The hot path compares entitlement names without a hash. */
    {
        size_t i, j;
        for (i = 0; i < cc.p->n_plans; i++) {
            lp_plan *plan = &cc.p->plans[i];
            for (j = 0; j < plan->n_ents; j++) {
                lp_entitlement *ent = &plan->ents[j];
                ent->key = cc.p->ent_names[ent->name];
                ent->key_len = cc.p->ent_name_lens[ent->name];
            }
        }
    }
    return cc.p;
}

void limitr__policy_free(lp_policy *p)
{
    size_t i, j;
    if (p == NULL) return;
    for (i = 0; i < p->n_credits; i++) {
        free(p->credits[i].name);
        free(p->credits[i].label);
        free(p->credits[i].unit);
        free(p->credits[i].description);
    }
    free(p->credits);
    for (i = 0; i < p->n_plans; i++) {
        lp_plan *plan = &p->plans[i];
        free(plan->name);
        free(plan->label);
        free(plan->description);
        for (j = 0; j < plan->n_ents; j++)
            free(plan->ents[j].description);
        free(plan->ents);
    }
    free(p->plans);
    for (i = 0; i < p->n_ent_names; i++)
        free(p->ent_names[i]);
    free(p->ent_names);
    free(p->ent_name_lens);
    free(p->version);
    free(p);
}

int limitr__policy_find_plan(const lp_policy *p, const char *name)
{
    size_t i;
    for (i = 0; i < p->n_plans; i++)
        if (strcmp(p->plans[i].name, name) == 0) return (int)i;
    return -1;
}
