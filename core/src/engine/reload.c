/* reload.c: a new policy under live customer state (docs/reload.md). The
 * state names plans, entitlements and credits by value, so a swap is: the
 * new policy compiled, its names interned, amounts of credits whose units
 * changed converted, then the pointer swapped and every cache dropped (the
 * epoch moves). What can fail happens before the swap. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "engine.h"
#include "units.h"

/* A credit of both policies whose units differ. */

/* ---- Warnings ---- */

void limitr__warn(warning_list *w, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    if (w->n >= MAX_WARNINGS) {
        w->more++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (!cJSON_AddItemToArray(w->list, cJSON_CreateString(line))) w->nomem = 1;
    w->n++;
}

void limitr__warn_end(warning_list *w)
{
    char line[96];
    if (w->more == 0) return;
    snprintf(line, sizeof line, "(and %zu more warnings)", w->more);
    if (!cJSON_AddItemToArray(w->list, cJSON_CreateString(line))) w->nomem = 1;
}

/* ---- Units ---- */

static int convert(const unit_change *u, lnum *x, int write)
{
    lnum out;
    if (limitr__unit_convert(*x, u->from, u->to, &out) != 0) return -1;
    if (write) *x = out;
    return 0;
}

/* A variance scales by the factor squared. */
static int convert_var(const unit_change *u, lnum *x, int write)
{
    lnum v = *x;
    if (convert(u, &v, 1) != 0 || convert(u, &v, 1) != 0) return -1;
    if (write) *x = v;
    return 0;
}

static int convert_held(const unit_change *u, held_list *l, int write)
{
    size_t i;
    for (i = 0; i < l->n; i++)
        if (convert(u, &l->items[i].amount, write) != 0) return -1;
    return 0;
}

static int convert_estimate(const unit_change *u, estimate *x, int write)
{
    return convert(u, &x->value_mean, write) != 0 ||
                   convert_var(u, &x->value_var, write) != 0
               ? -1
               : 0;
}

/* The credit (state name) policy-wide estimates of entitlement `ent` are
 * kept in: the one its first limit in the running policy counts, or -1.
 * One credit, so that an estimate converts once whatever changes. */
static int estimate_credit(const limitr_engine *e, int ent)
{
    const lp_policy *p = e->policy;
    size_t i, j;
    for (i = 0; i < p->n_plans; i++)
        for (j = 0; j < p->plans[i].n_ents; j++) {
            const lp_entitlement *pe = &p->plans[i].ents[j];
            if (pe->has_limit && e->ent_names[pe->name] == ent)
                return pe->limit.credit_name;
        }
    return -1;
}

/* Whether a hold's part took room in cap `id` of holder. */
static int part_in_cap(const hold_part *hp, const customer *holder,
                       const char *id)
{
    return hp->is_cap && strcmp(hp->holder, holder->id) == 0 &&
           strcmp(hp->id, id) == 0;
}

/* Whether a hold's part set aside balance of the owner's grant `id`. */
static int part_in_grant(const hold_part *hp, const char *id)
{
    return !hp->is_cap && strcmp(hp->id, id) == 0;
}

/* Converts (write 0: checks) every amount of customer c in u's credit:
 * meters and the holds on them, its estimates, overrides, grants and caps,
 * and the parts of holds (any customer's) that took room in them. */
static int convert_customer(limitr_engine *e, customer *c, const unit_change *u,
                            customer *const *list, size_t n_list, int write)
{
    size_t i, j, k;
    for (i = 0; i < c->n_meters; i++) {
        meter *m = &c->meters[i];
        if (m->credit != u->credit) continue;
        if (convert(u, &m->value, write) != 0 ||
            (m->has_bucket && convert(u, &m->tokens, write) != 0))
            return -1;
        if (write) {
            for (j = 0; j < (size_t)m->n_history; j++)
                m->history[j].delta *= u->factor;
            m->ewma_rate *= u->factor;
        }
        for (j = 0; j < c->estimates.n; j++)
            if (c->estimates.items[j].ent == m->ent &&
                convert_estimate(u, &c->estimates.items[j], write) != 0)
                return -1;
    }
    for (i = 0; i < c->n_holds; i++) {
        reservation *h = &c->holds[i];
        if (h->credit != u->credit) continue;
        if (convert(u, &h->value, write) != 0 ||
            convert(u, &h->tokens, write) != 0 ||
            convert(u, &h->capacity, write) != 0)
            return -1;
    }
    for (i = 0; i < c->n_overrides; i++) {
        limit_rule *r = &c->overrides[i].rule;
        if (c->overrides[i].credit != u->credit) continue;
        if (convert(u, &r->value, write) != 0 ||
            convert(u, &r->increment, write) != 0 ||
            (r->has_minimum && convert(u, &r->minimum, write) != 0) ||
            convert(u, &r->governor_capacity, write) != 0)
            return -1;
        if (write) r->governor_refill_rate *= u->factor;
    }
    for (i = 0; i < c->n_grants; i++) {
        grant *g = &c->grants[i];
        grant_rule *r = &g->rule;
        if (g->credit != u->credit) continue;
        if (convert(u, &g->value, write) != 0 ||
            convert(u, &g->starting_value, write) != 0 ||
            (r->has_rollover_min && convert(u, &r->rollover_min, write) != 0) ||
            (r->has_rollover_max && convert(u, &r->rollover_max, write) != 0) ||
            (r->has_max_balance && convert(u, &r->max_balance, write) != 0) ||
            convert_held(u, &g->held, write) != 0)
            return -1;
        for (j = 0; j < c->n_holds; j++)
            for (k = 0; k < c->holds[j].n_parts; k++) {
                hold_part *hp = &c->holds[j].parts[k];
                if (part_in_grant(hp, g->id) &&
                    convert(u, &hp->amount, write) != 0)
                    return -1;
            }
    }
    for (i = 0; i < c->n_caps; i++) {
        spend_cap *cap = &c->caps[i];
        size_t slot;
        if (cap->credit != u->credit) continue;
        if (convert(u, &cap->value, write) != 0 ||
            convert(u, &cap->meter_value, write) != 0 ||
            convert_held(u, &cap->held, write) != 0)
            return -1;
        /* Holds anywhere (of the list) may hold room in it. */
        for (slot = 0; slot < (list != NULL ? n_list : e->st.d->customers.cap);
             slot++) {
            customer *o = list != NULL
                              ? list[slot]
                              : limitr__idmap_at(&e->st.d->customers, slot);
            if (o == NULL) continue;
            for (j = 0; j < o->n_holds; j++)
                for (k = 0; k < o->holds[j].n_parts; k++) {
                    hold_part *hp = &o->holds[j].parts[k];
                    if (part_in_cap(hp, c, cap->id) &&
                        convert(u, &hp->amount, write) != 0)
                        return -1;
                }
        }
    }
    return 0;
}

/* Every amount of the customers in u's credit (write 0: only checks that
 * each converts within range). */
void limitr__unit_change(unit_change *u, const char *name, int credit, int from,
                         int to)
{
    lnum one;
    u->credit = credit;
    u->from = from;
    u->to = to;
    u->name = name;
    u->convert = from >= 0 && to >= 0 &&
                 limitr__unit_dim(from) == limitr__unit_dim(to) &&
                 limitr__unit_convert(lnum_from_int(1), from, to, &one) == 0;
    u->factor = u->convert ? limitr__lnum_to_double(one) : 1;
}

int limitr__convert_units(limitr_engine *e, customer *const *list, size_t n,
                          const unit_change *u, int write)
{
    size_t i;
    if (list != NULL) {
        for (i = 0; i < n; i++)
            if (convert_customer(e, list[i], u, list, n, write) != 0) return -1;
        return 0;
    }
    for (i = 0; i < e->st.d->customers.cap; i++) {
        customer *c = limitr__idmap_at(&e->st.d->customers, i);
        if (c != NULL && convert_customer(e, c, u, NULL, 0, write) != 0)
            return -1;
    }
    return 0;
}

int limitr__convert_estimates(limitr_engine *e, const unit_change *u,
                              estimate_list *l, int write)
{
    size_t i;
    for (i = 0; i < l->n; i++)
        if (estimate_credit(e, l->items[i].ent) == u->credit &&
            convert_estimate(u, &l->items[i], write) != 0)
            return -1;
    return 0;
}

/* The credits of both policies whose units differ, into changes (room for
 * np->n_credits); their count. */
static size_t unit_changes(const limitr_engine *e, const lp_policy *np,
                           const int *new_credit_names, unit_change *changes)
{
    size_t i, n = 0;
    for (i = 0; i < np->n_credits; i++) {
        const lp_credit *cr = &np->credits[i];
        int kept = limitr__state_units(&e->st, new_credit_names[i]);
        unit_change *u = &changes[n];
        /* the units the state's amounts are in, whichever policy set them
           (a credit removed and added back converts from its old units) */
        if (kept == UNITS_UNKNOWN || kept == cr->units) continue;
        limitr__unit_change(u, cr->name, new_credit_names[i], kept, cr->units);
        n++;
    }
    return n;
}

static const char *unit_name(int unit)
{
    return unit >= 0 ? limitr__unit_symbol(unit) : "(none)";
}

/* Meters of u's credit whose units cannot convert: dormant, so that their
 * next commit starts them again. */
static void units_dormant(limitr_engine *e, const unit_change *u)
{
    size_t i, j;
    for (i = 0; i < e->st.d->customers.cap; i++) {
        customer *c = limitr__idmap_at(&e->st.d->customers, i);
        if (c == NULL) continue;
        for (j = 0; j < c->n_meters; j++)
            if (c->meters[j].credit == u->credit) c->meters[j].credit = -1;
        for (j = 0; j < c->n_holds; j++)
            if (c->holds[j].credit == u->credit) c->holds[j].credit = -1;
    }
}

/* ---- Estimates ---- */

static int seed_equal(const lp_estimate_seed *a, const lp_estimate_seed *b)
{
    return strcmp(a->ent, b->ent) == 0 && strcmp(a->segment, b->segment) == 0 &&
           a->samples == b->samples && a->alpha == b->alpha &&
           a->per_basis == b->per_basis && a->value_mean == b->value_mean &&
           a->value_var == b->value_var &&
           a->overhead_mean == b->overhead_mean &&
           a->overhead_var == b->overhead_var && a->updated == b->updated;
}

/* The policy-wide estimates under np, built before the swap: a copy of
 * the engine's with the units changes applied, in which a seed of np that
 * the running policy lacks as it is now is added or replaces its estimate
 * (docs/reload.md). -1: out of memory (out freed); a seed past
 * MAX_ESTIMATES is left out, warned. */
static int seeded_estimates(limitr_engine *e, const lp_policy *np,
                            const unit_change *changes, size_t n_changes,
                            estimate_list *out, warning_list *w)
{
    const estimate_list *here = &e->st.d->estimates;
    size_t i, j;
    memset(out, 0, sizeof *out);
    for (i = 0; i < here->n; i++) {
        estimate *x = limitr__estimate_add(&e->st, out, here->items[i].ent,
                                           here->items[i].segment);
        if (x == NULL) goto nomem;
        *x = here->items[i];
    }
    for (i = 0; i < n_changes; i++) /* checked to convert: cannot fail */
        if (changes[i].convert)
            limitr__convert_estimates(e, &changes[i], out, 1);
    for (i = 0; i < np->n_seeds; i++) {
        const lp_estimate_seed *s = &np->seeds[i];
        int ent = limitr__state_intern(&e->st, s->ent, strlen(s->ent));
        int seg = limitr__state_intern(&e->st, s->segment, strlen(s->segment));
        estimate *x;
        if (ent < 0 || seg < 0) goto nomem;
        for (j = 0; j < e->policy->n_seeds; j++)
            if (seed_equal(s, &e->policy->seeds[j])) break;
        x = limitr__estimate_find(out, ent, seg);
        if (x != NULL && j < e->policy->n_seeds) continue; /* unchanged */
        if (x == NULL &&
            (x = limitr__estimate_add(&e->st, out, ent, seg)) == NULL) {
            if (out->n < MAX_ESTIMATES) goto nomem;
            limitr__warn(w,
                         "estimates.%s.%s: more than %d estimates (left "
                         "out)",
                         s->ent, s->segment, MAX_ESTIMATES);
            continue;
        }
        limitr__estimate_from_seed(x, s);
    }
    return 0;
nomem:
    limitr__estimate_list_free(&e->st, out);
    return -1;
}

/* ---- Warnings ---- */

/* Whether some limit of plan or, scoped to type, of any plan counts ent. */
static int ent_limited(const lp_policy *p, int plan, const char *type,
                       const char *ent, const lp_entitlement **found)
{
    size_t i, len = strlen(ent);
    const lp_entitlement *pe;
    if (plan >= 0 &&
        (pe = lp_plan_entitlement(&p->plans[plan], ent, len)) != NULL &&
        pe->has_limit) {
        *found = pe;
        return 1;
    }
    for (i = 0; i < p->n_plans; i++)
        if ((pe = lp_plan_entitlement(&p->plans[i], ent, len)) != NULL &&
            pe->has_limit && pe->scope != NULL &&
            strcmp(pe->scope, type) == 0) {
            *found = pe;
            return 1;
        }
    return 0;
}

/* The next of n names (state names through name_of) after `after` in
 * bytewise order (NULL: the first), its index or n: a sorted walk without
 * allocating, quadratic in a customer's meters or overrides (few). */
static size_t next_by_name(const limitr_engine *e, const int *names,
                           size_t stride, size_t n, const char *after)
{
    size_t i, best = n;
    for (i = 0; i < n; i++) {
        const char *s = limitr__state_name(
            &e->st, *(const int *)((const char *)names + i * stride));
        if (after != NULL && strcmp(s, after) <= 0) continue;
        if (best == n ||
            strcmp(s, limitr__state_name(&e->st,
                                         *(const int *)((const char *)names +
                                                        best * stride))) < 0)
            best = i;
    }
    return best;
}

void limitr__warn_customer(limitr_engine *e, customer *c, warning_list *w)
{
    const lp_policy *p = e->policy;
    int64_t now = limitr__now(e);
    const lp_limit *lim;
    lp_limit buf;
    int plan;
    size_t i;
    const char *after;
    if (c->own_plan[0] != '\0' && limitr__policy_find_plan(p, c->own_plan) < 0)
        limitr__warn(
            w,
            "%s: own_plan: unknown plan '%s' (it follows its refs or the "
            "default plan)",
            c->id, c->own_plan);
    plan = limitr__resolved_plan(e, c);
    /* by name, so that engines of the same state warn alike */
    for (after = NULL;
         c->n_meters > 0 &&
         (i = next_by_name(e, &c->meters[0].ent, sizeof *c->meters, c->n_meters,
                           after)) < c->n_meters;) {
        const meter *m = &c->meters[i];
        const char *ent = limitr__state_name(&e->st, m->ent);
        const lp_entitlement *pe;
        after = ent;
        if (!ent_limited(p, plan, c->type, ent, &pe))
            limitr__warn(
                w,
                "%s: meters.%s: no limit of the policy counts it (dormant: "
                "kept, and used again when a policy has it)",
                c->id, ent);
        else if ((lim = limitr__effective_limit(e, c, m->ent, pe, now, &buf)) !=
                     NULL &&
                 limitr__live_meter(c, m->ent, lim) == NULL)
            limitr__warn(w,
                         "%s: meters.%s: its limit counts in another credit or "
                         "unit now (dormant: its next commit starts it again)",
                         c->id, ent);
    }
    for (after = NULL;
         c->n_overrides > 0 &&
         (i = next_by_name(e, &c->overrides[0].ent, sizeof *c->overrides,
                           c->n_overrides, after)) < c->n_overrides;) {
        const char *ent = limitr__state_name(&e->st, c->overrides[i].ent);
        const lp_entitlement *pe;
        after = ent;
        const char *credit = limitr__state_name(&e->st, c->overrides[i].credit);
        if (!ent_limited(p, plan, c->type, ent, &pe))
            limitr__warn(w,
                         "%s: overrides.%s: not a limit of the customer's plan "
                         "(kept, unused)",
                         c->id, ent);
        else if (limitr__credit_find(p, credit) < 0)
            limitr__warn(w,
                         "%s: overrides.%s: unknown credit '%s' (kept, unused: "
                         "the plan's limit applies)",
                         c->id, ent, credit);
    }
}

static void warn_state(limitr_engine *e, const unit_change *changes,
                       size_t n_changes, warning_list *w)
{
    customer **list;
    size_t i, n;
    for (i = 0; i < n_changes; i++)
        limitr__warn(
            w,
            changes[i].convert
                ? "units.%s: %s -> %s: every amount in it was converted"
                : "units.%s: %s -> %s: its meters are dormant (their next "
                  "commit starts them again)",
            changes[i].name, unit_name(changes[i].from),
            unit_name(changes[i].to));
    /* by ID, so that engines of the same state warn alike */
    if ((list = limitr__customers_by_id(e, &n)) == NULL) {
        w->nomem = 1;
        return;
    }
    for (i = 0; i < n; i++)
        limitr__warn_customer(e, list[i], w);
    free(list);
    limitr__warn_end(w);
}

/* ---- The swap ---- */

/* The host functions registered so far, callable from np's snippets; one
 * whose name np's sandbox refuses (registered while the policy had no
 * snippets) is warned and stays callable only as an App event function.
 * -1: out of memory. */
static int add_libs(limitr_engine *e, lp_policy *np, warning_list *w)
{
    size_t i;
    if (np->vm == NULL) return 0;
    for (i = 0; i < e->n_libs; i++) {
        char *err = NULL;
        int status = limitr__script_add_lib(np->vm, e->libs[i].lib,
                                            e->libs[i].name, &err);
        if (status == LIMITR_NOMEM || (status != LIMITR_OK && err == NULL))
            return -1;
        if (status != LIMITR_OK)
            limitr__warn(w, "lib %s.%s: %s (snippets cannot call it)",
                         e->libs[i].lib, e->libs[i].name, err);
        free(err);
    }
    return 0;
}

/* text compiled under the engine's snippet limits, or NULL with the
 * failure set (*status): invalid_policy with every problem, or no memory. */
static lp_policy *compile(limitr_engine *e, const char *text, size_t len,
                          const char *format, int *status)
{
    char *err = NULL;
    lp_policy *np =
        limitr__policy_compile(text, len, format, &e->policy->limits, &err);
    if (np != NULL) return np;
    *status = err == NULL ? limitr__nomem(e)
                          : limitr__fail(e, LIMITR_INVALID, "invalid_policy",
                                         "%s", err);
    free(err);
    return NULL;
}

/* The compiled policy np (its names interned) replaces the engine's. */
static void swap(limitr_engine *e, lp_policy *np, int *ent_names,
                 int *credit_names)
{
    lp_policy *old = e->policy;
    limitr__policy_listeners(e, old, -1);
    e->policy = np;
    limitr__subs_follow(e, np);
    free(e->ent_names);
    free(e->credit_names);
    e->ent_names = ent_names;
    e->credit_names = credit_names;
    limitr__record_units(e);
    if (np->vm != NULL) limitr__bind_script(e);
    limitr__policy_listeners(e, np, +1);
    limitr__state_changed(&e->st); /* every cache points into the old one */
    e->draw.valid = 0;
    e->walk.n = -1;
    limitr__policy_free(old);
}

int limitr__adopt_policy(limitr_engine *e, const char *text, size_t len,
                         const char *format)
{
    lp_policy *np;
    int *ent_names = NULL, *credit_names = NULL, status;
    warning_list w = {NULL, 0, 0, 0};
    if ((np = compile(e, text, len, format, &status)) == NULL) return status;
    /* the warnings were the reloading process's to report */
    if ((w.list = cJSON_CreateArray()) == NULL ||
        limitr__intern_policy_names(e, np, &ent_names, &credit_names) != 0 ||
        add_libs(e, np, &w) != 0) {
        cJSON_Delete(w.list);
        free(ent_names);
        free(credit_names);
        limitr__policy_free(np);
        return limitr__nomem(e);
    }
    cJSON_Delete(w.list);
    limitr__name_limit_credits(np, credit_names);
    swap(e, np, ent_names, credit_names);
    return limitr__ok(e);
}

int limitr__reload(limitr_engine *e, const char *text, size_t len,
                   const char *format, const char **result_json, int announce)
{
    lp_policy *np;
    char previous[72];
    int *ent_names = NULL, *credit_names = NULL, status;
    unit_change *changes = NULL;
    size_t n_changes, i;
    warning_list w = {NULL, 0, 0, 0};
    estimate_list estimates = {NULL, 0, 0};
    cJSON *result;
    if (e->read_only)
        return limitr__fail(e, LIMITR_STORE, "read_only",
                            "reload: the engine was opened read-only");
    if (e->delivering > 0 || limitr__in_decision(e))
        return limitr__fail(e, LIMITR_ERROR, "reload_in_delivery",
                            "reload during event delivery (or while a "
                            "snippet runs): reload after the call returns");
    if (text == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL, "reload: no text given");
    if (format != NULL && strcmp(format, "yaml") != 0 &&
        strcmp(format, "json") != 0)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "reload: unknown format '%s' (use \"yaml\" or "
                            "\"json\")",
                            format);
    if ((np = compile(e, text, len, format, &status)) == NULL) return status;
    changes = malloc((np->n_credits + 1) * sizeof *changes);
    if (changes == NULL || (w.list = cJSON_CreateArray()) == NULL ||
        limitr__intern_policy_names(e, np, &ent_names, &credit_names) != 0 ||
        add_libs(e, np, &w) != 0) {
        status = limitr__nomem(e);
        goto fail;
    }
    limitr__name_limit_credits(np, credit_names);
    n_changes = unit_changes(e, np, credit_names, changes);
    for (i = 0; i < n_changes; i++)
        if (changes[i].convert &&
            (limitr__convert_units(e, NULL, 0, &changes[i], 0) != 0 ||
             limitr__convert_estimates(e, &changes[i], &e->st.d->estimates,
                                       0) != 0)) {
            status = limitr__fail(e, LIMITR_INVALID, "invalid_policy",
                                  "credits.%s.units: %s -> %s: an amount in "
                                  "it would be out of range",
                                  changes[i].name, unit_name(changes[i].from),
                                  unit_name(changes[i].to));
            goto fail;
        }
    if (seeded_estimates(e, np, changes, n_changes, &estimates, &w) != 0) {
        status = limitr__nomem(e);
        goto fail;
    }

    if (e->shared != NULL &&
        limitr__shared_publish(e, text, len, format) != LIMITR_OK) {
        status = limitr__nomem(e);
        goto fail;
    }

    /* Nothing fails from here on. */
    limitr__touch_all(e, n_changes > 0); /* units: every customer changes */
    for (i = 0; i < n_changes; i++) {
        if (changes[i].convert)
            limitr__convert_units(e, NULL, 0, &changes[i], 1);
        else
            units_dormant(e, &changes[i]);
    }
    limitr__estimate_list_free(&e->st, &e->st.d->estimates);
    e->st.d->estimates = estimates;
    memcpy(previous, e->policy->fingerprint, sizeof previous);
    swap(e, np, ent_names, credit_names);
    warn_state(e, changes, n_changes, &w);
    free(changes);

    result = cJSON_CreateObject();
    if (result == NULL ||
        !cJSON_AddStringToObject(result, "previous", previous) ||
        !cJSON_AddStringToObject(result, "current", np->fingerprint) ||
        !cJSON_AddItemToObject(result, "warnings", w.list) || w.nomem) {
        if (result == NULL || cJSON_GetObjectItem(result, "warnings") == NULL)
            cJSON_Delete(w.list);
        cJSON_Delete(result);
        /* The policy is swapped: only its report is lost. */
        if (result_json != NULL) *result_json = NULL;
        return limitr__ok(e);
    }
    if (announce && limitr__listening(e, EV_POLICY_RELOADED))
        limitr__emit(e, EV_POLICY_RELOADED, cJSON_Duplicate(result, 1));
    if (limitr__set_result(e, result, result_json) != LIMITR_OK) {
        if (result_json != NULL) *result_json = NULL;
        return limitr__ok(e);
    }
    return LIMITR_OK;

fail:
    limitr__estimate_list_free(&e->st, &estimates); /* (empty if not built) */
    cJSON_Delete(w.list);
    free(changes);
    free(ent_names);
    free(credit_names);
    limitr__policy_free(np);
    return status;
}

