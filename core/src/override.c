/* override.c: per-customer limits (engine.md section 7): which limit a
 * decision uses, and the override calls. An override is compiled with the
 * same code as a policy limit, starting from the current limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "compile.h"

override *limitr__override_find(const customer *c, int ent)
{
    size_t i;
    for (i = 0; i < c->n_overrides; i++)
        if (c->overrides[i].ent == ent) return &c->overrides[i];
    return NULL;
}

static int override_applies(const override *ov, int64_t now)
{
    return !ov->has_expires || now < ov->expires;
}

const lp_limit *limitr__effective_limit(const customer *owner, int ent,
                                        const lp_entitlement *plan_ent,
                                        int64_t now)
{
    const override *ov;
    if (owner->n_overrides > 0 && (ov = limitr__override_find(owner, ent)) &&
        override_applies(ov, now))
        return &ov->limit;
    if (plan_ent != NULL && plan_ent->has_limit) return &plan_ent->limit;
    return NULL;
}

void limitr__override_remove_at(limitr_engine *e, customer *c, override *ov)
{
    limitr__graph_changed(e);
    size_t i = (size_t)(ov - c->overrides);
    memmove(&c->overrides[i], &c->overrides[i + 1],
            (c->n_overrides - i - 1) * sizeof *c->overrides);
    c->n_overrides--; /* the array keeps its capacity */
}

/* ---- JSON ---- */

static const char *const weekdays[] = {"mon", "tue", "wed", "thu",
                                       "fri", "sat", "sun"};

/* The reset_sch text of a compiled schedule. */
static void schedule_text(const lp_schedule *s, char *buf, size_t size)
{
    switch (s->kind) {
    case SCH_MONTHLY:
        snprintf(buf, size, "monthly:%d", s->day);
        break;
    case SCH_MONTHLY_LAST:
        snprintf(buf, size, "monthly:last");
        break;
    case SCH_WEEKLY:
        snprintf(buf, size, "weekly:%s", weekdays[s->weekday % 7]);
        break;
    case SCH_NTH_WEEKDAY:
        snprintf(buf, size, "nth_weekday:%d:%s", s->n,
                 weekdays[s->weekday % 7]);
        break;
    case SCH_YEARLY:
        snprintf(buf, size, "yearly:%d-%d", s->month, s->day);
        break;
    case SCH_QUARTERLY:
        snprintf(buf, size, "quarterly:%d", s->day);
        break;
    }
}

cJSON *limitr__limit_json(const limitr_engine *e, const lp_limit *lim)
{
    static const char *const modes[] = {"hard", "soft", "observe"};
    cJSON *j = cJSON_CreateObject();
    char buf[48];
    if (j == NULL) return NULL;
    cJSON_AddStringToObject(j, "credit", e->policy->credits[lim->credit].name);
    cJSON_AddNumberToObject(j, "value", limitr__out_number(lim->value));
    cJSON_AddNumberToObject(j, "increment", limitr__out_number(lim->increment));
    cJSON_AddStringToObject(j, "mode", modes[lim->mode]);
    if (lim->has_minimum)
        cJSON_AddNumberToObject(j, "minimum", limitr__out_number(lim->minimum));
    cJSON_AddBoolToObject(j, "hard_trailing", lim->hard_trailing);
    cJSON_AddBoolToObject(j, "grants_apply", lim->grants_apply);
    cJSON_AddBoolToObject(j, "resets", lim->reset != RESET_NONE);
    if (lim->reset == RESET_INTERVAL)
        cJSON_AddNumberToObject(j, "reset_inc", (double)lim->reset_inc);
    if (lim->reset == RESET_SCHEDULE) {
        schedule_text(&lim->sch, buf, sizeof buf);
        cJSON_AddStringToObject(j, "reset_sch", buf);
    }
    cJSON_AddBoolToObject(j, "governor_enabled", lim->governor);
    if (lim->governor) {
        cJSON_AddNumberToObject(j, "governor_capacity",
                                limitr__out_number(lim->governor_capacity));
        cJSON_AddNumberToObject(j, "governor_refill_rate",
                                lim->governor_refill_rate);
    }
    cJSON_AddNumberToObject(j, "ewma_alpha", lim->ewma_alpha);
    return j;
}

static cJSON *override_json(const limitr_engine *e, const override *ov)
{
    cJSON *j = limitr__limit_json(e, &ov->limit);
    if (j != NULL && ov->has_expires)
        cJSON_AddNumberToObject(j, "expires", (double)ov->expires);
    return j;
}

cJSON *limitr__overrides_json(const limitr_engine *e, const customer *c)
{
    cJSON *all = cJSON_CreateObject();
    size_t i;
    for (i = 0; all != NULL && i < c->n_overrides; i++)
        cJSON_AddItemToObject(all, e->policy->ent_names[c->overrides[i].ent],
                              override_json(e, &c->overrides[i]));
    return all;
}

