/* grants.c: grants at work (docs/engine.md 15). A grant is read as it is
 * now (expiry and due resets applied in the view); only calls that write
 * store that. Every loop here is over one customer's grants, at most
 * MAX_CUSTOMER_GRANTS, or over one plan's top-ups. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "grants.h"

int limitr__grant_resets_now(const grant *g, int64_t now, lnum *balance,
                             int64_t *steps, int64_t *latest)
{
    int64_t cap = g->rule.catchup_cap, k, applied;
    *balance = g->value;
    *steps = 0;
    *latest = g->last_reset;
    if (g->has_expires && now > g->expires_on) return 0;
    /* counted even with a catch-up cap of 0: last_reset still moves on */
    k = limitr__grant_boundaries(&g->rule, g->last_reset, now,
                                 cap < 0 ? INT64_MAX : (cap > 0 ? cap : 1),
                                 latest);
    applied = cap >= 0 && cap < k ? cap : k;
    if (applied > 0)
        *balance =
            limitr__grant_reset(&g->rule, g->value, g->starting_value, applied);
    *steps = k;
    return 1;
}

/* The top-up of g in c's plan, or NULL (host-made, or gone). */
static const lp_topup *topup_of(limitr_engine *e, const customer *c,
                                const grant *g, int *plan)
{
    *plan = limitr__resolved_plan(e, c);
    if (g->topup < 0 || *plan < 0) return NULL;
    return limitr__plan_topup(&e->policy->plans[*plan],
                              limitr__state_name(&e->st, g->topup));
}

int limitr__topup_grant_usable(limitr_engine *e, const customer *c,
                               const grant *g)
{
    int plan;
    const lp_topup *t = topup_of(e, c, g, &plan);
    return t != NULL &&
           (!t->included || limitr__topup_included_for(t, c->type));
}

/* Stores the resets due in c's grants (indexes unchanged). */
static void resets_in_place(customer *c, int64_t now)
{
    size_t i;
    for (i = 0; i < c->n_grants; i++) {
        grant *g = &c->grants[i];
        lnum bal;
        int64_t steps, latest;
        if (limitr__grant_now(g, now, &bal, &steps, &latest) && steps > 0) {
            g->value = bal;
            g->last_reset = g->granted_on = latest;
        }
    }
}

/* Removes c's expired grants and those spent that never refill. */
static void remove_spent(limitr_engine *e, customer *c, int64_t now)
{
    size_t i = c->n_grants;
    while (i-- > 0) {
        const grant *g = &c->grants[i];
        if ((g->has_expires && now > g->expires_on) ||
            (g->rule.reset == RESET_NONE && g->value <= 0))
            limitr__grant_remove_at(&e->st, c, i);
    }
}

void limitr__grants_refresh(limitr_engine *e, customer *c, int64_t now)
{
    resets_in_place(c, now);
    remove_spent(e, c, now);
}

/* ---- Making grants ---- */

/* "<plan>.<topup>", the name that records an included top-up given, into
 * key; its length, or -1 when it does not fit. */
static int included_name(limitr_engine *e, int plan, const lp_topup *t,
                         char *key, size_t size)
{
    int n = snprintf(key, size, "%s.%s", e->policy->plans[plan].name, t->name);
    return n < 0 || (size_t)n >= size ? -1 : n;
}

/* What c is owed of the included top-up t of its plan (step 4 of the
 * reconciliation), writing nothing: OWED when it is for c's type, not
 * received on this plan and no grant of it is held; HELD when a grant of it
 * is held instead (kept through a plan change, or sold): that grant stands
 * for it; else NOT_OWED. */
enum { NOT_OWED, OWED, HELD };
static int owes(limitr_engine *e, const customer *c, int plan,
                const lp_topup *t)
{
    char key[512];
    int n, name, topup;
    size_t k;
    if (t->name == NULL || t->credit < 0 ||
        !limitr__topup_included_for(t, c->type))
        return NOT_OWED;
    if ((n = included_name(e, plan, t, key, sizeof key)) < 0) return NOT_OWED;
    name = limitr__state_name_find(&e->st, key, (size_t)n);
    if (name >= 0 && limitr__included_has(c, name)) return NOT_OWED;
    topup = limitr__state_name_find(&e->st, t->name, strlen(t->name));
    for (k = 0; topup >= 0 && k < c->n_grants; k++)
        if (c->grants[k].topup == topup) return HELD;
    return OWED;
}

/* g's fields from its top-up t (what step 3 of the reconciliation keeps
 * current); its balance and dates stay. */
