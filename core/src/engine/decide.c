/* decide.c: the decision pipeline of allow / check / increment / decrement
 * (docs/engine.md section 4). The gates run in the spec's order on a view of
 * the meter in the current period; nothing is written until every gate passes,
 * except what records time (a period roll-over, a governed denial); events
 * fire after the commit, their payloads built only when someone listens. */
#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>

#include "caps.h"
#include "decide.h"
#include "grants.h"
#include "names.h"
#include "units.h"

/* ---- Snippets of a limit ---- */

/* A snippet failed: `error` fires with its message and path. */
static void snippet_failed(limitr_engine *e, const char *where,
                           const char *field, char *err)
{
    /* The path is formatted here, on failure only: every call saves it. */
    char path[320];
    snprintf(path, sizeof path, "%s.%s", where != NULL ? where : "", field);
    /* Its `error` handlers run in the middle of the decision as well: they
       must not change what the decision holds (the owner, its meters). */
    limitr__decision_snippet(e, 1);
    limitr__report_error(e, path, err != NULL ? err : "out of memory");
    limitr__decision_snippet(e, -1);
    free(err);
}

/* A customer snapshot a snippet receives, built only if it reads it (the
 * customer cannot change while a decision snippet runs). */
static cJSON *fetch_snapshot(void *ud, const void *key)
{
    return limitr__customer_snapshot(ud, key);
}

/* snippet_failed for a credit's cost function. */
static void snippet_failed_credit(limitr_engine *e, const char *credit,
                                  char *err)
{
    char where[200];
    snprintf(where, sizeof where, "credits.%s", credit);
    snippet_failed(e, where, "overhead", err);
}

/* `value: function(customer) -> number`, with the meter owner's snapshot.
 * 0 and d->limit, or -1 (error fired). */
static int limit_snippet(limitr_engine *e, decision *d)
{
    script_result r;
    char *err = NULL;
    script_lazy snapshot = {fetch_snapshot, NULL, NULL, NULL};
    int status, ok, i, self = e->n_evaluating == LIMITR_MAX_VALUE_DEPTH;
    /* A value snippet that reads its own limit (limitr.meter("e") in e's
       value) would evaluate itself again, without end: the inner read
       fails at once, and the snippet that made it raises (one error). */
    for (i = 0; !self && i < e->n_evaluating; i++)
        self = e->evaluating[i].owner == d->owner &&
               e->evaluating[i].ent == d->ent_name;
    if (self) {
        d->status = LIMITR_SCRIPT;
        d->reason = "self_reference";
        if (e->value_cycle == 0) e->value_cycle = 1;
        return -1;
    }
    snapshot.ud = e;
    snapshot.key = d->owner;
    snapshot.id = d->owner->id;
    limitr__script_set_customer(e->policy->vm, d->owner->id);
    e->evaluating[e->n_evaluating].owner = d->owner;
    e->evaluating[e->n_evaluating].ent = d->ent_name;
    e->n_evaluating++;
    limitr__decision_snippet(e, 1);
    status = limitr__script_call_lazy(e->policy->vm, d->lim->value_ref,
                                      &snapshot, &r, &err);
    limitr__decision_snippet(e, -1);
    e->n_evaluating--;
    if (status != LIMITR_OK) {
        if (e->value_cycle == 2) /* the first on a cycle's way told it */
            free(err);
        else
            snippet_failed(e, d->lim->path, "value", err);
        if (e->value_cycle == 1) e->value_cycle = 2;
        if (e->n_evaluating == 0) e->value_cycle = 0;
        d->status = status;
        d->reason = "error";
        return -1;
    }
    if (e->n_evaluating == 0) e->value_cycle = 0;
    ok = r.type[0] == SCRIPT_NUMBER &&
         limitr__lnum_from_double(r.number[0], &d->limit) == 0 && d->limit >= 0;
    limitr__script_result_free(&r);
    if (!ok) {
        snippet_failed(e, d->lim->path, "value",
                       strdup("a limit value snippet must return a number "
                              "from 0 to 1e20"));
        d->status = LIMITR_SCRIPT;
        d->reason = "error";
        return -1;
    }
    return 0;
}

/* on_exceed(ctx) -> allow [, reason] (docs/engine.md 4.5). Returns 1 allow,
 * 0 deny (reason in e->reason_buf when given), -1 the snippet failed. */
