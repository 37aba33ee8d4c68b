/* plan_api.c: plans read at run time and the plan fee (docs/engine.md
 * 14.14): plan, plan_trial_period, ensure_plan_subscription. */
#include <string.h>

#include <cjson/cJSON.h>

#include "decide.h"
#include "grants.h"

/* The plan named name_or_id, else the resolved plan of that customer;
 * -1 when neither. */
static int plan_of(limitr_engine *e, const char *name_or_id)
{
    int plan = limitr__policy_find_plan(e->policy, name_or_id);
    const customer *c;
    if (plan >= 0) return plan;
    c = limitr__customer_lookup(e, name_or_id);
    return c != NULL ? limitr__resolved_plan(e, c) : -1;
}

static cJSON *plan_json(limitr_engine *e, const lp_plan *pl)
{
    cJSON *j = cJSON_CreateObject(), *ents, *tops;
    size_t i;
    if (j == NULL) return NULL;
    cJSON_AddStringToObject(j, "name", pl->name);
    cJSON_AddStringToObject(j, "label", pl->label);
    cJSON_AddStringToObject(j, "description", pl->description);
    cJSON_AddBoolToObject(j, "default", pl->is_default);
    cJSON_AddBoolToObject(j, "hidden", pl->hidden);
    cJSON_AddStringToObject(j, "period", limitr__period_names[pl->period]);
    cJSON_AddStringToObject(j, "subscription", pl->subscription);
    if (pl->has_trial)
        cJSON_AddNumberToObject(j, "trial_period", (double)pl->trial_period);
    if (pl->extends != NULL) cJSON_AddStringToObject(j, "extends", pl->extends);
    if ((ents = cJSON_AddObjectToObject(j, "entitlements")) != NULL)
        for (i = 0; i < pl->n_ents; i++) {
            const lp_entitlement *ent = &pl->ents[i];
            cJSON *one = cJSON_AddObjectToObject(ents, ent->key);
            if (one == NULL) continue;
            cJSON_AddStringToObject(one, "description", ent->description);
            if (ent->scope != NULL)
                cJSON_AddStringToObject(one, "scope", ent->scope);
            if (ent->has_limit)
                cJSON_AddItemToObject(one, "limit",
                                      limitr__limit_json(e, &ent->limit));
        }
    if ((tops = cJSON_AddObjectToObject(j, "topups")) != NULL)
        for (i = 0; i < pl->n_topups; i++)
            if (pl->topups[i].name != NULL && pl->topups[i].credit >= 0)
                cJSON_AddItemToObject(tops, pl->topups[i].name,
                                      limitr__topup_json(e, &pl->topups[i]));
    return j;
}

int limitr_plan(limitr_engine *e, const char *name_or_id, const char **json)
{
    int plan;
    LIMITR_ENTER(e);
    if (name_or_id == NULL || json == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "plan: a name or id and out are required");
    if ((plan = plan_of(e, name_or_id)) < 0)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_plan");
    return limitr__set_result(e, plan_json(e, &e->policy->plans[plan]), json);
}

int limitr_plan_trial_period(limitr_engine *e, const char *name_or_id,
                             int64_t *ms)
{
    int plan;
    LIMITR_ENTER(e);
    if (name_or_id == NULL || ms == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "plan_trial_period: a name or id and out are "
                            "required");
    if ((plan = plan_of(e, name_or_id)) < 0)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_plan");
    if (!e->policy->plans[plan].has_trial)
        return limitr__reason(e, LIMITR_NOT_FOUND, "no_trial");
    *ms = e->policy->plans[plan].trial_period;
    return limitr__ok(e);
}

static int ensure_plan_subscription_call(limitr_engine *e, const char *id)
{
    const customer *c;
    const lp_plan *pl;
    const lp_entitlement *ent;
    int plan, status;
    double held = 0, due;
    int64_t now;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "ensure_plan_subscription");
    LIMITR_LOG_OP(e, "ensure_plan_subscription", id, NULL);
    if (id == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "ensure_plan_subscription: id is required");
    if ((c = limitr__customer_lookup(e, id)) == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    if ((plan = limitr__resolved_plan(e, c)) < 0)
        return limitr__reason(e, LIMITR_NOT_FOUND, "no_plan");
    pl = &e->policy->plans[plan];
    ent = lp_plan_entitlement(pl, pl->subscription, strlen(pl->subscription));
    if (ent == NULL || !ent->has_limit) /* nothing names the fee */
        return limitr__fail(e, LIMITR_NOT_FOUND, "no_subscription",
                            "ensure_plan_subscription: plan '%s' has no "
                            "limited '%s' entitlement",
                            pl->name, pl->subscription);
    now = limitr__now(e);
    {
        /* the trial runs from the creation of the meter's owner (the
           customer paying, for a scoped subscription) */
        decision d;
        if (limitr__target(e, id, strlen(id), pl->subscription,
                           strlen(pl->subscription), &d) != 0)
            return limitr__reason(e, d.status, d.reason);
        due =
            pl->has_trial && now - d.owner->created < pl->trial_period ? 0 : 1;
    }
    status = limitr_value(e, id, pl->subscription, NULL, &held);
    if (status != LIMITR_OK) return status;
    if (held >= due) return limitr__ok(e); /* charged: never refunded here */
    /* only the difference: repeating it is harmless; forced, so the fee
       is recorded past any limit (it is owed), with the usual events */
    {
        limitr_call_opts force = {NULL, 0, 1, 0, 0, NULL};
        e->unlogged_depth = e->holding + 1; /* the fee is this call's row */
        status = limitr_allow(e, id, pl->subscription, due - held, &force);
        e->unlogged_depth = 0;
        return status;
    }
}

int limitr_ensure_plan_subscription(limitr_engine *e, const char *id)
{
    LIMITR_ENTER(e);
    return limitr__stored(e, ensure_plan_subscription_call(e, id));
}