static void follow_topup(limitr_engine *e, grant *g, const lp_topup *t)
{
    g->credit = e->credit_names[t->credit];
    g->starting_value = t->value;
    g->rule = t->rule;
    g->has_expires = t->expires_after > 0;
    g->expires_on = g->has_expires ? g->created_on + t->expires_after : 0;
}

int limitr__grant_topup(limitr_engine *e, customer *c, const lp_topup *t,
                        int64_t now, int *full)
{
    grant g;
    char id[320];
    int n, topup;
    uint64_t seq = e->st.d->next_grant; /* kept when the grant is not */
    *full = c->n_grants >= MAX_CUSTOMER_GRANTS;
    if (*full) return -1;
    topup = limitr__state_intern(&e->st, t->name, strlen(t->name));
    if (topup < 0) return -1;
    do { /* <topup>-<n>, skipping ids the host took */
        n = snprintf(id, sizeof id, "%s-%llu", t->name,
                     (unsigned long long)++e->st.d->next_grant);
    } while (limitr__grant_find(c, id) != NULL);
    memset(&g, 0, sizeof g);
    g.id = id;
    g.id_len = (size_t)n;
    g.topup = topup;
    g.created_on = g.granted_on = g.last_reset = now;
    follow_topup(e, &g, t);
    g.value = t->value;
    if (limitr__grant_add(&e->st, c, &g) == 0) return 0;
    e->st.d->next_grant = seq;
    return -1;
}

/* Field by field: a struct's padding says nothing. */
static int same_rule(const grant_rule *a, const grant_rule *b)
{
    return a->reset == b->reset && a->reset_inc == b->reset_inc &&
           a->sch.kind == b->sch.kind && a->sch.n == b->sch.n &&
           a->sch.weekday == b->sch.weekday && a->sch.month == b->sch.month &&
           a->sch.day == b->sch.day && a->mode == b->mode &&
           a->has_rollover_min == b->has_rollover_min &&
           a->has_rollover_max == b->has_rollover_max &&
           a->has_rollover_pct == b->has_rollover_pct &&
           a->has_max_balance == b->has_max_balance &&
           a->rollover_min == b->rollover_min &&
           a->rollover_max == b->rollover_max &&
           a->rollover_pct == b->rollover_pct &&
           a->max_balance == b->max_balance && a->catchup_cap == b->catchup_cap;
}

int limitr__grants_reconcile(limitr_engine *e, customer *c, int64_t now,
                             int *changed)
{
    int plan = limitr__resolved_plan(e, c), full;
    const lp_plan *p = plan >= 0 ? &e->policy->plans[plan] : NULL;
    size_t i = c->n_grants;
    *changed = 0;
    while (i > 0 && c->grants[i - 1].topup < 0) /* host-made: not its work */
        i--;
    /* 1-3: top-up grants follow the plan, or leave with their top-up */
    while (i-- > 0) {
        grant *g = &c->grants[i];
        const lp_topup *t;
        grant before;
        if (g->topup < 0) continue;
        t = p != NULL
                ? limitr__plan_topup(p, limitr__state_name(&e->st, g->topup))
                : NULL;
        if (t == NULL ||
            (t->included && !limitr__topup_included_for(t, c->type))) {
            limitr__grant_remove_at(&e->st, c, i);
            *changed = 1;
            continue;
        }
        before = *g;
        follow_topup(e, g, t);
        if (before.credit != g->credit ||
            before.starting_value != g->starting_value ||
            !same_rule(&before.rule, &g->rule) ||
            before.has_expires != g->has_expires ||
            before.expires_on != g->expires_on)
            *changed = 1;
    }
    /* 4: each included top-up not yet given on this plan; one whose grant
       the customer holds counts as given (so that once that grant is spent
       and gone, no second one follows: reads answered so) */
    for (i = 0; p != NULL && p->has_included && i < p->n_topups; i++) {
        const lp_topup *t = &p->topups[i];
        char key[512];
        int n, name, due = owes(e, c, plan, t);
        if (due == NOT_OWED) continue;
        if ((n = included_name(e, plan, t, key, sizeof key)) < 0 ||
            (name = limitr__state_intern(&e->st, key, (size_t)n)) < 0 ||
            (due == OWED && limitr__grant_reserve(&e->st, c) != 0) ||
            limitr__included_add(&e->st, c, name) != 0)
            return -1;
        if (due == OWED && limitr__grant_topup(e, c, t, now, &full) != 0) {
            c->n_included--;    /* not given after all */
            if (full) continue; /* no room: given when there is */
            return -1;
        }
        *changed = 1;
    }
    return 0;
}