static int on_exceed(limitr_engine *e, decision *d)
{
    script_result r;
    char *err = NULL;
    int status, owner_plan = limitr__resolved_plan(e, d->owner), verdict = -1;
    lnum over = d->new_value - (d->v.value > d->limit ? d->v.value : d->limit);
    /* ctx, built straight in the VM; the snapshots only if read. */
    script_field ctx[] = {
        {.name = "entitlement",
         .kind = SCRIPT_FIELD_STRING,
         .string = d->ent->key},
        {.name = "plan",
         .kind = SCRIPT_FIELD_STRING,
         .string =
             e->policy->plans[owner_plan >= 0 ? owner_plan : d->plan].name},
        {.name = "mode",
         .kind = SCRIPT_FIELD_STRING,
         .string = limitr__mode_names[d->lim->rule.mode]},
        {.name = "value",
         .kind = SCRIPT_FIELD_NUMBER,
         .number = limitr__lnum_to_double(d->v.value)},
        {.name = "limit",
         .kind = SCRIPT_FIELD_NUMBER,
         .number = limitr__lnum_to_double(d->limit)},
        {.name = "requested",
         .kind = SCRIPT_FIELD_NUMBER,
         .number = limitr__lnum_to_double(d->requested)},
        {.name = "overage",
         .kind = SCRIPT_FIELD_NUMBER,
         .number = limitr__lnum_to_double(over)},
        {.name = "customer",
         .kind = SCRIPT_FIELD_LAZY,
         .lazy = {fetch_snapshot, e, d->owner, d->owner->id}},
        {.name = "caller",
         .kind = SCRIPT_FIELD_LAZY,
         .lazy = {fetch_snapshot, e, d->caller, d->caller->id}},
    };
    limitr__script_set_customer(e->policy->vm, d->owner->id);
    limitr__decision_snippet(e, 1);
    status =
        limitr__script_call_fields(e->policy->vm, d->lim->on_exceed_ref, ctx,
                                   sizeof ctx / sizeof ctx[0], &r, &err);
    limitr__decision_snippet(e, -1);
    if (status != LIMITR_OK) {
        snippet_failed(e, d->lim->path, "on_exceed", err);
        return -1;
    }
    if (r.type[0] != SCRIPT_BOOLEAN) {
        snippet_failed(e, d->lim->path, "on_exceed",
                       strdup("on_exceed must return a boolean (and an "
                              "optional reason)"));
    } else if (!r.boolean[0] && r.type[1] != SCRIPT_NIL &&
               (r.type[1] != SCRIPT_STRING ||
                strlen(r.string[1]) >= sizeof e->reason_buf)) {
        /* never a reason cut short, or dropped for the default */
        snippet_failed(e, d->lim->path, "on_exceed",
                       strdup("on_exceed's reason must be a string of at "
                              "most 127 bytes without NUL bytes"));
    } else {
        verdict = r.boolean[0];
        if (!verdict)
            snprintf(e->reason_buf, sizeof e->reason_buf, "%s",
                     r.type[1] == SCRIPT_STRING && r.string[1][0] != '\0'
                         ? r.string[1]
                         : "on_exceed");
    }
    limitr__script_result_free(&r);
    return verdict;
}

/* The call's provider cost (docs/engine.md 4.11): opts.overhead, else the
 * credit's cost function (units, event data), else units * overhead_cost;
 * a failing or non-number cost function falls back to the product. */
lnum limitr__overhead_call(limitr_engine *e, const decision *d,
                           const limitr_call_opts *opts)
{
    const lp_credit *cr = &e->policy->credits[d->lim->credit];
    double units;
    lnum cost = 0;
    if (opts != NULL && opts->has_overhead &&
        limitr__lnum_from_double(opts->overhead, &cost) == 0)
        return cost;
    /* (again past an opts.overhead that is not a number) */
    if (d->requested <= 0 || (cr->overhead_ref <= 0 && cr->overhead_cost == 0))
        return 0;
    units = limitr__lnum_to_double(d->requested);
    if (cr->overhead_ref > 0) {
        char *err = NULL;
        script_result r;
        cJSON n; /* on the stack: no allocation for the units */
        cJSON *ctx = opts != NULL && opts->event_json != NULL
                         ? cJSON_Parse(opts->event_json)
                         : NULL;
        const cJSON *args[2];
        int status;
        memset(&n, 0, sizeof n);
        n.type = cJSON_Number;
        n.valuedouble = units;
        args[0] = &n;
        args[1] = ctx;
        limitr__decision_snippet(e, 1);
        status = limitr__script_call(e->policy->vm, cr->overhead_ref, args, 2,
                                     &r, &err);
        limitr__decision_snippet(e, -1);
        cJSON_Delete(ctx);
        if (status == LIMITR_OK && r.type[0] == SCRIPT_NUMBER &&
            r.number[0] >= 0 &&
            limitr__lnum_from_double(r.number[0], &cost) == 0) {
            limitr__script_result_free(&r);
            return cost;
        }
        if (status == LIMITR_OK) { /* runes, as opts.overhead must be */
            char msg[96] = "the cost function must return a number";
            if (r.type[0] == SCRIPT_NUMBER)
                snprintf(msg, sizeof msg,
                         "the cost function must return runes >= 0 and at "
                         "most 1e20, not %.17g",
                         r.number[0]);
            free(err);
            err = strdup(msg);
        }
        limitr__script_result_free(&r);
        snippet_failed_credit(e, cr->name, err);
    }
    if (cr->overhead_cost == 0 ||
        limitr__lnum_from_double(
            units * limitr__lnum_to_double(cr->overhead_cost), &cost) != 0)
        return 0;
    return cost;
}

/* ---- Gates 1-4: who, what, whose meter, which period ---- */

int limitr__target(limitr_engine *e, const char *id, size_t id_len,
                   const char *ent, size_t ent_len, decision *d)
{
    customer *c = limitr__customer_find(e, id, id_len, limitr_hash(id, id_len));
    /* Field by field, not memset: this runs on every allow. */
    d->now = limitr__now(e);
    d->caller = d->owner = NULL;
    d->ent = NULL;
    d->lim = NULL;
    d->expired = 0;
    d->stored = NULL;
    d->requested = 0;
    d->requested_is_double = 0;
    d->reason = NULL;
    d->opts = NULL; /* (cap_holder, caps_gate, call_cap: set by decide) */
    d->status = LIMITR_NOT_FOUND;
    d->gate = "customer";
    if (c == NULL) return d->reason = "unknown_customer", -1;
    d->caller = c;
    d->plan = limitr__resolved_plan(e, c);
    if (d->plan < 0) return d->reason = "no_plan", -1;
    d->gate = "entitlement";
    d->ent = lp_plan_entitlement(&e->policy->plans[d->plan], ent, ent_len);
    if (d->ent == NULL) return d->reason = "unknown_entitlement", -1;
    d->gate = "scope";
    d->owner = limitr__scope_owner(e, c, d->ent->scope);
    if (d->owner == NULL) return d->reason = "no_scope_customer", -1;
    /* a cached scope owner was not looked up: the store sees it here */
    if (d->owner != c) limitr__touch(e, d->owner);
    d->gate = "none";
    d->ent_name = limitr__ent_name(e, d->ent->name);
    d->lim = limitr__effective_limit(e, d->owner, d->ent_name, d->ent, d->now,
                                     &d->own_limit);
    if (d->owner->n_overrides > 0 && d->lim != &d->own_limit &&
        limitr__override_find(d->owner, d->ent_name) != NULL)
        d->expired = 1;           /* an expired override: allow removes it */
    if (d->lim == NULL) return 0; /* a flag */
    d->limit = d->lim->rule.value;
    if (d->lim->value_ref > 0 && limit_snippet(e, d) != 0) {
        d->gate = "limit"; /* d->status and d->reason: the snippet's */
        return -1;
    }
    d->stored = limitr__live_meter(d->owner, d->ent_name, d->lim);
    limitr__view_again(e, d);
    return 0;
}

