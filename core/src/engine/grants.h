/* grants.h: grants at work (grants.c, docs/engine.md 15): what a grant
 * holds now, how grants cover a call past its limit, the included top-ups
 * a plan gives, and what reads see of them. */
#ifndef LIMITR_GRANTS_H
#define LIMITR_GRANTS_H

#include "engine.h"

/* g as it is at now: 0 when it has expired, else 1 with its balance after
 * the resets due (steps of them, the latest boundary in *latest). A grant
 * that never resets is read inline (most are: a draw reads one per call). */
int limitr__grant_resets_now(const grant *g, int64_t now, lnum *balance,
                             int64_t *steps, int64_t *latest);
static inline int limitr__grant_now(const grant *g, int64_t now, lnum *balance,
                                    int64_t *steps, int64_t *latest)
{
    if (g->rule.reset != RESET_NONE)
        return limitr__grant_resets_now(g, now, balance, steps, latest);
    *balance = g->value;
    *steps = 0;
    *latest = g->last_reset;
    return !(g->has_expires && now > g->expires_on);
}

/* Whether g may pay for c now: made by the host, or its top-up is still in
 * c's plan (and, when included, still for c's type). */
int limitr__topup_grant_usable(limitr_engine *e, const customer *c,
                               const grant *g);
static inline int limitr__grant_usable(limitr_engine *e, const customer *c,
                                       const grant *g)
{
    return g->topup < 0 || limitr__topup_grant_usable(e, c, g);
}

/* Writes what time did to c's grants: expired ones removed, due resets
 * applied (calls that write only, docs/engine.md 15.1). */
void limitr__grants_refresh(limitr_engine *e, customer *c, int64_t now);

/* ensure_included_topups' reconciliation (docs/engine.md 15.2, steps 1-4) at
 * now; *changed when something moved. 0, or -1: out of memory (nothing
 * half made: each step is whole). */
int limitr__grants_reconcile(limitr_engine *e, customer *c, int64_t now,
                             int *changed);

/* Units of the policy credit `credit` that c's grants cover of `overage`
 * starting at billable position `pos`, in draw order (docs/engine.md
 * 15.3). Without `write` nothing changes, and the included top-ups c is owed
 * count as the grants they will be; with `write` those are granted first
 * (the reconciliation of ensure_included_topups), then the grants are drawn
 * (balances lowered, drained ones removed). */
lnum limitr__grants_cover(limitr_engine *e, customer *c, int credit,
                          lnum overage, lnum pos, int64_t now, int write);

/* What all of c's usable grants are worth in `name` (a credit or a
 * currency) from position pos: exact balances unit for unit, the others
 * pooled in runes and converted after them (docs/engine.md 9, grants in
 * reads). */
lnum limitr__grants_worth(limitr_engine *e, const customer *c, const char *name,
                          lnum pos, int64_t now);

/* Whether c holds grants, or its plan includes top-ups: whether a call
 * past a limit looks at grants at all. */
int limitr__grants_included(limitr_engine *e, const customer *c);
static inline int limitr__grants_any(limitr_engine *e, const customer *c)
{
    return c->n_grants > 0 ||
           (e->policy->any_included && limitr__grants_included(e, c));
}

/* Adds a grant of top-up t (plan plan_name) to c at now. 0, or -1: out of
 * memory, or c holds MAX_CUSTOMER_GRANTS already (*full set). */
int limitr__grant_topup(limitr_engine *e, customer *c, const lp_topup *t,
                        int64_t now, int *full);

/* Sets aside, in draw order, the grant balance that `overage` units past
 * the limit from position pos would draw (a reservation's, docs/engine.md
 * 19.2): each grant's held grows, and a part naming it is appended to
 * *parts. 0, or -1: out of memory (what was set aside is in *parts). */
int limitr__grants_set_aside(limitr_engine *e, customer *c, int credit,
                             lnum overage, lnum pos, int64_t now, uint64_t hold,
                             int64_t expires, hold_part **parts,
                             size_t *n_parts);

/* A top-up as a table (customer-topup-granted, plan reads). */
cJSON *limitr__topup_json(const limitr_engine *e, const lp_topup *t);

/* c's grants as a JSON array (snapshots, the API). */
cJSON *limitr__grants_json(limitr_engine *e, const customer *c, int64_t now);
cJSON *limitr__grant_json(limitr_engine *e, const grant *g, int64_t now);

#endif
