/* exchange_api.c: credit_exchange (docs/policy.md 8), what a value in one
 * currency or credit is worth in another, through runes. */
#include <string.h>

#include "engine.h"

/* Why name (a side of the exchange) does not convert; runes is what
 * reached the `to` side. */
static int unresolved(limitr_engine *e, const char *name, int to_side,
                      lnum runes)
{
    lnum f, q;
    int credit;
    exchange_status st = limitr__exchange_resolve(e->policy, name, &f, &credit);
    if (st != EXCHANGE_OK)
        return limitr__fail(e, LIMITR_NOT_FOUND, "unknown_currency",
                            "credit_exchange: '%s' is neither rune, an "
                            "exchange pair nor a priced credit",
                            name);
    if (to_side && (f == 0 || (credit >= 0 &&
                               limitr__quantity_for(&e->policy->credits[credit],
                                                    runes, 0, &q) != 0)))
        return limitr__fail(e, LIMITR_NOT_FOUND, "no_exchange",
                            "credit_exchange: no amount of '%s' is worth "
                            "that (a unit of it is worth nothing there)",
                            name);
    return limitr__fail(e, LIMITR_INVALID, "invalid_value",
                        "credit_exchange: the value in %s passes 1e20",
                        to_side ? name : "runes");
}

int limitr_credit_exchange(limitr_engine *e, const char *from, const char *to,
                           double value, double *out)
{
    lnum v, runes, r;
    LIMITR_ENTER(e);
    if (from == NULL || to == NULL || out == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "credit_exchange: from, to and out are required");
    if (limitr__lnum_from_double(value, &v) != 0)
        return limitr__fail(e, LIMITR_INVALID, "invalid_value",
                            "credit_exchange: value must be a finite number "
                            "within +-1e20");
    if (strcmp(from, to) == 0) {
        *out = limitr__lnum_to_double(v);
        return limitr__ok(e);
    }
    if (limitr__to_runes(e->policy, from, v, 0, &runes) != 0)
        return unresolved(e, from, 0, 0);
    if (limitr__from_runes(e->policy, to, runes, 0, &r) != 0)
        return unresolved(e, to, 1, runes);
    *out = limitr__lnum_to_double(r);
    return limitr__ok(e);
}
