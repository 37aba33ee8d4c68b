/* meter.c: a customer's stored meters (docs/engine.md section 3) and their rate
 * history (section 6.3). Periods and the governor's refill depend on the
 * policy's limits and are the engine's (engine/period.c). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "state.h"

int limitr__meter_reserve(state *st, customer *c, size_t extra)
{
    /* a new customer's meters come all at once: exactly that many */
    size_t cap = c->cap_meters ? c->cap_meters : c->n_meters + extra;
    meter *grown;
    if (c->n_meters + extra <= c->cap_meters) return 0;
    while (cap < c->n_meters + extra)
        cap *= 2;
    grown = limitr__st_alloc(st, cap * sizeof *grown);
    if (grown == NULL) return -1;
    if (c->n_meters) memcpy(grown, c->meters, c->n_meters * sizeof *grown);
    limitr__st_free(st, c->meters, c->cap_meters * sizeof *c->meters);
    c->meters = grown;
    c->cap_meters = cap;
    return 0;
}

void limitr__meter_restart(meter *m, int64_t started)
{
    int ent = m->ent, credit = m->credit;
    memset(m, 0, sizeof *m);
    m->ent = ent;
    m->credit = credit;
    m->started = started;
}

meter *limitr__meter_add(state *st, customer *c, int ent, int credit,
                         int64_t started)
{
    meter *m;
    if (limitr__meter_reserve(st, c, 1) != 0) return NULL;
    m = &c->meters[c->n_meters++];
    m->ent = ent;
    m->credit = credit;
    limitr__meter_restart(m, started);
    return m;
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
