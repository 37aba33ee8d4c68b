/* caps.c: spend caps at work (docs/engine.md 16). A call meets the caller's
 * own caps and the shared caps of the customers its refs lead to; each
 * applies when its scope lists the entitlement and it can count the call's
 * credit. Gates 5-6 check room, the commit adds what the call consumed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "caps.h"
#include "grants.h"

/* ---- A cap now ---- */

/* Where k's period stands at now: the meter value and, when a reset is
 * due, the new start (*started) and last reset (*last). */
static lnum cap_now(const spend_cap *k, int64_t now, int64_t *started,
                    int *has_last, int64_t *last)
{
    *started = k->started;
    *has_last = k->has_last_reset;
    *last = k->last_reset;
    if (k->reset == RESET_INTERVAL && now >= k->started &&
        now - k->started >= k->reset_inc) {
        /* whole increments: the boundary instant resets (limitr's choice) */
        *started =
            k->started + (now - k->started) / k->reset_inc * k->reset_inc;
        return 0;
    }
    if (k->reset == RESET_SCHEDULE) {
        int64_t s = limitr__schedule_start(&k->sch, now);
        /* the first period starts at the first use (docs/engine.md 16.1) */
        if (!k->has_last_reset) {
            *has_last = 1;
            *last = s;
        } else if (s > k->last_reset) {
            *last = s;
            return 0;
        }
    }
    return k->meter_value;
}

lnum limitr__cap_meter_now(const spend_cap *k, int64_t now)
{
    int64_t started, last;
    int has_last;
    if (k->reset == RESET_NONE) return k->meter_value;
    return cap_now(k, now, &started, &has_last, &last);
}

/* Stores what time did to k (a writing call; a cap that never resets has
 * nothing to store). */
static void cap_persist(spend_cap *k, int64_t now)
{
    if (k->reset != RESET_NONE)
        k->meter_value =
            cap_now(k, now, &k->started, &k->has_last_reset, &k->last_reset);
}

static int cap_expired(const spend_cap *k, int64_t now)
{
    return k->has_expires && now >= k->expires_on;
}

/* ---- Which caps a call meets ---- */

static int lists(const strlist *l, const char *s)
{
    return l->n == 0 || limitr__strlist_index(l, s) >= 0;
}

/* Whether k applies to a call on entitlement ent in the policy credit
 * `credit` by a caller of type `type` (shared: met through refs). */
static int cap_applies(limitr_engine *e, const spend_cap *k, const char *ent,
                       int credit, const char *type, int through_refs,
                       int64_t now)
{
    if (cap_expired(k, now)) return 0;
    if (through_refs && (!k->shared || !lists(&k->shared_with, type))) return 0;
    if (k->scope.n > 0 && limitr__strlist_index(&k->scope, ent) < 0) return 0;
    return k->exchangeable || k->credit == e->credit_names[credit];
}

/* Grows *items (each `size` bytes) to hold `need`; -1: out of memory. */
static int grow(void **items, size_t *cap, size_t need, size_t size)
{
    size_t n = *cap ? *cap : 16;
    void *grown;
    if (need <= *cap) return 0;
    while (n < need)
        n *= 2;
    if ((grown = realloc(*items, n * size)) == NULL) return -1;
    *items = grown;
    *cap = n;
    return 0;
}

/* Marks c seen in this walk; 0 when it was already, -1 out of memory. */
static int first_visit(cap_walk *w, const customer *c)
{
    size_t i;
    if (c->slot >= w->seen_cap) {
        size_t old = w->seen_cap;
        if (grow((void **)&w->seen, &w->seen_cap, (size_t)c->slot + 1,
                 sizeof *w->seen) != 0)
            return -1;
        for (i = old; i < w->seen_cap; i++)
            w->seen[i] = 0;
    }
    if (w->seen[c->slot] == w->mark) return 0;
    w->seen[c->slot] = w->mark;
    return 1;
}

