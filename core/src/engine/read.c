/* read.c: the reads of docs/engine.md sections 5.7, 6 and 9 (value, remaining,
 * limit, cost, resets, allowance, rate, acceleration, projected_exhaustion)
 * and explain. They run the first gates of the pipeline and look at the
 * current period without writing anything. */
#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "caps.h"
#include "decide.h"
#include "grants.h"

/* Gates 1-4 for a read. LIMITR_OK, LIMITR_NOT_FOUND with the reason, or
 * LIMITR_INVALID for a missing argument (out is checked once the gates
 * pass, so an unknown customer is NOT_FOUND whatever out is). */
static int target(limitr_engine *e, const char *id, const char *ent,
                  const void *out, decision *d)
{
    if (id == NULL || ent == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "customer id and entitlement are required");
    if (limitr__target(e, id, strlen(id), ent, strlen(ent), d) != 0)
        return limitr__reason(e, d->status, d->reason);
    if (out == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL, "no out given");
    return LIMITR_OK;
}

/* How every read starts: the state held until the read returns (its
 * meter is read after the gates), then gates 1-4; returns on failure. */
#define READ_TARGET(e, id, ent, out, d)                                        \
    LIMITR_ENTER(e);                                                           \
    do {                                                                       \
        int status_ = target((e), (id), (ent), (out), (d));                    \
        if (status_ != LIMITR_OK) return status_;                              \
    } while (0)

static int nil(limitr_engine *e, const char *why)
{
    return limitr__reason(e, LIMITR_NOT_FOUND, why);
}

static int give(limitr_engine *e, double *out, double v)
{
    *out = v;
    return limitr__ok(e);
}

/* A computed double rounded half away from zero to 9 decimals, as every
 * number leaving the engine is (docs/numbers.md 1.6). */
static double round9(double x)
{
    if (!(fabs(x) < 1e9)) return x;
    return (x < 0 ? -floor(-x * 1e9 + 0.5) : floor(x * 1e9 + 0.5)) / 1e9;
}

/* Remaining without grants: limit - value (may be negative). */
static lnum remaining_of(const decision *d)
{
    return lnum_sub_sat(d->limit, d->v.value);
}

/* What the owner's grants add to the limit, in its credit from the
 * billable position (docs/engine.md 9, grants in reads); 0 under
 * grants_apply: false or opts->no_grants. Reads never consume. */
static lnum grants_of(limitr_engine *e, const decision *d,
                      const limitr_read_opts *opts)
{
    lnum pos = d->v.value > d->limit ? d->v.value - d->limit : 0;
    if ((opts != NULL && opts->no_grants) || !d->lim->rule.grants_apply ||
        !limitr__grants_any(e, d->owner)) /* owed top-ups count too */
        return 0;
    return limitr__grants_worth(
        e, d->owner, e->policy->credits[d->lim->credit].name, pos, d->now);
}

/* The limit with grants g on top (saturated): what limit reads. */
static lnum limit_with(const decision *d, lnum g)
{
    lnum top;
    return lnum_add(d->limit, g, &top) != 0 ? LNUM_MAX : top;
}

/* Remaining with grants g: max(value, limit) + g - value when g > 0. */
static lnum remaining_with(const decision *d, lnum g)
{
    lnum top = d->v.value > d->limit ? d->v.value : d->limit, sum;
    if (g <= 0) return remaining_of(d);
    if (lnum_add(top, g, &sum) != 0) sum = LNUM_MAX;
    return lnum_sub_sat(sum, d->v.value);
}

/* Remaining as a percentage of the room: the limit plus the grants, and
 * what grants already paid this period (max(value, limit) + grants), so
 * that value and remaining percentages add up to 100. */
static double percent_remaining(const decision *d, lnum g)
{
    lnum r = remaining_with(d, g);
    lnum top = g > 0 && d->v.value > d->limit ? d->v.value : d->limit;
    double base = limitr__lnum_to_double(top) + limitr__lnum_to_double(g);
    if (base == 0) return 0;
    return limitr__lnum_to_double(r > 0 ? r : 0) / base * 100;
}

