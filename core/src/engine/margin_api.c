/* margin_api.c: local margins (docs/engine.md 17): revenue (list price of
 * the billable units, the plan fee included) against cost (recorded or
 * modeled overhead), per entitlement and in total. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "compile.h"
#include "decide.h"
#include "units.h"

/* round((revenue - cost) / revenue * 100, 2), or `none` when revenue is 0
 * (NAN: no number). */
static double margin_of(lnum revenue, lnum cost, double none)
{
    double r = limitr__lnum_to_double(revenue);
    double m;
    if (revenue == 0) return none;
    m = (r - limitr__lnum_to_double(cost)) / r * 100;
    return (m < 0 ? -floor(-m * 100 + 0.5) : floor(m * 100 + 0.5)) / 100;
}

static void add_line(cJSON *obj, lnum revenue, lnum cost, double none)
{
    double m = margin_of(revenue, cost, none);
    cJSON_AddNumberToObject(
        obj, "revenue", limitr__lnum_to_double(limitr__lnum_round9(revenue)));
    cJSON_AddNumberToObject(obj, "cost",
                            limitr__lnum_to_double(limitr__lnum_round9(cost)));
    if (!isnan(m)) cJSON_AddNumberToObject(obj, "margin", m);
}

/* What `quantity` units past `limit` from nothing are worth: the billable
 * part at list price (0 for an unpriced credit). */
static lnum revenue_of(const lp_credit *cr, lnum value, lnum limit)
{
    lnum worth;
    if (!lp_credit_priced(cr) || value <= limit) return 0;
    return limitr__price_of(cr, value - limit, 0, &worth) == 0 ? worth : 0;
}

/* The plan fee for the period: the subscription entitlement priced at
 * its quantity (1, or 0 during the trial for a customer). */
static lnum fee_of(limitr_engine *e, const lp_plan *pl, int in_trial)
{
    const lp_entitlement *ent =
        lp_plan_entitlement(pl, pl->subscription, strlen(pl->subscription));
    lnum worth;
    if (ent == NULL || !ent->has_limit || in_trial) return 0;
    if (limitr__price_of(&e->policy->credits[ent->limit.credit], LNUM_SCALE, 0,
                         &worth) != 0)
        return 0;
    return worth;
}

/* The result object, totals added by finish(). */
typedef struct breakdown {
    cJSON *root, *ents;
    lnum revenue, cost;
} breakdown;

static int start(breakdown *b)
{
    b->revenue = b->cost = 0;
    b->root = cJSON_CreateObject();
    b->ents = b->root ? cJSON_AddObjectToObject(b->root, "entitlements") : NULL;
    return b->ents != NULL ? 0 : -1;
}

static void line(breakdown *b, const char *name, lnum revenue, lnum cost)
{
    cJSON *one = cJSON_AddObjectToObject(b->ents, name);
    if (one != NULL) add_line(one, revenue, cost, NAN);
    if (lnum_add(b->revenue, revenue, &b->revenue) != 0) b->revenue = LNUM_MAX;
    if (lnum_add(b->cost, cost, &b->cost) != 0) b->cost = LNUM_MAX;
}

static cJSON *finish(breakdown *b)
{
    add_line(b->root, b->revenue, b->cost, -100);
    return b->root;
}

