/* policy.c: validates a document tree and compiles it into the immutable
 * lp_policy the engine decides with. Every problem is reported (sorted by
 * position); a document with any problem yields no policy at all. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canonical.h"
#include "compile.h"
#include "exchange.h"
#include "topup.h"
#include "units.h"

/* ---- Field tables ---- */

static const field root_fields[] = {
    {"version", FIELD_OK},
    {"credits", FIELD_OK},
    {"plans", FIELD_OK},
    {"exchange", FIELD_OK},
    {"lua", FIELD_OK},
    {"handlers", FIELD_OK},
    {"notifications", FIELD_OK},
    {"estimates", FIELD_OK},
    {"estimate_min_samples", FIELD_OK},
    {"hold_ttl", FIELD_OK},
    {"customers", FIELD_UPSTREAM},
    {"alt_customer_ids", FIELD_UPSTREAM},
    {"capabilities", FIELD_UPSTREAM},
    {"invoices", FIELD_UPSTREAM},
    {"limitr_cloud", FIELD_UPSTREAM},
};

static const field credit_fields[] = {
    {"label", FIELD_OK},       {"unit", FIELD_OK},
    {"description", FIELD_OK}, {"resets", FIELD_OK},
    {"metadata", FIELD_OK},    {"units", FIELD_OK},
    {"price", FIELD_OK},       {"pricing_model", FIELD_OK},
    {"tiers", FIELD_OK},       {"overhead_cost", FIELD_OK},
    {"overhead", FIELD_OK},    {"stof_units", FIELD_UPSTREAM},
};

static const field plan_fields[] = {
    {"label", FIELD_OK},        {"description", FIELD_OK},
    {"default", FIELD_OK},      {"hidden", FIELD_OK},
    {"entitlements", FIELD_OK}, {"metadata", FIELD_OK},
    {"period", FIELD_OK},       {"subscription", FIELD_OK},
    {"trial_period", FIELD_OK}, {"extends", FIELD_OK},
    {"topups", FIELD_OK},
};

static const field entitlement_fields[] = {
    {"description", FIELD_OK},
    {"limit", FIELD_OK},
    {"hidden", FIELD_OK},
    {"metadata", FIELD_OK},
    {"scope", FIELD_OK},
    {"estimate_basis", FIELD_OK},
    {"estimate_segment", FIELD_OK},
};

const char *const limitr__period_names[4] = {"daily", "weekly", "monthly",
                                             "yearly"};
const int limitr__period_days[4] = {1, 7, 30, 365};

/* ---- Sections ---- */

/* An entry of credits, plans or entitlements: null (every default) or a
 * mapping of known fields. 0 (reported) when it is neither. */
static int entry_fields(compiler *cc, const doc_node *n, const char *path,
                        const field *fields, size_t n_fields)
{
    if (n->type == DOC_NULL) return 1;
    if (!limitr__expect(cc, n, path, DOC_MAP, "mapping")) return 0;
    limitr__check_fields(cc, n, path, fields, n_fields);
    return 1;
}

static int valid_key(compiler *cc, const doc_pair *pair, const char *path,
                     const char *what)
{
    if (limitr__valid_name(pair->key, pair->key_len)) return 1;
    limitr__verr(&cc->errs, path, pair->key_line, pair->key_col,
                 "invalid %s name '%s' (use A-Z a-z 0-9 _ -)", what, pair->key);
    return 0;
}

/* A credit's `units`: one of the canonical symbols (docs/policy.md 11 rule 1).
 */
static void read_units(compiler *cc, const doc_node *n, const char *path,
                       lp_credit *cr)
{
    static const char *const symbols[] = {
        "B",   "kB",  "MB", "GB", "TB",  "PB", "KiB", "MiB",  "GiB",
        "TiB", "PiB", "ms", "s",  "min", "h",  "day", "week",
    };
    const doc_node *v = limitr__get(n, "units");
    char *fpath, buf[96];
    if (v == NULL) return;
    fpath = limitr__child_path(cc, path, "units");
    if (fpath == NULL) return;
    if (limitr__expect(cc, v, fpath, DOC_STRING, "string")) {
        cr->units = limitr__unit_credit_symbol(v->text);
        if (cr->units < 0)
            ERR(cc, fpath, v, "unknown unit '%s'%s", v->text,
                limitr__hint(buf, sizeof buf, v->text, symbols,
                             N_FIELDS(symbols)));
    }
    free(fpath);
}

/* overhead_cost (runes per unit, >= 0) and the overhead cost function. */
static void read_overhead(compiler *cc, const doc_node *n, const char *path,
                          lp_credit *cr)
{
    const doc_node *v;
    char *fpath;
    if ((v = limitr__get(n, "overhead_cost")) != NULL &&
        (fpath = limitr__child_path(cc, path, "overhead_cost")) != NULL) {
        char num[48];
        if (limitr__read_amount(cc, v, fpath, AMOUNT_PLAIN,
                                &cr->overhead_cost) &&
            cr->overhead_cost < 0)
            ERR(cc, fpath, v, "must not be negative, got %s",
                limitr__lnum_format(cr->overhead_cost, num));
        free(fpath);
    }
    if ((v = limitr__get(n, "overhead")) != NULL &&
        (fpath = limitr__child_path(cc, path, "overhead")) != NULL) {
        cr->overhead_ref = limitr__read_snippet(cc, v, fpath);
        free(fpath);
    }
}

static const field tier_fields[] = {
    {"up_to", FIELD_OK},
    {"price", FIELD_OK},
};