/* ---- Gates 7-8: governor and limit ---- */

static int below(lnum a, lnum b) /* a < b at 1e-9 */
{
    return !lnum_le9(b, a);
}

/* The owner's billable position at value: units past the limit (all of
 * them for an observe limit), 0 inside it. */
static lnum billable(const decision *d, lnum value)
{
    lnum limit = d->lim->rule.mode == MODE_OBSERVE ? 0 : d->limit;
    return value > limit ? value - limit : 0;
}

/* What the owner's grants cover of `over`, the part of the call past the
 * limit (docs/engine.md 4.5, 15.3), without drawing (the included top-ups the
 * owner is owed count as the grants the commit will make of them). */
static lnum grants_cover(limitr_engine *e, decision *d, lnum over)
{
    if (!d->lim->rule.grants_apply || !limitr__grants_any(e, d->owner))
        return 0;
    return limitr__grants_cover(e, d->owner, d->lim->credit, over,
                                billable(d, d->v.value), d->now, 0);
}

/* Decides d (gates 1-4 passed, a limit). Sets gate, reason, new_value and
 * overage. Returns 1 when allowed. */
/* Gate 8 past the plain case: held room, grants, on_exceed, the mode's
 * default. Out of line: the plain allow stays small. */
static __attribute__((noinline)) int decide_past(limitr_engine *e, decision *d,
                                                 int force, int fits)
{
    const lp_limit *lim = d->lim;
    lnum old = d->v.value, limit = d->limit, newv = d->new_value;
    lnum over, cover;
    if (fits && d->held > 0 && lim->rule.mode == MODE_HARD && !force &&
        !lim->rule.hard_trailing) {
        /* Room reservations hold: it can deny a call that fits alone, never
           turn it into overage; free grant balance may cover the excess
           (nothing drawn; docs/engine.md 19.2). A forced call (a settle)
           records usage that already happened: held room denies it no
           more than the limit does. */
        lnum with = lnum_add_sat(newv, d->held), excess;
        if (!lnum_le9(with, limit)) {
            excess = with - limit;
            if (!lnum_le9(excess, grants_cover(e, d, excess))) {
                d->gate = "limit";
                d->reason = "limit";
                return 0;
            }
        }
    }
    if (fits) return d->gate = "none", 1;
    /* Grants pay first: a call they cover whole fits (a hard limit runs
       past its value, a soft one bills nothing). */
    over = newv - (old > limit ? old : limit);
    if (d->held > 0 && lim->rule.mode == MODE_HARD && !force) {
        /* held room first: free grants must back the part past the limit
           the holds leave (what they set aside is not free); the call's
           own overage is what it draws */
        lnum base = lnum_add_sat(old, d->held),
             need = lnum_add_sat(newv, d->held);
        need -= base > limit ? base : limit;
        cover = grants_cover(e, d, need);
        if (cover > 0 && lnum_le9(need, cover)) {
            d->grant_cover = over;
            return d->gate = "none", 1;
        }
        cover = 0;
    } else {
        cover = grants_cover(e, d, over);
        if (cover > 0 && lnum_le9(over, cover)) {
            d->grant_cover = cover;
            return d->gate = "none", 1;
        }
    }
    /* Custom overage logic, for a call the mode would deny or bill. */
    if (lim->on_exceed_ref > 0 && !force && !e->reading_back) {
        int verdict = on_exceed(e, d);
        if (verdict == 0) {
            d->gate = "on_exceed";
            d->reason = e->reason_buf;
            return 0;
        }
        if (verdict == 1) {
            d->grant_cover = cover;
            d->overage = over - cover;
            d->gate = "none";
            return 1;
        }
        /* The snippet failed (error fired): the mode's default applies. */
    }
    if (lim->rule.mode == MODE_HARD && !force) {
        d->gate = "limit";
        d->reason = "limit";
        return 0;
    }
    /* Soft, or forced past a hard limit: what grants leave of the part past
       the limit is overage. */
    d->grant_cover = cover;
    d->overage = over - cover;
    d->gate = "none";
    return 1;
}

/* Gates 5-8, the plain case inline: caps only when some exist, the
 * governor, then a call that fits with no held room. */
