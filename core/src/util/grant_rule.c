/* grant_rule.c: a grant's periods (docs/engine.md 15.1) and its reset step
 * (docs/policy.md 7). */
#include "grant_rule.h"

const char *const limitr__grant_reset_mode_names[3] = {"hard", "add",
                                                       "rollover"};

void limitr__grant_rule_none(grant_rule *r)
{
    grant_rule none = {0};
    none.reset = RESET_NONE;
    none.mode = GRANT_RESET_HARD;
    none.catchup_cap = -1;
    *r = none;
}

int64_t limitr__grant_boundaries(const grant_rule *r, int64_t last, int64_t now,
                                 int64_t most, int64_t *latest)
{
    int64_t k = 0, at = last;
    if (now <= last || most <= 0) return 0;
    if (r->reset == RESET_INTERVAL) {
        /* now - last > 0 fits: both are times in ms of this era */
        int64_t whole = (now - last) / r->reset_inc;
        k = whole < most ? whole : most;
        if (whole > 0) *latest = last + whole * r->reset_inc;
        return k;
    }
    if (r->reset != RESET_SCHEDULE) return 0;
    /* Calendar boundaries are counted one by one, up to `most`; the latest
       is the period start of now, however many were counted. */
    while (k < most && k < GRANT_MAX_RESET_STEPS) {
        int64_t next = limitr__schedule_next(&r->sch, at);
        if (next > now || next <= at) break;
        at = next;
        k++;
    }
    if (k > 0) *latest = limitr__schedule_start(&r->sch, now);
    return k;
}

/* One rollover step: what is carried of b, then the refill. */
static lnum rollover_step(const grant_rule *r, lnum b, lnum v)
{
    lnum carry = b;
    if (b < 0) b = carry = 0;
    if (r->has_rollover_pct &&
        limitr__lnum_mul(b, r->rollover_pct, &carry) != 0)
        carry = b;
    if (r->has_rollover_max && carry > r->rollover_max) carry = r->rollover_max;
    /* the floor keeps only what exists (limitr's choice) */
    if (r->has_rollover_min && carry < r->rollover_min)
        carry = r->rollover_min < b ? r->rollover_min : b;
    return lnum_add_sat(carry, v);
}

static lnum clamp_balance(const grant_rule *r, lnum b)
{
    return r->has_max_balance && b > r->max_balance ? r->max_balance : b;
}

lnum limitr__grant_reset(const grant_rule *r, lnum b, lnum v, int64_t steps)
{
    int64_t i;
    lnum total;
    if (steps <= 0) return b;
    switch (r->mode) {
    case GRANT_RESET_HARD:
        return clamp_balance(r, v);
    case GRANT_RESET_ADD:
        /* b + steps * v, clamped after each step: once at the ceiling it
           stays there (v >= 0) */
        if (limitr__lnum_mul(v, lnum_from_int(steps), &total) != 0)
            total = LNUM_MAX;
        return clamp_balance(r, lnum_add_sat(b, total));
    default:
        break;
    }
    /* Rollover carrying everything (a floor adds nothing to it), with no
       ceiling: the same as add, in one step. */
    if ((!r->has_rollover_pct || r->rollover_pct == LNUM_SCALE) &&
        !r->has_rollover_max && !r->has_max_balance) {
        if (limitr__lnum_mul(v, lnum_from_int(steps), &total) != 0)
            total = LNUM_MAX;
        return lnum_add_sat(b < 0 ? 0 : b, total);
    }
    for (i = 0; i < steps && i < GRANT_MAX_RESET_STEPS; i++) {
        lnum next = clamp_balance(r, rollover_step(r, b, v));
        if (next == b) break; /* a fixed point: more steps change nothing */
        b = next;
    }
    return b;
}