/* ---- The calls ---- */

int limitr_create_customer_override(limitr_engine *e, const char *id,
                                    const char *ent, const char *fields_json,
                                    const char **override_json_out)
{
    customer *c;
    int plan;
    const lp_entitlement *pe;
    const lp_limit *current;
    override ov, *slot;
    doc_node *root;
    char *err = NULL, *path, *epath;
    compiler cc;
    int64_t now;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_DURING_SNIPPET(e, "create_customer_override");
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
    now = limitr__now(e);
    root = limitr__doc_parse(fields_json, strlen(fields_json), "json", &err);
    if (root == NULL) {
        int status = err ? limitr__fail(e, LIMITR_INVALID, NULL,
                                        "create_customer_override: %s", err)
                         : limitr__fail(e, LIMITR_NOMEM, NULL, "out of memory");
        free(err);
        return status;
    }
    /* Unset fields copy the current limit (override, else the plan's). */
    memset(&ov, 0, sizeof ov);
    ov.ent = pe->name;
    current = limitr__effective_limit(c, pe->name, pe, now);
    if (current != NULL)
        ov.limit = *current;
    else
        limitr__limit_defaults(&ov.limit);
    slot = limitr__override_find(c, pe->name);
    if (slot != NULL && override_applies(slot, now)) {
        ov.has_expires = slot->has_expires;
        ov.expires = slot->expires;
    }
    memset(&cc, 0, sizeof cc);
    cc.p = e->policy;
    ov.expires = ov.has_expires ? ov.expires : INT64_MIN;
    path = limitr__doc_path_append("overrides", id, strlen(id));
    epath = path ? limitr__doc_path_append(path, ent, strlen(ent)) : NULL;
    if (epath != NULL)
        limitr__limit_compile(&cc, root, epath, &ov.limit, 1, &ov.expires);
    free(path);
    free(epath);
    limitr__doc_free(root);
    if (epath == NULL || cc.nomem || cc.errs.nomem) {
        limitr__verr_free(&cc.errs);
        return limitr__fail(e, LIMITR_NOMEM, NULL, "out of memory");
    }
    if (cc.errs.n == 0 && ov.limit.credit < 0) {
        limitr__verr(&cc.errs, "overrides", 0, 0,
                     "missing required field 'credit' (the entitlement is a "
                     "feature flag)");
    }
    if (cc.errs.n > 0) {
        char *text = limitr__verr_join(&cc.errs);
        int status = text ? limitr__fail(e, LIMITR_INVALID, NULL, "%s", text)
                          : limitr__fail(e, LIMITR_NOMEM, NULL, "out of memory");
        free(text);
        return status;
    }
    limitr__verr_free(&cc.errs);
    ov.has_expires = ov.expires != INT64_MIN;
    if (slot == NULL) {
        if (c->n_overrides == c->cap_overrides) {
            size_t cap = c->cap_overrides ? c->cap_overrides * 2 : 2;
            override *grown = limitr__alloc(e, cap * sizeof *grown);
            if (grown == NULL)
                return limitr__fail(e, LIMITR_NOMEM, NULL, "out of memory");
            if (c->n_overrides)
                memcpy(grown, c->overrides, c->n_overrides * sizeof *grown);
            limitr__dealloc(e, c->overrides, c->cap_overrides * sizeof *grown);
            c->overrides = grown;
            c->cap_overrides = cap;
        }
        slot = &c->overrides[c->n_overrides++];
    }
    *slot = ov;
    limitr__graph_changed(e); /* limits changed: period caches are stale */
    limitr__emit_customer(e, EV_CUSTOMER_SET, c);
    c = limitr__customer_lookup(e, id);
    slot = c ? limitr__override_find(c, pe->name) : NULL;
    if (slot == NULL) return limitr__ok(e); /* a handler removed it */
    return limitr__set_result(e, override_json(e, slot), override_json_out);
}

int limitr_remove_customer_override(limitr_engine *e, const char *id,
                                    const char *ent)
{
    customer *c;
    override *ov;
    size_t i;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_DURING_SNIPPET(e, "remove_customer_override");
    if (id == NULL || ent == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "remove_customer_override: id and entitlement "
                            "are required");
    c = limitr__customer_lookup(e, id);
    if (c == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    for (i = 0; i < e->policy->n_ent_names; i++)
        if (strcmp(e->policy->ent_names[i], ent) == 0) break;
    ov = i < e->policy->n_ent_names ? limitr__override_find(c, (int)i) : NULL;
    if (ov == NULL) return limitr__reason(e, LIMITR_NOT_FOUND, "no_override");
    limitr__override_remove_at(e, c, ov);
    limitr__emit_customer(e, EV_CUSTOMER_SET, c);
    return limitr__ok(e);
}