static inline __attribute__((always_inline)) int decide(limitr_engine *e,
                                                        decision *d, int force)
{
    const lp_limit *lim = d->lim;
    lnum old = d->v.value, limit = d->limit;
    lnum newv = d->new_value; /* old + requested, summed by read_value */
    int fits;
    if (lim->rule.has_minimum && newv < lim->rule.minimum)
        newv = lim->rule.minimum;
    d->new_value = newv;
    d->overage = 0;
    d->grant_cover = 0;
    /* Gates 5-6: spend caps, for increases (none in the state: no look) */
    if (e->st.d->n_caps > 0 || e->call_caps != NULL) {
        d->caps_gate = 0;
        d->cap_holder = NULL;
        d->call_cap = -1;
        if (d->requested > 0 && !force && !limitr__caps_gate(e, d)) return 0;
    }
    /* Gate 7: the governor, for increases on hard limits. */
    if (lim->rule.governor && d->requested > 0 && !force &&
        !lnum_le9(d->requested, d->v.tokens)) {
        d->gate = "governor";
        d->reason = "governor";
        return 0;
    }
    /* Gate 8: the limit. A call that does not raise the value fits. */
    if (newv <= old || lim->rule.mode == MODE_OBSERVE)
        return d->gate = "none", 1;
    if (lim->rule.mode == MODE_HARD)
        fits =
            lim->rule.hard_trailing
                ? below(d->held > 0 ? lnum_add_sat(old, d->held) : old, limit)
                : lnum_le9(newv, limit);
    else
        fits = lnum_le9(newv, limit); /* soft: would it bill overage? */
    if (fits && d->held == 0) return d->gate = "none", 1;
    return decide_past(e, d, force, fits);
}

int limitr__decide(limitr_engine *e, decision *d, int force)
{
    return decide(e, d, force);
}

/* ---- Payloads ---- */

/* The fields every meter event has, with its `meter` table left open: the
 * caller adds the meter's numbers, closes it, adds its own. `who` is the
 * frame of the owner's snapshot. */
static void meter_payload(limitr_engine *e, const decision *d,
                          const limitr_call_opts *opts, uint64_t who,
                          payload *p)
{
    const lp_policy *pol = e->policy;
    const lp_credit *cr = &pol->credits[d->lim->credit];
    int owner_plan = limitr__resolved_plan(e, d->owner);
    limitr__payload_start(p);
    limitr__payload_snapshot(e, p, "customer", who);
    limitr__payload_string(p, "entitlement", d->ent->key);
    limitr__payload_string(
        p, "plan", pol->plans[owner_plan >= 0 ? owner_plan : d->plan].name);
    limitr__payload_open(p, "credit");
    limitr__payload_string(p, "name", cr->name);
    limitr__payload_string(p, "label", cr->label);
    limitr__payload_string(p, "unit", cr->unit);
    limitr__payload_string(p, "description", cr->description);
    limitr__payload_close(p);
    if (opts != NULL && opts->event_json != NULL)
        limitr__payload_json(p, "event_data", opts->event_json);
    limitr__payload_open(p, "meter");
    if (d->lim->rule.mode != MODE_OBSERVE)
        limitr__payload_lnum(p, "limit", d->limit);
}

/* meter.price_diff into *worth: what the call is worth at list price, priced
 * from the owner's billable position (docs/engine.md 10.1); absent for an
 * unpriced credit, or a worth past the range. */
static int price_diff(limitr_engine *e, const decision *d, lnum new_value,
                      lnum *worth)
{
    const lp_credit *cr = &e->policy->credits[d->lim->credit];
    lnum from;
    if (!lp_credit_priced(cr)) return 0;
    from = billable(d, d->v.value);
    return limitr__price_of(cr, billable(d, new_value) - from, from, worth) ==
           0;
}

/* What to bill for the commit's overage, priced after the part grants
 * paid; 0 when there is none, the credit is unpriced, or the price is past
 * the range. */
static int overage_price(limitr_engine *e, const decision *d, lnum *price)
{
    const lp_credit *cr = &e->policy->credits[d->lim->credit];
    if (d->overage <= 0 || !lp_credit_priced(cr)) return 0;
    return limitr__price_of(cr, d->overage,
                            billable(d, d->v.value) + d->grant_cover,
                            price) == 0;
}

/* meter-changed / meter-overage / meter-reset after a commit. */
static void committed_payload(limitr_engine *e, const decision *d,
                              const limitr_call_opts *opts, uint64_t who,
                              payload *p)
{
    lnum worth;
    meter_payload(e, d, opts, who, p);
    limitr__payload_lnum(p, "old", d->v.value);
    limitr__payload_lnum(p, "value", d->new_value);
    limitr__payload_lnum(p, "diff", d->requested);
    limitr__payload_lnum(p, "overhead", d->v.overhead + d->overhead_diff);
    limitr__payload_lnum(p, "overhead_diff", d->overhead_diff);
    if (price_diff(e, d, d->new_value, &worth))
        limitr__payload_lnum(p, "price_diff", worth);
    limitr__payload_close(p);
    if (d->lim->rule.mode != MODE_OBSERVE)
        limitr__payload_lnum(p, "remaining",
                             lnum_sub_sat(d->limit, d->new_value));
    if (d->overage > 0 || d->grant_cover > 0)
        limitr__payload_lnum(p, "overage", d->overage);
    if (d->grant_cover > 0)
        limitr__payload_lnum(p, "grant_value_applied", d->grant_cover);
    if (overage_price(e, d, &worth))
        limitr__payload_lnum(p, "overage_price", worth);
}

static void limit_payload(limitr_engine *e, const decision *d,
                          const limitr_call_opts *opts, uint64_t who,
                          payload *p)
{
    lnum old = d->v.value, limit = d->limit, worth;
    meter_payload(e, d, opts, who, p);
    limitr__payload_lnum(p, "value", old);
    limitr__payload_lnum(p, "diff", d->requested);
    limitr__payload_lnum(p, "invalid", d->new_value);
    limitr__payload_lnum(p, "overhead", d->v.overhead);
    limitr__payload_lnum(p, "overhead_diff", d->overhead_diff);
    if (price_diff(e, d, d->new_value, &worth))
        limitr__payload_lnum(p, "price_diff", worth);
    limitr__payload_close(p);
    limitr__payload_lnum(p, "invalid_value", d->new_value);
    limitr__payload_lnum(p, "overage",
                         d->new_value - (old > limit ? old : limit));
    limitr__payload_string(p, "reason", d->reason);
}