/* ---- Drawing ---- */

typedef draw_candidate candidate;

/* The draw order (docs/engine.md 15.3): the exact credit first; then the
 * strategy; then the oldest; then the id. */
static int before(const candidate *a, const candidate *b, grant_strategy s)
{
    const grant *ga = a->g, *gb = b->g;
    size_t n;
    int cmp;
    if (a->preferred != b->preferred) return a->preferred;
    if (a->exact != b->exact) return a->exact;
    if (s == GRANTS_EXPIRES_FIRST && ga->has_expires != gb->has_expires)
        return ga->has_expires;
    if (s == GRANTS_EXPIRES_FIRST && ga->has_expires &&
        ga->expires_on != gb->expires_on)
        return ga->expires_on < gb->expires_on;
    if (s != GRANTS_EXPIRES_FIRST && a->unit_runes != b->unit_runes)
        return s == GRANTS_CHEAPEST_FIRST ? a->unit_runes < b->unit_runes
                                          : a->unit_runes > b->unit_runes;
    if (ga->created_on != gb->created_on)
        return ga->created_on < gb->created_on;
    n = ga->id_len < gb->id_len ? ga->id_len : gb->id_len;
    cmp = memcmp(ga->id, gb->id, n);
    return cmp != 0 ? cmp < 0 : ga->id_len < gb->id_len;
}

/* The included top-ups c is owed (owes()), as the grants the next writing
 * call will make of them, into out; how many. A plan includes at most
 * MAX_INCLUDED_TOPUPS (checked at load). */
static size_t owed(limitr_engine *e, const customer *c, int64_t now, grant *out)
{
    int plan = limitr__resolved_plan(e, c);
    const lp_plan *p = plan >= 0 ? &e->policy->plans[plan] : NULL;
    size_t i, n = 0;
    for (i = 0;
         p != NULL && p->has_included && i < p->n_topups &&
         n < MAX_INCLUDED_TOPUPS && c->n_grants + n < MAX_CUSTOMER_GRANTS;
         i++) {
        const lp_topup *t = &p->topups[i];
        grant *g = &out[n];
        if (owes(e, c, plan, t) != OWED) continue;
        memset(g, 0, sizeof *g);
        g->id = t->name; /* what orders it among equals; never stored */
        g->id_len = strlen(t->name);
        g->topup = -1; /* usable by construction */
        g->created_on = g->granted_on = g->last_reset = now;
        follow_topup(e, g, t);
        g->value = t->value;
        n++;
    }
    return n;
}

/* Adds g to the draw order in out[0..*n) if it may pay for the policy
 * credit `credit`. *convertible: whether that credit reaches runes, -1
 * until a grant in another credit asks (most draws never do). */
static inline __attribute__((always_inline)) void
consider(limitr_engine *e, const customer *c, int credit, int *convertible,
         const grant *g, size_t i, int64_t now, candidate *out, size_t *n)
{
    const lp_policy *p = e->policy;
    candidate *cd = &out[*n]; /* filled in place: no copy when it is last */
    int64_t steps, latest;
    size_t k;
    if (!limitr__grant_now(g, now, &cd->balance, &steps, &latest) ||
        (cd->balance -= limitr__held_now(&g->held, now)) <= 0 ||
        !limitr__grant_usable(e, c, g))
        return; /* what reservations set aside is not free */
    cd->g = g;
    cd->i = i;
    cd->exact = g->credit == e->credit_names[credit];
    cd->preferred = 0;
    if (e->settle != NULL && c == e->settle->owner &&
        e->delivering == e->settle->depth)
        for (k = 0; k < e->settle->n; k++)
            if (strlen(e->settle->ids[k]) == g->id_len &&
                memcmp(e->settle->ids[k], g->id, g->id_len) == 0)
                cd->preferred = 1;
    cd->unit_runes = 0;
    if (!cd->exact) {
        if (*convertible < 0) *convertible = p->credits[credit].reaches_runes;
        if (!*convertible ||
            limitr__to_runes(p, limitr__state_name(&e->st, g->credit),
                             LNUM_SCALE, 0, &cd->unit_runes) != 0)
            return; /* unconvertible: ignored for this limit */
    }
    /* insertion sort: at most MAX_CUSTOMER_GRANTS */
    for (k = *n; k > 0 && before(&out[k], &out[k - 1], p->grant_strategy);
         k--) {
        candidate t = out[k];
        out[k] = out[k - 1];
        out[k - 1] = t;
    }
    (*n)++;
}