int limitr_value(limitr_engine *e, const char *id, const char *ent,
                 const limitr_read_opts *opts, double *out)
{
    decision d;
    READ_TARGET(e, id, ent, out, &d);
    if (d.lim == NULL) return give(e, out, 0);
    if (opts != NULL && opts->percent) {
        if (d.lim->rule.mode == MODE_OBSERVE) return nil(e, "observe");
        return give(
            e, out,
            round9(100 - percent_remaining(&d, grants_of(e, &d, opts))));
    }
    return give(e, out, limitr__lnum_to_double(d.v.value));
}

int limitr__meter_read(limitr_engine *e, const char *id, const char *ent,
                       double *value, int *has_limit, double *limit,
                       double *remaining)
{
    decision d;
    lnum g;
    READ_TARGET(e, id, ent, value, &d);
    *has_limit = 0;
    *value = 0;
    if (d.lim == NULL) return limitr__ok(e); /* a flag */
    *value = limitr__lnum_to_double(d.v.value);
    if (d.lim->rule.mode == MODE_OBSERVE) return limitr__ok(e);
    g = grants_of(e, &d, NULL);
    *limit = limitr__lnum_to_double(limitr__lnum_round9(limit_with(&d, g)));
    *remaining = limitr__lnum_to_double_room(remaining_with(&d, g));
    *has_limit = 1;
    return limitr__ok(e);
}

int limitr_remaining(limitr_engine *e, const char *id, const char *ent,
                     const limitr_read_opts *opts, double *out)
{
    decision d;
    READ_TARGET(e, id, ent, out, &d);
    if (d.lim == NULL) return nil(e, "not_metered");
    if (d.lim->rule.mode == MODE_OBSERVE) return nil(e, "observe");
    if (opts != NULL && opts->percent)
        return give(e, out,
                    round9(percent_remaining(&d, grants_of(e, &d, opts))));
    return give(e, out,
                limitr__lnum_to_double_room(
                    remaining_with(&d, grants_of(e, &d, opts))));
}

/* The plan named id, for the reads that also take a plan name. */
static const lp_entitlement *plan_entitlement(limitr_engine *e,
                                              const char *name, const char *ent)
{
    int plan = limitr__policy_find_plan(e->policy, name);
    if (plan < 0) return NULL;
    return lp_plan_entitlement(&e->policy->plans[plan], ent, strlen(ent));
}

/* limit and cost: a customer's, else a plan's. */
static int limit_or_cost(limitr_engine *e, const char *id, const char *ent,
                         int cost, const limitr_read_opts *opts, double *out)
{
    decision d;
    const lp_limit *lim;
    lnum value;
    int status;
    LIMITR_ENTER(e);
    if (id == NULL || ent == NULL || out == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "id, entitlement and out are required");
    status = target(e, id, ent, out, &d);
    if (status == LIMITR_OK) {
        lim = d.lim;
        value = lim != NULL && !cost && lim->rule.mode != MODE_OBSERVE
                    ? limit_with(&d, grants_of(e, &d, opts))
                    : d.limit;
    } else if (limitr__customer_lookup(e, id) == NULL) {
        const lp_entitlement *pe = plan_entitlement(e, id, ent);
        if (pe == NULL) /* a plan without it, or neither plan nor customer */
            return limitr__policy_find_plan(e->policy, id) >= 0
                       ? nil(e, "unknown_entitlement")
                       : status;
        lim = pe->has_limit ? &pe->limit : NULL;
        /* A plan's snippet limit needs a customer to evaluate. */
        if (lim != NULL && !cost && lim->value_ref > 0)
            return nil(e, "needs_customer");
        value = lim != NULL ? lim->rule.value : 0;
    } else {
        return status;
    }
    if (lim == NULL) return nil(e, "not_metered");
    if (cost) return give(e, out, limitr__lnum_to_double(lim->rule.increment));
    if (lim->rule.mode == MODE_OBSERVE) return nil(e, "observe");
    return give(e, out, limitr__lnum_to_double(limitr__lnum_round9(value)));
}

int limitr_limit(limitr_engine *e, const char *id, const char *ent, double *out)
{
    return limit_or_cost(e, id, ent, 0, NULL, out);
}

