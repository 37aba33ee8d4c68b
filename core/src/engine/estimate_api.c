/* estimate_api.c: learned estimates (docs/engine.md 18): observe() learns
 * a call's size and cost per entitlement and segment, on the meter owner
 * and policy-wide; estimate() predicts them at a quantile. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "decide.h"
#include "names.h"
#include "normal.h"

/* The options of observe and estimate, read from JSON. */
typedef struct est_opts {
    cJSON *root;
    int has_overhead, has_basis;
    lnum overhead, basis;
    const char *segment; /* NULL: none */
    double quantile;
    const cJSON *event;
} est_opts;

/* The entitlement named ent in id's plan, else in any plan. */
static const lp_entitlement *find_ent(limitr_engine *e, const customer *c,
                                      const char *ent)
{
    int plan = c != NULL ? limitr__resolved_plan(e, c) : -1;
    size_t i;
    const lp_entitlement *pe;
    if (plan >= 0 && (pe = lp_plan_entitlement(&e->policy->plans[plan], ent,
                                               strlen(ent))) != NULL)
        return pe;
    for (i = 0; i < e->policy->n_plans; i++)
        if ((pe = lp_plan_entitlement(&e->policy->plans[i], ent,
                                      strlen(ent))) != NULL)
            return pe;
    return NULL;
}

static int bad(limitr_engine *e, const char *call, const char *what)
{
    return limitr__fail(e, LIMITR_INVALID, NULL, "%s: %s", call, what);
}

/* Reads opts (JSON object or NULL); the entitlement's estimate_basis and
 * estimate_segment fields of opts.event fill what the options leave. */
static int read_opts(limitr_engine *e, const char *call, const char *json,
                     const lp_entitlement *pe, est_opts *o)
{
    const cJSON *v;
    memset(o, 0, sizeof *o);
    o->quantile = 0.9;
    if (json == NULL) return LIMITR_OK;
    if ((o->root = cJSON_Parse(json)) == NULL || !cJSON_IsObject(o->root))
        return bad(e, call, "opts must be a JSON object");
    if ((v = cJSON_GetObjectItemCaseSensitive(o->root, "overhead")) != NULL) {
        if (!cJSON_IsNumber(v) ||
            limitr__lnum_from_double(v->valuedouble, &o->overhead) != 0)
            return bad(e, call, "opts.overhead must be a number of runes");
        o->has_overhead = 1;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(o->root, "quantile")) != NULL) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble > 0 && v->valuedouble < 1))
            return bad(e, call, "opts.quantile must be a number in (0, 1)");
        o->quantile = v->valuedouble;
    }
    o->event = cJSON_GetObjectItemCaseSensitive(o->root, "event");
    if ((v = cJSON_GetObjectItemCaseSensitive(o->root, "basis")) == NULL &&
        pe != NULL && pe->estimate_basis != NULL && cJSON_IsObject(o->event))
        v = cJSON_GetObjectItemCaseSensitive(o->event, pe->estimate_basis);
    if (v != NULL) {
        if (!cJSON_IsNumber(v) ||
            limitr__lnum_from_double(v->valuedouble, &o->basis) != 0)
            return bad(e, call, "the basis must be a number");
        o->has_basis = 1;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(o->root, "segment")) == NULL &&
        pe != NULL && pe->estimate_segment != NULL && cJSON_IsObject(o->event))
        v = cJSON_GetObjectItemCaseSensitive(o->event, pe->estimate_segment);
    if (v != NULL) {
        if (!cJSON_IsString(v) || strlen(v->valuestring) > 200 ||
            !limitr__utf8_valid(v->valuestring, strlen(v->valuestring)))
            return bad(e, call,
                       "the segment must be a string of UTF-8 (200 bytes at "
                       "most)");
        o->segment = v->valuestring;
    }
    return LIMITR_OK;
}

/* The interned segment key: '.' and ' ' become '_', none is "all" (its
 * index kept: names are never removed, and the check below sees a state
 * imported since). */
static int segment_key(limitr_engine *e, const char *segment, int intern)
{
    char key[208];
    size_t i;
    if (segment == NULL) {
        const name_table *t = &e->st.d->names;
        int k = e->all_segment;
        if (k >= 0 && (size_t)k < t->n && t->lens[k] == 3 &&
            memcmp(t->items[k], "all", 3) == 0)
            return k;
        k = intern ? limitr__state_intern(&e->st, "all", 3)
                   : limitr__state_name_find(&e->st, "all", 3);
        if (k >= 0) e->all_segment = k;
        return k;
    }
    for (i = 0; segment[i] != '\0' && i + 1 < sizeof key; i++)
        key[i] = segment[i] == '.' || segment[i] == ' ' ? '_' : segment[i];
    key[i] = '\0';
    return intern ? limitr__state_intern(&e->st, key, i)
                  : limitr__state_name_find(&e->st, key, i);
}