/* c's grants (and, in a view, the ones it is owed) that may pay for the
 * policy credit `credit`, in draw order; returns how many. */
static size_t candidates(limitr_engine *e, const customer *c, int credit,
                         int64_t now, const grant *owed_grants, size_t n_owed,
                         candidate *out)
{
    int convertible = -1;
    size_t i, n = 0;
    for (i = 0; i < c->n_grants; i++)
        consider(e, c, credit, &convertible, &c->grants[i], i, now, out, &n);
    for (i = 0; i < n_owed; i++)
        consider(e, c, credit, &convertible, &owed_grants[i], SIZE_MAX, now,
                 out, &n);
    return n;
}

/* Works out the draw of `overage` (docs/engine.md 15.3) over c's grants
 * and the owed ones into *plan (the balances after it); nothing changes.
 * Returns what it covers. */
static lnum plan_draw(limitr_engine *e, const customer *c, int credit,
                      lnum overage, lnum pos, int64_t now,
                      const grant *owed_grants, size_t n_owed, draw_plan *plan)
{
    const lp_policy *p = e->policy;
    const char *lname = p->credits[credit].name;
    candidate *cands = plan->cands;
    size_t n, k;
    lnum uncovered = overage, covered = 0;
    plan->n = 0;
    if (c->n_grants == 0 && n_owed == 0) return 0;
    n = candidates(e, c, credit, now, owed_grants, n_owed, cands);
    for (k = 0; k < n && !lnum_le9(uncovered, 0); k++) {
        const candidate *cd = &cands[k];
        const char *gname = limitr__state_name(&e->st, cd->g->credit);
        lnum need = uncovered, runes, worth = cd->balance, part;
        draw_step *step = &plan->steps[plan->n];
        if (!cd->exact &&
            (limitr__to_runes(p, lname, uncovered, pos, &runes) != 0 ||
             limitr__from_runes(p, gname, runes, 0, &need) != 0))
            continue;
        if (need < 0) need = 0;
        step->i = cd->i;
        if (need < cd->balance) { /* this grant covers the rest */
            step->value =
                cd->balance - need + limitr__held_now(&cd->g->held, now);
            plan->n++;
            covered += uncovered;
            break;
        }
        /* the whole balance, worth `worth` units of the limit's credit */
        if (!cd->exact &&
            (limitr__to_runes(p, gname, cd->balance, 0, &runes) != 0 ||
             limitr__from_runes(p, lname, runes, pos, &worth) != 0))
            continue;
        part = worth < uncovered ? worth : uncovered;
        if (part < 0) part = 0;
        step->value = limitr__held_now(&cd->g->held, now); /* set aside */
        plan->n++;
        covered += part;
        uncovered -= part;
        pos += part;
    }
    return covered;
}

/* Writes a plan's balances (made on c's grants as they are now). */
static void apply_draw(customer *c, const draw_plan *plan)
{
    size_t k;
    for (k = 0; k < plan->n; k++)
        c->grants[plan->steps[k].i].value = plan->steps[k].value;
}

/* Whether the reconciliation has anything to look at: top-up grants, or
 * a plan that includes top-ups. */
static int has_topup_work(limitr_engine *e, const customer *c)
{
    int plan = e->policy->any_included ? limitr__resolved_plan(e, c) : -1;
    size_t i;
    if (plan >= 0 && e->policy->plans[plan].has_included) return 1;
    for (i = 0; i < c->n_grants; i++)
        if (c->grants[i].topup >= 0) return 1;
    return 0;
}