/* One entry of `tiers` at path into *tier. */
static void read_tier(compiler *cc, const doc_node *n, const char *path,
                      int credit, lp_tier *tier)
{
    const doc_node *v;
    char *fpath, num[48];
    if (!limitr__expect(cc, n, path, DOC_MAP, "mapping")) return;
    limitr__check_fields(cc, n, path, tier_fields, N_FIELDS(tier_fields));
    tier->open = 1;
    if ((v = limitr__get(n, "up_to")) != NULL &&
        (fpath = limitr__child_path(cc, path, "up_to")) != NULL) {
        tier->open = 0;
        if (limitr__read_amount(cc, v, fpath, credit, &tier->up_to) &&
            tier->up_to <= 0)
            ERR(cc, fpath, v, "must be greater than 0, got %s",
                limitr__lnum_format(tier->up_to, num));
        free(fpath);
    }
    if ((fpath = limitr__child_path(cc, path, "price")) == NULL) return;
    if ((v = limitr__get(n, "price")) != NULL)
        limitr__price_compile(cc, v, fpath, &tier->price);
    else
        ERR(cc, path, n, "a tier needs a price");
    free(fpath);
}

static int tier_order(const void *a, const void *b)
{
    const lp_tier *x = a, *y = b;
    if (x->open != y->open) return x->open - y->open; /* the open one last */
    return x->up_to < y->up_to ? -1 : x->up_to > y->up_to;
}

/* tiers: read, then sorted by up_to with the open band last; exactly one
 * open band and no up_to twice (docs/policy.md 8). */
static void read_tiers(compiler *cc, const doc_node *v, const char *path,
                       lp_credit *cr)
{
    size_t i, open = 0;
    char *tpath;
    if (!limitr__expect(cc, v, path, DOC_LIST, "list")) return;
    if (v->count == 0) {
        ERR(cc, path, v, "a tier pricing model needs at least one tier");
        return;
    }
    if ((cr->tiers = calloc(v->count, sizeof *cr->tiers)) == NULL) {
        cc->nomem = 1;
        return;
    }
    cr->n_tiers = v->count;
    for (i = 0; i < v->count; i++) {
        if ((tpath = limitr__item_path(cc, path, i)) == NULL) return;
        cr->tiers[i].doc_index = i;
        read_tier(cc, v->items[i], tpath, (int)(cr - cc->p->credits),
                  &cr->tiers[i]);
        open += cr->tiers[i].open;
        free(tpath);
    }
    qsort(cr->tiers, cr->n_tiers, sizeof *cr->tiers, tier_order);
    if (open != 1)
        ERR(cc, path, v,
            "exactly one tier has no up_to (the open top band), got %zu", open);
    for (i = 0; i + 1 < cr->n_tiers; i++)
        if (!cr->tiers[i].open && !cr->tiers[i + 1].open &&
            cr->tiers[i].up_to == cr->tiers[i + 1].up_to) {
            char num[48];
            ERR(cc, path, v, "two tiers have up_to %s",
                limitr__lnum_format(cr->tiers[i].up_to, num));
        }
}

/* price, pricing_model and tiers (docs/policy.md 3, 8): the flat model
 * prices with `price`, the tier models with `tiers`. */
static void read_pricing(compiler *cc, const doc_node *n, const char *path,
                         lp_credit *cr)
{
    static const char *const models[] = {"flat", "tiered", "volume",
                                         "stairstep"};
    const doc_node *v, *price, *tiers;
    char *fpath, buf[96];
    size_t k;
    if ((v = limitr__get(n, "pricing_model")) != NULL &&
        (fpath = limitr__child_path(cc, path, "pricing_model")) != NULL) {
        if (limitr__expect(cc, v, fpath, DOC_STRING, "string")) {
            for (k = 0; k < 4 && strcmp(v->text, models[k]) != 0; k++)
                ;
            if (k < 4)
                cr->model = (pricing_model)k;
            else
                ERR(cc, fpath, v,
                    "unknown pricing model '%s' (flat, tiered, volume or "
                    "stairstep)%s",
                    v->text, limitr__hint(buf, sizeof buf, v->text, models, 4));
        }
        free(fpath);
    }
    price = limitr__get(n, "price");
    tiers = limitr__get(n, "tiers");
    if (price != NULL &&
        (fpath = limitr__child_path(cc, path, "price")) != NULL) {
        if (cr->model != PRICING_FLAT)
            ERR(cc, fpath, price,
                "price is for the flat model: the %s model prices each band "
                "in tiers",
                models[cr->model]);
        else
            limitr__price_compile(cc, price, fpath, &cr->price);
        free(fpath);
    }
    if (tiers != NULL &&
        (fpath = limitr__child_path(cc, path, "tiers")) != NULL) {
        if (cr->model == PRICING_FLAT)
            ERR(cc, fpath, tiers,
                "tiers need a tier pricing_model (tiered, volume or "
                "stairstep)");
        else
            read_tiers(cc, tiers, fpath, cr);
        free(fpath);
    } else if (cr->model != PRICING_FLAT) {
        ERR(cc, path, v, "the %s pricing model needs tiers", models[cr->model]);
    }
}

static void compile_credits(compiler *cc, const doc_node *credits)
{
    lp_policy *p = cc->p;
    size_t i;
    if (!limitr__expect(cc, credits, "credits", DOC_MAP, "mapping")) return;
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
        char *path = limitr__child_path(cc, "credits", pair->key);
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
        if (!entry_fields(cc, n, path, credit_fields,
                          N_FIELDS(credit_fields))) {
            free(path);
            continue;
        }
        cr->name = limitr__xstrdup(cc, pair->key);
        cr->doc_index = i;
        limitr__read_string(cc, n, path, "label", "Credit", &cr->label);
        limitr__read_string(cc, n, path, "unit", "credit", &cr->unit);
        limitr__read_string(cc, n, path, "description", "", &cr->description);
        limitr__read_bool(cc, n, path, "resets", 0);
        cr->units = -1;
        read_units(cc, n, path, cr);
        read_overhead(cc, n, path, cr);
        read_pricing(cc, n, path, cr);
        p->n_credits++;
        free(path);
    }
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

