/* policy.h: the compiled policy: immutable once loaded, read by the hot
 * path, and never pointed at by customer state (which names plans,
 * entitlements and credits by name), so that a reload can swap it. */
#ifndef LIMITR_POLICY_H
#define LIMITR_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "grant_rule.h"
#include "hash.h"
#include "limit_rule.h"
#include "num.h"
#include "limitr.h"
#include "script.h"

/* What one unit of a credit costs the customer (docs/policy.md 8): the
 * flat model. */
typedef struct lp_price {
    int set;        /* the credit is priced */
    lnum amount;    /* as written, in `currency` */
    lnum runes;     /* amount in runes (converted at load) */
    char *currency; /* "rune" by default */
    char *id;       /* the host's id for it, or NULL */
    char *suffix;   /* "/month" by default (labels only) */
} lp_price;

/* A pricing model (docs/policy.md 8). */
typedef enum pricing_model {
    PRICING_FLAT,
    PRICING_TIERED,
    PRICING_VOLUME,
    PRICING_STAIRSTEP
} pricing_model;

/* A band of a tier model: (the previous tier's up_to, up_to]. */
typedef struct lp_tier {
    int open;         /* the unbounded top band (last) */
    size_t doc_index; /* its place in the document's list */
    lnum up_to;       /* billable units, > 0 (not for the open band) */
    lp_price price;
} lp_tier;

typedef struct lp_credit {
    char *name;
    char *label;
    char *unit;
    char *description;
    int units;          /* unit index (units.h) the values are kept in, or -1 */
    lnum overhead_cost; /* what one unit costs the provider, runes */
    int overhead_ref;   /* cost function(units, ctx) -> runes, or 0 */
    pricing_model model;
    size_t doc_index; /* its place in the document's credits */
    lp_price price;   /* the flat model's */
    lp_tier *tiers;   /* the other models': sorted, the open band last */
    size_t n_tiers;
    /* its way to runes, resolved once at load (limitr__exchange_resolve) */
    int reaches_runes;
    lnum runes_factor;
    int runes_end; /* the priced credit the chain ends at, or -1 */
} lp_credit;

/* Whether the credit has a price (flat with a price, or tiers). */
static inline int lp_credit_priced(const lp_credit *cr)
{
    return cr->model == PRICING_FLAT ? cr->price.set : cr->n_tiers > 0;
}

/* ---- Pricing (pricing.c, docs/policy.md 8) ---- */

/* What q units cost in runes starting at billable position `offset`
 * (negative: inside the included amount): t(offset + q) - t(offset). 0,
 * or -1 past the range of amounts. */
int limitr__price_of(const lp_credit *cr, lnum q, lnum offset, lnum *out);
/* How many units `runes` buy from position `offset`, never entering a band
 * whose entry it cannot afford; 1e15 for an unlimited band (a free or a
 * stairstep top band). 0, or -1: a unit is free to begin with and nothing
 * bounds it (a zero flat price), or past the range. */
int limitr__quantity_for(const lp_credit *cr, lnum runes, lnum offset,
                         lnum *out);

/* Where a currency or credit name leads on its way to runes. */
typedef enum exchange_status {
    EXCHANGE_OK,
    EXCHANGE_UNKNOWN, /* neither a pair, nor a priced credit, nor rune */
    EXCHANGE_CYCLE,
    EXCHANGE_RANGE,   /* worth more than 1e20 of the end per unit */
    EXCHANGE_PENDING, /* (while the loader resolves: not yet, */
    EXCHANGE_VISITING /* on the chain being followed) */
} exchange_status;

/* An exchange pair: one unit of `name` is `value` units of `currency`;
 * resolved once at load (exchange.c). */
typedef struct lp_pair {
    char *name;
    lnum value;
    char *currency;
    exchange_status status;
    lnum factor;          /* units of the end per unit of name */
    int end_credit;       /* the priced credit the chain ends at, or -1 */
    const char *dead_end; /* UNKNOWN: the name that leads nowhere */
    size_t doc_index;     /* its place in the document's exchange */
} lp_pair;

