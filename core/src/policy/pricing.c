/* pricing.c: what units of a priced credit cost (docs/policy.md 8). Tiers
 * price *billable* units, from a position that is negative inside the
 * included amount; t(n) is the total price of n billable units:
 *   flat      n * amount
 *   tiered    each band's units at its rate
 *   volume    all n at the rate of the band n falls in
 *   stairstep the fee of the band n falls in, t(0) = 0
 * and negative positions cost the first band's rate (nothing for
 * stairstep). Amounts are exact; every product and quotient is checked. */
#include "policy.h"

#define UNLIMITED ((lnum)1000000000000000LL * LNUM_SCALE) /* 1e15 units */

/* The rate (runes per unit, or a stairstep fee) of band k. */
static lnum rate(const lp_credit *cr, size_t k)
{
    return cr->model == PRICING_FLAT ? cr->price.runes
                                     : cr->tiers[k].price.runes;
}

static size_t n_bands(const lp_credit *cr)
{
    return cr->model == PRICING_FLAT ? 1 : cr->n_tiers;
}

/* Band k's top, and whether it has one. */
static int top(const lp_credit *cr, size_t k, lnum *hi)
{
    if (cr->model == PRICING_FLAT || cr->tiers[k].open) return 0;
    *hi = cr->tiers[k].up_to;
    return 1;
}

/* The band position n falls in ((lo, hi], the first one for n <= 0). */
static size_t band_of(const lp_credit *cr, lnum n)
{
    size_t k;
    lnum hi;
    for (k = 0; k + 1 < n_bands(cr); k++)
        if (!top(cr, k, &hi) || n <= hi) return k;
    return n_bands(cr) - 1;
}

/* t(n). 0, or -1 past the range. */
static int total(const lp_credit *cr, lnum n, lnum *out)
{
    size_t k;
    lnum lo = 0, hi, sum = 0, part;
    if (n <= 0) {
        if (cr->model == PRICING_STAIRSTEP) return *out = 0, 0;
        return limitr__lnum_mul(n, rate(cr, 0), out);
    }
    switch (cr->model) {
    case PRICING_FLAT:
    case PRICING_VOLUME:
        return limitr__lnum_mul(n, rate(cr, band_of(cr, n)), out);
    case PRICING_STAIRSTEP:
        *out = rate(cr, band_of(cr, n));
        return 0;
    case PRICING_TIERED:
        break;
    }
    for (k = 0; k < n_bands(cr) && lo < n; k++) {
        lnum upto = top(cr, k, &hi) && hi < n ? hi : n;
        if (limitr__lnum_mul(upto - lo, rate(cr, k), &part) != 0 ||
            lnum_add(sum, part, &sum) != 0)
            return -1;
        lo = upto;
    }
    *out = sum;
    return 0;
}

int limitr__price_of(const lp_credit *cr, lnum q, lnum offset, lnum *out)
{
    lnum end, a, b;
    if (cr->model == PRICING_FLAT) /* linear: the same from any position */
        return limitr__lnum_mul(q, rate(cr, 0), out);
    if (lnum_add(offset, q, &end) != 0 || total(cr, end, &b) != 0 ||
        total(cr, offset, &a) != 0)
        return -1;
    *out = b - a; /* both within +-1e20: no wrap in 128 bits */
    return lnum_add(0, *out, out);
}

/* units = money / per_unit, capped at UNLIMITED. */
static int units_for(lnum money, lnum per_unit, lnum *out)
{
    if (per_unit == 0 || limitr__lnum_div(money, per_unit, out) != 0 ||
        *out > UNLIMITED)
        *out = UNLIMITED;
    return 0;
}

/* tiered and flat: walk the bands from `pos`, paying each band's units at
 * its rate, stopping inside the first band the money does not fill. */
static int quantity_linear(const lp_credit *cr, lnum left, lnum pos, lnum *out)
{
    size_t k;
    lnum q = 0, hi, cost, room, more = 0;
    if (pos < 0) { /* the included units left, at the first rate */
        if (limitr__lnum_mul(-pos, rate(cr, 0), &cost) != 0) return -1;
        if (cost > left) {
            units_for(left, rate(cr, 0), &more);
            return *out = more, 0;
        }
        left -= cost;
        q = -pos;
        pos = 0;
    }
    for (k = band_of(cr, pos); k < n_bands(cr); k++) {
        if (!top(cr, k, &hi)) { /* the open band: what the rest buys */
            units_for(left, rate(cr, k), &more);
            break;
        }
        room = hi - pos;
        if (room <= 0) continue;
        if (limitr__lnum_mul(room, rate(cr, k), &cost) != 0) return -1;
        if (cost > left) {
            units_for(left, rate(cr, k), &more);
            if (more > room) more = room;
            break;
        }
        left -= cost;
        q += room;
        pos = hi;
        more = 0;
    }
    if (lnum_add(q, more, out) != 0 || *out > UNLIMITED) *out = UNLIMITED;
    return 0;
}

/* volume and stairstep: the budget is t(pos) + runes. Walk up the bands
 * while entering the next one is affordable (t just past its start within
 * the budget: a volume band may well be cheaper to enter than the rest of
 * the current one), and stop in the last one entered: as far as the budget
 * buys at its rate (volume), or its top (stairstep: a band's units cost
 * nothing once in it). */
static int quantity_stepped(const lp_credit *cr, lnum runes, lnum pos,
                            lnum *out)
{
    size_t k = band_of(cr, pos);
    lnum budget, t, hi = 0, entry, n; /* hi: set when bounded */
    int stair = cr->model == PRICING_STAIRSTEP;
    if (total(cr, pos, &t) != 0 || lnum_add(t, runes, &budget) != 0) return -1;
    if (stair && pos <= 0 && rate(cr, 0) > budget)
        return *out = -pos, 0; /* free up to 0; band 1 costs its fee */
    for (;; k++) {
        int bounded = top(cr, k, &hi);
        if (stair) {
            if (!bounded) return *out = UNLIMITED, 0;
            n = hi;
        } else {
            units_for(budget, rate(cr, k), &n);
            if (bounded && n > hi) n = hi;
        }
        if (!bounded || k + 1 == n_bands(cr)) break;
        if (stair)
            entry = rate(cr, k + 1);
        else if (limitr__lnum_mul(hi, rate(cr, k + 1), &entry) != 0)
            return -1;
        /* volume: strictly, since buying up to hi itself stays in band k */
        if (stair ? entry > budget : entry >= budget) break;
    }
    *out = n > pos ? n - pos : 0;
    if (*out > UNLIMITED) *out = UNLIMITED;
    return 0;
}

int limitr__quantity_for(const lp_credit *cr, lnum runes, lnum offset,
                         lnum *out)
{
    if (cr->model == PRICING_FLAT && cr->price.runes == 0) return -1;
    if (runes < 0) { /* a refund: back down at the first band's rate */
        lnum per = rate(cr, 0);
        if (cr->model == PRICING_STAIRSTEP) return *out = 0, 0; /* fees */
        if (per == 0 || limitr__lnum_div(runes, per, out) != 0) return -1;
        return 0;
    }
    if (cr->model == PRICING_FLAT || cr->model == PRICING_TIERED)
        return quantity_linear(cr, runes, offset, out);
    return quantity_stepped(cr, runes, offset, out);
}