/* The most caps a call the gate decides meets, and customers its walk
 * visits, the caller included (docs/engine.md 16.2; a plan lookup's
 * bound): the bound of every cap gate's work. A call no cap can refuse (a
 * forced one, a settle, a decrement) counts every cap it meets. */
#define MAX_CAP_WALK_CAPS 256
#define MAX_CAP_WALK_CUSTOMERS 1024

enum { WALK_NOMEM = -1, WALK_TOO_MANY = -2 };
enum { UNBOUNDED = 0, BOUNDED = 1 };

/* The caps d's call meets, into e->walk.refs: the caller's own, then
 * breadth first through its refs (each customer once, cycles skipped) the
 * shared ones, skipped when no shared cap exists. The number, or
 * WALK_NOMEM; bounded, WALK_TOO_MANY past MAX_CAP_WALK_CAPS caps or
 * MAX_CAP_WALK_CUSTOMERS customers (unbounded, e->walk.past_bound says
 * so). */
static long walk(limitr_engine *e, const decision *d, int bounded);

/* Walks for d's call and keeps what it found for collect(). */
static long walk_kept(limitr_engine *e, const decision *d, int bounded);

/* walk, or what it found for the same call when nothing changed since
 * (the gate's walk, reused by the commit). */
static inline long collect(limitr_engine *e, const decision *d, int bounded)
{
    cap_walk *w = &e->walk;
    long i;
    if (w->n < 0 || w->caller != d->caller || w->ent != d->ent->key ||
        w->epoch != e->st.d->epoch || w->now != d->now)
        return walk_kept(e, d, bounded);
    if (bounded && w->past_bound) return WALK_TOO_MANY;
    /* the holders were looked up by the walk that found them: the store
       sees them again for this call */
    if (e->hooked)
        for (i = 0; i < w->n; i++)
            limitr__touch(e, w->refs[i].holder);
    return w->n;
}

static long walk_kept(limitr_engine *e, const decision *d, int bounded)
{
    cap_walk *w = &e->walk;
    w->n = walk(e, d, bounded);
    w->caller = d->caller;
    w->ent = d->ent->key;
    w->epoch = e->st.d->epoch;
    w->now = d->now;
    return w->n;
}

static long walk(limitr_engine *e, const decision *d, int bounded)
{
    cap_walk *w = &e->walk;
    size_t head = 0, tail = 0, n = 0, i;
    const char *ent = d->ent->key;
    int credit = d->lim->credit, shared = e->st.d->n_shared_caps > 0;
    w->past_bound = 0;
    if (grow((void **)&w->queue, &w->queue_cap, 1, sizeof *w->queue) != 0)
        return WALK_NOMEM;
    if (++w->mark == 0) { /* wrapped: forget every mark */
        for (i = 0; i < w->seen_cap; i++)
            w->seen[i] = 0;
        w->mark = 1;
    }
    if (first_visit(w, d->caller) < 0) return WALK_NOMEM;
    w->queue[tail++] = d->caller;
    while (head < tail) {
        customer *c = w->queue[head];
        for (i = 0; i < c->n_caps; i++) {
            if (!cap_applies(e, &c->caps[i], ent, credit, d->caller->type,
                             head > 0, d->now))
                continue;
            if (n == MAX_CAP_WALK_CAPS) {
                w->past_bound = 1;
                if (bounded) return WALK_TOO_MANY;
            }
            if (grow((void **)&w->refs, &w->refs_cap, n + 1, sizeof *w->refs) !=
                0)
                return WALK_NOMEM;
            w->refs[n].holder = c;
            w->refs[n].i = i;
            w->refs[n].has_amount = 0;
            n++;
        }
        head++;
        for (i = 0; shared && i < c->refs.n; i++) {
            customer *r = limitr__customer_lookup(e, c->refs.items[i]);
            int first;
            if (r == NULL) continue;
            if ((first = first_visit(w, r)) <= 0) {
                if (first < 0) return WALK_NOMEM;
                continue;
            }
            if (tail == MAX_CAP_WALK_CUSTOMERS) {
                w->past_bound = 1;
                if (bounded) return WALK_TOO_MANY;
            }
            if (grow((void **)&w->queue, &w->queue_cap, tail + 1,
                     sizeof *w->queue) != 0)
                return WALK_NOMEM;
            w->queue[tail++] = r;
        }
    }
    return (long)n;
}