/* exchange.grant_strategy */
typedef enum grant_strategy {
    GRANTS_EXPIRES_FIRST,
    GRANTS_CHEAPEST_FIRST,
    GRANTS_VALUABLE_FIRST
} grant_strategy;

/* A limit, as compiled from a policy: its rule (every field resolved,
 * every amount in the credit's units), its credit and its snippets. */
typedef struct lp_limit {
    limit_rule rule;
    int credit;        /* index into policy->credits */
    int credit_name;   /* the state's name of it (the engine sets it) */
    int value_ref;     /* `value` as a snippet: its reference, or 0 */
    int on_exceed_ref; /* custom overage logic, or 0 */
    const char *path;  /* the limit's policy path, for snippet errors */
} lp_limit;

typedef struct lp_entitlement {
    int name;        /* index into policy->ent_names */
    const char *key; /* policy->ent_names[name], for the hot-path scan */
    size_t key_len;
    char *description;
    char *scope;            /* customer type that owns the meter, or NULL */
    char *estimate_basis;   /* event-data field the size scales with */
    char *estimate_segment; /* event-data field naming the segment */
    int has_limit;          /* 0: a feature flag */
    lp_limit limit;
} lp_entitlement;

/* A plan's top-up (docs/policy.md 7): a package of credit the plan sells,
 * or grants by itself when `included`. */
typedef struct lp_topup {
    char *name;
    int credit;     /* index into policy->credits */
    lnum value;     /* what it grants, in the credit's units */
    lp_price price; /* what it costs (for the host's checkout) */
    char *description;
    int included;
    char **scopes; /* included_scopes: customer types; none = all */
    size_t n_scopes;
    grant_rule rule;
    int64_t expires_after; /* ms after the grant is made; 0: never */
} lp_topup;

/* Whether an included top-up applies to a customer of this type. */
int limitr__topup_included_for(const lp_topup *t, const char *type);

/* The most top-ups one plan includes: a bound on what a read or a
 * decision counts of those a customer is owed (checked at load). */
#define MAX_INCLUDED_TOPUPS 32

/* A plan's billing period (docs/policy.md 4): days in it, for margins. */
typedef enum plan_period {
    PERIOD_DAILY,
    PERIOD_WEEKLY,
    PERIOD_MONTHLY,
    PERIOD_YEARLY
} plan_period;

extern const char *const limitr__period_names[4];
extern const int limitr__period_days[4];

typedef struct lp_plan {
    char *name;
    char *label;
    char *description;
    int is_default;
    int hidden;
    lp_entitlement *ents; /* document order */
    size_t n_ents;
    lp_topup *topups; /* document order, inherited ones included */
    size_t n_topups;
    int has_included; /* some top-up is included */
    plan_period period;
    char *subscription; /* the plan fee's entitlement name */
    int has_trial;
    int64_t trial_period; /* ms before the fee is charged */
    char *extends;        /* the parent plan's name, or NULL */
} lp_plan;

/* The plan's top-up named name, or NULL. */
const lp_topup *limitr__plan_topup(const lp_plan *plan, const char *name);

/* policy.notifications.<name> (docs/policy.md section 9). */
typedef struct lp_notification {
    char *name;
    int matches_ref; /* function(type, event) -> bool */
    int fire_ref;    /* function(event, name), or 0: re-emit */
    int handler_ref; /* policy.handlers[name], or 0 */
} lp_notification;

/* The most seeded estimates a policy holds (the state keeps at most 1024
 * policy-wide). */
#define MAX_POLICY_ESTIMATES 1024

/* A seeded policy-wide estimate (policy.estimates.<ent>.<segment>). */
typedef struct lp_estimate_seed {
    char *ent;
    char *segment; /* the key, '.' and ' ' already '_' */
    int64_t samples;
    double alpha;
    int per_basis;
    lnum value_mean, value_var, overhead_mean, overhead_var;
    int64_t updated;
} lp_estimate_seed;

/* A compiled policy never changes after load; customer state names its
 * plans, entitlements and credits by value, never by index or pointer. */
