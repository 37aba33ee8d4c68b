/* override_api.c: per-customer limits (docs/engine.md section 7): which limit a
 * decision uses, and the override calls. An override is compiled with the
 * same code as a policy limit, starting from the current limit, and stored
 * as its fields (state/override.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "compile.h"
#include "engine.h"

static int override_applies(const override *ov, int64_t now)
{
    return !ov->has_expires || now < ov->expires;
}

/* The policy's index of the state's credit name, or -1. */
static int policy_credit(const limitr_engine *e, int credit_name)
{
    size_t i;
    for (i = 0; i < e->policy->n_credits; i++)
        if (e->credit_names[i] == credit_name) return (int)i;
    return -1;
}

/* The limit an override stands for, in *buf: its fields, and the plan
 * limit's snippets (plan_lim may be NULL). NULL when its credit is not in
 * the policy. */
static const lp_limit *override_limit(const limitr_engine *e,
                                      const override *ov,
                                      const lp_limit *plan_lim, lp_limit *buf)
{
    buf->credit = policy_credit(e, ov->credit);
    if (buf->credit < 0) return NULL;
    buf->credit_name = ov->credit;
    buf->rule = ov->rule;
    buf->value_ref =
        !ov->own_value && plan_lim != NULL ? plan_lim->value_ref : 0;
    buf->on_exceed_ref = plan_lim != NULL ? plan_lim->on_exceed_ref : 0;
    buf->path = plan_lim != NULL ? plan_lim->path : NULL;
    return buf;
}

const lp_limit *limitr__override_limit(const limitr_engine *e,
                                       const customer *owner, int ent_name,
                                       const lp_entitlement *plan_ent,
                                       int64_t now, lp_limit *buf)
{
    const lp_limit *plan_lim =
        plan_ent != NULL && plan_ent->has_limit ? &plan_ent->limit : NULL;
    const override *ov;
    if ((ov = limitr__override_find(owner, ent_name)) != NULL &&
        override_applies(ov, now)) {
        const lp_limit *lim = override_limit(e, ov, plan_lim, buf);
        if (lim != NULL) return lim;
    }
    return plan_lim;
}

/* ---- JSON ---- */

cJSON *limitr__limit_json(const limitr_engine *e, const lp_limit *lim)
{
    const limit_rule *r = &lim->rule;
    cJSON *j = cJSON_CreateObject();
    char buf[48];
    if (j == NULL) return NULL;
    cJSON_AddStringToObject(j, "credit", e->policy->credits[lim->credit].name);
    limitr__add_num(j, "value", r->value);
    limitr__add_num(j, "increment", r->increment);
    cJSON_AddStringToObject(j, "mode", limitr__mode_names[r->mode]);
    if (r->has_minimum) limitr__add_num(j, "minimum", r->minimum);
    cJSON_AddBoolToObject(j, "hard_trailing", r->hard_trailing);
    cJSON_AddBoolToObject(j, "grants_apply", r->grants_apply);
    cJSON_AddBoolToObject(j, "resets", r->reset != RESET_NONE);
    if (r->reset == RESET_INTERVAL)
        cJSON_AddNumberToObject(j, "reset_inc", (double)r->reset_inc);
    if (r->reset == RESET_SCHEDULE) {
        limitr__schedule_format(&r->sch, buf, sizeof buf);
        cJSON_AddStringToObject(j, "reset_sch", buf);
    }
    cJSON_AddBoolToObject(j, "governor_enabled", r->governor);
    if (r->governor) {
        limitr__add_num(j, "governor_capacity", r->governor_capacity);
        cJSON_AddNumberToObject(j, "governor_refill_rate",
                                r->governor_refill_rate);
    }
    cJSON_AddNumberToObject(j, "ewma_alpha", r->ewma_alpha);
    return j;
}

static cJSON *override_json(const limitr_engine *e, const override *ov)
{
    lp_limit buf;
    const lp_limit *lim = override_limit(e, ov, NULL, &buf);
    cJSON *j = lim != NULL ? limitr__limit_json(e, lim) : cJSON_CreateObject();
    if (j != NULL && ov->has_expires)
        cJSON_AddNumberToObject(j, "expires", (double)ov->expires);
    return j;
}

cJSON *limitr__overrides_json(const limitr_engine *e, const customer *c)
{
    cJSON *all = cJSON_CreateObject();
    size_t i;
    for (i = 0; all != NULL && i < c->n_overrides; i++)
        cJSON_AddItemToObject(all,
                              limitr__state_name(&e->st, c->overrides[i].ent),
                              override_json(e, &c->overrides[i]));
    return all;
}

/* ---- The calls ---- */