/* An entitlement's `scope`: the customer type that owns its meter. */
static void read_scope(compiler *cc, const doc_node *n, const char *path,
                       lp_entitlement *ent)
{
    const doc_node *v = limitr__get(n, "scope");
    char *fpath;
    if (v == NULL) return;
    fpath = limitr__child_path(cc, path, "scope");
    if (fpath == NULL) return;
    if (limitr__expect(cc, v, fpath, DOC_STRING, "string")) {
        if (v->text[0] == '\0')
            ERR(cc, fpath, v, "must not be empty");
        else
            ent->scope = limitr__xstrdup(cc, v->text);
    }
    free(fpath);
}

/* One entitlement of a plan after `extends`: its document entry and the
 * plan that declares it (the plan itself, or an ancestor). */
typedef struct ent_entry {
    const doc_pair *pair;
    const char *plan;
} ent_entry;

typedef struct ent_list {
    ent_entry *items;
    size_t n, cap;
} ent_list;

static int is_false(const doc_node *n)
{
    return n->type == DOC_BOOL && !n->boolean;
}

/* How many plans deep `extends` may go: a bound on the work (each plan
 * walks its chain) and on the recursion of collect_ents. */
#define MAX_EXTENDS_DEPTH 32
/* How many entitlements all plans may hold, inherited ones counted (each
 * is compiled in every plan that has it). */
#define MAX_PLAN_ENTITLEMENTS 100000

/* The plans by name, for `extends` (sorted once: no scan per lookup). */
typedef struct plan_index {
    const doc_pair **by_name;
    size_t n;
} plan_index;

static int by_key(const void *a, const void *b)
{
    return strcmp((*(const doc_pair *const *)a)->key,
                  (*(const doc_pair *const *)b)->key);
}

static const doc_pair *find_plan(const plan_index *ix, const char *name)
{
    doc_pair key;
    const doc_pair *kp = &key, **found;
    if (ix->n == 0) return NULL;
    key.key = (char *)name;
    found = bsearch(&kp, ix->by_name, ix->n, sizeof *ix->by_name, by_key);
    return found != NULL ? *found : NULL;
}

/* Adds plan pp's entitlements to *list over what it inherits: the
 * parent's first (through its own `extends`, unless `own_only`), then each
 * of its entries replacing an inherited one whole, or removing it
 * (`false`, keeping the order of the rest). 0, or -1 when the chain is
 * broken (an unknown plan, a cycle, deeper than MAX_EXTENDS_DEPTH),
 * reported by the plan whose own `extends` is wrong. */
static int collect_ents(compiler *cc, const plan_index *ix, const doc_pair *pp,
                        size_t depth, int own_only, const char *section,
                        ent_list *list)
{
    const doc_node *n, *ext, *ents;
    size_t i, k, inherited;
    if (pp == NULL || depth > MAX_EXTENDS_DEPTH) return -1;
    n = pp->value;
    if (n->type != DOC_MAP) return 0;
    ext = limitr__get(n, "extends");
    if (!own_only && ext != NULL &&
        (ext->type != DOC_STRING ||
         collect_ents(cc, ix, find_plan(ix, ext->text), depth + 1, 0, section,
                      list)))
        return -1;
    inherited = list->n; /* a plan's own keys are distinct: search these */
    ents = limitr__get(n, section);
    for (i = 0; ents != NULL && ents->type == DOC_MAP && i < ents->count; i++) {
        const doc_pair *e = &ents->pairs[i];
        for (k = 0; k < inherited; k++)
            if (strcmp(list->items[k].pair->key, e->key) == 0) break;
        if (is_false(e->value)) { /* removes the inherited one */
            if (k < inherited) {
                memmove(&list->items[k], &list->items[k + 1],
                        (list->n - k - 1) * sizeof *list->items);
                list->n--;
                inherited--;
            }
            continue;
        }
        if (k == inherited) {
            if (list->n == list->cap) {
                size_t cap = list->cap ? list->cap * 2 : 8;
                ent_entry *grown = realloc(list->items, cap * sizeof *grown);
                if (grown == NULL) {
                    cc->nomem = 1;
                    return -1;
                }
                list->items = grown;
                list->cap = cap;
            }
            k = list->n++;
        }
        list->items[k].pair = e;
        list->items[k].plan = pp->key;
    }
    return 0;
}

/* Compiles entitlement entry `pair` at epath into plan's next slot. */
static void compile_entitlement(compiler *cc, const doc_pair *pair,
                                const char *epath, lp_plan *plan)
{
    const doc_node *n = pair->value, *limit;
    lp_entitlement *ent = &plan->ents[plan->n_ents];
    if (!valid_key(cc, pair, epath, "entitlement")) return;
    if (!entry_fields(cc, n, epath, entitlement_fields,
                      N_FIELDS(entitlement_fields)))
        return;
    ent->name = intern_entitlement(cc, pair->key);
    limitr__read_string(cc, n, epath, "description", "", &ent->description);
    limitr__read_bool(cc, n, epath, "hidden", 0);
    read_scope(cc, n, epath, ent);
    limitr__read_string(cc, n, epath, "estimate_basis", NULL,
                        &ent->estimate_basis);
    limitr__read_string(cc, n, epath, "estimate_segment", NULL,
                        &ent->estimate_segment);
    limit = limitr__get(n, "limit");
    if (limit != NULL) {
        char *lpath = limitr__child_path(cc, epath, "limit");
        if (lpath != NULL) {
            ent->has_limit = 1;
            limitr__limit_defaults(&ent->limit);
            limitr__limit_compile(cc, limit, lpath, &ent->limit, 0, NULL);
            ent->limit.path = lpath; /* freed with the policy */
        }
    }
    plan->n_ents++;
}