int limitr_limit_opts(limitr_engine *e, const char *id, const char *ent,
                      const limitr_read_opts *opts, double *out)
{
    return limit_or_cost(e, id, ent, 0, opts, out);
}

int limitr_cost(limitr_engine *e, const char *id, const char *ent, double *out)
{
    return limit_or_cost(e, id, ent, 1, NULL, out);
}

int limitr_resets(limitr_engine *e, const char *id, const char *ent,
                  int64_t *out)
{
    decision d;
    READ_TARGET(e, id, ent, out, &d);
    if (d.lim == NULL || d.lim->rule.reset == RESET_NONE)
        return nil(e, "no_reset");
    *out = limitr__next_reset(d.lim, &d.v, d.now);
    return limitr__ok(e);
}

/* What can run now: min(tokens, remaining) under a governor. */
static lnum allowance_of(const decision *d)
{
    lnum r = remaining_of(d);
    if (d->lim->rule.governor && d->v.tokens < r) return d->v.tokens;
    return r;
}

int limitr_allowance(limitr_engine *e, const char *id, const char *ent,
                     double *out)
{
    decision d;
    READ_TARGET(e, id, ent, out, &d);
    if (d.lim == NULL) return nil(e, "not_metered");
    if (d.lim->rule.mode == MODE_OBSERVE) return nil(e, "observe");
    return give(e, out, limitr__lnum_to_double_room(allowance_of(&d)));
}

/* rate and acceleration (docs/engine.md 6.3). */
static int trend(limitr_engine *e, const char *id, const char *ent, double *out,
                 int acceleration)
{
    decision d;
    READ_TARGET(e, id, ent, out, &d);
    if (d.lim == NULL) return nil(e, "not_metered");
    return give(e, out,
                round9(acceleration ? limitr__meter_acceleration(&d.v)
                                    : limitr__meter_rate(&d.v)));
}

int limitr_rate(limitr_engine *e, const char *id, const char *ent, double *out)
{
    return trend(e, id, ent, out, 0);
}

int limitr_acceleration(limitr_engine *e, const char *id, const char *ent,
                        double *out)
{
    return trend(e, id, ent, out, 1);
}

int limitr_projected_exhaustion(limitr_engine *e, const char *id,
                                const char *ent, const limitr_read_opts *opts,
                                double *out)
{
    decision d;
    double r, left;
    READ_TARGET(e, id, ent, out, &d);
    if (d.lim == NULL) return nil(e, "not_metered");
    if (d.lim->rule.mode == MODE_OBSERVE || d.v.rolled)
        return nil(e, "no_projection");
    r = opts != NULL && opts->smoothed
            ? (d.v.exists && d.v.stored->has_ewma ? d.v.stored->ewma_rate : 0)
            : limitr__meter_rate(&d.v);
    left = limitr__lnum_to_double(remaining_of(&d));
    /* a rate that reads as 0 projects nothing, nor does a time past the
       clock's range */
    if (!(round9(r) > 0) || !(left > 0) ||
        !((double)d.now + left / r <= (double)LIMITR_MAX_TIME))
        return nil(e, "no_projection");
    return give(e, out, (double)d.now + left / r);
}

/* ---- explain ---- */

/* ms until the same call could pass (docs/engine.md section 9), or -1. */
static double retry_after(const decision *d)
{
    if (strcmp(d->gate, "governor") == 0) {
        double need;
        if (!lnum_le9(d->requested, d->lim->rule.governor_capacity)) return -1;
        need = limitr__lnum_to_double(d->requested - d->v.tokens);
        return ceil(need / d->lim->rule.governor_refill_rate);
    }
    if ((strcmp(d->gate, "limit") == 0 || strcmp(d->gate, "on_exceed") == 0) &&
        d->lim->rule.mode == MODE_HARD && d->lim->rule.reset != RESET_NONE &&
        lnum_le9(d->requested, d->limit))
        return (double)(limitr__next_reset(d->lim, &d->v, d->now) - d->now);
    return -1;
}

