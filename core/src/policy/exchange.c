/* exchange.c: credits as money (docs/economy.md 2-3): a credit's flat
 * price, the `exchange` section's pairs, and the way from any currency or
 * credit to runes. Compiled and checked with the policy; read by the
 * engine's conversions. */
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

static const lp_pair *find_pair(const lp_policy *p, const char *name)
{
    size_t i;
    for (i = 0; i < p->n_pairs; i++)
        if (strcmp(p->pairs[i].name, name) == 0) return &p->pairs[i];
    return NULL;
}

static int priced_credit(const lp_policy *p, const char *name)
{
    size_t i;
    for (i = 0; i < p->n_credits; i++)
        if (lp_credit_priced(&p->credits[i]) &&
            strcmp(p->credits[i].name, name) == 0)
            return (int)i;
    return -1;
}

exchange_status limitr__exchange_resolve(const lp_policy *p, const char *name,
                                         lnum *factor, int *credit)
{
    lnum f = LNUM_SCALE; /* 1 */
    size_t steps;
    /* More steps than pairs means one was seen twice: a cycle. */
    for (steps = 0; steps <= p->n_pairs + 1; steps++) {
        const lp_pair *pair;
        if (strcmp(name, "rune") == 0) {
            *factor = f;
            *credit = -1;
            return EXCHANGE_OK;
        }
        if ((pair = find_pair(p, name)) != NULL) {
            if (limitr__lnum_mul(f, pair->value, &f) != 0)
                return EXCHANGE_UNKNOWN; /* beyond the range of amounts */
            name = pair->currency;
            continue;
        }
        if (strcmp(name, "usd") == 0) { /* built in: 1 usd = 1 rune */
            name = "rune";
            continue;
        }
        if ((*credit = priced_credit(p, name)) >= 0) {
            *factor = f;
            return EXCHANGE_OK;
        }
        return EXCHANGE_UNKNOWN;
    }
    return EXCHANGE_CYCLE;
}

int limitr__to_runes(const lp_policy *p, const char *name, lnum v, lnum *out)
{
    lnum f, units;
    int credit;
    if (limitr__exchange_resolve(p, name, &f, &credit) != EXCHANGE_OK ||
        limitr__lnum_mul(v, f, &units) != 0)
        return -1;
    if (credit < 0) {
        *out = units;
        return 0;
    }
    return limitr__price_of(&p->credits[credit], units, 0, out);
}

int limitr__from_runes(const lp_policy *p, const char *name, lnum r, lnum *out)
{
    lnum f, units;
    int credit;
    if (limitr__exchange_resolve(p, name, &f, &credit) != EXCHANGE_OK || f == 0)
        return -1;
    /* r runes are `units` of the chain's end, each end unit 1/f of name. */
    if (credit < 0)
        units = r;
    else if (limitr__quantity_for(&p->credits[credit], r, 0, &units) != 0)
        return -1;
    return limitr__lnum_div(units, f, out);
}

/* ---- Compiling ---- */

/* One `exchange` pair <name>: {value, currency}. */
static void read_pair(compiler *cc, const doc_pair *pair, const char *path)
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
        if (limitr__read_amount(cc, v, fpath, -1, &out->value) &&
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
            read_pair(cc, pair, path);
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
        if (limitr__read_amount(cc, v, fpath, -1, &price->amount) &&
            price->amount < 0)
            ERR(cc, fpath, v, "must not be negative, got %s",
                limitr__lnum_format(price->amount, num));
        free(fpath);
    }
    limitr__read_string(cc, n, path, "currency", "rune", &price->currency);
    limitr__read_string(cc, n, path, "id", NULL, &price->id);
    limitr__read_string(cc, n, path, "suffix", "/month", &price->suffix);
}

/* Names the end of a chain that does not reach runes. */
static void report(compiler *cc, const char *path, int line, int col,
                   const char *what, const char *name, exchange_status st)
{
    if (st == EXCHANGE_CYCLE)
        limitr__verr(&cc->errs, path, line, col,
                     "%s '%s' does not reach runes: its exchange pairs form "
                     "a cycle",
                     what, name);
    else
        limitr__verr(&cc->errs, path, line, col,
                     "%s '%s' does not reach runes (no exchange pair leads "
                     "from it to runes or to a priced credit)",
                     what, name);
}

/* A price of credit i (its own, or a tier's) converted to runes; its
 * currency must reach runes through pairs alone (limitr's rule: a price is
 * never in another credit's price). */
static void price_to_runes(compiler *cc, lp_policy *p, const doc_node *credits,
                           size_t i, lp_price *price)
{
    const doc_pair *cp;
    const doc_node *pn = NULL;
    exchange_status st;
    lnum f;
    int credit, line = 0, col = 0;
    char *path;
    if (!price->set || price->currency == NULL) return;
    st = limitr__exchange_resolve(p, price->currency, &f, &credit);
    if (st == EXCHANGE_OK && credit < 0 &&
        limitr__lnum_mul(price->amount, f, &price->runes) == 0)
        return;
    cp = credits != NULL ? limitr__doc_get(credits, p->credits[i].name) : NULL;
    if (cp != NULL && cp->value->type == DOC_MAP)
        pn = limitr__get(cp->value,
                         price == &p->credits[i].price ? "price" : "tiers");
    if (pn != NULL) {
        line = pn->line;
        col = pn->col;
    }
    path = limitr__child_path(cc, "credits", p->credits[i].name);
    if (path == NULL) return;
    if (st == EXCHANGE_OK && credit >= 0)
        limitr__verr(&cc->errs, path, line, col,
                     "price.currency '%s' is a credit: a price is in a "
                     "currency that reaches runes through exchange pairs",
                     price->currency);
    else if (st == EXCHANGE_OK)
        limitr__verr(&cc->errs, path, line, col,
                     "price: the amount in runes passes 1e20");
    else
        report(cc, path, line, col, "price.currency", price->currency, st);
    free(path);
}

void limitr__exchange_finish(compiler *cc, const doc_node *policy)
{
    lp_policy *p = cc->p;
    const doc_node *exchange = limitr__get(policy, "exchange");
    const doc_node *credits = limitr__get(policy, "credits");
    size_t i;
    lnum f;
    int credit;
    exchange_status st;
    /* Prices first: chains that end at a priced credit need its runes. A
       price's currency reaches runes through pairs alone (limitr's rule: a
       price in another credit would price one credit in another's price). */
    for (i = 0; i < p->n_credits; i++) {
        size_t t;
        for (t = 0; t <= p->credits[i].n_tiers; t++)
            price_to_runes(cc, p, credits, i,
                           t == 0 ? &p->credits[i].price
                                  : &p->credits[i].tiers[t - 1].price);
    }
    for (i = 0; i < p->n_pairs; i++) {
        const doc_pair *pair = limitr__doc_get(exchange, p->pairs[i].name);
        char *path;
        st = limitr__exchange_resolve(p, p->pairs[i].name, &f, &credit);
        if (st == EXCHANGE_OK) continue;
        path = limitr__child_path(cc, "exchange", p->pairs[i].name);
        if (path == NULL) return;
        report(cc, path, pair ? pair->key_line : 0, pair ? pair->key_col : 0,
               "pair", p->pairs[i].name, st);
        free(path);
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
    for (i = 0; i < p->n_credits; i++) {
        size_t t;
        for (t = 0; t <= p->credits[i].n_tiers; t++) {
            lp_price *price = t == 0 ? &p->credits[i].price
                                     : &p->credits[i].tiers[t - 1].price;
            free(price->currency);
            free(price->id);
            free(price->suffix);
        }
        free(p->credits[i].tiers);
    }
}
