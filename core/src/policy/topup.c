/* topup.c: a plan's top-ups (docs/policy.md 7) and the refill rule of a
 * grant, which a top-up and a host-made grant write the same way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exchange.h"
#include "topup.h"

static const field topup_fields[] = {
    {"credit", FIELD_OK},        {"value", FIELD_OK},
    {"price", FIELD_OK},         {"description", FIELD_OK},
    {"included", FIELD_OK},      {"included_scopes", FIELD_OK},
    {"resets", FIELD_OK},        {"reset_inc", FIELD_OK},
    {"reset_sch", FIELD_OK},     {"reset_mode", FIELD_OK},
    {"rollover_min", FIELD_OK},  {"rollover_max", FIELD_OK},
    {"rollover_pct", FIELD_OK},  {"max_balance", FIELD_OK},
    {"expires_after", FIELD_OK}, {"reset_catchup_cap", FIELD_OK},
};

/* Field key of n: its value and path (caller frees), or NULL. */
static const doc_node *at(compiler *cc, const doc_node *n, const char *path,
                          const char *key, char **fpath)
{
    const doc_node *v = limitr__get(n, key);
    *fpath = v != NULL ? limitr__child_path(cc, path, key) : NULL;
    return *fpath != NULL ? v : NULL;
}

/* An amount >= 0 of field key into *out; 1 when set. */
static int amount(compiler *cc, const doc_node *n, const char *path,
                  const char *key, int credit, lnum *out)
{
    char *fpath;
    const doc_node *v = at(cc, n, path, key, &fpath);
    int ok = v != NULL && limitr__read_ranged(cc, v, fpath, credit, 1, out);
    free(fpath);
    return ok;
}

static void read_mode(compiler *cc, const doc_node *n, const char *path,
                      grant_rule *rule)
{
    const char *const *modes = limitr__grant_reset_mode_names;
    char *fpath, buf[96];
    const doc_node *v = at(cc, n, path, "reset_mode", &fpath);
    int i;
    if (v != NULL && limitr__expect(cc, v, fpath, DOC_STRING, "string")) {
        for (i = 0; i < 3 && strcmp(v->text, modes[i]) != 0; i++)
            ;
        if (i < 3)
            rule->mode = (grant_reset_mode)i;
        else
            ERR(cc, fpath, v,
                "unknown reset_mode '%s' (hard, add or rollover)%s", v->text,
                limitr__hint(buf, sizeof buf, v->text, modes, 3));
    }
    free(fpath);
}

void limitr__grant_rule_compile(compiler *cc, const doc_node *n,
                                const char *path, int credit, grant_rule *rule)
{
    const doc_node *v;
    char *fpath, num[48];
    limitr__grant_rule_none(rule);
    limitr__read_resets(cc, n, path, &rule->reset, &rule->reset_inc,
                        &rule->sch);
    read_mode(cc, n, path, rule);
    rule->has_rollover_min =
        amount(cc, n, path, "rollover_min", credit, &rule->rollover_min);
    rule->has_rollover_max =
        amount(cc, n, path, "rollover_max", credit, &rule->rollover_max);
    rule->has_max_balance =
        amount(cc, n, path, "max_balance", credit, &rule->max_balance);
    if ((v = at(cc, n, path, "rollover_pct", &fpath)) != NULL &&
        limitr__read_ranged(cc, v, fpath, AMOUNT_PLAIN, 1,
                            &rule->rollover_pct)) {
        if (rule->rollover_pct > LNUM_SCALE)
            ERR(cc, fpath, v, "must be a fraction from 0 to 1, got %s",
                limitr__lnum_format(rule->rollover_pct, num));
        else
            rule->has_rollover_pct = 1;
    }
    free(fpath);
    if (rule->has_rollover_min && rule->has_rollover_max &&
        rule->rollover_min > rule->rollover_max &&
        (fpath = limitr__child_path(cc, path, "rollover_min")) != NULL) {
        ERR(cc, fpath, limitr__get(n, "rollover_min"),
            "is greater than rollover_max");
        free(fpath);
    }
    if ((v = at(cc, n, path, "reset_catchup_cap", &fpath)) != NULL) {
        lnum cap;
        if (limitr__read_ranged(cc, v, fpath, AMOUNT_PLAIN, 1, &cap)) {
            if (cap % LNUM_SCALE != 0 || cap > lnum_from_int(1000000000))
                ERR(cc, fpath, v, "must be a whole number of resets, got %s",
                    limitr__lnum_format(cap, num));
            else
                rule->catchup_cap = (int64_t)(cap / LNUM_SCALE);
        }
    }
    free(fpath);
}