int limitr_customer_local_margin_breakdown(limitr_engine *e, const char *id,
                                           const char **json)
{
    const customer *c;
    const lp_plan *pl;
    breakdown b;
    size_t i;
    int plan;
    int64_t now;
    LIMITR_ENTER(e);
    if (id == NULL || json == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "customer_local_margin_breakdown: id and out are "
                            "required");
    if ((c = limitr__customer_lookup(e, id)) == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    if ((plan = limitr__resolved_plan(e, c)) < 0)
        return limitr__reason(e, LIMITR_NOT_FOUND, "no_plan");
    pl = &e->policy->plans[plan];
    now = limitr__now(e);
    if (start(&b) != 0) {
        cJSON_Delete(b.root);
        return limitr__nomem(e);
    }
    for (i = 0; i < pl->n_ents; i++) {
        const lp_entitlement *ent = &pl->ents[i];
        decision d;
        lnum revenue, cost;
        int is_fee = strcmp(ent->key, pl->subscription) == 0;
        if (!ent->has_limit) continue;
        if (limitr__target(e, id, strlen(id), ent->key, ent->key_len, &d) !=
                0 ||
            d.lim == NULL || d.owner != c || (d.stored == NULL && !is_fee))
            continue; /* no meter on this customer */
        revenue =
            is_fee
                ? fee_of(e, pl,
                         pl->has_trial && now - c->created < pl->trial_period)
                : revenue_of(&e->policy->credits[d.lim->credit], d.v.value,
                             d.limit);
        cost = d.v.overhead;
        line(&b, ent->key, revenue, cost);
    }
    return limitr__set_result(e, finish(&b), json);
}

/* ---- Modeled usage ---- */

/* Days in a limit's fixed period (reset_inc, or 30 when it resets without
 * a schedule), or 0 when it has none (a schedule, or no reset). */
static double limit_days(const lp_limit *lim)
{
    if (lim->rule.reset != RESET_INTERVAL) return 0;
    return (double)lim->rule.reset_inc / 86400000.0;
}

/* A usage entry: a number or unit string, or {value | meter, limit,
 * credit, overhead, event}. */
static int model_line(limitr_engine *e, const lp_plan *pl, const cJSON *item,
                      const char *name, int scaled, breakdown *b)
{
    const lp_entitlement *ent = lp_plan_entitlement(pl, name, strlen(name));
    const cJSON *v = item, *f;
    const lp_limit *lim;
    int credit;
    lnum value = 0, limit, overhead = 0, scale = LNUM_SCALE, revenue, cost;
    int has_overhead = 0;
    char *event = NULL;
    decision d;
    if (ent == NULL || !ent->has_limit)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "local_margin_breakdown: usage.%s: the plan has "
                            "no limited entitlement '%s'",
                            name, name);
    lim = &ent->limit;
    credit = lim->credit;
    limit = lim->rule.value;
    if (cJSON_IsObject(item)) {
        static const char *const keys[] = {"value",  "meter",    "limit",
                                           "credit", "overhead", "event"};
        const cJSON *k;
        cJSON_ArrayForEach(k, item)
        {
            size_t i;
            for (i = 0; i < 6 && strcmp(k->string, keys[i]) != 0; i++)
                ;
            if (i == 6)
                return limitr__fail(e, LIMITR_INVALID, NULL,
                                    "local_margin_breakdown: usage.%s: unknown "
                                    "field '%s' (value, meter, limit, credit, "
                                    "overhead, event)",
                                    name, k->string);
        }
        v = cJSON_GetObjectItemCaseSensitive(item, "value");
        if (v == NULL) v = cJSON_GetObjectItemCaseSensitive(item, "meter");
        if ((f = cJSON_GetObjectItemCaseSensitive(item, "credit")) != NULL) {
            if (!cJSON_IsString(f) ||
                (credit = limitr__credit_find(e->policy, f->valuestring)) < 0)
                return limitr__fail(e, LIMITR_INVALID, NULL,
                                    "local_margin_breakdown: usage.%s.credit: "
                                    "not a credit of the policy",
                                    name);
        }
        if ((f = cJSON_GetObjectItemCaseSensitive(item, "limit")) != NULL &&
            (!cJSON_IsNumber(f) ||
             limitr__lnum_from_double(f->valuedouble, &limit) != 0 ||
             limit < 0))
            return limitr__fail(e, LIMITR_INVALID, NULL,
                                "local_margin_breakdown: usage.%s.limit: a "
                                "number",
                                name);
        if ((f = cJSON_GetObjectItemCaseSensitive(item, "overhead")) != NULL) {
            if (!cJSON_IsNumber(f) ||
                limitr__lnum_from_double(f->valuedouble, &overhead) != 0 ||
                overhead < 0)
                return limitr__fail(e, LIMITR_INVALID, NULL,
                                    "local_margin_breakdown: usage.%s."
                                    "overhead: a number of runes",
                                    name);
            has_overhead = 1;
        }
        if ((f = cJSON_GetObjectItemCaseSensitive(item, "event")) != NULL &&
            (event = cJSON_PrintUnformatted(f)) == NULL)
            return limitr__nomem(e);
    }
    if (cJSON_IsNumber(v)) {
        if (limitr__lnum_from_double(v->valuedouble, &value) != 0) v = NULL;
    } else if (cJSON_IsString(v)) {
        lnum number;
        int unit, to = e->policy->credits[credit].units;
        if (limitr__unit_split(v->valuestring, &number, &unit, NULL, 0) != 0 ||
            (unit >= 0 &&
             (to < 0 || limitr__unit_convert(number, unit, to, &value) != 0)))
            v = NULL;
        else if (unit < 0)
            value = number;
    } else {
        v = NULL;
    }
    if (v == NULL || value < 0) {
        free(event);
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "local_margin_breakdown: usage.%s: a value >= 0 "
                            "(a number or unit string) is required",
                            name);
    }
    /* a limit of another fixed period is scaled to the plan's */
    if (scaled && limit_days(lim) > 0 &&
        limit_days(lim) != limitr__period_days[pl->period] &&
        limitr__lnum_from_double(
            limitr__period_days[pl->period] / limit_days(lim), &scale) == 0 &&
        (limitr__lnum_mul(value, scale, &value) != 0 ||
         limitr__lnum_mul(limit, scale, &limit) != 0 ||
         limitr__lnum_mul(overhead, scale, &overhead) != 0)) {
        free(event);
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "local_margin_breakdown: usage.%s: past the "
                            "range of amounts",
                            name);
    }
    revenue = strcmp(name, pl->subscription) == 0
                  ? fee_of(e, pl, 0)
                  : revenue_of(&e->policy->credits[credit], value, limit);
    if (has_overhead) {
        cost = overhead;
    } else {
        limitr_call_opts o = {event, 0, 0, 0, 0, NULL};
        lp_limit as = *lim;
        memset(&d, 0, sizeof d);
        as.credit = credit;
        d.lim = &as;
        d.requested = value;
        cost = limitr__overhead_of(e, &d, &o);
    }
    free(event);
    line(b, name, revenue, cost);
    return LIMITR_OK;
}

