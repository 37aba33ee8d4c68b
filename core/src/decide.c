/* decide.c: the decision pipeline of allow / check / increment / decrement
 * (engine.md section 4) and the reads. The gates run in the spec's order;
 * nothing is written until every gate has passed; events fire after the
 * commit, and their payloads are built only when someone listens. */
#include <string.h>

#include <cjson/cJSON.h>

#include "internal.h"

/* What the gates found out about one call. */
typedef struct decision {
    customer *c; /* the caller, who owns the meter */
    const lp_plan *plan;
    const lp_entitlement *ent;
    lnum old; /* period value before the call */
    lnum requested;
} decision;

/* Gates 1-2: customer, plan, entitlement. Returns NULL when they pass, else
 * the denial reason. */
static const char *find_target(limitr_engine *e, const char *id,
                               size_t id_len, const char *ent, size_t ent_len,
                               decision *d)
{
    customer *c =
        limitr__customer_find(e, id, id_len, limitr_hash(id, id_len));
    if (c == NULL) return "unknown_customer";
    if (c->plan < 0) return "no_plan";
    d->c = c;
    d->plan = &e->policy->plans[c->plan];
    d->ent = lp_plan_entitlement(d->plan, ent, ent_len);
    if (d->ent == NULL) return "unknown_entitlement";
    return NULL;
}

static meter *meter_of(const decision *d)
{
    return &d->c->meters[d->ent->name];
}

/* Gate 8, the limit: hard (the only mode so far) fits when the new value is
 * within the limit at 1e-9; a call that does not raise the value fits. */
static int fits(const decision *d)
{
    if (d->requested <= 0) return 1;
    return lnum_le9(d->old + d->requested, d->ent->limit.value);
}

/* ---- Payloads ---- */

static cJSON *meter_payload(limitr_engine *e, const decision *d,
                            const limitr_call_opts *opts, cJSON **meter_out)
{
    const lp_policy *p = e->policy;
    cJSON *ev = cJSON_CreateObject(), *m;
    if (ev == NULL) return NULL;
    cJSON_AddItemToObject(ev, "customer", limitr__customer_snapshot(e, d->c));
    cJSON_AddStringToObject(ev, "entitlement", p->ent_names[d->ent->name]);
    cJSON_AddStringToObject(ev, "plan", d->plan->name);
    cJSON_AddItemToObject(
        ev, "credit", limitr__credit_json(&p->credits[d->ent->limit.credit]));
    if (opts != NULL && opts->event_json != NULL)
        cJSON_AddItemToObject(ev, "event_data", cJSON_Parse(opts->event_json));
    m = cJSON_AddObjectToObject(ev, "meter");
    if (m != NULL) {
        cJSON_AddNumberToObject(m, "limit",
                                limitr__out_number(d->ent->limit.value));
        cJSON_AddNumberToObject(m, "diff", limitr__out_number(d->requested));
        cJSON_AddNumberToObject(m, "overhead", 0);
        cJSON_AddNumberToObject(m, "overhead_diff", 0);
    }
    *meter_out = m;
    return ev;
}

static void emit_changed(limitr_engine *e, const decision *d,
                         const limitr_call_opts *opts)
{
    cJSON *m = NULL, *ev = meter_payload(e, d, opts, &m);
    lnum value = d->old + d->requested;
    if (ev == NULL) return;
    if (m != NULL) {
        cJSON_AddNumberToObject(m, "old", limitr__out_number(d->old));
        cJSON_AddNumberToObject(m, "value", limitr__out_number(value));
    }
    cJSON_AddNumberToObject(ev, "remaining",
                            limitr__out_number(d->ent->limit.value - value));
    limitr__emit(e, EV_METER_CHANGED, ev);
}

static void emit_limit(limitr_engine *e, const decision *d,
                       const limitr_call_opts *opts)
{
    cJSON *m = NULL, *ev = meter_payload(e, d, opts, &m);
    lnum invalid = d->old + d->requested;
    lnum above = d->old > d->ent->limit.value ? d->old : d->ent->limit.value;
    if (ev == NULL) return;
    if (m != NULL) {
        cJSON_AddNumberToObject(m, "value", limitr__out_number(d->old));
        cJSON_AddNumberToObject(m, "invalid", limitr__out_number(invalid));
    }
    cJSON_AddNumberToObject(ev, "invalid_value", limitr__out_number(invalid));
    cJSON_AddNumberToObject(ev, "overage", limitr__out_number(invalid - above));
    cJSON_AddStringToObject(ev, "reason", "limit");
    limitr__emit(e, EV_METER_LIMIT, ev);
}

/* ---- The pipeline ---- */

enum { STEP_VALUE, STEP_INCREMENT, STEP_DECREMENT };

/* allow (commit = 1) or check (commit = 0). step says whether `value` or the
 * limit's increment is the requested amount. */
