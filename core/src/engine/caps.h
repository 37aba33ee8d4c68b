/* caps.h: spend caps at work (caps.c, docs/economy.md 6): which caps a
 * call meets, what it consumes of each, the gate and the commit. */
#ifndef LIMITR_CAPS_H
#define LIMITR_CAPS_H

#include "decide.h"

/* The most caps one call looks at (the caller's, then the shared ones up
 * its refs): more is an error, never a cap skipped. */
#define MAX_CALL_CAPS 256

/* k's meter value as it is at now (resets due applied in the view). */
lnum limitr__cap_meter_now(const spend_cap *k, int64_t now);

/* Gates 5-6 for d (a positive value, not forced): 1 when every applicable
 * cap has room; 0 denied (d->gate "cap", reason "cap" with the denying cap
 * kept for the event, or "too_many_caps" past MAX_CALL_CAPS). */
int limitr__caps_gate(limitr_engine *e, decision *d);

/* The events a commit owes, built before any is delivered. */
typedef struct cap_events {
    size_t n;
    cJSON **events;
    int *kinds;
} cap_events;

/* After an allowed commit: every applicable cap adds what the call
 * consumed (observe-only ones too). Returns the events it owes
 * (cap-threshold-crossed on a crossing, customer-set for holders other
 * than the meter owner), or NULL: deliver them with cap_events_fire once
 * the call's own events are built. */
cap_events *limitr__caps_commit(limitr_engine *e, decision *d, int events);
void limitr__cap_events_fire(limitr_engine *e, cap_events *ce);

/* Fires cap-limit for a call the gate denied. */
void limitr__caps_denied(limitr_engine *e, const decision *d,
                         const limitr_call_opts *opts);

/* A cap as its snapshot (options, created_on, started, meter_value,
 * last_reset, remaining) at now. */
cJSON *limitr__cap_json(limitr_engine *e, const spend_cap *k, int64_t now);
cJSON *limitr__caps_json(limitr_engine *e, const customer *c, int64_t now);

#endif