static void governed_payload(limitr_engine *e, const decision *d,
                             const limitr_call_opts *opts, uint64_t who,
                             payload *p)
{
    meter_payload(e, d, opts, who, p);
    limitr__payload_lnum(p, "value", d->v.value);
    limitr__payload_lnum(p, "overhead", d->v.overhead);
    limitr__payload_close(p);
    limitr__payload_open(p, "governor");
    limitr__payload_lnum(p, "tokens", d->v.tokens);
    limitr__payload_lnum(p, "capacity", d->lim->rule.governor_capacity);
    limitr__payload_lnum(p, "requested", d->requested);
    limitr__payload_close(p);
}

/* meter-reset's payload: the outcome's, a denied call showing the no-op. */
static void reset_payload(limitr_engine *e, const decision *d, int committed,
                          const limitr_call_opts *opts, uint64_t who,
                          payload *p)
{
    decision shown = *d; /* only here: this runs on every allow */
    if (!committed) {
        shown.requested = 0;
        shown.new_value = d->v.value;
        shown.overage = 0;
        shown.grant_cover = 0;
    }
    committed_payload(e, &shown, opts, who, p);
    limitr__payload_lnum(p, "previous_value", d->v.previous_value);
    limitr__payload_number(p, "period_start", (double)d->v.started);
}

/* Fires a call's events: meter-reset when `reset`, then the outcome `ev`
 * (-1: none). Both payloads are built first, showing the owner as it is
 * now (one frame): a handler of the first may change or delete it. */
static __attribute__((noinline)) void fire(limitr_engine *e, const decision *d,
                                           int committed, int reset, int ev,
                                           const limitr_call_opts *opts)
{
    payload r, o;
    uint64_t who = limitr__frame_push(e, d->owner, d->now);
    if (reset) reset_payload(e, d, committed, opts, who, &r);
    if (ev == EV_METER_GOVERNED)
        governed_payload(e, d, opts, who, &o);
    else if (ev == EV_METER_LIMIT)
        limit_payload(e, d, opts, who, &o);
    else if (ev >= 0)
        committed_payload(e, d, opts, who, &o);
    if (reset) limitr__emit_payload(e, EV_METER_RESET, &r);
    if (ev >= 0) limitr__emit_payload(e, (event_kind)ev, &o);
    if (who != 0) limitr__frame_pop(e); /* 0: none was pushed (memory) */
}

/* meter-reset for a call that wrote d's roll-over without metering
 * (reserve, release): the payload shows the no-op, as a denied call's. */
void limitr__fire_reset(limitr_engine *e, const decision *d,
                        const limitr_call_opts *opts)
{
    decision shown;
    if (!d->v.rolled || !limitr__listening(e, EV_METER_RESET)) return;
    shown = *d;
    shown.overhead_diff = 0; /* (not set by a call that meters nothing) */
    fire(e, &shown, 0, 1, -1, opts);
}

/* ---- Writing ---- */

/* The call's value as a double, for the rate history: the caller's double
 * when there was one (no int128 division on the hot path). */
static double requested_double(const decision *d)
{
    return d->requested_is_double ? d->requested_double
                                  : limitr__lnum_to_double(d->requested);
}

/* The owner's stored meter, created if missing; NULL when memory ran out. */
static meter *stored_meter(limitr_engine *e, decision *d)
{
    if (d->stored == NULL)
        d->stored =
            limitr__meter_take(e, d->owner, d->ent_name, d->lim, d->now);
    return d->stored;
}

/* What an allow writes even when a later gate denies it: the roll-over
 * (elapsed time), and on a governed denial the refill and the demand. */
static int record_time(limitr_engine *e, decision *d, int governed)
{
    meter *m;
    if (!d->v.rolled && !governed) return 0;
    if ((m = stored_meter(e, d)) == NULL) return -1;
    limitr__meter_apply(m, &d->v);
    if (governed)
        limitr__meter_push(m, d->now, requested_double(d),
                           d->lim->rule.ewma_alpha, 1);
    return 0;
}

static void remove_expired_override(limitr_engine *e, decision *d)
{
    override *ov;
    if (!d->expired) return;
    ov = limitr__override_find(d->owner, d->ent_name);
    if (ov != NULL) limitr__override_remove(&e->st, d->owner, ov);
    d->expired = 0;
}

/* ---- The pipeline ---- */

enum { STEP_VALUE, STEP_INCREMENT, STEP_DECREMENT };

/* A call's value before the pipeline: a number, or a string converted into
 * the limit credit's units (the call boundary, docs/engine.md 1.3). */
typedef struct call_value {
    double number;
    const char *text; /* non-NULL: a string value */
    lnum text_number; /* its number and unit (-1: none), split before any
                         gate so that "ten" is invalid_value first */
    int text_unit;
} call_value;

/* The value's own checks, before any gate (docs/engine.md 14.7). */
static int check_value(call_value *cv)
{
    if (cv->text == NULL) return isfinite(cv->number) ? 0 : -1;
    return limitr__unit_split(cv->text, &cv->text_number, &cv->text_unit, NULL,
                              0);
}

/* Sets d->requested from the call's value. 0, or -1: invalid_value. */
static int requested_of(const limitr_engine *e, decision *d, int step,
                        const call_value *cv)
{
    lnum number;
    int unit, to;
    if (step == STEP_INCREMENT) {
        d->requested = d->lim->rule.increment;
        return 0;
    }
    if (step == STEP_DECREMENT) {
        d->requested = -d->lim->rule.increment;
        return 0;
    }
    if (cv->text == NULL) {
        d->requested_is_double = 1;
        d->requested_double = cv->number;
        return limitr__lnum_from_double(cv->number, &d->requested);
    }
    number = cv->text_number;
    unit = cv->text_unit;
    if (unit < 0) {
        d->requested = number;
        return 0;
    }
    to = e->policy->credits[d->lim->credit].units;
    if (to < 0) return -1;
    return limitr__unit_convert(number, unit, to, &d->requested);
}