int limitr_decide(limitr_engine *e, const char *id, size_t id_len,
                  const char *ent, size_t ent_len, double value,
                  const char *value_str, const limitr_call_opts *opts,
                  limitr_decision *out)
{
    decision d;
    const char *code;
    int status;
    LIMITR_ENTER(e);
    if (out == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL, "decide: no output given");
    memset(out, 0, sizeof *out);
    status = value_str != NULL
                 ? limitr_allow_str(e, id, ent, value_str, opts)
                 : limitr_allow_n(e, id, id_len, ent, ent_len, value, opts);
    out->reason = code = limitr_last_reason(e);
    out->now = limitr__now(e);
    if (status != LIMITR_OK && status != LIMITR_DENIED) return status;
    /* what the same call would meet now: the limit, what remains after the
       commit, the period's end, and for a denial how long to wait */
    if (limitr__target(e, id, id_len, ent, ent_len, &d) == 0 && d.lim != NULL &&
        limitr__requested(e, &d, value, value_str) == 0) {
        e->reading_back = 1;
        limitr__decide(e, &d, 0);
        e->reading_back = 0;
        if (d.lim->rule.mode != MODE_OBSERVE) {
            out->has_limit = 1;
            out->limit = limitr__lnum_to_double(d.limit);
            out->remaining = limitr__lnum_to_double_room(remaining_of(&d));
        }
        if (d.lim->rule.reset != RESET_NONE) {
            out->has_reset = 1;
            out->reset = limitr__next_reset(d.lim, &d.v, d.now);
        }
        if (status == LIMITR_DENIED) {
            double ra = retry_after(&d);
            out->has_retry_after = ra >= 0;
            out->retry_after = ra >= 0 ? ra : 0;
        }
    }
    e->code = code; /* the allow's, whatever the read met */
    return status;
}

int limitr_explain(limitr_engine *e, const char *id, const char *ent,
                   double value, const char *value_str,
                   const char **explain_json)
{
    decision d;
    cJSON *x;
    int allowed = 0, targeted;
    LIMITR_ENTER(e);
    if (id == NULL || ent == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "customer id and entitlement are required");
    x = cJSON_CreateObject();
    if (x == NULL) return limitr__fail(e, LIMITR_NOMEM, NULL, "out of memory");
    if (!limitr__value_ok(value, value_str)) { /* before any gate */
        cJSON_AddBoolToObject(x, "allowed", 0);
        cJSON_AddStringToObject(x, "gate", "value");
        cJSON_AddStringToObject(x, "reason", "invalid_value");
        return limitr__set_result(e, x, explain_json);
    }
    targeted = limitr__target(e, id, strlen(id), ent, strlen(ent), &d) == 0;
    if (targeted && d.lim == NULL) {
        d.gate = "flag";
        allowed = 1;
    } else if (targeted && limitr__requested(e, &d, value, value_str) != 0) {
        d.gate = "value";
        d.reason = "invalid_value";
    } else if (targeted) {
        allowed = limitr__decide(e, &d, 0);
        if (!allowed && d.reason == limitr__caps_no_memory) {
            cJSON_Delete(x); /* no decision to explain */
            return limitr__nomem(e);
        }
    }
    cJSON_AddBoolToObject(x, "allowed", allowed);
    cJSON_AddStringToObject(x, "gate", d.gate);
    if (!allowed) cJSON_AddStringToObject(x, "reason", d.reason);
    if (targeted && d.lim != NULL) {
        if (d.lim->rule.mode != MODE_OBSERVE) {
            limitr__add_num(x, "limit", d.limit);
            limitr__add_num(x, "remaining", remaining_of(&d));
        }
        limitr__add_num(x, "value", d.v.value);
        if (d.lim->rule.reset != RESET_NONE)
            cJSON_AddNumberToObject(
                x, "reset", (double)limitr__next_reset(d.lim, &d.v, d.now));
        if (!allowed && strcmp(d.gate, "value") != 0) {
            double ra = retry_after(&d);
            if (ra >= 0) cJSON_AddNumberToObject(x, "retry_after", ra);
        }
    } else if (targeted) {
        cJSON_AddNumberToObject(x, "value", 0);
    }
    return limitr__set_result(e, x, explain_json);
}