/* A plan's entitlements, inherited ones included. An inherited entry is
 * compiled under the path of the plan that declares it (where runtime
 * snippet errors point), quietly: that plan reports its problems. */
static void compile_entitlements(compiler *cc, const ent_list *list,
                                 const char *plan_name, lp_plan *plan)
{
    size_t i;
    plan->ents = calloc(list->n ? list->n : 1, sizeof *plan->ents);
    if (plan->ents == NULL) {
        cc->nomem = 1;
        return;
    }
    for (i = 0; i < list->n; i++) {
        const ent_entry *it = &list->items[i];
        int inherited = strcmp(it->plan, plan_name) != 0;
        char *ppath = limitr__child_path(cc, "plans", it->plan), *epath;
        char *ents =
            ppath ? limitr__child_path(cc, ppath, "entitlements") : NULL;
        verrors mine = cc->errs;
        free(ppath);
        if (ents == NULL) return;
        epath = limitr__child_path(cc, ents, it->pair->key);
        free(ents);
        if (epath == NULL) return;
        if (inherited) memset(&cc->errs, 0, sizeof cc->errs);
        compile_entitlement(cc, it->pair, epath, plan);
        if (inherited) {
            if (cc->errs.nomem) mine.nomem = 1;
            limitr__verr_free(&cc->errs);
            cc->errs = mine;
        }
        free(epath);
    }
}

/* The plan's own `false` entries: only under `extends`, and each removes
 * an entitlement the parent has. */
static void check_removals(compiler *cc, const plan_index *ix,
                           const doc_node *n, const char *path,
                           const char *section, const char *noun)
{
    const doc_node *ents = limitr__get(n, section);
    const doc_node *ext = limitr__get(n, "extends");
    ent_list parent = {NULL, 0, 0};
    size_t i, k;
    int have_parent = ext != NULL && ext->type == DOC_STRING &&
                      collect_ents(cc, ix, find_plan(ix, ext->text), 1, 0,
                                   section, &parent) == 0;
    for (i = 0; ents != NULL && ents->type == DOC_MAP && i < ents->count; i++) {
        const doc_pair *e = &ents->pairs[i];
        char *epath;
        if (!is_false(e->value)) continue;
        for (k = 0; k < parent.n; k++)
            if (strcmp(parent.items[k].pair->key, e->key) == 0) break;
        if (ext != NULL && (!have_parent || k < parent.n)) continue;
        epath = limitr__child_path(cc, path, section);
        if (epath != NULL) {
            char *fpath = limitr__child_path(cc, epath, e->key);
            if (fpath != NULL && ext == NULL)
                ERR(cc, fpath, e->value,
                    "'false' removes an inherited %s: only in a plan that "
                    "extends another",
                    noun);
            else if (fpath != NULL)
                ERR(cc, fpath, e->value,
                    "'false' removes an inherited %s, but the parent plan "
                    "has none of this name",
                    noun);
            free(fpath);
        }
        free(epath);
    }
    free(parent.items);
}

/* `extends` of plan `pair`: the parent exists and the chain ends. */
static void check_extends(compiler *cc, const plan_index *ix,
                          const doc_pair *pair, const char *path)
{
    const doc_node *ext = limitr__get(pair->value, "extends");
    const char *name = pair->key;
    size_t steps;
    int cycle = 0;
    char *xpath;
    if (ext == NULL) return;
    if ((xpath = limitr__child_path(cc, path, "extends")) == NULL) return;
    if (limitr__expect(cc, ext, xpath, DOC_STRING, "string")) {
        for (steps = 0; name != NULL && !cycle && steps <= MAX_EXTENDS_DEPTH;
             steps++) {
            const doc_pair *pp = find_plan(ix, name);
            const doc_node *next;
            if (pp == NULL) { /* said by the plan whose extends names it */
                if (steps == 1) ERR(cc, xpath, ext, "unknown plan '%s'", name);
                name = NULL;
                break;
            }
            next = pp->value->type == DOC_MAP
                       ? limitr__get(pp->value, "extends")
                       : NULL;
            name = next != NULL && next->type == DOC_STRING ? next->text : NULL;
            cycle = name != NULL && strcmp(name, pair->key) == 0;
        }
        if (name != NULL && cycle)
            ERR(cc, xpath, ext, "plans extend each other in a cycle");
        else if (name != NULL)
            ERR(cc, xpath, ext,
                "plans extend each other more than %d deep (or lead into a "
                "cycle)",
                MAX_EXTENDS_DEPTH);
    }
    free(xpath);
}

/* A plan's top-ups, inherited ones included (as entitlements: replaced
 * whole by name, removed with `false`); each compiled quietly under the
 * plan that declares it, where its problems are reported. */