/* ---- What a call consumes (docs/engine.md 16.3) ---- */

/* The units a call counts: v its value, o its units past the limit, g
 * those grants covered (the first of the overage); with the positions
 * they start from. */
typedef struct call_units {
    lnum v, o, g;
    lnum position;      /* meter - limit before the call */
    lnum over_position; /* where its overage starts: billable(old) */
    lnum overhead;      /* the call's overhead, runes */
    int worth_known;    /* worth: v's runes from position, once asked */
    int worth_status;
    lnum worth;
} call_units;

static void units_of(const decision *d, lnum o, lnum g, lnum overhead,
                     call_units *u)
{
    lnum old = d->v.value;
    lnum limit = d->lim->rule.mode == MODE_OBSERVE ? 0 : d->limit;
    u->v = d->requested;
    u->o = o;
    u->g = g;
    u->position = old - limit;
    u->over_position = old > limit ? old - limit : 0;
    u->overhead = overhead;
    u->worth_known = 0;
}

enum { CONSUMED_OK = 0, CONSUMED_SKIP = -1, CONSUMED_RANGE = -2 };

/* What `units` of the limit's credit from `from` are worth in runes. */
static int runes_of(limitr_engine *e, const decision *d, lnum units, lnum from,
                    lnum *out)
{
    return limitr__credit_to_runes(e->policy, d->lim->credit, units, from, out);
}

/* The call's worth in runes from its position (the same for every cap of
 * the call: worked out once). */
static int call_worth(limitr_engine *e, const decision *d, call_units *u,
                      lnum *out)
{
    if (!u->worth_known) {
        u->worth_status = runes_of(e, d, u->v, u->position, &u->worth);
        u->worth_known = 1;
    }
    *out = u->worth;
    return u->worth_status;
}

/* What the call consumes of k, in k's credit: CONSUMED_OK and *out;
 * CONSUMED_SKIP when k cannot count it (no conversion: the cap does not
 * apply); CONSUMED_RANGE when the amount passes the range of amounts (the
 * gate denies, the commit fills the cap). consumed() below takes the
 * common caps inline. */
static int consumed_any(limitr_engine *e, const decision *d, const spend_cap *k,
                        call_units *u, lnum *out)
{
    const lp_policy *p = e->policy;
    const char *kname = limitr__state_name(&e->st, k->credit);
    int own = k->credit == d->lim->credit_name;
    int rune = k->credit == e->rune_name;
    lnum units, runes, part;
    if (u->v == 0 && (!k->overhead_cost || k->overage_only || k->ignore_grants))
        return CONSUMED_SKIP; /* 0 units move only plain overhead caps */
    if (!own && !k->overhead_cost && !p->credits[d->lim->credit].reaches_runes)
        return CONSUMED_SKIP;
    if (!rune && !own && !limitr__exchange_converts(p, kname))
        return CONSUMED_SKIP;
    if (k->overage_only) {
        /* the overage grants left, priced from after what they paid */
        units = k->ignore_grants ? u->o - u->g : u->o;
        if (units < 0) units = 0;
        if (k->overhead_cost) {
            runes = 0;
            if (units != 0 && (limitr__lnum_mul(u->overhead, units, &runes) ||
                               limitr__lnum_div(runes, u->v, &runes)))
                return CONSUMED_RANGE;
        } else if (own) {
            *out = units;
            return CONSUMED_OK;
        } else if (runes_of(e, d, units,
                            u->over_position + (k->ignore_grants ? u->g : 0),
                            &runes) != 0) {
            return CONSUMED_RANGE;
        }
    } else {
        units = k->ignore_grants ? u->v - u->g : u->v;
        if (k->overhead_cost) {
            runes = u->overhead;
            if (units != u->v &&
                (limitr__lnum_mul(u->overhead, units, &runes) ||
                 limitr__lnum_div(runes, u->v, &runes)))
                return CONSUMED_RANGE;
        } else if (own) {
            *out = units;
            return CONSUMED_OK;
        } else {
            /* the call's worth from its position, less the part grants
               paid (the first of its overage) */
            if (call_worth(e, d, u, &runes) != 0) return CONSUMED_RANGE;
            if (k->ignore_grants && u->g != 0) {
                if (runes_of(e, d, u->g, u->over_position, &part) != 0)
                    return CONSUMED_RANGE;
                runes -= part;
            }
        }
    }
    if (rune) {
        *out = runes;
        return CONSUMED_OK;
    }
    if (runes == 0) {
        *out = 0;
        return CONSUMED_OK;
    }
    return limitr__from_runes(p, kname, runes, 0, out) == 0 ? CONSUMED_OK
                                                            : CONSUMED_RANGE;
}

