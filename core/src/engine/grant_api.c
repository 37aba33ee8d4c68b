/* grant_api.c: the calls on grants and top-ups (docs/engine.md 15):
 * apply_customer_topup, ensure_included_topups, add_customer_grant,
 * remove_customer_grant and credit_remaining. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "compile.h"
#include "grants.h"
#include "names.h"
#include "topup.h"

cJSON *limitr__topup_json(const limitr_engine *e, const lp_topup *t)
{
    cJSON *j = cJSON_CreateObject();
    if (j == NULL) return NULL;
    cJSON_AddStringToObject(j, "name", t->name);
    cJSON_AddStringToObject(j, "credit", e->policy->credits[t->credit].name);
    limitr__add_num(j, "value", t->value);
    cJSON_AddStringToObject(j, "description", t->description);
    cJSON_AddBoolToObject(j, "included", t->included);
    if (t->price.set) {
        cJSON *price = cJSON_AddObjectToObject(j, "price");
        if (price != NULL) {
            limitr__add_num(price, "amount", t->price.amount);
            cJSON_AddStringToObject(price, "currency", t->price.currency);
            if (t->price.id != NULL)
                cJSON_AddStringToObject(price, "id", t->price.id);
        }
    }
    if (t->expires_after > 0)
        cJSON_AddNumberToObject(j, "expires_after", (double)t->expires_after);
    cJSON_AddBoolToObject(j, "resets", t->rule.reset != RESET_NONE);
    return j;
}

static int too_many(limitr_engine *e, const char *call, const char *id)
{
    return limitr__fail(e, LIMITR_INVALID, "too_many_grants",
                        "%s: customer '%s' holds %d grants already (the "
                        "most a customer holds)",
                        call, id, MAX_CUSTOMER_GRANTS);
}

static int apply_customer_topup_call(limitr_engine *e, const char *id,
                                     const char *topup)
{
    customer *c;
    const lp_topup *t;
    int plan, full;
    int64_t now;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "apply_customer_topup");
    LIMITR_LOG_OP(e, "apply_customer_topup", id, NULL);
    if (id == NULL || topup == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "apply_customer_topup: id and topup are required");
    if ((c = limitr__customer_lookup(e, id)) == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    if ((plan = limitr__resolved_plan(e, c)) < 0)
        return limitr__reason(e, LIMITR_NOT_FOUND, "no_plan");
    t = limitr__plan_topup(&e->policy->plans[plan], topup);
    if (t == NULL) return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_topup");
    /* its grant would be one the next reconciliation removes (step 2) */
    if (t->included && !limitr__topup_included_for(t, c->type))
        return limitr__fail(e, LIMITR_INVALID, "topup_not_for_type",
                            "apply_customer_topup: top-up '%s' is included "
                            "only for other customer types than '%s' "
                            "(included_scopes)",
                            topup, c->type);
    now = limitr__now(e);
    limitr__grants_refresh(e, c, now);
    if (limitr__grant_topup(e, c, t, now, &full) != 0)
        return full ? too_many(e, "apply_customer_topup", id)
                    : limitr__nomem(e);
    if (limitr__listening(e, EV_CUSTOMER_TOPUP_GRANTED)) {
        cJSON *ev = cJSON_CreateObject();
        if (ev != NULL) {
            cJSON_AddItemToObject(ev, "customer",
                                  limitr__customer_snapshot(e, c));
            cJSON_AddStringToObject(ev, "topup_name", t->name);
            cJSON_AddStringToObject(ev, "plan_name",
                                    e->policy->plans[plan].name);
            cJSON_AddItemToObject(ev, "topup", limitr__topup_json(e, t));
        }
        limitr__emit(e, EV_CUSTOMER_TOPUP_GRANTED, ev);
    }
    return limitr__ok(e);
}

int limitr_apply_customer_topup(limitr_engine *e, const char *id,
                                const char *topup)
{
    LIMITR_ENTER(e);
    return limitr__stored(e, apply_customer_topup_call(e, id, topup));
}

static int ensure_included_topups_call(limitr_engine *e, const char *id,
                                       int events)
{
    customer *c;
    int changed;
    int64_t now;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "ensure_included_topups");
    LIMITR_LOG_OP(e, "ensure_included_topups", id, NULL);
    if (id == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "ensure_included_topups: id is required");
    if ((c = limitr__customer_lookup(e, id)) == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    if (limitr__resolved_plan(e, c) < 0)
        return limitr__reason(e, LIMITR_NOT_FOUND, "no_plan");
    now = limitr__now(e);
    limitr__grants_refresh(e, c, now);
    if (limitr__grants_reconcile(e, c, now, &changed) != 0)
        return limitr__nomem(e);
    if (changed && events) limitr__emit_customer(e, EV_CUSTOMER_SET, c);
    return limitr__ok(e);
}