static void compile_topups(compiler *cc, const plan_index *ix,
                           const doc_pair *pair, const char *path,
                           lp_plan *plan, size_t *total)
{
    const doc_node *own = limitr__get(pair->value, "topups");
    ent_list list = {NULL, 0, 0};
    size_t i, n_included = 0;
    char *tpath;
    if (own != NULL && (tpath = limitr__child_path(cc, path, "topups"))) {
        limitr__expect(cc, own, tpath, DOC_MAP, "mapping");
        free(tpath);
    }
    if (collect_ents(cc, ix, pair, 0, 0, "topups", &list) != 0) {
        list.n = 0;
        collect_ents(cc, ix, pair, 0, 1, "topups", &list);
    }
    check_removals(cc, ix, pair->value, path, "topups", "top-up");
    *total += list.n;
    if (*total > MAX_PLAN_ENTITLEMENTS) {
        if (list.n > 0)
            ERR(cc, path, pair->value,
                "the plans hold more than %d top-ups in all (inherited ones "
                "counted)",
                MAX_PLAN_ENTITLEMENTS);
        free(list.items);
        return;
    }
    plan->topups = calloc(list.n ? list.n : 1, sizeof *plan->topups);
    if (plan->topups == NULL) {
        cc->nomem = 1;
        free(list.items);
        return;
    }
    for (i = 0; i < list.n; i++) {
        const ent_entry *it = &list.items[i];
        int inherited = strcmp(it->plan, pair->key) != 0;
        char *ppath = limitr__child_path(cc, "plans", it->plan), *epath;
        char *tops = ppath ? limitr__child_path(cc, ppath, "topups") : NULL;
        verrors mine = cc->errs;
        lp_topup *t = &plan->topups[plan->n_topups++];
        free(ppath);
        if (tops == NULL) break;
        epath = limitr__child_path(cc, tops, it->pair->key);
        free(tops);
        if (epath == NULL) break;
        if (inherited) memset(&cc->errs, 0, sizeof cc->errs);
        if (valid_key(cc, it->pair, epath, "top-up"))
            limitr__topup_compile(cc, it->pair->value, epath, it->pair->key, t);
        else
            limitr__grant_rule_none(&t->rule);
        if (inherited) {
            if (cc->errs.nomem) mine.nomem = 1;
            limitr__verr_free(&cc->errs);
            cc->errs = mine;
        }
        plan->has_included |= t->included;
        n_included += (size_t)t->included;
        free(epath);
    }
    free(list.items);
    if (n_included > MAX_INCLUDED_TOPUPS)
        ERR(cc, path, pair->value,
            "the plan includes %zu top-ups (inherited ones counted); at most "
            "%d",
            n_included, MAX_INCLUDED_TOPUPS);
}

/* The plan's entitlement named name (before the hot path's keys are
 * set: by interned name). */
static const lp_entitlement *lp_plan_entitlement_named(const lp_plan *plan,
                                                       const lp_policy *p,
                                                       const char *name)
{
    size_t i;
    for (i = 0; i < plan->n_ents; i++)
        if (plan->ents[i].name >= 0 &&
            strcmp(p->ent_names[plan->ents[i].name], name) == 0)
            return &plan->ents[i];
    return NULL;
}

/* period, subscription, trial_period (docs/policy.md 4) and the name of
 * the parent plan. */
static void read_billing(compiler *cc, const doc_node *n, const char *path,
                         lp_plan *plan)
{
    const doc_node *v;
    char *fpath, buf[96];
    int k;
    plan->period = PERIOD_MONTHLY;
    limitr__read_string(cc, n, path, "subscription", "subscription",
                        &plan->subscription);
    if ((v = limitr__get(n, "extends")) != NULL && v->type == DOC_STRING)
        plan->extends = limitr__xstrdup(cc, v->text);
    if ((v = limitr__get(n, "period")) != NULL &&
        (fpath = limitr__child_path(cc, path, "period")) != NULL) {
        if (limitr__expect(cc, v, fpath, DOC_STRING, "string")) {
            for (k = 0; k < 4 && strcmp(v->text, limitr__period_names[k]); k++)
                ;
            if (k < 4)
                plan->period = (plan_period)k;
            else
                ERR(cc, fpath, v,
                    "unknown period '%s' (yearly, monthly, weekly or "
                    "daily)%s",
                    v->text,
                    limitr__hint(buf, sizeof buf, v->text, limitr__period_names,
                                 4));
        }
        free(fpath);
    }
    if ((v = limitr__get(n, "trial_period")) != NULL &&
        (fpath = limitr__child_path(cc, path, "trial_period")) != NULL) {
        if (limitr__read_duration(cc, v, fpath, &plan->trial_period)) {
            if (plan->trial_period < 0)
                ERR(cc, fpath, v, "must not be negative, got %lld",
                    (long long)plan->trial_period);
            else
                plan->has_trial = 1;
        }
        free(fpath);
    }
}