/* consumed_any, the common cap inline: one that counts the call's whole
 * value, in the limit's own credit or in runes. */
static inline int consumed(limitr_engine *e, const decision *d,
                           const spend_cap *k, call_units *u, lnum *out)
{
    if (u->v == 0 || k->overhead_cost || k->overage_only || k->ignore_grants)
        return consumed_any(e, d, k, u, out);
    if (k->credit == d->lim->credit_name) {
        *out = u->v;
        return CONSUMED_OK;
    }
    if (k->credit != e->rune_name) return consumed_any(e, d, k, u, out);
    if (!e->policy->credits[d->lim->credit].reaches_runes) return CONSUMED_SKIP;
    return call_worth(e, d, u, out) == 0 ? CONSUMED_OK : CONSUMED_RANGE;
}

/* ---- The gate ---- */

/* Whether d's call meets no cap at all without walking: its caller has
 * none, the call passes none, and no ref leads to a shared one. */
static int meets_no_cap(const limitr_engine *e, const decision *d)
{
    return d->caller->n_caps == 0 && e->call_caps == NULL &&
           (d->caller->refs.n == 0 || e->st.d->n_shared_caps == 0);
}

const char limitr__caps_no_memory[] = "out_of_memory";

int limitr__caps_gate(limitr_engine *e, decision *d)
{
    cap_walk *w = &e->walk;
    call_units u;
    lnum old = d->v.value, limit = d->limit, o = 0, g = 0, overhead = 0;
    const lp_credit *cr = &e->policy->credits[d->lim->credit];
    long n, i;
    int ignore = 0;
    if (meets_no_cap(e, d)) return 1;
    if ((n = collect(e, d, BOUNDED)) < 0) { /* never a cap skipped */
        d->gate = "cap";
        d->reason =
            n == WALK_TOO_MANY ? "too_many_caps" : limitr__caps_no_memory;
        return 0;
    }
    if (n == 0 && e->call_caps == NULL) return 1;
    if (d->lim->rule.mode != MODE_OBSERVE && d->new_value > limit)
        o = d->new_value - (old > limit ? old : limit);
    for (i = 0; i < n; i++)
        ignore |= w->refs[i].holder->caps[w->refs[i].i].ignore_grants;
    for (i = 0; e->call_caps != NULL && i < (long)e->call_caps->n; i++)
        ignore |= e->call_caps->caps[i].ignore_grants;
    /* the part grants will cover, for caps that leave it out (gate 6) */
    if (ignore && o > 0 && d->lim->rule.grants_apply &&
        limitr__grants_any(e, d->owner))
        g = limitr__grants_cover(e, d->owner, d->lim->credit, o,
                                 old > limit ? old - limit : 0, d->now, 0);
    /* overhead: opts.overhead, else the credit's rate (a cost function
       runs only at commit) */
    if (d->opts != NULL && d->opts->has_overhead)
        limitr__lnum_from_double(d->opts->overhead, &overhead);
    else if (cr->overhead_cost != 0 &&
             limitr__lnum_mul(d->requested, cr->overhead_cost, &overhead) != 0)
        overhead = LNUM_MAX;
    units_of(d, o, g, overhead, &u);
    d->caps_gate = ++w->gate;
    for (i = 0; i < n; i++) {
        cap_ref *ref = &w->refs[i];
        const spend_cap *k = &ref->holder->caps[ref->i];
        lnum amount, total,
            used = limitr__cap_meter_now(k, d->now) +
                   limitr__held_now(&k->held, d->now);
        int room, status;
        status = consumed(e, d, k, &u, &amount);
        /* what the commit will count, unless it depends on what only the
           commit knows (overhead, grants drawn, overage) */
        ref->has_amount =
            !k->overhead_cost && !k->ignore_grants && !k->overage_only;
        ref->status = status;
        ref->amount = amount;
        if (k->observe_only || status == CONSUMED_SKIP) continue;
        if (k->hard_trailing)
            room = !lnum_le9(k->value, used);
        else
            room = status == CONSUMED_OK &&
                   lnum_add(used, amount, &total) == 0 &&
                   lnum_le9(total, k->value);
        if (!room) {
            d->gate = "cap";
            d->reason = "cap";
            d->cap_holder = w->refs[i].holder;
            d->cap_index = w->refs[i].i;
            return 0;
        }
    }
    /* the call's own caps: from 0, for this call alone */
    for (i = 0; e->call_caps != NULL && i < (long)e->call_caps->n; i++) {
        const spend_cap *k = &e->call_caps->caps[i];
        lnum amount;
        int status;
        if (k->observe_only || k->hard_trailing ||
            !cap_applies(e, k, d->ent->key, d->lim->credit, d->caller->type, 0,
                         d->now))
            continue;
        status = consumed(e, d, k, &u, &amount);
        if (status == CONSUMED_SKIP) continue;
        if (status != CONSUMED_OK || !lnum_le9(amount, k->value)) {
            d->gate = "cap";
            d->reason = "cap";
            d->cap_holder = d->caller;
            d->call_cap = (int)i;
            return 0;
        }
    }
    return 1;
}