int limitr_local_margin_breakdown(limitr_engine *e, const char *plan_name,
                                  const char *usage_json, int scaled,
                                  const char **json)
{
    const lp_plan *pl;
    cJSON *usage, *item;
    breakdown b;
    int plan, status = LIMITR_OK, fee_seen = 0;
    LIMITR_ENTER(e);
    if (plan_name == NULL || usage_json == NULL || json == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "local_margin_breakdown: plan, usage and out are "
                            "required");
    if ((plan = limitr__policy_find_plan(e->policy, plan_name)) < 0)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_plan");
    pl = &e->policy->plans[plan];
    usage = cJSON_Parse(usage_json);
    if (usage == NULL || (!cJSON_IsObject(usage) && !cJSON_IsArray(usage)) ||
        (cJSON_IsArray(usage) && cJSON_GetArraySize(usage) > 0)) {
        cJSON_Delete(usage);
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "local_margin_breakdown: usage is a table of "
                            "entitlement -> value");
    }
    if (start(&b) != 0) {
        cJSON_Delete(b.root);
        cJSON_Delete(usage);
        return limitr__nomem(e);
    }
    cJSON_ArrayForEach(item, usage)
    {
        const cJSON *other;
        if (item->string == NULL) continue;
        for (other = usage->child; other != item; other = other->next)
            if (strcmp(other->string, item->string) == 0) break;
        if (other != item) { /* a JSON object with a key twice */
            status = limitr__fail(e, LIMITR_INVALID, NULL,
                                  "local_margin_breakdown: usage.%s is given "
                                  "twice",
                                  item->string);
            break;
        }
        fee_seen |= strcmp(item->string, pl->subscription) == 0;
        status = model_line(e, pl, item, item->string, scaled, &b);
        if (status != LIMITR_OK) break;
    }
    cJSON_Delete(usage);
    if (status != LIMITR_OK) {
        cJSON_Delete(b.root);
        return status;
    }
    /* the plan fee counts as revenue, as upstream (quantity 1) */
    if (!fee_seen && fee_of(e, pl, 0) != 0)
        line(&b, pl->subscription, fee_of(e, pl, 0), 0);
    return limitr__set_result(e, finish(&b), json);
}
