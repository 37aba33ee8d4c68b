/* caps.c: spend caps at work (docs/economy.md 6). A call meets the caller's
 * own caps and the shared caps of the customers its refs lead to; each
 * applies when its scope lists the entitlement and it can count the call's
 * credit. Gates 5-6 check room, the commit adds what the call consumed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "caps.h"
#include "grants.h"

/* One cap a call meets. */
typedef struct cap_ref {
    customer *holder;
    size_t i; /* in holder->caps */
} cap_ref;

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
        /* the first period starts at the first use (docs/economy.md 12.5) */
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
    return cap_now(k, now, &started, &has_last, &last);
}

/* Stores what time did to k (a writing call). */
static void cap_persist(spend_cap *k, int64_t now)
{
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

/* The caps d's call meets, into out (at most MAX_CALL_CAPS): the caller's
 * own, then breadth first through its refs (each customer once) the shared
 * ones. The number, or -1 past the bound. */
static int collect(limitr_engine *e, const decision *d, cap_ref *out)
{
    customer *queue[MAX_CALL_CAPS];
    size_t head = 0, tail = 0, n = 0, i, j;
    const char *ent = d->ent->key;
    int credit = d->lim->credit;
    queue[tail++] = d->caller;
    while (head < tail) {
        customer *c = queue[head];
        for (i = 0; i < c->n_caps; i++) {
            if (!cap_applies(e, &c->caps[i], ent, credit, d->caller->type,
                             head > 0, d->now))
                continue;
            if (n == MAX_CALL_CAPS) return -1;
            out[n].holder = c;
            out[n].i = i;
            n++;
        }
        head++;
        for (i = 0; i < c->refs.n; i++) {
            customer *r = limitr__customer_lookup(e, c->refs.items[i]);
            int seen = 0;
            if (r == NULL) continue;
            for (j = 0; j < tail && !seen; j++)
                seen = queue[j] == r;
            if (seen) continue;
            if (tail == MAX_CALL_CAPS) return -1;
            queue[tail++] = r;
        }
    }
    return (int)n;
}

/* ---- What a call consumes (docs/economy.md 6.3) ---- */

/* The units a call counts: v its value, o its units past the limit, g
 * those grants covered; with the position they start from. */
typedef struct call_units {
    lnum v, o, g;
    lnum position;      /* meter - limit before the call */
    lnum over_position; /* where its overage starts: billable(old) */
    lnum overhead;      /* the call's overhead, runes */
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
}

/* What the call consumes of k, in k's credit: 0 and *out, or -1 when k
 * cannot count it (no conversion: the cap does not apply). */
static int consumed(limitr_engine *e, const decision *d, const spend_cap *k,
                    const call_units *u, lnum *out)
{
    const lp_policy *p = e->policy;
    const char *lname = p->credits[d->lim->credit].name;
    const char *kname = limitr__state_name(&e->st, k->credit);
    lnum units = k->overage_only ? u->o : u->v, from, runes;
    from = k->overage_only ? u->over_position : u->position;
    if (k->ignore_grants) units -= u->g;
    if (k->overage_only && units < 0) units = 0;
    if (k->overhead_cost) {
        /* the call's overhead for the units counted, not their price */
        if (u->v == 0 || units == u->v)
            runes = u->overhead;
        else if (limitr__lnum_mul(u->overhead, units, &runes) != 0 ||
                 limitr__lnum_div(runes, u->v, &runes) != 0)
            return -1;
    } else if (k->credit == e->credit_names[d->lim->credit]) {
        *out = units; /* its own credit: unit for unit */
        return 0;
    } else if (limitr__to_runes(p, lname, units, from, &runes) != 0) {
        return -1;
    }
    if (strcmp(kname, "rune") == 0) {
        *out = runes;
        return 0;
    }
    return limitr__from_runes(p, kname, runes, 0, out);
}

/* ---- The gate ---- */

int limitr__caps_gate(limitr_engine *e, decision *d)
{
    cap_ref refs[MAX_CALL_CAPS];
    call_units u;
    lnum old = d->v.value, limit = d->limit, o = 0, g = 0, overhead = 0;
    const lp_credit *cr = &e->policy->credits[d->lim->credit];
    int n, i, ignore = 0;
    if (d->caller->n_caps == 0 && d->caller->refs.n == 0) return 1;
    if ((n = collect(e, d, refs)) < 0) { /* never a cap skipped */
        d->gate = "cap";
        d->reason = "too_many_caps";
        d->cap_holder = NULL;
        return 0;
    }
    if (n == 0) return 1;
    if (d->lim->rule.mode != MODE_OBSERVE && d->new_value > limit)
        o = d->new_value - (old > limit ? old : limit);
    for (i = 0; i < n; i++)
        ignore |= refs[i].holder->caps[refs[i].i].ignore_grants;
    /* the part grants will cover, for caps that leave it out (gate 6) */
    if (ignore && o > 0 && d->lim->rule.grants_apply &&
        limitr__grants_any(e, d->owner))
        g = limitr__grants_cover(e, d->owner, d->lim->credit, o,
                                 o > 0 ? (old > limit ? old - limit : 0) : 0,
                                 d->now, 0);
    /* the gate prices overhead at the credit's rate (the cost function
       runs at commit) */
    if (cr->overhead_cost != 0 &&
        limitr__lnum_mul(d->requested, cr->overhead_cost, &overhead) != 0)
        overhead = 0;
    units_of(d, o, g, overhead, &u);
    for (i = 0; i < n; i++) {
        const spend_cap *k = &refs[i].holder->caps[refs[i].i];
        lnum amount, used = limitr__cap_meter_now(k, d->now), total;
        int room;
        if (k->observe_only || consumed(e, d, k, &u, &amount) != 0) continue;
        if (k->hard_trailing)
            room = !lnum_le9(k->value, used);
        else
            room = lnum_add(used, amount, &total) == 0 &&
                   lnum_le9(total, k->value);
        if (!room) {
            d->gate = "cap";
            d->reason = "cap";
            d->cap_holder = refs[i].holder;
            d->cap_index = refs[i].i;
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

void limitr__caps_denied(limitr_engine *e, const decision *d,
                         const limitr_call_opts *opts)
{
    const lp_credit *cr = &e->policy->credits[d->lim->credit];
    const spend_cap *k = &d->cap_holder->caps[d->cap_index];
    cJSON *ev, *mt;
    lnum worth, from;
    int plan;
    if (!limitr__listening(e, EV_CAP_LIMIT)) return;
    if ((ev = cap_event(e, d, d->cap_holder)) == NULL) return;
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
    limitr__emit(e, EV_CAP_LIMIT, ev);
}

/* ---- The commit ---- */

cap_events *limitr__caps_commit(limitr_engine *e, decision *d, int events_on)
{
    cap_ref refs[MAX_CALL_CAPS];
    const customer *moved[MAX_CALL_CAPS];
    cJSON **events = NULL;
    int *kinds = NULL;
    cap_events *out;
    size_t n_moved = 0, n_events = 0, m;
    call_units u;
    int n, i;
    if (e->st.d->n_caps == 0 || d->requested == 0) return NULL;
    if ((n = collect(e, d, refs)) <= 0) return NULL;
    if ((out = calloc(1, sizeof *out + 2 * (size_t)n *
                                           (sizeof *events + sizeof *kinds))) ==
        NULL)
        return NULL; /* out of memory: the caps still move, unannounced */
    events = (cJSON **)(out + 1);
    kinds = (int *)(events + 2 * n);
    units_of(d, d->overage + d->grant_cover, d->grant_cover, d->overhead_diff,
             &u);
    for (i = 0; i < n; i++) {
        spend_cap *k = &refs[i].holder->caps[refs[i].i];
        lnum amount, before, after;
        cap_persist(k, d->now);
        if (consumed(e, d, k, &u, &amount) != 0 || amount == 0) continue;
        /* a decrease moves only caps that follow decrements (a volume
           band's negative marginal on an increase always applies) */
        if (amount < 0 && d->requested < 0 && !k->follow_decrements) continue;
        before = k->meter_value;
        if (lnum_add(before, amount, &after) != 0)
            after = amount > 0 ? LNUM_MAX : -LNUM_MAX;
        k->meter_value = after < 0 ? 0 : after;
        if (refs[i].holder != d->owner) {
            for (m = 0; m < n_moved && moved[m] != refs[i].holder; m++)
                ;
            if (m == n_moved) moved[n_moved++] = refs[i].holder;
        }
        /* crossing: from below the ceiling to at or above it */
        if (events_on && !lnum_le9(k->value, before) &&
            lnum_le9(k->value, k->meter_value) &&
            limitr__listening(e, EV_CAP_THRESHOLD_CROSSED)) {
            cJSON *ev = cap_event(e, d, refs[i].holder);
            if (ev != NULL) {
                cJSON_AddItemToObject(ev, "cap",
                                      limitr__cap_json(e, k, d->now));
                kinds[n_events] = EV_CAP_THRESHOLD_CROSSED;
                events[n_events++] = ev;
            }
        }
    }
    for (m = 0; events_on && m < n_moved; m++)
        if (limitr__listening(e, EV_CUSTOMER_SET)) {
            kinds[n_events] = EV_CUSTOMER_SET;
            events[n_events++] = limitr__customer_snapshot(e, moved[m]);
        }
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