/* ---- Events ---- */

static cJSON *strlist_json(const strlist *l)
{
    cJSON *arr = cJSON_CreateArray();
    size_t i;
    for (i = 0; arr != NULL && i < l->n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(l->items[i]));
    return arr;
}

cJSON *limitr__cap_json(limitr_engine *e, const spend_cap *k, int64_t now)
{
    cJSON *j = cJSON_CreateObject();
    int64_t started, last;
    int has_last;
    lnum used = cap_now(k, now, &started, &has_last, &last);
    char buf[48];
    if (j == NULL) return NULL;
    cJSON_AddStringToObject(j, "id", k->id);
    cJSON_AddStringToObject(j, "credit", limitr__state_name(&e->st, k->credit));
    limitr__add_num(j, "value", k->value);
    limitr__add_num(j, "meter_value", used);
    limitr__add_num(j, "held", limitr__held_now(&k->held, now));
    limitr__add_num(j, "remaining", k->value > used ? k->value - used : 0);
    cJSON_AddBoolToObject(j, "exchangeable", k->exchangeable);
    cJSON_AddBoolToObject(j, "overage_only", k->overage_only);
    cJSON_AddBoolToObject(j, "ignore_grants", k->ignore_grants);
    cJSON_AddBoolToObject(j, "observe_only", k->observe_only);
    cJSON_AddBoolToObject(j, "overhead_cost", k->overhead_cost);
    cJSON_AddBoolToObject(j, "follow_decrements", k->follow_decrements);
    cJSON_AddBoolToObject(j, "hard_trailing", k->hard_trailing);
    cJSON_AddBoolToObject(j, "shared", k->shared);
    if (k->shared_with.n > 0)
        cJSON_AddItemToObject(j, "shared_with", strlist_json(&k->shared_with));
    if (k->scope.n > 0)
        cJSON_AddItemToObject(j, "scope", strlist_json(&k->scope));
    cJSON_AddBoolToObject(j, "resets", k->reset != RESET_NONE);
    if (k->reset == RESET_INTERVAL)
        cJSON_AddNumberToObject(j, "reset_inc", (double)k->reset_inc);
    if (k->reset == RESET_SCHEDULE) {
        limitr__schedule_format(&k->sch, buf, sizeof buf);
        cJSON_AddStringToObject(j, "reset_sch", buf);
    }
    cJSON_AddNumberToObject(j, "created_on", (double)k->created_on);
    cJSON_AddNumberToObject(j, "started", (double)started);
    if (has_last) cJSON_AddNumberToObject(j, "last_reset", (double)last);
    if (k->has_expires)
        cJSON_AddNumberToObject(j, "expires_on", (double)k->expires_on);
    return j;
}