static int alpha_of(alpha_memo *memo, double alpha, lnum *out)
{
    if (alpha != memo->alpha) {
        if (limitr__lnum_from_double(alpha, &memo->value) != 0) return -1;
        memo->alpha = alpha;
    }
    *out = memo->value;
    return 0;
}

/* What one observation makes of an estimate: its new moments. */
typedef struct learned {
    int per_basis;
    lnum value_mean, value_var, overhead_mean, overhead_var;
} learned;

/* One observation v of a mean and its variance with weight w
 * (docs/engine.md 18, observe): 0 and the new moments, or -1 past the range of
 * amounts. An observation equal to a mean without variance leaves both as
 * they are (d = 0, var = (1 - w) * 0) with no product: constant sizes, and
 * the overhead of a credit that costs nothing, learn for almost nothing. */
static inline __attribute__((always_inline)) int
moments(lnum w, lnum one_minus, lnum v, lnum mean, lnum var, lnum *mean_out,
        lnum *var_out)
{
    lnum d = v - mean, t;
    if ((d | var) == 0) {
        *mean_out = mean;
        *var_out = 0;
        return 0;
    }
    return lnum_mul(w, d, &t) || lnum_add(mean, t, mean_out) ||
           lnum_mul(d, d, &t) || lnum_mul(w, t, &t) || lnum_add(var, t, &t) ||
           lnum_mul(one_minus, t, var_out);
}

/* One observation of x (docs/engine.md 18, observe) into *out, x unchanged: 1
 * learned, 0 refused (a per-basis estimate without a basis), -1 past the
 * range of amounts. Inlined, its results stay in registers: copies of whole
 * estimates through the stack stalled on their halves. */
static inline __attribute__((always_inline)) int
learn(const estimate *x, lnum v, lnum o, const est_opts *opts, alpha_memo *memo,
      learned *out)
{
    lnum w, inv, one_minus;
    lnum n = (lnum)x->samples + 1;
    out->per_basis =
        x->samples == 0 ? opts->has_basis && opts->basis > 0 : x->per_basis;
    if (out->per_basis) {
        if (!opts->has_basis || opts->basis <= 0) return 0;
        if (limitr__lnum_div(v, opts->basis, &v) != 0 ||
            limitr__lnum_div(o, opts->basis, &o) != 0)
            return -1;
    }
    if (alpha_of(memo, x->alpha, &w) != 0) return -1;
    /* w = max(alpha, 1/n); 1/n is below alpha, rounded or not, once
       n * alpha passes 1: no division then */
    if (w <= 0 || n * w <= LNUM_SCALE) {
        if (limitr__lnum_div(LNUM_SCALE, n * LNUM_SCALE, &inv) != 0) return -1;
        if (inv > w) w = inv;
    }
    one_minus = LNUM_SCALE - w;
    if (moments(w, one_minus, v, x->value_mean, x->value_var, &out->value_mean,
                &out->value_var) ||
        moments(w, one_minus, o, x->overhead_mean, x->overhead_var,
                &out->overhead_mean, &out->overhead_var))
        return -1;
    return 1;
}

/* Writes what learn() made of x (status: its answer) into x. */
static void learned_apply(estimate *x, int status, const learned *l,
                          int64_t now)
{
    if (x->samples == 0) x->per_basis = l->per_basis; /* fixed at the first */
    if (status <= 0) return;
    x->value_mean = l->value_mean;
    x->value_var = l->value_var;
    x->overhead_mean = l->overhead_mean;
    x->overhead_var = l->overhead_var;
    x->samples++;
    x->seeded = 0;
    x->updated = now;
}

/* Learns value v costing `cost` on d's owner and policy-wide (d targeted,
 * a limit): LIMITR_OK, DENIED "no_basis", or an error set. */