int limitr__topup_included_for(const lp_topup *t, const char *type)
{
    size_t i;
    if (!t->included) return 0;
    if (t->n_scopes == 0) return 1;
    for (i = 0; i < t->n_scopes; i++)
        if (strcmp(t->scopes[i], type) == 0) return 1;
    return 0;
}

static void read_scopes(compiler *cc, const doc_node *n, const char *path,
                        lp_topup *t)
{
    char *fpath;
    const doc_node *v = at(cc, n, path, "included_scopes", &fpath);
    size_t i;
    if (v != NULL && limitr__expect(cc, v, fpath, DOC_LIST, "list")) {
        if (v->count == 0) /* it would read as every type */
            ERR(cc, fpath, v,
                "must name at least one customer type (leave it out to "
                "grant every type)");
        t->scopes = calloc(v->count ? v->count : 1, sizeof *t->scopes);
        if (t->scopes == NULL) cc->nomem = 1;
        for (i = 0; t->scopes != NULL && i < v->count; i++) {
            char *ipath = limitr__item_path(cc, fpath, i);
            if (ipath == NULL) break;
            if (limitr__expect(cc, v->items[i], ipath, DOC_STRING, "string"))
                t->scopes[t->n_scopes++] =
                    limitr__xstrdup(cc, v->items[i]->text);
            free(ipath);
        }
    }
    free(fpath);
}

void limitr__topup_compile(compiler *cc, const doc_node *n, const char *path,
                           const char *name, lp_topup *t)
{
    const doc_node *v;
    char *fpath;
    int64_t ms;
    t->credit = -1;
    t->name = limitr__xstrdup(cc, name);
    limitr__grant_rule_none(&t->rule);
    if (!limitr__expect(cc, n, path, DOC_MAP, "mapping")) return;
    limitr__check_fields(cc, n, path, topup_fields, N_FIELDS(topup_fields));
    if ((v = at(cc, n, path, "credit", &fpath)) != NULL)
        limitr__read_credit(cc, v, fpath, &t->credit);
    else
        ERR(cc, path, n, "missing required field 'credit'");
    free(fpath);
    /* amounts are in the credit's units: the credit comes first */
    amount(cc, n, path, "value", t->credit, &t->value);
    if ((v = at(cc, n, path, "price", &fpath)) != NULL) {
        limitr__price_compile(cc, v, fpath, &t->price);
        limitr__price_to_runes(cc, fpath, v, &t->price);
    }
    free(fpath);
    limitr__read_string(cc, n, path, "description", "", &t->description);
    t->included = limitr__read_bool(cc, n, path, "included", 0);
    read_scopes(cc, n, path, t);
    limitr__grant_rule_compile(cc, n, path, t->credit, &t->rule);
    if ((v = at(cc, n, path, "expires_after", &fpath)) != NULL &&
        limitr__read_duration(cc, v, fpath, &ms)) {
        if (ms <= 0)
            ERR(cc, fpath, v, "must be greater than 0, got %lld",
                (long long)ms);
        else
            t->expires_after = ms;
    }
    free(fpath);
}

void limitr__topup_free(lp_topup *t)
{
    size_t i;
    free(t->name);
    free(t->description);
    limitr__price_free(&t->price);
    for (i = 0; i < t->n_scopes; i++)
        free(t->scopes[i]);
    free(t->scopes);
}