cJSON *limitr__caps_json(limitr_engine *e, const customer *c, int64_t now)
{
    cJSON *all = cJSON_CreateArray();
    size_t i;
    for (i = 0; all != NULL && i < c->n_caps; i++) {
        cJSON *one;
        if (cap_expired(&c->caps[i], now)) continue;
        if ((one = limitr__cap_json(e, &c->caps[i], now)) == NULL ||
            !cJSON_AddItemToArray(all, one)) {
            cJSON_Delete(one);
            cJSON_Delete(all);
            return NULL;
        }
    }
    return all;
}

/* The fields cap events share: customer (the holder), caller, entitlement. */
static cJSON *cap_event(limitr_engine *e, const decision *d,
                        const customer *holder)
{
    cJSON *ev = cJSON_CreateObject();
    if (ev == NULL) return NULL;
    cJSON_AddItemToObject(ev, "customer", limitr__customer_snapshot(e, holder));
    cJSON_AddItemToObject(ev, "caller",
                          limitr__customer_snapshot(e, d->caller));
    cJSON_AddStringToObject(ev, "entitlement", d->ent->key);
    return ev;
}

cJSON *limitr__caps_denied_event(limitr_engine *e, const decision *d,
                                 const limitr_call_opts *opts)
{
    const lp_credit *cr = &e->policy->credits[d->lim->credit];
    const spend_cap *k =
        d->call_cap >= 0 && e->call_caps != NULL
            ? &e->call_caps->caps[d->call_cap]
            : (d->cap_holder != NULL ? &d->cap_holder->caps[d->cap_index]
                                     : NULL);
    cJSON *ev, *mt;
    lnum worth, from;
    int plan;
    if (k == NULL || !limitr__listening(e, EV_CAP_LIMIT)) return NULL;
    if ((ev = cap_event(e, d, d->cap_holder)) == NULL) return NULL;
    plan = limitr__resolved_plan(e, d->owner);
    cJSON_AddStringToObject(ev, "plan",
                            e->policy->plans[plan >= 0 ? plan : d->plan].name);
    cJSON_AddItemToObject(ev, "credit", limitr__credit_json(cr));
    cJSON_AddItemToObject(ev, "cap", limitr__cap_json(e, k, d->now));
    if ((mt = cJSON_AddObjectToObject(ev, "meter")) != NULL) {
        limitr__add_num(mt, "value", d->v.value);
        if (d->lim->rule.mode != MODE_OBSERVE)
            limitr__add_num(mt, "limit", d->limit);
        limitr__add_num(mt, "diff", d->requested);
        limitr__add_num(mt, "overhead", d->v.overhead);
        limitr__add_num(mt, "overhead_diff", d->overhead_diff);
        lnum limit = d->lim->rule.mode == MODE_OBSERVE ? 0 : d->limit;
        lnum to = d->new_value > limit ? d->new_value - limit : 0;
        from = d->v.value > limit ? d->v.value - limit : 0;
        if (lp_credit_priced(cr) &&
            limitr__price_of(cr, to - from, from, &worth) == 0)
            limitr__add_num(mt, "price_diff", worth);
    }
    if (opts != NULL && opts->event_json != NULL)
        cJSON_AddItemToObject(ev, "event_data", cJSON_Parse(opts->event_json));
    return ev;
}