int limitr_ensure_included_topups(limitr_engine *e, const char *id, int events)
{
    LIMITR_ENTER(e);
    return limitr__stored(e, ensure_included_topups_call(e, id, events));
}

/* ---- Host-made grants ---- */

static const field grant_fields[] = {
    {"credit", FIELD_OK},
    {"value", FIELD_OK},
    {"id", FIELD_OK},
    {"expires_on", FIELD_OK},
    {"resets", FIELD_OK},
    {"reset_inc", FIELD_OK},
    {"reset_sch", FIELD_OK},
    {"reset_mode", FIELD_OK},
    {"rollover_min", FIELD_OK},
    {"rollover_max", FIELD_OK},
    {"rollover_pct", FIELD_OK},
    {"max_balance", FIELD_OK},
    {"reset_catchup_cap", FIELD_OK},
};

/* The grant's fields (a JSON object) compiled into *g (id left in idbuf).
 * LIMITR_OK, or the error set with every problem under the path `grant`. */
static int compile_grant(limitr_engine *e, const customer *c, const char *json,
                         grant *g, char *idbuf, size_t idsize)
{
    compiler cc;
    doc_node *root;
    const doc_node *v;
    char *err = NULL;
    int credit = AMOUNT_PLAIN, status = LIMITR_OK;
    lnum f;
    int end;
    int64_t now = limitr__now(e);
    memset(&cc, 0, sizeof cc);
    cc.p = e->policy;
    cc.no_snippets = 1;
    root = limitr__doc_parse(json, strlen(json), "json", &err);
    if (root == NULL) {
        status = err ? limitr__fail(e, LIMITR_INVALID, NULL,
                                    "add_customer_grant: %s", err)
                     : limitr__nomem(e);
        free(err);
        return status;
    }
    memset(g, 0, sizeof *g);
    g->topup = -1;
    g->credit = -1;
    g->created_on = g->granted_on = g->last_reset = now;
    limitr__grant_rule_none(&g->rule);
    if (limitr__expect(&cc, root, "grant", DOC_MAP, "mapping")) {
        limitr__check_fields(&cc, root, "grant", grant_fields,
                             N_FIELDS(grant_fields));
        if ((v = limitr__get(root, "credit")) == NULL) {
            limitr__verr(&cc.errs, "grant", 0, 0,
                         "missing required field 'credit'");
        } else if (limitr__expect(&cc, v, "grant.credit", DOC_STRING,
                                  "string")) {
            int found = limitr__credit_find(e->policy, v->text);
            if (found >= 0)
                credit = found;
            else if (limitr__exchange_resolve(e->policy, v->text, &f, &end) !=
                     EXCHANGE_OK)
                ERR(&cc, "grant.credit", v,
                    "'%s' is neither a credit nor a currency that reaches "
                    "runes",
                    v->text);
            if (found >= 0 || cc.errs.n == 0)
                g->credit =
                    limitr__state_intern(&e->st, v->text, strlen(v->text));
        }
        if ((v = limitr__get(root, "value")) != NULL)
            limitr__read_ranged(&cc, v, "grant.value", credit, 1, &g->value);
        g->starting_value = g->value;
        if ((v = limitr__get(root, "id")) != NULL &&
            limitr__expect(&cc, v, "grant.id", DOC_STRING, "string")) {
            if (v->text[0] == '\0' || strlen(v->text) >= idsize ||
                !limitr__utf8_valid(v->text, strlen(v->text)))
                ERR(&cc, "grant.id", v, "must be 1 to %zu bytes of UTF-8",
                    idsize - 1);
            else if (limitr__grant_find(c, v->text) != NULL)
                ERR(&cc, "grant.id", v, "the customer has a grant '%s'",
                    v->text);
            else
                snprintf(idbuf, idsize, "%s", v->text);
        }
        if ((v = limitr__get(root, "expires_on")) != NULL) {
            int64_t at;
            if (limitr__read_duration(&cc, v, "grant.expires_on", &at)) {
                g->has_expires = 1;
                g->expires_on = at;
            }
        }
        limitr__grant_rule_compile(&cc, root, "grant", credit, &g->rule);
    }
    limitr__doc_free(root);
    if ((status = limitr__compile_status(e, &cc)) != LIMITR_OK) return status;
    return g->credit < 0 ? limitr__nomem(e) : LIMITR_OK;
}