static int run(limitr_engine *e, const char *id, size_t id_len,
               const char *ent, size_t ent_len, double value, int step,
               int commit, const limitr_call_opts *opts)
{
    decision d;
    const char *reason;
    meter *m;
    int events;
    if (step == STEP_VALUE && limitr__lnum_from_double(value, &d.requested))
        return limitr__deny(e, "invalid_value");
    reason = find_target(e, id, id_len, ent, ent_len, &d);
    if (reason != NULL) return limitr__deny(e, reason);
    if (!d.ent->has_limit) /* a feature flag */
        return step == STEP_VALUE ? limitr__ok(e)
                                  : limitr__deny(e, "not_metered");
    if (step == STEP_INCREMENT) d.requested = d.ent->limit.increment;
    if (step == STEP_DECREMENT) d.requested = -d.ent->limit.increment;
    m = meter_of(&d);
    d.old = m->present ? m->value : 0;
    events = commit && (opts == NULL || !opts->no_events);

    if (!fits(&d)) {
        if (events && limitr__listening(e, EV_METER_LIMIT))
            emit_limit(e, &d, opts);
        return limitr__deny(e, "limit");
    }
    if (!commit) return limitr__ok(e);
    if (!m->present) {
        m->present = 1;
        m->started = limitr__now(e);
    }
    m->value = d.old + d.requested;
    if (d.requested != 0 && events && limitr__listening(e, EV_METER_CHANGED))
        emit_changed(e, &d, opts);
    return limitr__ok(e); /* after the events: handlers may call the engine */
}

/* The public entry points: arguments checked, then the pipeline. */
static int entry(limitr_engine *e, const char *id, size_t id_len,
                 const char *ent, size_t ent_len, double value, int step,
                 int commit, const limitr_call_opts *opts)
{
    if (e == NULL) return LIMITR_INVALID;
    if (id == NULL || ent == NULL)
        return limitr__fail(e, LIMITR_INVALID,
                            "customer id and entitlement are required");
    return run(e, id, id_len, ent, ent_len, value, step, commit, opts);
}

#define ENTRY(e, id, ent, value, step, commit, opts)                           \
    entry(e, id, id ? strlen(id) : 0, ent, ent ? strlen(ent) : 0, value, step, \
          commit, opts)

int limitr_allow(limitr_engine *e, const char *id, const char *ent,
                 double value, const limitr_call_opts *opts)
{
    return ENTRY(e, id, ent, value, STEP_VALUE, 1, opts);
}

int limitr_allow_n(limitr_engine *e, const char *id, size_t id_len,
                   const char *ent, size_t ent_len, double value,
                   const limitr_call_opts *opts)
{
    return entry(e, id, id_len, ent, ent_len, value, STEP_VALUE, 1, opts);
}

int limitr_check(limitr_engine *e, const char *id, const char *ent,
                 double value)
{
    return ENTRY(e, id, ent, value, STEP_VALUE, 0, NULL);
}

int limitr_increment(limitr_engine *e, const char *id, const char *ent,
                     const limitr_call_opts *opts)
{
    return ENTRY(e, id, ent, 0, STEP_INCREMENT, 1, opts);
}

int limitr_decrement(limitr_engine *e, const char *id, const char *ent,
                     const limitr_call_opts *opts)
{
    return ENTRY(e, id, ent, 0, STEP_DECREMENT, 1, opts);
}

/* ---- Reads ---- */

enum { READ_VALUE, READ_REMAINING, READ_LIMIT };

static int read_meter(limitr_engine *e, const char *id, const char *ent,
                      int what, double *out)
{
    decision d;
    const char *reason;
    const meter *m;
    lnum value;
    if (e == NULL) return LIMITR_INVALID;
    if (id == NULL || ent == NULL || out == NULL)
        return limitr__fail(e, LIMITR_INVALID,
                            "customer id, entitlement and out are required");
    reason = find_target(e, id, strlen(id), ent, strlen(ent), &d);
    if (reason != NULL) return limitr__reason(e, LIMITR_NOT_FOUND, reason);
    if (!d.ent->has_limit) {
        if (what != READ_VALUE)
            return limitr__reason(e, LIMITR_NOT_FOUND, "not_metered");
        *out = 0;
        return limitr__ok(e);
    }
    m = meter_of(&d);
    value = m->present ? m->value : 0;
    switch (what) {
    case READ_VALUE:
        *out = limitr__out_number(value);
        break;
    case READ_REMAINING:
        *out = limitr__out_number(d.ent->limit.value - value);
        break;
    default:
        *out = limitr__out_number(d.ent->limit.value);
        break;
    }
    return limitr__ok(e);
}

int limitr_value(limitr_engine *e, const char *id, const char *ent, double *out)
{
    return read_meter(e, id, ent, READ_VALUE, out);
}

int limitr_remaining(limitr_engine *e, const char *id, const char *ent,
                     double *out)
{
    return read_meter(e, id, ent, READ_REMAINING, out);
}

int limitr_limit(limitr_engine *e, const char *id, const char *ent, double *out)
{
    return read_meter(e, id, ent, READ_LIMIT, out);
}