/* ---- The commit ---- */

void limitr__caps_remove_expired(limitr_engine *e, customer *c, int64_t now)
{
    size_t i = c->n_caps;
    while (i-- > 0)
        if (cap_expired(&c->caps[i], now)) limitr__cap_remove_at(&e->st, c, i);
}

cap_events *limitr__caps_commit(limitr_engine *e, decision *d, int events_on)
{
    cap_walk *w = &e->walk;
    cJSON **events = NULL;
    int *kinds = NULL;
    const customer **who = NULL;
    cap_events *out = NULL;
    size_t n_events = 0, m;
    call_units u;
    long n, i;
    if ((d->requested == 0 && d->overhead_diff == 0) || meets_no_cap(e, d))
        return NULL;
    limitr__caps_remove_expired(e, d->caller, d->now);
    /* (out of memory: a call that passed the gate walked already, and one
       no cap can refuse has no answer that would undo its write) */
    if ((n = collect(e, d, UNBOUNDED)) < 0) return NULL;
    if (n == 0 && e->call_caps == NULL) return NULL;
    units_of(d, d->overage + d->grant_cover, d->grant_cover, d->overhead_diff,
             &u);
    events_on = events_on && (limitr__listening(e, EV_CUSTOMER_SET) ||
                              limitr__listening(e, EV_CAP_THRESHOLD_CROSSED));
    if (events_on &&
        (out = calloc(1, sizeof *out + (2 * (size_t)n + MAX_CALL_SCOPED_CAPS) *
                                           (sizeof *events + sizeof *who +
                                            sizeof *kinds))) != NULL) {
        size_t room = 2 * (size_t)n + MAX_CALL_SCOPED_CAPS;
        events = (cJSON **)(out + 1);
        who = (const customer **)(events + room);
        kinds = (int *)(who + room);
    }
    for (i = 0; i < n; i++) {
        customer *holder = w->refs[i].holder;
        spend_cap *k = &holder->caps[w->refs[i].i];
        lnum amount, before, after;
        int status;
        cap_persist(k, d->now);
        if (w->refs[i].has_amount && d->caps_gate == w->gate) {
            status = w->refs[i].status; /* this call's gate counted it */
            amount = w->refs[i].amount;
        } else {
            status = consumed(e, d, k, &u, &amount);
        }
        if (status == CONSUMED_SKIP) continue;
        if (status == CONSUMED_RANGE) amount = LNUM_MAX; /* fills it */
        if (amount == 0) continue;
        /* a decrease moves only caps that follow decrements (a volume
           band's negative marginal on an increase always applies) */
        if (amount < 0 && d->requested < 0 && !k->follow_decrements) continue;
        before = k->meter_value;
        if (lnum_add(before, amount, &after) != 0)
            after = amount > 0 ? LNUM_MAX : -LNUM_MAX;
        lnum_store(&k->meter_value, after < 0 ? 0 : after);
        if (out == NULL) continue;
        /* one customer-set per holder other than the meter owner, its
           snapshot taken once every cap moved */
        if (holder != d->owner && limitr__listening(e, EV_CUSTOMER_SET)) {
            for (m = 0; m < n_events &&
                        !(kinds[m] == EV_CUSTOMER_SET && who[m] == holder);
                 m++)
                ;
            if (m == n_events) {
                kinds[n_events] = EV_CUSTOMER_SET;
                who[n_events] = holder;
                events[n_events++] = NULL;
            }
        }
        /* crossing: from below the ceiling to at or above it */
        if (!lnum_le9(k->value, before) && lnum_le9(k->value, k->meter_value) &&
            limitr__listening(e, EV_CAP_THRESHOLD_CROSSED)) {
            cJSON *ev = cap_event(e, d, holder);
            if (ev != NULL) {
                cJSON_AddItemToObject(ev, "cap",
                                      limitr__cap_json(e, k, d->now));
                kinds[n_events] = EV_CAP_THRESHOLD_CROSSED;
                who[n_events] = holder;
                events[n_events++] = ev;
            }
        }
    }
    /* the call's own caps move nothing that lasts: a crossing is told */
    for (i = 0;
         out != NULL && e->call_caps != NULL && i < (long)e->call_caps->n;
         i++) {
        spend_cap *k = &e->call_caps->caps[i];
        lnum amount;
        cJSON *ev;
        if (!cap_applies(e, k, d->ent->key, d->lim->credit, d->caller->type, 0,
                         d->now) ||
            consumed(e, d, k, &u, &amount) != CONSUMED_OK || amount <= 0 ||
            !lnum_le9(k->value, amount) ||
            !limitr__listening(e, EV_CAP_THRESHOLD_CROSSED))
            continue;
        k->meter_value = amount; /* as the event shows it */
        if ((ev = cap_event(e, d, d->caller)) == NULL) continue;
        cJSON_AddItemToObject(ev, "cap", limitr__cap_json(e, k, d->now));
        kinds[n_events] = EV_CAP_THRESHOLD_CROSSED;
        who[n_events] = d->caller;
        events[n_events++] = ev;
    }
    if (out == NULL) return NULL;
    /* every payload is built before the first handler runs: one may change
       or delete any of these customers */
    for (m = 0; m < n_events; m++)
        if (kinds[m] == EV_CUSTOMER_SET)
            events[m] = limitr__customer_snapshot(e, who[m]);
    out->n = n_events;
    out->events = events;
    out->kinds = kinds;
    return out;
}

