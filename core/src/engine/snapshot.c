/* snapshot.c: a customer as a table (docs/engine.md section 9): what customer()
 * returns and what customer events and snippets receive, a copy. */
#include <string.h>

#include <cjson/cJSON.h>

#include "engine.h"

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

static cJSON *meters_json(limitr_engine *e, const customer *c)
{
    const lp_policy *p = e->policy;
    int plan = limitr__resolved_plan(e, c);
    int64_t now = limitr__now(e);
    cJSON *meters = cJSON_CreateObject();
    size_t i;
    for (i = 0; meters != NULL && i < c->n_meters; i++) {
        const meter *m = &c->meters[i];
        const char *name = limitr__state_name(e->state, m->ent);
        const lp_entitlement *ent =
            plan >= 0 ? lp_plan_entitlement(&p->plans[plan], name, strlen(name))
                      : NULL;
        lp_limit buf;
        const lp_limit *lim =
            limitr__effective_limit(e, c, m->ent, ent, now, &buf);
        cJSON *mj = cJSON_AddObjectToObject(meters, name);
        meter_view v;
        if (mj == NULL) break;
        if (lim == NULL) { /* no longer limited here: the stored state */
            limitr__add_num(mj, "value", m->value);
            limitr__add_num(mj, "overhead", m->overhead);
            cJSON_AddNumberToObject(mj, "started", (double)m->started);
            continue;
        }
        limitr__meter_view(e, lim, c, m, now, &v);
        cJSON_AddStringToObject(mj, "credit", p->credits[lim->credit].name);
        limitr__add_num(mj, "value", v.value);
        /* A snippet limit is left out: evaluating it here could recurse
           (a snapshot is what the snippet itself receives). */
        if (lim->rule.mode != MODE_OBSERVE && lim->value_ref == 0) {
            limitr__add_num(mj, "limit", lim->rule.value);
            limitr__add_num(mj, "remaining", lim->rule.value - v.value);
        }
        limitr__add_num(mj, "overhead", v.overhead);
        cJSON_AddNumberToObject(mj, "started", (double)v.started);
    }
    return meters;
}

cJSON *limitr__customer_snapshot(limitr_engine *e, const customer *c)
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
    cJSON_AddItemToObject(s, "meters", meters_json(e, c));
    return s;
}

void limitr__emit_customer(limitr_engine *e, event_kind ev, const customer *c)
{
    if (limitr__listening(e, ev))
        limitr__emit(e, ev, limitr__customer_snapshot(e, c));
}
