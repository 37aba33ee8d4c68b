/* snapshot.c: a customer as a table (docs/engine.md section 9): what customer()
 * returns and what customer events and snippets receive, a copy. */
#include <string.h>

#include <cjson/cJSON.h>

#include "engine.h"
#include "caps.h"
#include "grants.h"

void limitr__add_num(cJSON *obj, const char *key, lnum v)
{
    cJSON_AddNumberToObject(obj, key, limitr__lnum_to_double(v));
}

cJSON *limitr__credit_json(const lp_credit *cr)
{
    cJSON *c = cJSON_CreateObject();
    if (c == NULL) return NULL;
    cJSON_AddStringToObject(c, "name", cr->name);
    cJSON_AddStringToObject(c, "label", cr->label);
    cJSON_AddStringToObject(c, "unit", cr->unit);
    cJSON_AddStringToObject(c, "description", cr->description);
    return c;
}

static cJSON *strlist_json(const strlist *l)
{
    cJSON *arr = cJSON_CreateArray();
    size_t i;
    for (i = 0; arr != NULL && i < l->n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(l->items[i]));
    return arr;
}

/* Meter m of c as the snapshot shows it: its current period under the
 * limit that applies (plan: c's resolved plan). */
static void meter_info(limitr_engine *e, const customer *c, int plan,
                       const meter *m, int64_t now, limitr_meter_info *out)
{
    const lp_policy *p = e->policy;
    const char *name = limitr__state_name(&e->st, m->ent);
    const lp_entitlement *ent =
        plan >= 0 ? lp_plan_entitlement(&p->plans[plan], name, strlen(name))
                  : NULL;
    lp_limit buf;
    const lp_limit *lim = limitr__effective_limit(e, c, m->ent, ent, now, &buf);
    meter_view v;
    out->entitlement = name;
    out->has_limit = 0;
    out->limit = out->remaining = 0;
    if (lim == NULL) { /* no longer limited here: the stored state */
        out->credit = NULL;
        out->value = limitr__lnum_to_double(m->value);
        out->overhead = limitr__lnum_to_double(m->overhead);
        out->started = m->started;
        return;
    }
    /* a meter of another credit is dormant: it reads as absent */
    limitr__meter_view(e, lim, c, m->credit == lim->credit_name ? m : NULL, now,
                       &v);
    out->credit = p->credits[lim->credit].name;
    out->value = limitr__lnum_to_double(v.value);
    /* A snippet limit is left out: evaluating it here could recurse (a
       snapshot is what the snippet itself receives). */
    if (lim->rule.mode != MODE_OBSERVE && lim->value_ref == 0) {
        out->has_limit = 1;
        out->limit = limitr__lnum_to_double(lim->rule.value);
        out->remaining =
            limitr__lnum_to_double(lnum_sub_sat(lim->rule.value, v.value));
    }
    out->overhead = limitr__lnum_to_double(v.overhead);
    out->started = v.started;
}

static cJSON *meters_json(limitr_engine *e, const customer *c, int64_t now)
{
    int plan = limitr__resolved_plan(e, c);
    cJSON *meters = cJSON_CreateObject();
    size_t i;
    for (i = 0; meters != NULL && i < c->n_meters; i++) {
        limitr_meter_info m;
        cJSON *mj;
        meter_info(e, c, plan, &c->meters[i], now, &m);
        if ((mj = cJSON_AddObjectToObject(meters, m.entitlement)) == NULL)
            break;
        if (m.credit != NULL) cJSON_AddStringToObject(mj, "credit", m.credit);
        cJSON_AddNumberToObject(mj, "value", m.value);
        if (m.has_limit) {
            cJSON_AddNumberToObject(mj, "limit", m.limit);
            cJSON_AddNumberToObject(mj, "remaining", m.remaining);
        }
        cJSON_AddNumberToObject(mj, "overhead", m.overhead);
        cJSON_AddNumberToObject(mj, "started", (double)m.started);
    }
    return meters;
}

cJSON *limitr__customer_snapshot(limitr_engine *e, const customer *c)
{
    return limitr__customer_snapshot_at(e, c, limitr__now(e));
}

cJSON *limitr__customer_snapshot_at(limitr_engine *e, const customer *c,
                                    int64_t now)
{
    cJSON *s = cJSON_CreateObject();
    int plan = limitr__resolved_plan(e, c);
    if (s == NULL) return NULL;
    cJSON_AddStringToObject(s, "id", c->id);
    if (plan >= 0)
        cJSON_AddStringToObject(s, "plan", e->policy->plans[plan].name);
    cJSON_AddStringToObject(s, "own_plan", c->own_plan);
    cJSON_AddStringToObject(s, "type", c->type);
    cJSON_AddStringToObject(s, "label", c->label);
    cJSON_AddNumberToObject(s, "created", (double)c->created);
    cJSON_AddItemToObject(s, "refs", strlist_json(&c->refs));
    cJSON_AddItemToObject(s, "alt_ids", strlist_json(&c->alt_ids));
    if (c->metadata_json != NULL)
        cJSON_AddItemToObject(s, "metadata", cJSON_Parse(c->metadata_json));
    cJSON_AddItemToObject(s, "overrides", limitr__overrides_json(e, c));
    cJSON_AddItemToObject(s, "meters", meters_json(e, c, now));
    cJSON_AddItemToObject(s, "grants", limitr__grants_json(e, c, now));
    cJSON_AddItemToObject(s, "caps", limitr__caps_json(e, c, now));
    return s;
}

void limitr__emit_customer(limitr_engine *e, event_kind ev, const customer *c)
{
    if (limitr__listening(e, ev))
        limitr__emit(e, ev, limitr__customer_snapshot(e, c));
}

/* ---- Without JSON ---- */

int limitr_customer_view(limitr_engine *e, const char *id,
                         limitr_customer_info *out)
{
    const customer *c;
    int plan;
    LIMITR_ENTER(e);
    if (id == NULL || out == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "customer_view: id and out are required");
    c = limitr__customer_lookup(e, id);
    if (c == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    plan = limitr__resolved_plan(e, c);
    out->id = c->id;
    out->plan = plan >= 0 ? e->policy->plans[plan].name : NULL;
    out->own_plan = c->own_plan;
    out->type = c->type;
    out->label = c->label;
    out->created = c->created;
    out->refs = (const char *const *)c->refs.items;
    out->n_refs = c->refs.n;
    out->alt_ids = (const char *const *)c->alt_ids.items;
    out->n_alt_ids = c->alt_ids.n;
    out->metadata_json = c->metadata_json;
    out->overrides_json = NULL;
    out->n_meters = c->n_meters;
    out->n_grants = c->n_grants;
    out->n_caps = c->n_caps;
    if (c->n_overrides > 0)
        return limitr__set_result(e, limitr__overrides_json(e, c),
                                  &out->overrides_json);
    return limitr__ok(e);
}

int limitr_customer_meter_at(limitr_engine *e, const char *id, size_t index,
                             limitr_meter_info *out)
{
    const customer *c;
    LIMITR_ENTER(e);
    if (id == NULL || out == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "customer_meter_at: id and out are required");
    c = limitr__customer_lookup(e, id);
    if (c == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    if (index >= c->n_meters)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "customer_meter_at: customer '%s' has %zu meters, "
                            "no meter %zu",
                            c->id, c->n_meters, index);
    meter_info(e, c, limitr__resolved_plan(e, c), &c->meters[index],
               limitr__now(e), out);
    return limitr__ok(e);
}