void limitr__cap_events_fire(limitr_engine *e, cap_events *ce)
{
    size_t m;
    if (ce == NULL) return;
    for (m = 0; m < ce->n; m++)
        limitr__emit(e, (event_kind)ce->kinds[m], ce->events[m]);
    free(ce);
}

/* ---- Reservations ---- */

int limitr__caps_hold(limitr_engine *e, decision *d, lnum overhead,
                      uint64_t hold, int64_t expires, hold_part **parts,
                      size_t *n_parts)
{
    cap_walk *w = &e->walk;
    call_units u;
    lnum o = 0;
    long n, i;
    if (e->st.d->n_caps == 0) return 0;
    if ((n = collect(e, d, UNBOUNDED)) <= 0) return n < 0 ? -1 : 0;
    if (d->lim->rule.mode != MODE_OBSERVE && d->new_value > d->limit)
        o = d->new_value - (d->v.value > d->limit ? d->v.value : d->limit);
    units_of(d, o, 0, overhead, &u);
    for (i = 0; i < n; i++) {
        customer *holder = w->refs[i].holder;
        spend_cap *k = &holder->caps[w->refs[i].i];
        lnum amount;
        hold_part *part;
        if (k->observe_only || consumed(e, d, k, &u, &amount) != CONSUMED_OK ||
            amount <= 0)
            continue;
        if ((part = limitr__hold_part_new(&e->st, parts, n_parts)) == NULL)
            return -1;
        part->is_cap = 1;
        part->holder = limitr__st_strdup(&e->st, holder->id, holder->id_len);
        part->id = limitr__st_strdup(&e->st, k->id, k->id_len);
        part->amount = amount;
        if (part->holder == NULL || part->id == NULL) return -1;
        if (limitr__held_add(&e->st, &k->held, hold, expires, amount) != 0)
            return -1;
    }
    return 0;
}