static void compile_plans(compiler *cc, const doc_node *plans)
{
    lp_policy *p = cc->p;
    plan_index ix = {NULL, 0};
    size_t i, total = 0, total_topups = 0;
    int too_many = 0;
    if (!limitr__expect(cc, plans, "plans", DOC_MAP, "mapping")) return;
    ix.by_name = malloc((plans->count ? plans->count : 1) * sizeof *ix.by_name);
    if (ix.by_name == NULL) {
        cc->nomem = 1;
        return;
    }
    for (i = 0; i < plans->count; i++)
        ix.by_name[i] = &plans->pairs[i];
    ix.n = plans->count;
    qsort(ix.by_name, ix.n, sizeof *ix.by_name, by_key);
    p->plans = calloc(plans->count ? plans->count : 1, sizeof *p->plans);
    if (p->plans == NULL) {
        cc->nomem = 1;
        free(ix.by_name);
        return;
    }
    for (i = 0; i < plans->count; i++) {
        const doc_pair *pair = &plans->pairs[i];
        const doc_node *n = pair->value, *ents;
        lp_plan *plan = &p->plans[p->n_plans];
        char *path = limitr__child_path(cc, "plans", pair->key);
        if (path == NULL) break;
        if (!valid_key(cc, pair, path, "plan")) {
            free(path);
            continue;
        }
        if (!entry_fields(cc, n, path, plan_fields, N_FIELDS(plan_fields))) {
            free(path);
            continue;
        }
        plan->name = limitr__xstrdup(cc, pair->key);
        limitr__read_string(cc, n, path, "label", "", &plan->label);
        limitr__read_string(cc, n, path, "description", "", &plan->description);
        plan->hidden = limitr__read_bool(cc, n, path, "hidden", 0);
        plan->is_default = limitr__read_bool(cc, n, path, "default", 0);
        if (plan->is_default) {
            if (p->default_plan >= 0) {
                const doc_pair *d = limitr__doc_get(n, "default");
                char *dpath = limitr__child_path(cc, path, "default");
                if (dpath != NULL)
                    ERR(cc, dpath, d->value,
                        "more than one default plan (also plans.%s)",
                        p->plans[p->default_plan].name);
                free(dpath);
            } else {
                p->default_plan = (int)p->n_plans;
            }
        }
        if ((ents = limitr__get(n, "entitlements")) != NULL) {
            char *epath = limitr__child_path(cc, path, "entitlements");
            if (epath != NULL)
                limitr__expect(cc, ents, epath, DOC_MAP, "mapping");
            free(epath);
        }
        check_extends(cc, &ix, pair, path);
        read_billing(cc, n, path, plan);
        {
            ent_list list = {NULL, 0, 0};
            /* a broken chain: the plan's own entries still get checked */
            if (collect_ents(cc, &ix, pair, 0, 0, "entitlements", &list) != 0) {
                list.n = 0;
                collect_ents(cc, &ix, pair, 0, 1, "entitlements", &list);
            }
            total += list.n;
            if (total > MAX_PLAN_ENTITLEMENTS) {
                if (!too_many)
                    ERR(cc, path, n,
                        "the plans hold more than %d entitlements in all "
                        "(inherited ones counted)",
                        MAX_PLAN_ENTITLEMENTS);
                too_many = 1;
            } else {
                compile_entitlements(cc, &list, pair->key, plan);
            }
            check_removals(cc, &ix, n, path, "entitlements", "entitlement");
            free(list.items);
        }
        compile_topups(cc, &ix, pair, path, plan, &total_topups);
        if (limitr__doc_get(n, "subscription") != NULL &&
            plan->subscription != NULL &&
            lp_plan_entitlement_named(plan, p, plan->subscription) == NULL) {
            /* named, it must be there: the fee would never be charged */
            const doc_pair *sp = limitr__doc_get(n, "subscription");
            char *spath = limitr__child_path(cc, path, "subscription");
            if (spath != NULL)
                ERR(cc, spath, sp->value,
                    "plan has no '%s' entitlement to meter its fee",
                    plan->subscription);
            free(spath);
        } else if (plan->has_trial && plan->ents != NULL &&
                   lp_plan_entitlement_named(plan, p, plan->subscription) ==
                       NULL) {
            const doc_pair *tp = limitr__doc_get(n, "trial_period");
            char *tpath = limitr__child_path(cc, path, "trial_period");
            if (tpath != NULL && tp != NULL)
                ERR(cc, tpath, tp->value,
                    "plan has no '%s' entitlement (the subscription the "
                    "trial delays)",
                    plan->subscription);
            free(tpath);
        }
        p->any_included |= plan->has_included;
        p->n_plans++;
        free(path);
    }
    free(ix.by_name);
}

/* policy.notifications: name -> {matches, fire}. */
static void compile_notifications(compiler *cc, const doc_node *map)
{
    static const field fields[] = {{"matches", FIELD_OK}, {"fire", FIELD_OK}};
    lp_policy *p = cc->p;
    size_t i;
    if (!limitr__expect(cc, map, "notifications", DOC_MAP, "mapping")) return;
    p->notifications =
        calloc(map->count ? map->count : 1, sizeof *p->notifications);
    if (p->notifications == NULL) {
        cc->nomem = 1;
        return;
    }
    for (i = 0; i < map->count; i++) {
        const doc_pair *pair = &map->pairs[i];
        const doc_node *n = pair->value, *v;
        lp_notification *no = &p->notifications[p->n_notifications];
        char *path = limitr__child_path(cc, "notifications", pair->key);
        char *fpath;
        if (path == NULL) return;
        if (!valid_key(cc, pair, path, "notification")) {
            free(path);
            continue;
        }
        if (limitr__event_find(pair->key) >= 0) {
            limitr__verr(&cc->errs, path, pair->key_line, pair->key_col,
                         "'%s' is a built-in event name", pair->key);
            free(path);
            continue;
        }
        if (!limitr__expect(cc, n, path, DOC_MAP, "mapping")) {
            free(path);
            continue;
        }
        limitr__check_fields(cc, n, path, fields, N_FIELDS(fields));
        no->name = limitr__xstrdup(cc, pair->key);
        if ((v = limitr__get(n, "matches")) == NULL) {
            ERR(cc, path, n, "missing required field 'matches'");
        } else if ((fpath = limitr__child_path(cc, path, "matches")) != NULL) {
            no->matches_ref = limitr__read_snippet(cc, v, fpath);
            free(fpath);
        }
        if ((v = limitr__get(n, "fire")) != NULL &&
            (fpath = limitr__child_path(cc, path, "fire")) != NULL) {
            no->fire_ref = limitr__read_snippet(cc, v, fpath);
            free(fpath);
        }
        p->n_notifications++;
        free(path);
    }
}

int limitr__notification_find(const lp_policy *p, const char *name)
{
    size_t i;
    for (i = 0; i < p->n_notifications; i++)
        if (strcmp(p->notifications[i].name, name) == 0) return (int)i;
    return -1;
}

/* policy.handlers: event name -> function(event). */
static void compile_handlers(compiler *cc, const doc_node *handlers)
{
    size_t i;
    if (!limitr__expect(cc, handlers, "handlers", DOC_MAP, "mapping")) return;
    for (i = 0; i < handlers->count; i++) {
        const doc_pair *pair = &handlers->pairs[i];
        int ev = limitr__event_find(pair->key);
        int no = limitr__notification_find(cc->p, pair->key);
        char *path = limitr__child_path(cc, "handlers", pair->key), buf[96];
        if (path == NULL) return;
        if (ev < 0 && no >= 0) {
            cc->p->notifications[no].handler_ref =
                limitr__read_snippet(cc, pair->value, path);
        } else if (ev < 0) {
            const char *names[EV_COUNT + 64];
            size_t n = 0, j;
            for (j = 0; j < EV_COUNT; j++)
                names[n++] = limitr__event_names[j];
            for (j = 0; j < cc->p->n_notifications && n < EV_COUNT + 64; j++)
                names[n++] = cc->p->notifications[j].name;
            limitr__verr(&cc->errs, path, pair->key_line, pair->key_col,
                         "unknown event '%s'%s", pair->key,
                         limitr__hint(buf, sizeof buf, pair->key, names, n));
        } else {
            cc->p->handler_refs[ev] =
                limitr__read_snippet(cc, pair->value, path);
        }
        free(path);
    }
}