/* requested_of, and d->new_value = value + requested within the range of
 * amounts (+-10^20): a call that would pass it is invalid_value, never a
 * wrap. limitr__decide starts from that sum. */
static inline __attribute__((always_inline)) int
read_value(const limitr_engine *e, decision *d, int step, const call_value *cv)
{
    if (requested_of(e, d, step, cv) != 0) return -1;
    return lnum_add(d->v.value, d->requested, &d->new_value);
}

/* The reconciliation of d's owner's top-ups (cold: past the limit, on a
 * plan that includes some). 0, or -1 when memory ran out. */
static __attribute__((noinline, cold)) int grant_owed(limitr_engine *e,
                                                      decision *d)
{
    int changed;
    if (!limitr__grants_included(e, d->owner)) return 0;
    return limitr__grants_reconcile(e, d->owner, d->now, &changed);
}

/* The economy's part of a commit (cold: most calls have none): the grants
 * drawn as decided (what could not be, an owed grant past a customer's 256,
 * is overage; grant_owed made the others before the meter was written),
 * then the caps moved; returns the cap events owed. */
static __attribute__((noinline)) cap_events *
commit_economy(limitr_engine *e, decision *d, int events)
{
    if (d->grant_cover > 0) {
        lnum drawn =
            limitr__grants_cover(e, d->owner, d->lim->credit, d->grant_cover,
                                 billable(d, d->v.value), d->now, 1);
        if (drawn < d->grant_cover) d->overage += d->grant_cover - drawn;
        d->grant_cover = drawn;
    }
    if (e->st.d->n_caps > 0 || e->call_caps != NULL)
        return limitr__caps_commit(e, d, events);
    return NULL;
}

/* What an allow removes before it decides (cold: most calls have
 * neither): an expired override, and dead holds, whose tokens and room
 * come back (the view is taken again). 0, or -1: invalid_value. */
static __attribute__((noinline)) int tidy(limitr_engine *e, decision *d,
                                          int step, const call_value *cv)
{
    remove_expired_override(e, d);
    if (d->owner->n_holds > 0 && limitr__holds_prune(e, d->owner, d->now)) {
        limitr__view_again(e, d);
        return read_value(e, d, step, cv);
    }
    return 0;
}

/* The decision's gate, the caller's plan and, for a commit, its money, for
 * the store's decision log (cold: only with a store). */
static __attribute__((noinline)) void
store_money(limitr_engine *e, const decision *d, int committed)
{
    lnum price = 0, diff = 0;
    if (limitr__store_open_row(e) < 0) return; /* no log */
    if (committed && lp_credit_priced(&e->policy->credits[d->lim->credit])) {
        if (!price_diff(e, d, d->new_value, &diff)) diff = 0;
        if (!overage_price(e, d, &price)) price = 0;
    }
    limitr__store_money(e, d->now, d->gate, e->policy->plans[d->plan].name,
                        committed ? d->overage : 0, price, diff);
}

/* A denied call: what it records of elapsed time, its events, its reason.
 * Kept out of run() so that the allowed path stays small. */
static int denied(limitr_engine *e, decision *d, int commit, int events,
                  const limitr_call_opts *opts)
{
    int governed = strcmp(d->gate, "governor") == 0;
    char reason[sizeof e->reason_buf];
    if (d->reason == limitr__caps_no_memory) return limitr__nomem(e);
    if (commit && e->store != NULL) store_money(e, d, 0);
    if (commit && record_time(e, d, governed) != 0) return limitr__nomem(e);
    /* An on_exceed reason lives in e->reason_buf, which a handler that calls
       the engine may overwrite: keep it over the events. */
    snprintf(reason, sizeof reason, "%s", d->reason);
    if (events && strcmp(d->gate, "cap") == 0) {
        /* the cap's event, not the meter's; built before the roll-over's
           handlers run (they may change the holder) */
        cJSON *ev = limitr__caps_denied_event(e, d, opts);
        if (d->v.rolled && limitr__listening(e, EV_METER_RESET))
            fire(e, d, 0, 1, -1, opts);
        if (ev != NULL) limitr__emit(e, EV_CAP_LIMIT, ev);
    } else if (events) {
        event_kind ev = governed ? EV_METER_GOVERNED : EV_METER_LIMIT;
        int reset = d->v.rolled && limitr__listening(e, EV_METER_RESET);
        int outcome = limitr__listening(e, ev);
        const char *kept = d->reason;
        d->reason = reason;
        if (reset || outcome)
            fire(e, d, 0, reset, outcome ? (int)ev : -1, opts);
        d->reason = kept;
    }
    if (d->reason == e->reason_buf)
        snprintf(e->reason_buf, sizeof e->reason_buf, "%s", reason);
    return limitr__deny(e, d->reason);
}

/* Gates 5-9 of a call whose target d is found (its value checked).
 * Inlined into run() and limitr__allow_found(): the call and its
 * arguments cost allow() more than the code size. */