static int observe_on(limitr_engine *e, const decision *d, lnum v, lnum cost,
                      const est_opts *o)
{
    estimate *mine = NULL, *wide = NULL;
    learned lm, lw;
    estimate_list *own = &d->owner->estimates, *all = &e->st.d->estimates;
    int seg = segment_key(e, o->segment, 1), a, b, added = 0;
    if (seg < 0) return limitr__nomem(e);
    mine = limitr__estimate_find(own, d->ent_name, seg);
    wide = limitr__estimate_find(all, d->ent_name, seg);
    if ((mine == NULL && own->n >= MAX_ESTIMATES) ||
        (wide == NULL && all->n >= MAX_ESTIMATES))
        return limitr__fail(e, LIMITR_NOMEM, "estimates_full",
                            "observe: %d estimates kept already (the most "
                            "a customer or the policy keeps)",
                            MAX_ESTIMATES);
    if (mine == NULL) {
        if ((mine = limitr__estimate_add(&e->st, own, d->ent_name, seg)) ==
            NULL)
            return limitr__nomem(e);
        added = 1;
    }
    if (wide == NULL &&
        (wide = limitr__estimate_add(&e->st, all, d->ent_name, seg)) == NULL) {
        if (added) own->n--; /* both, or neither */
        return limitr__nomem(e);
    }
    /* both learn, or neither changes */
    a = learn(mine, v, cost, o, &e->alpha_memo, &lm);
    b = learn(wide, v, cost, o, &e->alpha_memo, &lw);
    if (a < 0 || b < 0)
        return limitr__reason(e, LIMITR_INVALID, "invalid_value");
    limitr__st_save(&e->st, wide, sizeof *wide); /* not the owner's */
    learned_apply(mine, a, &lm, d->now);
    learned_apply(wide, b, &lw, d->now);
    return a + b > 0 ? limitr__ok(e) : limitr__deny(e, "no_basis");
}

int limitr__observe_call(limitr_engine *e, const decision *d, lnum v, lnum cost,
                         int has_basis, lnum basis, const char *segment)
{
    static const est_opts none;
    est_opts o = none; /* a copy: a memset this size is a `rep stos` */
    o.has_basis = has_basis;
    o.basis = basis;
    o.segment = segment;
    return observe_on(e, d, v, cost, &o);
}

static int observe_call(limitr_engine *e, const char *id, const char *ent,
                        double value, const char *value_text,
                        const char *opts_json)
{
    decision d;
    est_opts o;
    lnum v, cost = 0;
    int status;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "observe");
    if (e->store != NULL)
        limitr__store_op(e, "observe", id, id ? strlen(id) : 0, ent,
                         ent ? strlen(ent) : 0,
                         value_text != NULL ? NULL : &value, value_text,
                         opts_json);
    if (id == NULL || ent == NULL)
        return bad(e, "observe", "id and entitlement are required");
    if (value_text != NULL ? !limitr__value_ok(0, value_text)
                           : limitr__lnum_from_double(value, &v) != 0)
        return limitr__reason(e, LIMITR_INVALID, "invalid_value");
    if (limitr__target(e, id, strlen(id), ent, strlen(ent), &d) != 0)
        return limitr__reason(e, d.status, d.reason);
    if (d.lim == NULL) return limitr__deny(e, "not_metered");
    if (value_text != NULL) { /* in the limit's credit units */
        if (limitr__requested(e, &d, 0, value_text) != 0)
            return limitr__reason(e, LIMITR_INVALID, "invalid_value");
        v = d.requested;
    }
    status = read_opts(e, "observe", opts_json, d.ent, &o);
    if (status == LIMITR_OK) {
        if (o.has_overhead) {
            cost = o.overhead;
        } else { /* the credit's cost for the value, with the event */
            char *event =
                o.event != NULL ? cJSON_PrintUnformatted(o.event) : NULL;
            limitr_call_opts co = {event, 0, 0, 0, 0, NULL};
            d.requested = v;
            cost = limitr__overhead_of(e, &d, &co);
            cJSON_free(event);
        }
        status = observe_on(e, &d, v, cost, &o);
    }
    cJSON_Delete(o.root);
    return status;
}

int limitr_observe(limitr_engine *e, const char *id, const char *ent,
                   double value, const char *opts_json)
{
    LIMITR_ENTER(e);
    return limitr__stored(e, observe_call(e, id, ent, value, NULL, opts_json));
}

int limitr_observe_str(limitr_engine *e, const char *id, const char *ent,
                       const char *value, const char *opts_json)
{
    LIMITR_ENTER(e);
    return limitr__stored(e, observe_call(e, id, ent, 0,
                                          value != NULL ? value : "",
                                          opts_json));
}