static const field estimate_fields[] = {
    {"samples", FIELD_OK},      {"alpha", FIELD_OK},
    {"per_basis", FIELD_OK},    {"value_mean", FIELD_OK},
    {"value_var", FIELD_OK},    {"overhead_mean", FIELD_OK},
    {"overhead_var", FIELD_OK}, {"source", FIELD_OK},
    {"updated", FIELD_OK},
};

/* An amount field >= 0 of an estimate. */
static void estimate_amount(compiler *cc, const doc_node *n, const char *path,
                            const char *key, lnum *out)
{
    const doc_node *v = limitr__get(n, key);
    char *fpath;
    if (v == NULL || (fpath = limitr__child_path(cc, path, key)) == NULL)
        return;
    if (limitr__read_amount(cc, v, fpath, AMOUNT_PLAIN, out) && *out < 0)
        ERR(cc, fpath, v, "must not be negative");
    free(fpath);
}

/* One seed at path (entitlement ent, segment key seg). */
static void read_seed(compiler *cc, const doc_node *n, const char *path,
                      const char *ent, const char *seg, lp_estimate_seed *out)
{
    const doc_node *v;
    char *fpath, *k;
    memset(out, 0, sizeof *out);
    out->alpha = 0.1;
    out->ent = limitr__xstrdup(cc, ent);
    out->segment = limitr__xstrdup(cc, seg);
    for (k = out->segment; k != NULL && *k; k++)
        if (*k == '.' || *k == ' ') *k = '_';
    if (!limitr__expect(cc, n, path, DOC_MAP, "mapping")) return;
    limitr__check_fields(cc, n, path, estimate_fields,
                         N_FIELDS(estimate_fields));
    if ((v = limitr__get(n, "samples")) != NULL &&
        (fpath = limitr__child_path(cc, path, "samples")) != NULL) {
        lnum x;
        if (limitr__read_amount(cc, v, fpath, AMOUNT_PLAIN, &x)) {
            if (x < 0 || x % LNUM_SCALE != 0 ||
                x > lnum_from_int(1000000000000))
                ERR(cc, fpath, v, "must be a whole number >= 0");
            else
                out->samples = (int64_t)(x / LNUM_SCALE);
        }
        free(fpath);
    }
    if ((v = limitr__get(n, "alpha")) != NULL &&
        (fpath = limitr__child_path(cc, path, "alpha")) != NULL) {
        if (limitr__read_double(cc, v, fpath, &out->alpha) &&
            !(out->alpha > 0 && out->alpha <= 1))
            ERR(cc, fpath, v, "must be in (0, 1]");
        free(fpath);
    }
    out->per_basis = limitr__read_bool(cc, n, path, "per_basis", 0);
    if ((v = limitr__get(n, "source")) != NULL &&
        (v->type != DOC_STRING ||
         (strcmp(v->text, "local") != 0 && strcmp(v->text, "cloud") != 0)) &&
        (fpath = limitr__child_path(cc, path, "source")) != NULL) {
        ERR(cc, fpath, v, "must be local or cloud");
        free(fpath);
    }
    estimate_amount(cc, n, path, "value_mean", &out->value_mean);
    estimate_amount(cc, n, path, "value_var", &out->value_var);
    estimate_amount(cc, n, path, "overhead_mean", &out->overhead_mean);
    estimate_amount(cc, n, path, "overhead_var", &out->overhead_var);
    if ((v = limitr__get(n, "updated")) != NULL &&
        (fpath = limitr__child_path(cc, path, "updated")) != NULL) {
        limitr__read_duration(cc, v, fpath, &out->updated);
        free(fpath);
    }
}

/* policy.estimates (entitlement -> segment -> estimate) and
 * estimate_min_samples (docs/policy.md 2, docs/engine.md 18). */