static int reload_call(limitr_engine *e, const char *text, size_t len,
                       const char *format, const char **result_json)
{
    LIMITR_ENTER(e);
    if (result_json != NULL) *result_json = NULL;
    LIMITR_LOG_OP(e, "reload", NULL, NULL);
    return limitr__reload(e, text, len, format, result_json, 1);
}

int limitr_reload(limitr_engine *e, const char *text, size_t len,
                  const char *format, const char **result_json)
{
    LIMITR_ENTER(e);
    return limitr__stored(e, reload_call(e, text, len, format, result_json));
}

static int reload_file_call(limitr_engine *e, const char *path,
                            const char **result_json)
{
    char *text, msg[512];
    size_t len;
    int status;
    LIMITR_ENTER(e);
    if (result_json != NULL) *result_json = NULL;
    LIMITR_LOG_OP(e, "reload", NULL, path);
    status = limitr__read_file(path, &text, &len, msg, sizeof msg);
    if (status != LIMITR_OK) return limitr__fail(e, status, NULL, "%s", msg);
    status = limitr__reload(e, text != NULL ? text : "", len,
                            limitr__format_of_path(path), result_json, 1);
    free(text);
    return status;
}

int limitr_reload_file(limitr_engine *e, const char *path,
                       const char **result_json)
{
    LIMITR_ENTER(e);
    return limitr__stored(e, reload_file_call(e, path, result_json));
}

const char *limitr_fingerprint(limitr_engine *e)
{
    if (e == NULL || e->policy == NULL) return "";
    return e->policy->fingerprint;
}

const char *limitr_policy_text(limitr_engine *e, size_t *len)
{
    if (e == NULL || e->policy == NULL) {
        if (len != NULL) *len = 0;
        return "";
    }
    if (len != NULL) *len = e->policy->text_len;
    return e->policy->text;
}