lnum limitr__grants_cover(limitr_engine *e, customer *c, int credit,
                          lnum overage, lnum pos, int64_t now, int write)
{
    draw_plan *plan = &e->draw;
    grant *owed_grants = plan->owed;
    lnum covered;
    int changed, decided;
    if (overage <= 0) return 0;
    if (!write) { /* decide: the plan is kept for the commit */
        size_t n_owed =
            e->policy->any_included ? owed(e, c, now, owed_grants) : 0;
        covered = plan_draw(e, c, credit, overage, pos, now, owed_grants,
                            n_owed, plan);
        plan->valid = 1;
        plan->c = c;
        plan->credit = credit;
        plan->overage = overage;
        plan->pos = pos;
        plan->covered = covered;
        plan->now = now;
        plan->epoch = e->st.d->epoch;
        plan->n_grants = c->n_grants;
        plan->n_owed = n_owed;
        return covered;
    }
    /* the decided draw stands if nothing moved since, and the
       reconciliation, run first as on the long way, changes nothing (a
       held grant that stands for an included top-up is recorded as given
       before the draw may spend it, else it would be owed again) */
    decided = plan->valid && plan->c == c && plan->credit == credit &&
              plan->overage == overage && plan->pos == pos &&
              plan->now == now && plan->epoch == e->st.d->epoch &&
              plan->n_grants == c->n_grants && plan->n_owed == 0;
    if (decided && has_topup_work(e, c) &&
        (limitr__grants_reconcile(e, c, now, &changed) != 0 || changed))
        decided = 0; /* planned again on what it left */
    if (decided) {
        /* the decided draw, on the grants it was made on: only the grants
           drawn are written (with the resets their balances counted) */
        size_t k, drained[MAX_CUSTOMER_GRANTS], n_drained = 0;
        for (k = 0; k < plan->n; k++) {
            grant *g = &c->grants[plan->steps[k].i];
            lnum bal;
            int64_t steps, latest;
            if (limitr__grant_now(g, now, &bal, &steps, &latest) && steps > 0)
                g->last_reset = g->granted_on = latest;
            g->value = plan->steps[k].value;
            if (g->value <= 0 && g->rule.reset == RESET_NONE)
                drained[n_drained++] = plan->steps[k].i;
        }
        while (n_drained > 0) { /* highest index first */
            size_t hi = 0, j;
            for (j = 1; j < n_drained; j++)
                if (drained[j] > drained[hi]) hi = j;
            limitr__grant_remove_at(&e->st, c, drained[hi]);
            drained[hi] = drained[--n_drained];
        }
        plan->valid = 0;
        return plan->covered;
    } else {
        /* what the view counted as owed is granted first */
        if (limitr__grants_reconcile(e, c, now, &changed) != 0) {
            plan->valid = 0;
            return 0;
        }
        resets_in_place(c, now);
        remove_spent(e, c, now);
        covered = plan_draw(e, c, credit, overage, pos, now, NULL, 0, plan);
        apply_draw(c, plan);
    }
    plan->valid = 0;
    remove_spent(e, c, now);
    return covered;
}

/* Adds what g holds now to the exact sum (its credit is name_id) or to
 * the runes pooled from the others. */
static void add_worth(limitr_engine *e, const customer *c, const grant *g,
                      int name_id, int64_t now, lnum *exact, lnum *runes)
{
    lnum bal, r;
    int64_t steps, latest;
    if (!limitr__grant_now(g, now, &bal, &steps, &latest) ||
        (bal -= limitr__held_now(&g->held, now)) <= 0 ||
        !limitr__grant_usable(e, c, g))
        return;
    if (g->credit == name_id) {
        if (lnum_add(*exact, bal, exact) != 0) *exact = LNUM_MAX;
    } else {
        const char *gname = limitr__state_name(&e->st, g->credit);
        /* a conversion of a credit that converts fails only past the range
           of amounts: the read counts the most an amount can be */
        if (limitr__to_runes(e->policy, gname, bal, 0, &r) != 0)
            r = limitr__exchange_converts(e->policy, gname) ? LNUM_MAX : 0;
        *runes = lnum_add_sat(*runes, r);
    }
}

lnum limitr__grants_worth(limitr_engine *e, const customer *c, const char *name,
                          lnum pos, int64_t now)
{
    grant owed_grants[MAX_INCLUDED_TOPUPS];
    lnum exact = 0, runes = 0, converted = 0, at, total;
    size_t i, n_owed = owed(e, c, now, owed_grants);
    int name_id = limitr__state_name_find(&e->st, name, strlen(name));
    for (i = 0; i < c->n_grants; i++)
        add_worth(e, c, &c->grants[i], name_id, now, &exact, &runes);
    for (i = 0; i < n_owed; i++)
        add_worth(e, c, &owed_grants[i], name_id, now, &exact, &runes);
    if (runes > 0 &&
        (lnum_add(pos, exact, &at) != 0 ||
         limitr__from_runes(e->policy, name, runes, at, &converted) != 0))
        converted = limitr__exchange_converts(e->policy, name) ? LNUM_MAX : 0;
    return lnum_add(exact, converted, &total) == 0 ? total : LNUM_MAX;
}

int limitr__grants_included(limitr_engine *e, const customer *c)
{
    int plan = limitr__resolved_plan(e, c);
    return plan >= 0 && e->policy->plans[plan].has_included;
}