typedef struct lp_policy {
    char *version;
    char *text; /* the canonical document (canonical.h) and its hash */
    size_t text_len;
    char fingerprint[72];
    lp_notification *notifications; /* document order */
    size_t n_notifications;
    script *vm;           /* the policy's Lua VM, or NULL: no snippets */
    script_limits limits; /* its budgets (engine options) */
    int handler_refs[32]; /* policy.handlers by event kind (0: none) */
    lp_credit *credits;
    size_t n_credits;
    lp_plan *plans;
    size_t n_plans;
    int any_included; /* some plan includes a top-up */
    char **ent_names; /* every entitlement name of any plan, interned */
    size_t *ent_name_lens;
    size_t n_ent_names;
    int default_plan;        /* index, or -1 */
    lp_pair *pairs;          /* exchange pairs, sorted by name */
    size_t *credits_by_name; /* credit indexes, sorted by name */
    size_t n_pairs;
    grant_strategy grant_strategy;
    lp_estimate_seed *seeds; /* policy.estimates */
    size_t n_seeds;
    int64_t estimate_min_samples;
    int64_t hold_ttl; /* ms a reservation lives by default */
} lp_policy;

/* Compiles a document into a policy. On failure returns NULL and sets *err
 * to the malloc'ed error list (one line each); NULL with *err NULL: out of
 * memory. */
lp_policy *limitr__policy_compile(const char *text, size_t len,
                                  const char *format,
                                  const script_limits *limits, char **err);
void limitr__policy_free(lp_policy *p);
int limitr__policy_find_plan(const lp_policy *p, const char *name);
/* The index of the notification named name, or -1. */
int limitr__notification_find(const lp_policy *p, const char *name);

/* ---- Exchange (exchange.c, docs/policy.md 8) ---- */

/* The credit named name (a sorted lookup), or -1. */
int limitr__credit_find(const lp_policy *p, const char *name);
/* Follows name's pairs: *factor (units of the end per unit of name) and
 * *credit, the priced credit the chain ends at (-1: it ends at runes). */
exchange_status limitr__exchange_resolve(const lp_policy *p, const char *name,
                                         lnum *factor, int *credit);
/* Whether amounts of name convert through runes both ways: its chain
 * resolves and a unit of it is worth something. */
int limitr__exchange_converts(const lp_policy *p, const char *name);
/* limitr__to_runes for the policy credit `credit`, through its way to
 * runes resolved at load (no lookup by name). A credit with a flat price of
 * its own is priced inline: one product. */
int limitr__credit_to_runes_any(const lp_policy *p, int credit, lnum v,
                                lnum offset, lnum *out);
static inline int limitr__credit_to_runes(const lp_policy *p, int credit,
                                          lnum v, lnum offset, lnum *out)
{
    const lp_credit *cr = &p->credits[credit];
    if (cr->reaches_runes && cr->runes_factor == LNUM_SCALE &&
        cr->runes_end >= 0 && p->credits[cr->runes_end].model == PRICING_FLAT)
        return lnum_mul(v, p->credits[cr->runes_end].price.runes, out);
    return limitr__credit_to_runes_any(p, credit, v, offset, out);
}
/* v units of name in runes, from position `offset` (units of name: where
 * a tier-priced chain end starts pricing); 0, or -1 (does not resolve, or
 * out of range). */
int limitr__to_runes(const lp_policy *p, const char *name, lnum v, lnum offset,
                     lnum *out);
/* r runes in units of name from position `offset`; 0, or -1 (does not
 * resolve, worth nothing per unit, or out of range). */
int limitr__from_runes(const lp_policy *p, const char *name, lnum r,
                       lnum offset, lnum *out);

/* The plan's entitlement named key (len bytes), or NULL. */
static inline const lp_entitlement *
lp_plan_entitlement(const lp_plan *plan, const char *key, size_t len)
{
    size_t i;
    for (i = 0; i < plan->n_ents; i++) {
        const lp_entitlement *ent = &plan->ents[i];
        if (ent->key_len == len && limitr_bytes_equal(ent->key, key, len))
            return ent;
    }
    return NULL;
}

#endif