static inline __attribute__((always_inline)) int
run_found(limitr_engine *e, decision *d, call_value *cv, int step, int commit,
          const limitr_call_opts *opts)
{
    int events = commit && (opts == NULL || !opts->no_events);
    int force = opts != NULL && opts->force, allowed;
    lnum overhead;
    meter *m;
    cap_events *caps = NULL;
    if (d->lim == NULL) /* a feature flag */
        return step == STEP_VALUE ? limitr__ok(e)
                                  : limitr__deny(e, "not_metered");
    if (read_value(e, d, step, cv) != 0)
        return limitr__reason(e, LIMITR_INVALID, "invalid_value");
    d->opts = opts;
    if (commit && (d->expired || d->owner->n_holds > 0) &&
        tidy(e, d, step, cv) != 0)
        return limitr__reason(e, LIMITR_INVALID, "invalid_value");

    allowed = decide(e, d, force);
    d->overhead_diff = 0;
    if (!allowed) return denied(e, d, commit, events, opts);
    if (!commit) return limitr__ok(e);

    /* Gate 9: commit. The cost function runs before the meter is found:
       it may call the engine. */
    if (e->settle != NULL && e->settle->depth == e->delivering) {
        d->overhead_diff = e->settle->overhead; /* the settle worked it out */
    } else {
        d->overhead_diff = limitr__overhead_of(e, d, opts);
    }
    overhead = d->v.overhead;
    if (d->overhead_diff != 0 &&
        lnum_add(d->v.overhead, d->overhead_diff, &overhead) != 0)
        return limitr__fail(e, LIMITR_INVALID, "invalid_value",
                            "allow: the meter's overhead would pass the "
                            "range of amounts (+-1e20)");
    /* the included top-ups the decision counted as owed are granted
       before anything is written: without room for them the call fails
       (region full), never billing their part as overage */
    if (__builtin_expect(e->policy->any_included, 0) && d->grant_cover > 0 &&
        grant_owed(e, d) != 0)
        return limitr__nomem(e);
    if ((m = stored_meter(e, d)) == NULL) return limitr__nomem(e);
    limitr__meter_apply(m, &d->v);
    m->value = d->new_value;
    m->overhead = overhead;
    if (d->lim->rule.governor && d->requested > 0 && !force)
        m->tokens -= d->requested;
    limitr__meter_push(m, d->now, requested_double(d), d->lim->rule.ewma_alpha,
                       0);
    if (d->grant_cover > 0 || e->st.d->n_caps > 0 || e->call_caps != NULL)
        caps = commit_economy(e, d, events);
    if (events && (d->v.rolled || e->star_listeners > 0 ||
                   e->listeners[EV_METER_CHANGED] > 0 ||
                   e->listeners[EV_METER_OVERAGE] > 0)) {
        event_kind ev = d->overage > 0 ? EV_METER_OVERAGE : EV_METER_CHANGED;
        int reset = d->v.rolled && limitr__listening(e, EV_METER_RESET);
        int outcome = (d->new_value != d->v.value || d->overhead_diff != 0) &&
                      limitr__listening(e, ev);
        if (reset || outcome)
            fire(e, d, 1, reset, outcome ? (int)ev : -1, opts);
    }
    if (e->store != NULL) store_money(e, d, 1);
    if (caps != NULL) limitr__cap_events_fire(e, caps); /* built before */
    return limitr__ok(e); /* after the events: handlers may call the engine */
}

/* Inlined into entry(), its one caller. */
static inline __attribute__((always_inline)) int
run(limitr_engine *e, const char *id, size_t id_len, const char *ent,
    size_t ent_len, call_value *cv, int step, int commit,
    const limitr_call_opts *opts)
{
    decision d;
    if (step == STEP_VALUE && check_value(cv) != 0)
        return limitr__reason(e, LIMITR_INVALID, "invalid_value");
    if (limitr__target(e, id, id_len, ent, ent_len, &d) != 0)
        return limitr__reason(e, d.status, d.reason);
    return run_found(e, &d, cv, step, commit, opts);
}

/* ---- Entry points ---- */

/* A call's options, checked before any gate: a bad one is an error, never
 * dropped. */
static int check_opts(limitr_engine *e, const limitr_call_opts *opts)
{
    if (opts->has_overhead &&
        !(opts->overhead >= 0 && opts->overhead <= LNUM_MAX_WHOLE))
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "allow: opts.overhead must be a number from 0 "
                            "to 1e20 (runes)");
    if (opts->event_json != NULL) {
        cJSON *data =
            limitr__utf8_valid(opts->event_json, strlen(opts->event_json))
                ? cJSON_Parse(opts->event_json)
                : NULL;
        if (data == NULL)
            return limitr__fail(e, LIMITR_INVALID, NULL,
                                "allow: opts.event_json is not valid JSON "
                                "(UTF-8)");
        cJSON_Delete(data);
    }
    return LIMITR_OK;
}

/* A call with caps of its own (opts.caps), or nested in one that has
 * them: a call's caps live for that call only. */
static __attribute__((noinline)) int
with_call_caps(limitr_engine *e, const char *id, size_t id_len, const char *ent,
               size_t ent_len, call_value *cv, int step, int commit,
               const limitr_call_opts *opts)
{
    call_caps *mine = NULL, *outer;
    int status = LIMITR_OK;
    /* a call nested in one with caps (a handler's, a cost function's)
       has its own caps or none */
    if (opts != NULL && opts->caps_json != NULL)
        status = limitr__call_caps_parse(e, opts->caps_json, &mine);
    if (status != LIMITR_OK) return status;
    outer = e->call_caps;
    e->call_caps = mine;
    status = run(e, id, id_len, ent, ent_len, cv, step, commit, opts);
    e->call_caps = outer;
    limitr__call_caps_free(mine);
    return status;
}

/* Settle's recording (holds.c): an allow on the target d it found and
 * brought up to date, without a second lookup. Not logged on its own (the
 * settle's row is its row), and with no call caps (those are a call's
 * own). */