/* Compiles fields_json over the current limit of (c, pe) into *ov. */
static int compile_override(limitr_engine *e, const customer *c, const char *id,
                            const char *ent, const lp_entitlement *pe,
                            const char *fields_json, override *ov)
{
    int ent_name = limitr__ent_name(e, pe->name), status = LIMITR_OK;
    int64_t now = limitr__now(e), expires = INT64_MIN;
    lp_limit buf, lim;
    const lp_limit *current;
    const override *existing = limitr__override_find(c, ent_name);
    doc_node *root;
    char *err = NULL, *path, *epath;
    compiler cc;
    root = limitr__doc_parse(fields_json, strlen(fields_json), "json", &err);
    if (root == NULL) {
        status = err ? limitr__fail(e, LIMITR_INVALID, NULL,
                                    "create_customer_override: %s", err)
                     : limitr__nomem(e);
        free(err);
        return status;
    }
    /* Unset fields copy the current limit (override, else the plan's). */
    current = limitr__effective_limit(e, c, ent_name, pe, now, &buf);
    if (current != NULL)
        lim = *current;
    else
        limitr__limit_defaults(&lim);
    if (existing != NULL && override_applies(existing, now) &&
        existing->has_expires)
        expires = existing->expires;
    memset(&cc, 0, sizeof cc);
    cc.p = e->policy;
    cc.no_snippets = 1; /* the state keeps no snippet (docs/engine.md 7.3) */
    path = limitr__doc_path_append("overrides", id, strlen(id));
    epath = path ? limitr__doc_path_append(path, ent, strlen(ent)) : NULL;
    if (epath != NULL) {
        limitr__limit_compile(&cc, root, epath, &lim, 1, &expires);
        if (!cc.nomem && cc.errs.n == 0 && lim.credit < 0)
            limitr__verr(&cc.errs, epath, 0, 0,
                         "missing required field 'credit' (the entitlement "
                         "is a feature flag)");
    }
    free(path);
    free(epath);
    limitr__doc_free(root);
    if (epath == NULL) cc.nomem = 1;
    if ((status = limitr__compile_status(e, &cc)) != LIMITR_OK) return status;
    memset(ov, 0, sizeof *ov);
    ov->ent = ent_name;
    ov->credit = e->credit_names[lim.credit];
    ov->rule = lim.rule;
    ov->own_value = lim.value_ref == 0;
    ov->has_expires = expires != INT64_MIN;
    ov->expires = ov->has_expires ? expires : 0;
    return LIMITR_OK;
}

static int create_customer_override_call(limitr_engine *e, const char *id,
                                         const char *ent,
                                         const char *fields_json,
                                         const char **override_json_out)
{
    customer *c;
    int plan, status;
    const lp_entitlement *pe;
    override ov, *stored;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "create_customer_override");
    if (e->store != NULL)
        limitr__store_op(e, "create_customer_override", id, id ? strlen(id) : 0,
                         ent, ent ? strlen(ent) : 0, NULL, NULL, fields_json);
    if (id == NULL || ent == NULL || fields_json == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "create_customer_override: id, entitlement and "
                            "fields are required");
    c = limitr__customer_lookup(e, id);
    if (c == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    plan = limitr__resolved_plan(e, c);
    pe = plan >= 0
             ? lp_plan_entitlement(&e->policy->plans[plan], ent, strlen(ent))
             : NULL;
    if (pe == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_entitlement");
    status = compile_override(e, c, id, ent, pe, fields_json, &ov);
    if (status != LIMITR_OK) return status;
    if (limitr__override_put(&e->st, c, &ov) != 0) return limitr__nomem(e);
    limitr__emit_customer(e, EV_CUSTOMER_SET, c);
    c = limitr__customer_lookup(e, id);
    stored = c ? limitr__override_find(c, ov.ent) : NULL;
    if (stored == NULL) return limitr__ok(e); /* a handler removed it */
    return limitr__set_result(e, override_json(e, stored), override_json_out);
}

int limitr_create_customer_override(limitr_engine *e, const char *id,
                                    const char *ent, const char *fields_json,
                                    const char **override_json_out)
{
    LIMITR_ENTER(e);
    return limitr__stored(e, create_customer_override_call(
                                 e, id, ent, fields_json, override_json_out));
}

static int remove_customer_override_call(limitr_engine *e, const char *id,
                                         const char *ent)
{
    customer *c;
    override *ov = NULL;
    int name;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "remove_customer_override");
    if (e->store != NULL)
        limitr__store_op(e, "remove_customer_override", id, id ? strlen(id) : 0,
                         ent, ent ? strlen(ent) : 0, NULL, NULL, NULL);
    if (id == NULL || ent == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "remove_customer_override: id and entitlement "
                            "are required");
    c = limitr__customer_lookup(e, id);
    if (c == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    name = limitr__state_name_find(&e->st, ent, strlen(ent));
    if (name >= 0) ov = limitr__override_find(c, name);
    if (ov == NULL) return limitr__reason(e, LIMITR_NOT_FOUND, "no_override");
    limitr__override_remove(&e->st, c, ov);
    limitr__emit_customer(e, EV_CUSTOMER_SET, c);
    return limitr__ok(e);
}

int limitr_remove_customer_override(limitr_engine *e, const char *id,
                                    const char *ent)
{
    LIMITR_ENTER(e);
    return limitr__stored(e, remove_customer_override_call(e, id, ent));
}