/* x predicted at q (docs/engine.md 18, estimate) into the result object. */
static cJSON *predict(limitr_engine *e, const estimate *x, const est_opts *o,
                      const char *scope)
{
    double q = o->quantile < 0.0001
                   ? 0.0001
                   : (o->quantile > 0.9999 ? 0.9999 : o->quantile);
    double z = limitr__normal_quantile(q), k = 1;
    cJSON *j;
    int i;
    if (x->per_basis) {
        if (!o->has_basis || o->basis <= 0) return NULL;
        k = limitr__lnum_to_double(o->basis);
    }
    if ((j = cJSON_CreateObject()) == NULL) return NULL;
    for (i = 0; i < 2; i++) {
        lnum mean = i == 0 ? x->value_mean : x->overhead_mean;
        lnum var = i == 0 ? x->value_var : x->overhead_var;
        double p = limitr__lnum_to_double(mean) +
                   z * sqrt(limitr__lnum_to_double(var));
        lnum out;
        if (p < 0) p = 0;
        if (limitr__lnum_from_double(p * k, &out) != 0) out = LNUM_MAX;
        cJSON_AddNumberToObject(
            j, i == 0 ? "value" : "overhead",
            limitr__lnum_to_double(limitr__lnum_round9(out)));
    }
    cJSON_AddNumberToObject(j, "samples", (double)x->samples);
    cJSON_AddStringToObject(j, "source", x->seeded ? "cloud" : "local");
    cJSON_AddStringToObject(j, "scope", scope);
    (void)e;
    return j;
}

int limitr_estimate(limitr_engine *e, const char *id, const char *ent,
                    const char *opts_json, const char **json)
{
    const customer *c, *owner = NULL;
    const lp_entitlement *pe;
    const estimate *x = NULL;
    const char *scope = "customer";
    est_opts o;
    int status, seg, ent_name;
    cJSON *out = NULL;
    LIMITR_ENTER(e);
    if (id == NULL || ent == NULL || json == NULL)
        return bad(e, "estimate", "id, entitlement and out are required");
    c = limitr__customer_lookup(e, id);
    pe = find_ent(e, c, ent);
    status = read_opts(e, "estimate", opts_json, pe, &o);
    if (status != LIMITR_OK) {
        cJSON_Delete(o.root);
        return status;
    }
    ent_name = limitr__state_name_find(&e->st, ent, strlen(ent));
    seg = segment_key(e, o.segment, 0);
    if (c != NULL && pe != NULL && ent_name >= 0 && seg >= 0) {
        owner = limitr__scope_owner(e, (customer *)c, pe->scope);
        if (owner != NULL)
            x = limitr__estimate_find(&owner->estimates, ent_name, seg);
        if (x != NULL && x->samples < e->policy->estimate_min_samples) x = NULL;
    }
    if (x == NULL && ent_name >= 0 && seg >= 0) {
        x = limitr__estimate_find(&e->st.d->estimates, ent_name, seg);
        scope = "policy";
    }
    if (x != NULL && x->samples > 0) out = predict(e, x, &o, scope);
    cJSON_Delete(o.root);
    if (out == NULL) return limitr__reason(e, LIMITR_NOT_FOUND, "no_estimate");
    return limitr__set_result(e, out, json);
}

int limitr__estimates_seed(limitr_engine *e)
{
    size_t i;
    for (i = 0; i < e->policy->n_seeds; i++) {
        const lp_estimate_seed *s = &e->policy->seeds[i];
        int ent = limitr__state_intern(&e->st, s->ent, strlen(s->ent));
        int seg = limitr__state_intern(&e->st, s->segment, strlen(s->segment));
        estimate *x;
        if (ent < 0 || seg < 0) return -1;
        if (limitr__estimate_find(&e->st.d->estimates, ent, seg) != NULL)
            continue; /* learned state wins over the seed */
        if ((x = limitr__estimate_add(&e->st, &e->st.d->estimates, ent, seg)) ==
            NULL)
            return -1;
        limitr__estimate_from_seed(x, s);
    }
    return 0;
}

void limitr__estimate_from_seed(estimate *x, const lp_estimate_seed *s)
{
    x->samples = s->samples;
    x->alpha = s->alpha;
    x->per_basis = s->per_basis;
    x->value_mean = s->value_mean;
    x->value_var = s->value_var;
    x->overhead_mean = s->overhead_mean;
    x->overhead_var = s->overhead_var;
    x->updated = s->updated;
    x->seeded = 1;
}