int limitr__allow_found(limitr_engine *e, decision *d, double value,
                        const char *value_text, const limitr_call_opts *opts)
{
    call_value cv = {value, value_text, 0, -1};
    call_caps *outer = e->call_caps;
    int status;
    if (check_value(&cv) != 0)
        return limitr__reason(e, LIMITR_INVALID, "invalid_value");
    if (opts != NULL && check_opts(e, opts) != LIMITR_OK) return LIMITR_INVALID;
    e->call_caps = NULL;
    status = run_found(e, d, &cv, STEP_VALUE, 1, opts);
    e->call_caps = outer;
    return status;
}

static inline __attribute__((always_inline)) int
dispatch(limitr_engine *e, const char *id, size_t id_len, const char *ent,
         size_t ent_len, call_value *cv, int step, int commit,
         const limitr_call_opts *opts)
{
    if (id == NULL || ent == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "customer id and entitlement are required");
    if (opts != NULL && check_opts(e, opts) != LIMITR_OK) return LIMITR_INVALID;
    if ((opts != NULL && opts->caps_json != NULL) || e->call_caps != NULL)
        return with_call_caps(e, id, id_len, ent, ent_len, cv, step, commit,
                              opts);
    return run(e, id, id_len, ent, ent_len, cv, step, commit, opts);
}

/* A metering call as the store's decision log keeps it (cold). */
static __attribute__((noinline)) int
logged(limitr_engine *e, const char *id, size_t id_len, const char *ent,
       size_t ent_len, call_value *cv, int step, const limitr_call_opts *opts)
{
    static const char *const ops[] = {"allow", "increment", "decrement"};
    int status;
    limitr__store_op(e, ops[step], id, id_len, ent, ent_len,
                     step == STEP_VALUE && cv->text == NULL ? &cv->number
                                                            : NULL,
                     step == STEP_VALUE ? cv->text : NULL,
                     opts != NULL ? opts->event_json : NULL);
    status = dispatch(e, id, id_len, ent, ent_len, cv, step, 1, opts);
    return limitr__store_decision(e, status);
}

static int entry(limitr_engine *e, const char *id, size_t id_len,
                 const char *ent, size_t ent_len, call_value *cv, int step,
                 int commit, const limitr_call_opts *opts)
{
    LIMITR_ENTER(e);
    if (commit) LIMITR_REFUSE_REENTRY(e, "allow");
    if (commit && e->store != NULL && e->unlogged_depth != e->holding)
        return logged(e, id, id_len, ent, ent_len, cv, step, opts);
    return dispatch(e, id, id_len, ent, ent_len, cv, step, commit, opts);
}

int limitr_allow(limitr_engine *e, const char *id, const char *ent,
                 double value, const limitr_call_opts *opts)
{
    call_value cv = {value, NULL, 0, -1};
    return entry(e, id, LIMITR_LEN(id), ent, LIMITR_LEN(ent), &cv, STEP_VALUE,
                 1, opts);
}

int limitr_allow_n(limitr_engine *e, const char *id, size_t id_len,
                   const char *ent, size_t ent_len, double value,
                   const limitr_call_opts *opts)
{
    call_value cv = {value, NULL, 0, -1};
    return entry(e, id, id_len, ent, ent_len, &cv, STEP_VALUE, 1, opts);
}

int limitr_allow_str(limitr_engine *e, const char *id, const char *ent,
                     const char *value, const limitr_call_opts *opts)
{
    call_value cv = {0, value != NULL ? value : "", 0, -1};
    return entry(e, id, LIMITR_LEN(id), ent, LIMITR_LEN(ent), &cv, STEP_VALUE,
                 1, opts);
}

int limitr_check(limitr_engine *e, const char *id, const char *ent,
                 double value)
{
    call_value cv = {value, NULL, 0, -1};
    return entry(e, id, LIMITR_LEN(id), ent, LIMITR_LEN(ent), &cv, STEP_VALUE,
                 0, NULL);
}

int limitr_check_opts(limitr_engine *e, const char *id, const char *ent,
                      double value, const char *value_str,
                      const limitr_call_opts *opts)
{
    call_value cv = {value, value_str, 0, -1};
    limitr_call_opts unforced;
    if (opts != NULL && opts->force) { /* a check records nothing to force */
        unforced = *opts;
        unforced.force = 0;
        opts = &unforced;
    }
    return entry(e, id, LIMITR_LEN(id), ent, LIMITR_LEN(ent), &cv, STEP_VALUE,
                 0, opts);
}

int limitr_check_str(limitr_engine *e, const char *id, const char *ent,
                     const char *value)
{
    call_value cv = {0, value != NULL ? value : "", 0, -1};
    return entry(e, id, LIMITR_LEN(id), ent, LIMITR_LEN(ent), &cv, STEP_VALUE,
                 0, NULL);
}

int limitr_increment(limitr_engine *e, const char *id, const char *ent,
                     const limitr_call_opts *opts)
{
    call_value cv = {0, NULL, 0, -1};
    return entry(e, id, LIMITR_LEN(id), ent, LIMITR_LEN(ent), &cv,
                 STEP_INCREMENT, 1, opts);
}

int limitr_decrement(limitr_engine *e, const char *id, const char *ent,
                     const limitr_call_opts *opts)
{
    call_value cv = {0, NULL, 0, -1};
    return entry(e, id, LIMITR_LEN(id), ent, LIMITR_LEN(ent), &cv,
                 STEP_DECREMENT, 1, opts);
}

int limitr__value_ok(double value, const char *value_str)
{
    call_value cv = {value, value_str, 0, -1};
    return check_value(&cv) == 0;
}

int limitr__requested(const limitr_engine *e, decision *d, double value,
                      const char *value_str)
{
    call_value cv = {value, value_str, 0, -1};
    if (check_value(&cv) != 0) return -1;
    return read_value(e, d, STEP_VALUE, &cv);
}