static void compile_estimates(compiler *cc, const doc_node *policy)
{
    lp_policy *p = cc->p;
    const doc_node *map = limitr__get(policy, "estimates"), *v;
    size_t i, j, total = 0;
    char *fpath;
    p->estimate_min_samples = 5;
    p->hold_ttl = 600000; /* 10 minutes */
    if ((v = limitr__get(policy, "hold_ttl")) != NULL &&
        (fpath = limitr__child_path(cc, "", "hold_ttl")) != NULL) {
        int64_t ms;
        if (limitr__read_duration(cc, v, fpath, &ms)) {
            if (ms < 0)
                ERR(cc, fpath, v, "must not be negative");
            else
                p->hold_ttl = ms;
        }
        free(fpath);
    }
    if ((v = limitr__get(policy, "estimate_min_samples")) != NULL &&
        (fpath = limitr__child_path(cc, "", "estimate_min_samples")) != NULL) {
        lnum x;
        if (limitr__read_amount(cc, v, fpath, AMOUNT_PLAIN, &x)) {
            if (x < LNUM_SCALE || x % LNUM_SCALE != 0 ||
                x > lnum_from_int(1000000000))
                ERR(cc, fpath, v, "must be a whole number >= 1");
            else
                p->estimate_min_samples = (int64_t)(x / LNUM_SCALE);
        }
        free(fpath);
    }
    if (map == NULL ||
        !limitr__expect(cc, map, "estimates", DOC_MAP, "mapping"))
        return;
    for (i = 0; i < map->count; i++)
        if (map->pairs[i].value->type == DOC_MAP)
            total += map->pairs[i].value->count;
    if (total > MAX_POLICY_ESTIMATES) {
        ERR(cc, "estimates", map, "at most %d seeded estimates",
            MAX_POLICY_ESTIMATES);
        return;
    }
    if ((p->seeds = calloc(total ? total : 1, sizeof *p->seeds)) == NULL) {
        cc->nomem = 1;
        return;
    }
    for (i = 0; i < map->count; i++) {
        const doc_pair *ep = &map->pairs[i];
        char *epath = limitr__child_path(cc, "estimates", ep->key);
        size_t first = p->n_seeds, k;
        if (epath == NULL) return;
        for (k = 0; k < p->n_ent_names; k++)
            if (strcmp(p->ent_names[k], ep->key) == 0) break;
        if (k == p->n_ent_names) /* a seed nothing would ever read */
            limitr__verr(&cc->errs, epath, ep->key_line, ep->key_col,
                         "no plan has an entitlement '%s'", ep->key);
        if (limitr__expect(cc, ep->value, epath, DOC_MAP, "mapping"))
            for (j = 0; j < ep->value->count; j++) {
                const doc_pair *sp = &ep->value->pairs[j];
                char *spath = limitr__child_path(cc, epath, sp->key);
                lp_estimate_seed *seed = &p->seeds[p->n_seeds++];
                if (spath == NULL) break;
                read_seed(cc, sp->value, spath, ep->key, sp->key, seed);
                for (k = first; seed->segment != NULL && k + 1 < p->n_seeds;
                     k++)
                    if (p->seeds[k].segment != NULL &&
                        strcmp(p->seeds[k].segment, seed->segment) == 0)
                        limitr__verr(&cc->errs, spath, sp->key_line,
                                     sp->key_col,
                                     "the segment '%s' is written twice "
                                     "('.' and ' ' read as '_')",
                                     seed->segment);
                free(spath);
            }
        free(epath);
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
                     limitr__hint(buf, sizeof buf, pair->key, only, 1));
    }
    policy = limitr__get(root, "policy");
    if (policy == NULL) {
        if (limitr__doc_get(root, "policy") != NULL)
            ERR(cc, "policy", limitr__doc_get(root, "policy")->value,
                "expected mapping, got null");
        else if (cc->errs.n == 0)
            ERR(cc, "(document)", root,
                "expected a mapping with the single key 'policy'");
        return;
    }
    if (!limitr__expect(cc, policy, "policy", DOC_MAP, "mapping")) return;
    limitr__check_fields(cc, policy, "policy", root_fields,
                         N_FIELDS(root_fields));
    /* Errors below `policy` use paths without the leading "policy." */
    limitr__read_string(cc, policy, "", "version", "", &cc->p->version);
    /* The shared chunk runs before any snippet is compiled. */
    if ((n = limitr__get(policy, "lua")) != NULL) limitr__read_chunk(cc, n);
    if ((n = limitr__get(policy, "credits")) != NULL) compile_credits(cc, n);
    if ((n = limitr__get(policy, "exchange")) != NULL)
        limitr__exchange_compile(cc, n);
    limitr__exchange_finish(cc, policy);
    if ((n = limitr__get(policy, "plans")) != NULL) compile_plans(cc, n);
    if ((n = limitr__get(policy, "notifications")) != NULL)
        compile_notifications(cc, n);
    if ((n = limitr__get(policy, "handlers")) != NULL) compile_handlers(cc, n);
    compile_estimates(cc, policy);
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
                                  const char *format,
                                  const script_limits *limits, char **err)
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
    cc.p->limits = *limits;
    compile_root(&cc, root);
    if (cc.errs.n == 0 &&
        (cc.p->text = limitr__doc_canonical(root, &cc.p->text_len)) == NULL)
        cc.nomem = 1;
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
    limitr__fingerprint_of(cc.p->text, cc.p->text_len, cc.p->fingerprint);
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
    free(p->text);
    limitr__exchange_free(p);
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
        for (j = 0; j < plan->n_ents; j++) {
            free(plan->ents[j].description);
            free(plan->ents[j].scope);
            free(plan->ents[j].estimate_basis);
            free(plan->ents[j].estimate_segment);
            free((char *)plan->ents[j].limit.path);
        }
        free(plan->ents);
        for (j = 0; j < plan->n_topups; j++)
            limitr__topup_free(&plan->topups[j]);
        free(plan->topups);
        free(plan->subscription);
        free(plan->extends);
    }
    free(p->plans);
    for (i = 0; i < p->n_seeds; i++) {
        free(p->seeds[i].ent);
        free(p->seeds[i].segment);
    }
    free(p->seeds);
    for (i = 0; i < p->n_ent_names; i++)
        free(p->ent_names[i]);
    free(p->ent_names);
    free(p->ent_name_lens);
    free(p->version);
    for (i = 0; i < p->n_notifications; i++)
        free(p->notifications[i].name);
    free(p->notifications);
    limitr__script_close(p->vm); /* after the limits that referenced it */
    free(p);
}

const lp_topup *limitr__plan_topup(const lp_plan *plan, const char *name)
{
    size_t i;
    for (i = 0; i < plan->n_topups; i++)
        if (plan->topups[i].name != NULL &&
            strcmp(plan->topups[i].name, name) == 0)
            return &plan->topups[i];
    return NULL;
}

int limitr__policy_find_plan(const lp_policy *p, const char *name)
{
    size_t i;
    for (i = 0; i < p->n_plans; i++)
        if (strcmp(p->plans[i].name, name) == 0) return (int)i;
    return -1;
}