/* ---- JSON ---- */

cJSON *limitr__grant_json(limitr_engine *e, const grant *g, int64_t now)
{
    cJSON *j = cJSON_CreateObject();
    lnum bal;
    int64_t steps, latest;
    char buf[48];
    const grant_rule *r = &g->rule;
    if (j == NULL) return NULL;
    limitr__grant_now(g, now, &bal, &steps, &latest);
    cJSON_AddStringToObject(j, "id", g->id);
    cJSON_AddStringToObject(j, "credit", limitr__state_name(&e->st, g->credit));
    if (g->topup >= 0)
        cJSON_AddStringToObject(j, "topup",
                                limitr__state_name(&e->st, g->topup));
    cJSON_AddNumberToObject(j, "created_on", (double)g->created_on);
    cJSON_AddNumberToObject(j, "granted_on",
                            (double)(steps > 0 ? latest : g->granted_on));
    limitr__add_num(j, "starting_value", g->starting_value);
    limitr__add_num(j, "value", bal);
    if (g->has_expires)
        cJSON_AddNumberToObject(j, "expires_on", (double)g->expires_on);
    cJSON_AddBoolToObject(j, "resets", r->reset != RESET_NONE);
    if (r->reset == RESET_INTERVAL)
        cJSON_AddNumberToObject(j, "reset_inc", (double)r->reset_inc);
    if (r->reset == RESET_SCHEDULE) {
        limitr__schedule_format(&r->sch, buf, sizeof buf);
        cJSON_AddStringToObject(j, "reset_sch", buf);
    }
    if (r->reset != RESET_NONE) {
        cJSON_AddStringToObject(j, "reset_mode",
                                limitr__grant_reset_mode_names[r->mode]);
        cJSON_AddNumberToObject(j, "last_reset", (double)latest);
    }
    if (r->has_rollover_min)
        limitr__add_num(j, "rollover_min", r->rollover_min);
    if (r->has_rollover_max)
        limitr__add_num(j, "rollover_max", r->rollover_max);
    if (r->has_rollover_pct)
        limitr__add_num(j, "rollover_pct", r->rollover_pct);
    if (r->has_max_balance) limitr__add_num(j, "max_balance", r->max_balance);
    if (r->catchup_cap >= 0)
        cJSON_AddNumberToObject(j, "reset_catchup_cap", (double)r->catchup_cap);
    return j;
}

cJSON *limitr__grants_json(limitr_engine *e, const customer *c, int64_t now)
{
    cJSON *all = cJSON_CreateArray();
    size_t i;
    for (i = 0; all != NULL && i < c->n_grants; i++) {
        lnum bal;
        int64_t steps, latest;
        cJSON *one;
        if (!limitr__grant_now(&c->grants[i], now, &bal, &steps, &latest))
            continue; /* expired: gone for every reader */
        if ((one = limitr__grant_json(e, &c->grants[i], now)) == NULL ||
            !cJSON_AddItemToArray(all, one)) {
            cJSON_Delete(one);
            cJSON_Delete(all);
            return NULL;
        }
    }
    return all;
}

/* ---- Reservations ---- */

int limitr__grants_set_aside(limitr_engine *e, customer *c, int credit,
                             lnum overage, lnum pos, int64_t now, uint64_t hold,
                             int64_t expires, hold_part **parts,
                             size_t *n_parts)
{
    draw_plan *plan = &e->draw;
    size_t k;
    int changed;
    if (overage <= 0 || (c->n_grants == 0 && !limitr__grants_any(e, c)))
        return 0;
    /* the included top-ups owed are granted first (a reserve writes) */
    if (limitr__grants_reconcile(e, c, now, &changed) != 0) return -1;
    resets_in_place(c, now);
    plan_draw(e, c, credit, overage, pos, now, NULL, 0, plan);
    plan->valid = 0;
    for (k = 0; k < plan->n; k++) {
        grant *g = &c->grants[plan->steps[k].i];
        lnum amount = g->value - plan->steps[k].value;
        hold_part *part;
        if (amount <= 0) continue;
        if ((part = limitr__hold_part_new(&e->st, parts, n_parts)) == NULL)
            return -1;
        part->id = limitr__st_strdup(&e->st, g->id, g->id_len);
        part->amount = amount;
        if (part->id == NULL) return -1;
        if (limitr__held_add(&e->st, &g->held, hold, expires, amount) != 0)
            return -1;
    }
    return 0;
}
