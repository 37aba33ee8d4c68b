/* decide.h: one decision's state, shared by the pipeline (decide.c) and
 * the reads and explain (read.c), which run its first gates too. */
#ifndef LIMITR_DECIDE_H
#define LIMITR_DECIDE_H

#include "engine.h"

typedef struct decision {
    int64_t now;
    customer *caller;
    customer *owner;           /* whose meter moves (scope) */
    int plan;                  /* the caller's resolved plan */
    const lp_entitlement *ent; /* in the caller's plan */
    int ent_name;              /* the entitlement's name in the state */
    const lp_limit *lim;       /* override or plan limit; NULL: a flag */
    lp_limit own_limit;        /* the owner's override, when lim is it */
    lnum limit;                /* its value (a `value` snippet evaluated) */
    int expired;               /* the owner has an expired override */
    meter *stored;             /* the owner's stored meter, or NULL */
    meter_view v;              /* the meter in the current period */
    lnum held;                 /* what live reservations hold of it */
    lnum requested;
    int requested_is_double; /* requested_double holds the caller's value */
    double requested_double;
    /* outcome */
    const char *gate; /* customer, entitlement, scope, governor, limit, none */
    const char *reason;           /* denial reason, or NULL */
    int status;                   /* with it: LIMITR_NOT_FOUND (gates 1-3), the
                                     failed value snippet's, or LIMITR_DENIED */
    lnum new_value;               /* after the call, raised to the minimum */
    lnum overage;                 /* past the limit and not covered by grants */
    lnum grant_cover;             /* past the limit and covered by grants */
    const limitr_call_opts *opts; /* the call's options, or NULL */
    const customer *cap_holder;   /* the cap that denied (gate "cap") */
    uint64_t caps_gate;           /* e->walk.gate of this call's gate, or 0 */
    int call_cap; /* the cap passed on the call that denied, or -1 */
    size_t cap_index;
    lnum overhead_diff; /* this call's provider cost, runes */
} decision;

/* An allow on the target d, found by its caller and up to date (settle's
 * recording, decide.c): gates 5-9 without a second lookup. */
int limitr__allow_found(limitr_engine *e, decision *d, double value,
                        const char *value_text, const limitr_call_opts *opts);
/* meter-reset, when d's view rolled and someone listens, for a call that
 * wrote the roll-over without metering (reserve, release; decide.c); opts:
 * the call's event data, or NULL. */
void limitr__fire_reset(limitr_engine *e, const decision *d,
                        const limitr_call_opts *opts);
/* Gives the room of all of owner's holds back (before it is deleted). */
void limitr__holds_drop_all(limitr_engine *e, customer *owner);
/* Learns a settled call (estimate_api.c): value v costing `cost`, on d's
 * owner and policy-wide. LIMITR_OK, DENIED "no_basis", or an error. */
int limitr__observe_call(limitr_engine *e, const decision *d, lnum v, lnum cost,
                         int has_basis, lnum basis, const char *segment);
/* Removes owner's dead holds, their room in caps, grants and the governor
 * given back (allow and reserve; holds.c); 1 when it removed any. */
int limitr__holds_prune(limitr_engine *e, customer *owner, int64_t now);
/* What live reservations of owner hold on entitlement ent at now
 * (holds.c). */
lnum limitr__held(limitr_engine *e, const customer *owner, int ent, int credit,
                  int64_t now);

/* d's period view and the room live holds take, read from the state as it
 * is now: the lookup's last step, and again after a call changed the
 * meter or the holds since (dead holds pruned, a settled hold gone). */
static inline void limitr__view_again(limitr_engine *e, decision *d)
{
    d->held = d->owner->n_holds > 0 ? limitr__held(e, d->owner, d->ent_name,
                                                   d->lim->credit_name, d->now)
                                    : 0;
    limitr__meter_view(e, d->lim, d->owner, d->stored, d->now, &d->v);
}

/* strlen, 0 for NULL: the text entry points' lengths. */
#define LIMITR_LEN(s) ((s) != NULL ? strlen(s) : 0)
/* The governor tokens dead holds of owner on ent took and have not given
 * back yet (that happens when they are removed): a dead hold holds nothing,
 * so every view counts them back (holds.c). */
lnum limitr__dead_hold_tokens(const customer *owner, int ent, int credit,
                              int64_t now);

/* Gates 1-4 for id / ent: fills d (with the period view when limited, and
 * the limit's value, running a `value` snippet). 0, or -1 with d->gate and
 * d->reason set ("error" when the value snippet failed). Writes nothing. */
int limitr__target(limitr_engine *e, const char *id, size_t id_len,
                   const char *ent, size_t ent_len, decision *d);
/* Whether a call's value passes its own checks (finite; a string is a
 * number with an optional unit), the first thing a call looks at. */
int limitr__value_ok(double value, const char *value_str);
/* Sets d->requested from a value or value string (unit conversion);
 * -1: invalid_value. */
int limitr__requested(const limitr_engine *e, decision *d, double value,
                      const char *value_str);
/* Gates 7-8 on a targeted, limited decision whose value was read
 * (d->requested and d->new_value set): 1 allowed, 0 denied. Runs the
 * limit's on_exceed snippet when a call would pass the limit. */
int limitr__decide(limitr_engine *e, decision *d, int force);
/* limitr__overhead_of past its quick answers (below). */
lnum limitr__overhead_call(limitr_engine *e, const decision *d,
                           const limitr_call_opts *opts);

/* A call's provider cost in runes (docs/engine.md 4.11): opts.overhead, else
 * the credit's cost function(units, event data), else units *
 * overhead_cost. Needs d->lim and d->requested. Inline, a credit that
 * costs nothing answers 0 without a call: reserve and settle both ask. */
static inline lnum limitr__overhead_of(limitr_engine *e, const decision *d,
                                       const limitr_call_opts *opts)
{
    const lp_credit *cr = &e->policy->credits[d->lim->credit];
    if ((opts == NULL || !opts->has_overhead) &&
        (d->requested <= 0 ||
         (cr->overhead_ref <= 0 && cr->overhead_cost == 0)))
        return 0;
    return limitr__overhead_call(e, d, opts);
}

#endif
