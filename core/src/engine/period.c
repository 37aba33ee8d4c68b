/* period.c: a meter's periods (docs/engine.md section 5) and the governor's
 * refill (section 6.1) under the limit a decision uses. A decision works on
 * a view of the meter as it is in the current period (meter_view) and
 * writes it back only on commit. */
#include <math.h>
#include <string.h>

#include "decide.h"
#include "engine.h"

int64_t limitr__period_start(const lp_limit *lim, int64_t started, int64_t now)
{
    int64_t s;
    switch (lim->rule.reset) {
    case RESET_INTERVAL:
        return limitr__interval_start(started, lim->rule.reset_inc, now);
    case RESET_SCHEDULE:
        /* A meter whose start is after now (the clock went back) or in the
           current period keeps its start. */
        s = limitr__schedule_start(&lim->rule.sch, now);
        return started < s ? s : started;
    default:
        return started;
    }
}

int64_t limitr__next_reset(const lp_limit *lim, const meter_view *v,
                           int64_t now)
{
    switch (lim->rule.reset) {
    case RESET_INTERVAL:
        if (v == NULL || !v->exists) return now + lim->rule.reset_inc;
        return v->started + lim->rule.reset_inc;
    case RESET_SCHEDULE:
        return limitr__schedule_next(&lim->rule.sch, now);
    default:
        return 0;
    }
}

/* ---- The view of the current period ---- */

/* The end of the period that began at `started`. */
static int64_t period_end(const lp_limit *lim, int64_t started)
{
    if (lim->rule.reset == RESET_INTERVAL) {
        if (started > INT64_MAX - lim->rule.reset_inc) return INT64_MAX;
        return started + lim->rule.reset_inc;
    }
    return limitr__schedule_next(&lim->rule.sch, started);
}

/* period_end, from the owner's cache when the meter is one of its first:
 * this spares allow() the calendar arithmetic. */
static int64_t cached_period_end(limitr_engine *e, const lp_limit *lim,
                                 const customer *owner, const meter *m)
{
    size_t i = (size_t)(m - owner->meters);
    customer_cache *cc;
    period_cache *pc;
    if (i >= CACHED_PERIODS || (cc = limitr__cache_of(e, owner)) == NULL)
        return period_end(lim, m->started);
    pc = &cc->periods[i];
    if (pc->lim != lim || pc->started != m->started) {
        pc->end = period_end(lim, m->started);
        pc->started = m->started;
        pc->lim = lim;
    }
    return pc->end;
}

void limitr__meter_view(limitr_engine *e, const lp_limit *lim,
                        const customer *owner, const meter *m, int64_t now,
                        meter_view *v)
{
    const limit_rule *r = &lim->rule;
    v->stored = m;
    if (m == NULL) {
        v->exists = 0;
        v->rolled = 0;
        v->started = now;
        v->value = v->overhead = v->previous_value = 0;
        v->has_bucket = 0;
    } else {
        v->exists = 1;
        v->started = m->started;
        if (r->reset != RESET_NONE &&
            now >= cached_period_end(e, lim, owner, m))
            v->started = limitr__period_start(lim, m->started, now);
        v->rolled = v->started != m->started;
        v->previous_value = m->value;
        /* A new period: value, overhead, history, trend and bucket restart;
           holds (economy) stay. */
        v->value = v->rolled ? 0 : m->value;
        v->overhead = v->rolled ? 0 : m->overhead;
        v->has_bucket = v->rolled ? 0 : m->has_bucket;
        v->tokens = m->tokens;
        v->last_refill = m->last_refill;
    }
    if (!r->governor) return;
    if (v->has_bucket && owner->n_holds > 0) { /* dead holds take nothing */
        lnum dead = limitr__dead_hold_tokens(owner, m->ent, m->credit, now);
        if (lnum_add(v->tokens, dead, &v->tokens) != 0)
            v->tokens = r->governor_capacity;
    }
    if (!v->has_bucket) { /* full at the first governed call */
        v->has_bucket = 1;
        v->tokens = r->governor_capacity;
    } else if (now > v->last_refill) {
        double add = (double)(now - v->last_refill) * r->governor_refill_rate;
        lnum room = r->governor_capacity - v->tokens, delta;
        if (limitr__lnum_from_double(add, &delta) != 0 || delta > room)
            delta = room;
        if (delta > 0) v->tokens += delta;
    }
    /* A reload may have lowered the capacity (docs/reload.md 2). */
    if (v->tokens > r->governor_capacity) v->tokens = r->governor_capacity;
    /* The refill clock follows now, also backwards (docs/engine.md 14.11). */
    v->last_refill = now;
}

void limitr__meter_apply(meter *m, const meter_view *v)
{
    if (v->rolled) {
        m->started = v->started;
        m->value = 0;
        m->overhead = 0;
        m->n_history = 0;
        m->has_ewma = 0;
        m->ewma_rate = 0;
    }
    m->has_bucket = v->has_bucket;
    m->tokens = v->tokens;
    m->last_refill = v->last_refill;
}

/* ---- Rate and acceleration ---- */

static double gap_rate(const history_entry *a, const history_entry *b)
{
    double dt = (double)(b->ts - a->ts);
    if (dt == 0) return 0;
    return b->delta / dt;
}

double limitr__meter_rate(const meter_view *v)
{
    const meter *m = v->stored;
    if (!v->exists || v->rolled || m->n_history < 2) return 0;
    return gap_rate(&m->history[m->n_history - 2],
                    &m->history[m->n_history - 1]);
}

double limitr__meter_acceleration(const meter_view *v)
{
    const history_entry *h;
    if (!v->exists || v->rolled || v->stored->n_history < 3) return 0;
    h = v->stored->history;
    if (h[2].ts == h[1].ts || h[1].ts == h[0].ts) return 0;
    return gap_rate(&h[1], &h[2]) - gap_rate(&h[0], &h[1]);
}

meter *limitr__meter_take(limitr_engine *e, customer *owner, int ent_name,
                          const lp_limit *lim, int64_t now)
{
    int credit = lim->credit_name;
    meter *m = limitr__meter_find(owner, ent_name);
    if (m == NULL)
        return limitr__meter_add(&e->st, owner, ent_name, credit, now);
    if (m->credit != credit) { /* dormant: its units meant something else */
        m->credit = credit;
        limitr__meter_restart(m, now);
    }
    return m;
}