static int add_customer_grant_call(limitr_engine *e, const char *id,
                                   const char *fields_json,
                                   const char **grant_out)
{
    customer *c;
    grant g;
    char idbuf[256] = "";
    int status;
    uint64_t seq;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "add_customer_grant");
    LIMITR_LOG_OP(e, "add_customer_grant", id, NULL);
    if (id == NULL || fields_json == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "add_customer_grant: id and fields are required");
    if ((c = limitr__customer_lookup(e, id)) == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    status = compile_grant(e, c, fields_json, &g, idbuf, sizeof idbuf);
    if (status != LIMITR_OK) return status;
    limitr__grants_refresh(e, c, g.created_on);
    if (c->n_grants >= MAX_CUSTOMER_GRANTS)
        return too_many(e, "add_customer_grant", id);
    seq = e->st.d->next_grant; /* kept when the grant is not */
    if (idbuf[0] == '\0') { /* generated: grant-<n>, skipping taken ones */
        do {
            snprintf(idbuf, sizeof idbuf, "grant-%llu",
                     (unsigned long long)++e->st.d->next_grant);
        } while (limitr__grant_find(c, idbuf) != NULL);
    }
    g.id = idbuf;
    g.id_len = strlen(idbuf);
    if (limitr__grant_add(&e->st, c, &g) != 0) {
        e->st.d->next_grant = seq;
        return limitr__nomem(e);
    }
    limitr__emit_customer(e, EV_CUSTOMER_SET, c);
    c = limitr__customer_lookup(e, id);
    {
        grant *stored = c != NULL ? limitr__grant_find(c, idbuf) : NULL;
        if (stored == NULL) { /* a handler removed it */
            if (grant_out != NULL) *grant_out = NULL;
            return limitr__ok(e);
        }
        return limitr__set_result(
            e, limitr__grant_json(e, stored, limitr__now(e)), grant_out);
    }
}

int limitr_add_customer_grant(limitr_engine *e, const char *id,
                              const char *fields_json, const char **grant_out)
{
    LIMITR_ENTER(e);
    return limitr__stored(
        e, add_customer_grant_call(e, id, fields_json, grant_out));
}

static int remove_customer_grant_call(limitr_engine *e, const char *id,
                                      const char *grant_id)
{
    customer *c;
    grant *g;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "remove_customer_grant");
    LIMITR_LOG_OP(e, "remove_customer_grant", id, NULL);
    if (id == NULL || grant_id == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "remove_customer_grant: id and grant id are "
                            "required");
    if ((c = limitr__customer_lookup(e, id)) == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    if ((g = limitr__grant_find(c, grant_id)) == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_grant");
    limitr__grant_remove_at(&e->st, c, (size_t)(g - c->grants));
    limitr__emit_customer(e, EV_CUSTOMER_SET, c);
    return limitr__ok(e);
}

int limitr_remove_customer_grant(limitr_engine *e, const char *id,
                                 const char *grant_id)
{
    LIMITR_ENTER(e);
    return limitr__stored(e, remove_customer_grant_call(e, id, grant_id));
}

int limitr_customer_grants(limitr_engine *e, const char *id,
                           const char **grants_json)
{
    const customer *c;
    LIMITR_ENTER(e);
    if (id == NULL || grants_json == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "customer_grants: id and out are required");
    if ((c = limitr__customer_lookup(e, id)) == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    return limitr__set_result(e, limitr__grants_json(e, c, limitr__now(e)),
                              grants_json);
}

int limitr_credit_remaining(limitr_engine *e, const char *id,
                            const char *credit, double *out)
{
    const customer *c;
    lnum f;
    int end;
    LIMITR_ENTER(e);
    if (id == NULL || credit == NULL || out == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "credit_remaining: id, credit and out are "
                            "required");
    if ((c = limitr__customer_lookup(e, id)) == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    if (limitr__credit_find(e->policy, credit) < 0 &&
        limitr__exchange_resolve(e->policy, credit, &f, &end) != EXCHANGE_OK)
        return limitr__fail(e, LIMITR_NOT_FOUND, "unknown_currency",
                            "credit_remaining: '%s' is neither a credit nor a "
                            "currency that reaches runes",
                            credit);
    *out = limitr__lnum_to_double(limitr__lnum_round9(
        limitr__grants_worth(e, c, credit, 0, limitr__now(e))));
    return limitr__ok(e);
}
