/* meter.c: a customer's meters (engine.md section 3), their periods
 * (section 5), the governor's bucket (section 6.1) and the rate history
 * (section 6.3). A decision works on a copy of the meter as it is in the
 * current period (meter_view), and writes it back only on commit. */
#include <math.h>
#include <string.h>

#include "internal.h"

meter *limitr__meter_find(customer *c, int ent)
{
    size_t i;
    for (i = 0; i < c->n_meters; i++)
        if (c->meters[i].ent == ent) return &c->meters[i];
    return NULL;
}

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

int64_t limitr__next_reset(const lp_limit *lim, const meter *m, int64_t now)
{
    switch (lim->reset) {
    case RESET_INTERVAL:
        if (m == NULL) return now + lim->reset_inc;
        return limitr__period_start(lim, m->started, now) + lim->reset_inc;
    case RESET_SCHEDULE:
        return limitr__schedule_next(&lim->sch, now);
    default:
        return 0;
    }
}

/* ---- The view of the current period ---- */

void limitr__meter_view(const lp_limit *lim, const meter *m, int ent,
                        int64_t now, meter_view *v)
{
    if (m == NULL) {
        memset(&v->m, 0, sizeof v->m);
        v->m.ent = ent;
        v->m.started = now;
        v->exists = 0;
        v->rolled = 0;
        v->previous_value = 0;
    } else {
        int64_t start = limitr__period_start(lim, m->started, now);
        v->m = *m;
        v->exists = 1;
        v->rolled = start != m->started;
        v->previous_value = m->value;
        if (v->rolled) {
            /* A new period: value, overhead, history, trend and bucket
               restart; holds (economy) stay. */
            v->m.started = start;
            v->m.value = 0;
            v->m.overhead = 0;
            v->m.n_history = 0;
            v->m.has_ewma = 0;
            v->m.ewma_rate = 0;
            v->m.has_bucket = 0;
        }
    }
    if (lim->governor) {
        if (!v->m.has_bucket) {
            v->m.has_bucket = 1;
            v->m.tokens = lim->governor_capacity;
            v->m.last_refill = now;
        } else if (now > v->m.last_refill) {
            double add = (double)(now - v->m.last_refill) *
                         lim->governor_refill_rate;
            lnum room = lim->governor_capacity - v->m.tokens, delta;
            if (limitr__lnum_from_double(add, &delta) != 0 || delta > room)
                delta = room;
            if (delta > 0) v->m.tokens += delta;
            v->m.last_refill = now;
        } else {
            /* The clock went back: no refill, and the refill clock follows
               it (engine.md 14.11). */
            v->m.last_refill = now;
        }
    }
}

/* ---- Rate history ---- */

static double gap_rate(const history_entry *a, const history_entry *b)
{
    double dt = (double)(b->ts - a->ts);
    if (dt == 0) return 0;
    return limitr__lnum_to_double(b->delta) / dt;
}

double limitr__meter_rate(const meter *m)
{
    if (m->n_history < 2) return 0;
    return gap_rate(&m->history[m->n_history - 2],
                    &m->history[m->n_history - 1]);
}

double limitr__meter_acceleration(const meter *m)
{
    const history_entry *h = m->history;
    if (m->n_history < 3) return 0;
    if (h[2].ts == h[1].ts || h[1].ts == h[0].ts) return 0;
    return gap_rate(&h[1], &h[2]) - gap_rate(&h[0], &h[1]);
}

void limitr__meter_push(meter *m, int64_t ts, lnum delta, double alpha,
                        int is_demand)
{
    double rate;
    if (m->n_history == METER_HISTORY) {
        memmove(&m->history[0], &m->history[1],
                (METER_HISTORY - 1) * sizeof m->history[0]);
        m->n_history--;
    }
    m->history[m->n_history].ts = ts;
    m->history[m->n_history].delta = delta;
    m->n_history++;
    if (is_demand) return; /* governed demand never moves the trend */
    rate = limitr__meter_rate(m);
    if (m->has_ewma)
        m->ewma_rate = alpha * rate + (1 - alpha) * m->ewma_rate;
    else if (rate != 0) {
        m->ewma_rate = rate;
        m->has_ewma = 1;
    }
}
