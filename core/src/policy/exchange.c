/* exchange.c: credits as money (docs/policy.md 8): a credit's flat
 * price, the `exchange` section's pairs, and the way from any currency or
 * credit to runes. Compiled and checked with the policy; read by the
 * engine's conversions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "exchange.h"

static const field exchange_pair_fields[] = {
    {"value", FIELD_OK},
    {"currency", FIELD_OK},
};

static const field price_fields[] = {
    {"amount", FIELD_OK},
    {"currency", FIELD_OK},
    {"id", FIELD_OK},
    {"suffix", FIELD_OK},
};

/* ---- Resolution ---- */

static int by_name(const void *a, const void *b)
{
    return strcmp(((const lp_pair *)a)->name, ((const lp_pair *)b)->name);
}

/* The pair named name (pairs are sorted at load), or NULL. */
static lp_pair *find_pair(const lp_policy *p, const char *name)
{
    lp_pair key;
    key.name = (char *)name;
    return p->n_pairs == 0
               ? NULL
               : bsearch(&key, p->pairs, p->n_pairs, sizeof *p->pairs, by_name);
}

int limitr__credit_find(const lp_policy *p, const char *name)
{
    size_t lo = 0, hi = p->credits_by_name != NULL ? p->n_credits : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, i = p->credits_by_name[mid];
        int c = strcmp(p->credits[i].name, name);
        if (c == 0) return (int)i;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* The priced credit named name, or -1. */
static int priced_credit(const lp_policy *p, const char *name)
{
    int i = limitr__credit_find(p, name);
    return i >= 0 && lp_credit_priced(&p->credits[i]) ? i : -1;
}

/* Builds p->credits_by_name (NULL when memory runs out: no credit is then
 * found priced, and the loader reports it as out of memory). */
typedef struct named {
    const char *name;
    size_t index;
} named;

static int by_named(const void *a, const void *b)
{
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

static void index_credits(compiler *cc, lp_policy *p)
{
    named *tmp = malloc((p->n_credits ? p->n_credits : 1) * sizeof *tmp);
    size_t i;
    p->credits_by_name =
        malloc((p->n_credits ? p->n_credits : 1) * sizeof *p->credits_by_name);
    if (tmp == NULL || p->credits_by_name == NULL) {
        free(tmp);
        free(p->credits_by_name);
        p->credits_by_name = NULL;
        cc->nomem = 1;
        return;
    }
    for (i = 0; i < p->n_credits; i++) {
        tmp[i].name = p->credits[i].name;
        tmp[i].index = i;
    }
    qsort(tmp, p->n_credits, sizeof *tmp, by_named);
    for (i = 0; i < p->n_credits; i++)
        p->credits_by_name[i] = tmp[i].index;
    free(tmp);
}

/* A name that is not a pair: rune, the built-in usd, a priced credit. */
static exchange_status ends_at(const lp_policy *p, const char *name,
                               int *credit)
{
    *credit = -1;
    if (strcmp(name, "rune") == 0 || strcmp(name, "usd") == 0)
        return EXCHANGE_OK;
    return (*credit = priced_credit(p, name)) >= 0 ? EXCHANGE_OK
                                                   : EXCHANGE_UNKNOWN;
}

exchange_status limitr__exchange_resolve(const lp_policy *p, const char *name,
                                         lnum *factor, int *credit)
{
    const lp_pair *pair = find_pair(p, name);
    if (pair == NULL) {
        *factor = LNUM_SCALE; /* 1 */
        return ends_at(p, name, credit);
    }
    *factor = pair->factor;
    *credit = pair->end_credit;
    return pair->status;
}

/* Resolves every pair once, in time linear in the pairs: follows a chain
 * until it meets rune, a priced credit, a resolved pair, a dead end or
 * itself (a cycle), then sets each pair on it from its end backwards: a
 * factor is the product of the values from there on, so an intermediate
 * product never passes the range when the whole does not. */
static void resolve_pairs(lp_policy *p)
{
    size_t i, n, *chain = malloc((p->n_pairs + 1) * sizeof *chain);
    for (i = 0; i < p->n_pairs; i++)
        p->pairs[i].status = EXCHANGE_PENDING;
    for (i = 0; chain != NULL && i < p->n_pairs; i++) {
        exchange_status st;
        lnum factor = LNUM_SCALE;
        int credit = -1;
        const char *dead_end = NULL;
        lp_pair *next;
        if (p->pairs[i].status != EXCHANGE_PENDING) continue;
        n = 0;
        chain[n++] = i;
        p->pairs[i].status = EXCHANGE_VISITING;
        for (;;) {
            const char *to = p->pairs[chain[n - 1]].currency;
            next = find_pair(p, to);
            if (next == NULL) {
                st = ends_at(p, to, &credit);
                if (st != EXCHANGE_OK) dead_end = to;
                break;
            }
            if (next->status == EXCHANGE_VISITING) {
                st = EXCHANGE_CYCLE;
                break;
            }
            if (next->status != EXCHANGE_PENDING) { /* resolved before */
                st = next->status;
                factor = next->factor;
                credit = next->end_credit;
                dead_end = next->dead_end;
                break;
            }
            next->status = EXCHANGE_VISITING;
            chain[n++] = (size_t)(next - p->pairs);
        }
        while (n-- > 0) {
            lp_pair *pair = &p->pairs[chain[n]];
            if (st == EXCHANGE_OK &&
                limitr__lnum_mul(pair->value, factor, &factor) != 0)
                st = EXCHANGE_RANGE;
            pair->status = st;
            pair->factor = factor;
            pair->end_credit = credit;
            pair->dead_end = dead_end;
        }
    }
    if (chain == NULL) /* out of memory: nothing resolves */
        for (i = 0; i < p->n_pairs; i++)
            p->pairs[i].status = EXCHANGE_UNKNOWN;
    free(chain);
}

/* v units along a chain of factor f ending at `credit` (-1: runes) in
 * runes, from position offset. */
static int chain_to_runes(const lp_policy *p, lnum f, int credit, lnum v,
                          lnum offset, lnum *out)
{
    lnum units = v, at = offset;
    /* a factor of 1 (a priced credit without pairs) changes nothing */
    if (f != LNUM_SCALE && (limitr__lnum_mul(v, f, &units) != 0 ||
                            limitr__lnum_mul(offset, f, &at) != 0))
        return -1;
    if (credit < 0) {
        *out = units;
        return 0;
    }
    return limitr__price_of(&p->credits[credit], units, at, out);
}

int limitr__credit_to_runes_any(const lp_policy *p, int credit, lnum v,
                                lnum offset, lnum *out)
{
    const lp_credit *cr = &p->credits[credit];
    if (!cr->reaches_runes) return -1;
    return chain_to_runes(p, cr->runes_factor, cr->runes_end, v, offset, out);
}

int limitr__exchange_converts(const lp_policy *p, const char *name)
{
    lnum f;
    int end;
    return limitr__exchange_resolve(p, name, &f, &end) == EXCHANGE_OK && f != 0;
}

int limitr__to_runes(const lp_policy *p, const char *name, lnum v, lnum offset,
                     lnum *out)
{
    lnum f;
    int credit;
    if (limitr__exchange_resolve(p, name, &f, &credit) != EXCHANGE_OK)
        return -1;
    return chain_to_runes(p, f, credit, v, offset, out);
}

int limitr__from_runes(const lp_policy *p, const char *name, lnum r,
                       lnum offset, lnum *out)
{
    lnum f, units, at = 0;
    int credit;
    if (limitr__exchange_resolve(p, name, &f, &credit) != EXCHANGE_OK || f == 0)
        return -1;
    /* r runes are `units` of the chain's end, each end unit 1/f of name. */
    if (credit < 0)
        units = r;
    else if ((offset != 0 && limitr__lnum_mul(offset, f, &at) != 0) ||
             limitr__quantity_for(&p->credits[credit], r, at, &units) != 0)
        return -1;
    return limitr__lnum_div(units, f, out);
}

/* ---- Compiling ---- */

/* One `exchange` pair <name>: {value, currency}. */
static void read_pair(compiler *cc, const doc_pair *pair, size_t doc_index,
                      const char *path)
{
    lp_policy *p = cc->p;
    const doc_node *n = pair->value, *v;
    lp_pair *out;
    char *fpath, num[48];
    if (strcmp(pair->key, "rune") == 0) {
        limitr__verr(&cc->errs, path, pair->key_line, pair->key_col,
                     "'rune' is the base currency: it has no pair");
        return;
    }
    if (n->type != DOC_NULL && !limitr__expect(cc, n, path, DOC_MAP, "mapping"))
        return;
    if (n->type == DOC_MAP)
        limitr__check_fields(cc, n, path, exchange_pair_fields,
                             N_FIELDS(exchange_pair_fields));
    out = &p->pairs[p->n_pairs];
    out->value = LNUM_SCALE;
    if ((v = limitr__get(n, "value")) != NULL &&
        (fpath = limitr__child_path(cc, path, "value")) != NULL) {
        if (limitr__read_amount(cc, v, fpath, AMOUNT_PLAIN, &out->value) &&
            out->value < 0)
            ERR(cc, fpath, v, "must not be negative, got %s",
                limitr__lnum_format(out->value, num));
        free(fpath);
    }
    limitr__read_string(cc, n, path, "currency", "usd", &out->currency);
    if (out->currency != NULL && out->currency[0] == '\0' &&
        (fpath = limitr__child_path(cc, path, "currency")) != NULL) {
        ERR(cc, fpath, limitr__get(n, "currency"), "must not be empty");
        free(fpath);
    }
    out->name = limitr__xstrdup(cc, pair->key);
    out->doc_index = doc_index;
    p->n_pairs++;
}

void limitr__exchange_compile(compiler *cc, const doc_node *exchange)
{
    static const char *const strategies[] = {"expires_first", "cheapest_first",
                                             "valuable_first"};
    lp_policy *p = cc->p;
    size_t i, k;
    if (!limitr__expect(cc, exchange, "exchange", DOC_MAP, "mapping")) return;
    p->pairs = calloc(exchange->count ? exchange->count : 1, sizeof *p->pairs);
    if (p->pairs == NULL) {
        cc->nomem = 1;
        return;
    }
    for (i = 0; i < exchange->count; i++) {
        const doc_pair *pair = &exchange->pairs[i];
        char *path = limitr__child_path(cc, "exchange", pair->key), buf[96];
        if (path == NULL) return;
        if (strcmp(pair->key, "grant_strategy") == 0) {
            const doc_node *v = pair->value;
            if (v->type == DOC_NULL) { /* null: the default */
                free(path);
                continue;
            }
            for (k = 0; v->type == DOC_STRING && k < 3; k++)
                if (strcmp(v->text, strategies[k]) == 0) break;
            if (v->type == DOC_STRING && k < 3)
                p->grant_strategy = (grant_strategy)k;
            else
                ERR(cc, path, v,
                    "must be expires_first, cheapest_first or "
                    "valuable_first%s",
                    v->type == DOC_STRING
                        ? limitr__hint(buf, sizeof buf, v->text, strategies, 3)
                        : "");
        } else if (!limitr__valid_name(pair->key, pair->key_len)) {
            limitr__verr(&cc->errs, path, pair->key_line, pair->key_col,
                         "invalid currency name '%s' (use A-Z a-z 0-9 _ -)",
                         pair->key);
        } else {
            read_pair(cc, pair, i, path);
        }
        free(path);
    }
}

void limitr__price_compile(compiler *cc, const doc_node *n, const char *path,
                           lp_price *price)
{
    const doc_node *v;
    char *fpath, num[48];
    if (!limitr__expect(cc, n, path, DOC_MAP, "mapping")) return;
    limitr__check_fields(cc, n, path, price_fields, N_FIELDS(price_fields));
    price->set = 1;
    if ((v = limitr__get(n, "amount")) != NULL &&
        (fpath = limitr__child_path(cc, path, "amount")) != NULL) {
        if (limitr__read_amount(cc, v, fpath, AMOUNT_PLAIN, &price->amount) &&
            price->amount < 0)
            ERR(cc, fpath, v, "must not be negative, got %s",
                limitr__lnum_format(price->amount, num));
        free(fpath);
    }
    limitr__read_string(cc, n, path, "currency", "rune", &price->currency);
    limitr__read_string(cc, n, path, "id", NULL, &price->id);
    limitr__read_string(cc, n, path, "suffix", "/month", &price->suffix);
}

void limitr__price_free(lp_price *price)
{
    free(price->currency);
    free(price->id);
    free(price->suffix);
}

/* Why `name` (the `what` at path) does not reach runes. */
static void report(compiler *cc, const char *path, int line, int col,
                   const char *what, const char *name)
{
    const lp_policy *p = cc->p;
    const lp_pair *pair = find_pair(p, name);
    exchange_status st = pair != NULL ? pair->status : EXCHANGE_UNKNOWN;
    const char *dead = pair != NULL ? pair->dead_end : name;
    if (st == EXCHANGE_CYCLE)
        limitr__verr(&cc->errs, path, line, col,
                     "%s '%s' does not reach runes: its exchange pairs form "
                     "a cycle",
                     what, name);
    else if (st == EXCHANGE_RANGE)
        limitr__verr(&cc->errs, path, line, col,
                     "%s '%s' is worth more than 1e20 runes per unit", what,
                     name);
    else
        limitr__verr(&cc->errs, path, line, col,
                     "%s '%s' does not reach runes: '%s' is neither an "
                     "exchange pair, a priced credit nor rune",
                     what, name, dead != NULL ? dead : name);
}

/* A price (at path; node its mapping) converted to runes. Its currency
 * must reach runes through pairs alone (limitr's rule: a price is never in
 * another credit's price). */
void limitr__price_to_runes(compiler *cc, const char *path,
                            const doc_node *node, lp_price *price)
{
    const doc_node *cur = node != NULL && node->type == DOC_MAP
                              ? limitr__get(node, "currency")
                              : NULL;
    const doc_node *at = cur != NULL ? cur : node;
    int line = at != NULL ? at->line : 0, col = at != NULL ? at->col : 0;
    char *cpath;
    lnum f;
    int credit;
    exchange_status st;
    if (!price->set || price->currency == NULL) return;
    st = limitr__exchange_resolve(cc->p, price->currency, &f, &credit);
    if (st == EXCHANGE_OK && credit < 0 &&
        limitr__lnum_mul(price->amount, f, &price->runes) == 0)
        return;
    if ((cpath = limitr__child_path(cc, path, "currency")) == NULL) return;
    if (st == EXCHANGE_OK && credit >= 0)
        limitr__verr(&cc->errs, cpath, line, col,
                     "'%s' leads to credit '%s': a price is in a currency "
                     "that reaches runes through exchange pairs",
                     price->currency, cc->p->credits[credit].name);
    else if (st == EXCHANGE_OK)
        limitr__verr(&cc->errs, cpath, line, col,
                     "the amount in runes passes 1e20");
    else
        report(cc, cpath, line, col, "currency", price->currency);
    free(cpath);
}

/* "<credit>.tiers[<i>].price", each part a path step. */
static char *tier_price_path(compiler *cc, const char *credit, size_t i)
{
    char *tiers = limitr__child_path(cc, credit, "tiers"), *tier, *price;
    if (tiers == NULL) return NULL;
    tier = limitr__item_path(cc, tiers, i);
    free(tiers);
    if (tier == NULL) return NULL;
    price = limitr__child_path(cc, tier, "price");
    free(tier);
    return price;
}

void limitr__exchange_finish(compiler *cc, const doc_node *policy)
{
    lp_policy *p = cc->p;
    const doc_node *exchange = limitr__get(policy, "exchange");
    const doc_node *credits = limitr__get(policy, "credits");
    size_t i, t;
    index_credits(cc, p);
    if (p->n_pairs > 1) qsort(p->pairs, p->n_pairs, sizeof *p->pairs, by_name);
    resolve_pairs(p);
    for (i = 0; i < p->n_credits; i++) { /* each credit's way, once */
        lp_credit *cr = &p->credits[i];
        cr->reaches_runes =
            limitr__exchange_resolve(p, cr->name, &cr->runes_factor,
                                     &cr->runes_end) == EXCHANGE_OK;
    }
    for (i = 0; i < p->n_pairs; i++) {
        const doc_pair *pair;
        char *path;
        if (p->pairs[i].status == EXCHANGE_OK) continue;
        pair = exchange != NULL && exchange->type == DOC_MAP &&
                       p->pairs[i].doc_index < exchange->count
                   ? &exchange->pairs[p->pairs[i].doc_index]
                   : NULL;
        if ((path = limitr__child_path(cc, "exchange", p->pairs[i].name)) ==
            NULL)
            return;
        report(cc, path, pair ? pair->key_line : 0, pair ? pair->key_col : 0,
               "pair", p->pairs[i].name);
        free(path);
    }
    for (i = 0; i < p->n_credits; i++) {
        lp_credit *cr = &p->credits[i];
        const doc_pair *cp = credits != NULL && credits->type == DOC_MAP &&
                                     cr->doc_index < credits->count
                                 ? &credits->pairs[cr->doc_index]
                                 : NULL;
        const doc_node *cn =
            cp != NULL && cp->value->type == DOC_MAP ? cp->value : NULL;
        const doc_node *tiers = cn != NULL ? limitr__get(cn, "tiers") : NULL;
        char *cpath = limitr__child_path(cc, "credits", cr->name), *path;
        if (cpath == NULL) return;
        if ((path = limitr__child_path(cc, cpath, "price")) != NULL) {
            limitr__price_to_runes(cc, path,
                                   cn != NULL ? limitr__get(cn, "price") : NULL,
                                   &cr->price);
            free(path);
        }
        for (t = 0; t < cr->n_tiers; t++) {
            size_t at = cr->tiers[t].doc_index;
            const doc_node *tn =
                tiers != NULL && tiers->type == DOC_LIST && at < tiers->count
                    ? tiers->items[at]
                    : NULL;
            if ((path = tier_price_path(cc, cpath, at)) == NULL) break;
            limitr__price_to_runes(cc, path,
                                   tn != NULL && tn->type == DOC_MAP
                                       ? limitr__get(tn, "price")
                                       : NULL,
                                   &cr->tiers[t].price);
            free(path);
        }
        free(cpath);
    }
}

void limitr__exchange_free(lp_policy *p)
{
    size_t i;
    for (i = 0; i < p->n_pairs; i++) {
        free(p->pairs[i].name);
        free(p->pairs[i].currency);
    }
    free(p->pairs);
    free(p->credits_by_name);
    for (i = 0; i < p->n_credits; i++) {
        size_t t;
        for (t = 0; t <= p->credits[i].n_tiers; t++) {
            limitr__price_free(t == 0 ? &p->credits[i].price
                                      : &p->credits[i].tiers[t - 1].price);
        }
        free(p->credits[i].tiers);
    }
}
