/* meter.c: a customer's meters (engine.md section 3), their periods
 * (section 5), the governor's bucket (section 6.1) and the rate history
 * (section 6.3). A decision works on a copy of the meter as it is in the
 * current period (meter_view), and writes it back only on commit. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "internal.h"

int limitr__meter_reserve(limitr_engine *e, customer *c, size_t extra)
{
    size_t cap = c->cap_meters ? c->cap_meters : 4;
    meter *grown;
    if (c->n_meters + extra <= c->cap_meters) return 0;
    while (cap < c->n_meters + extra)
        cap *= 2;
    grown = limitr__alloc(e, cap * sizeof *grown);
    if (grown == NULL) return -1;
    if (c->n_meters) memcpy(grown, c->meters, c->n_meters * sizeof *grown);
    limitr__dealloc(e, c->meters, c->cap_meters * sizeof *c->meters);
    c->meters = grown;
    c->cap_meters = cap;
    return 0;
}

meter *limitr__meter_add(limitr_engine *e, customer *c, int ent,
                         int64_t started)
{
    meter *m;
    if (limitr__meter_reserve(e, c, 1) != 0) return NULL;
    m = &c->meters[c->n_meters++];
    memset(m, 0, sizeof *m);
    m->ent = ent;
    m->started = started;
    m->period_epoch = 0; /* engine epochs start at 1 */
    return m;
}

/* ---- Periods ---- */

int64_t limitr__period_start(const lp_limit *lim, int64_t started,
                             int64_t now)
{
    int64_t s;
    switch (lim->reset) {
    case RESET_INTERVAL:
        return limitr__interval_start(started, lim->reset_inc, now);
    case RESET_SCHEDULE:
        /* A meter whose start is after now (the clock went back) or in the
           current period keeps its start. */
        s = limitr__schedule_start(&lim->sch, now);
        return started < s ? s : started;
    default:
        return started;
    }
}

int64_t limitr__next_reset(const lp_limit *lim, const meter_view *v,
                           int64_t now)
{
    switch (lim->reset) {
    case RESET_INTERVAL:
        if (v == NULL || !v->exists) return now + lim->reset_inc;
        return v->started + lim->reset_inc;
    case RESET_SCHEDULE:
        return limitr__schedule_next(&lim->sch, now);
    default:
        return 0;
    }
}

/* ---- The view of the current period ---- */

/* The end of the period that began at `started`. */
static int64_t period_end(const lp_limit *lim, int64_t started)
{
    if (lim->reset == RESET_INTERVAL) return started + lim->reset_inc;
    return limitr__schedule_next(&lim->sch, started);
}

void limitr__meter_view(const lp_limit *lim, meter *m, int64_t now,
                        uint64_t epoch, meter_view *v)
{
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
        if (lim->reset != RESET_NONE) {
            if (m->period_epoch != epoch) {
                m->period_end = period_end(lim, m->started);
                m->period_epoch = epoch;
            }
            if (now >= m->period_end)
                v->started = limitr__period_start(lim, m->started, now);
        }
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
    if (!lim->governor) return;
    if (!v->has_bucket) { /* full at the first governed call */
        v->has_bucket = 1;
        v->tokens = lim->governor_capacity;
    } else if (now > v->last_refill) {
        double add = (double)(now - v->last_refill) * lim->governor_refill_rate;
        lnum room = lim->governor_capacity - v->tokens, delta;
        if (limitr__lnum_from_double(add, &delta) != 0 || delta > room)
            delta = room;
        if (delta > 0) v->tokens += delta;
    }
    /* The refill clock follows now, also backwards (engine.md 14.11). */
    v->last_refill = now;
}

void limitr__meter_apply(meter *m, const meter_view *v)
{
    if (v->rolled) {
        m->started = v->started;
        m->period_epoch = 0; /* recomputed for the new period */
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

/* ---- Rate history ---- */

static double gap_rate(const history_entry *a, const history_entry *b)
{
    double dt = (double)(b->ts - a->ts);
    if (dt == 0) return 0;
    return b->delta / dt;
}

static double stored_rate(const meter *m)
{
    if (m->n_history < 2) return 0;
    return gap_rate(&m->history[m->n_history - 2],
                    &m->history[m->n_history - 1]);
}

double limitr__meter_rate(const meter_view *v)
{
    return v->exists && !v->rolled ? stored_rate(v->stored) : 0;
}

double limitr__meter_acceleration(const meter_view *v)
{
    const history_entry *h;
    if (!v->exists || v->rolled || v->stored->n_history < 3) return 0;
    h = v->stored->history;
    if (h[2].ts == h[1].ts || h[1].ts == h[0].ts) return 0;
    return gap_rate(&h[1], &h[2]) - gap_rate(&h[0], &h[1]);
}

void limitr__meter_push(meter *m, int64_t ts, double delta, double alpha,
                        int is_demand)
{
    double rate;
    if (m->n_history == METER_HISTORY) {
        m->history[0] = m->history[1];
        m->history[1] = m->history[2];
        m->n_history--;
    }
    m->history[m->n_history].ts = ts;
    m->history[m->n_history].delta = delta;
    m->n_history++;
    if (is_demand) return; /* governed demand never moves the trend */
    rate = stored_rate(m);
    if (m->has_ewma) {
        m->ewma_rate = alpha * rate + (1 - alpha) * m->ewma_rate;
        /* Many calls in the same ms decay it towards 0: stop at 0 rather
           than in subnormal numbers, whose arithmetic is 100x slower. */
        if (fabs(m->ewma_rate) < DBL_MIN) m->ewma_rate = 0;
    } else if (rate != 0) {
        m->ewma_rate = rate;
        m->has_ewma = 1;
    }
}
