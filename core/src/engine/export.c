/* export.c: customer state as a state document (docs/state.md section 1):
 * one line of JSON, written as the state holds it (pending roll-overs,
 * expired overrides and dead holds included), keys in a fixed order so
 * that the same state always gives the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "state_doc.h"
#include "textbuf.h"
#include "units.h"

/* ---- Values ---- */

static void key(textbuf *b, const char *k, int *first)
{
    if (!*first) limitr__tb_put(b, ",", 1);
    *first = 0;
    limitr__tb_string(b, k, strlen(k));
    limitr__tb_put(b, ":", 1);
}

static void put_str(textbuf *b, const char *s)
{
    if (s == NULL)
        limitr__tb_puts(b, "null");
    else
        limitr__tb_string(b, s, strlen(s));
}

static void put_lnum(textbuf *b, lnum v)
{
    char text[64];
    limitr__tb_put(b, "\"", 1);
    limitr__tb_puts(b, limitr__lnum_format(v, text));
    limitr__tb_put(b, "\"", 1);
}

static void put_double(textbuf *b, double v)
{
    limitr__tb_put(b, "\"", 1);
    limitr__tb_double(b, v);
    limitr__tb_put(b, "\"", 1);
}

static void put_bool(textbuf *b, int v)
{
    limitr__tb_puts(b, v ? "true" : "false");
}

static void put_name(textbuf *b, const limitr_engine *e, int name)
{
    put_str(b, name >= 0 ? limitr__state_name(&e->st, name) : NULL);
}

static void put_strlist(textbuf *b, const strlist *l)
{
    size_t i;
    limitr__tb_put(b, "[", 1);
    for (i = 0; i < l->n; i++) {
        if (i > 0) limitr__tb_put(b, ",", 1);
        put_str(b, l->items[i]);
    }
    limitr__tb_put(b, "]", 1);
}

/* A period rule: resets, reset_inc, reset_sch (keys sorted: the caller
 * writes them between its own at their place). */
static void put_reset_inc(textbuf *b, reset_kind reset, int64_t inc, int *first)
{
    key(b, "reset_inc", first);
    if (reset == RESET_INTERVAL)
        limitr__tb_int(b, inc);
    else
        limitr__tb_puts(b, "null");
}

static void put_reset_sch(textbuf *b, reset_kind reset, const lp_schedule *sch,
                          int *first)
{
    char text[64];
    key(b, "reset_sch", first);
    if (reset != RESET_SCHEDULE) {
        limitr__tb_puts(b, "null");
        return;
    }
    limitr__schedule_format(sch, text, sizeof text);
    put_str(b, text);
}

/* ---- Sorted maps ---- */

typedef struct sort_entry {
    const char *name;
    size_t index;
} sort_entry;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const sort_entry *)a)->name, ((const sort_entry *)b)->name);
}

/* ---- Estimates ---- */

static void put_estimate(textbuf *b, const estimate *x)
{
    int first = 1;
    limitr__tb_put(b, "{", 1);
    key(b, "alpha", &first);
    put_double(b, x->alpha);
    key(b, "overhead_mean", &first);
    put_lnum(b, x->overhead_mean);
    key(b, "overhead_var", &first);
    put_lnum(b, x->overhead_var);
    key(b, "per_basis", &first);
    put_bool(b, x->per_basis);
    key(b, "samples", &first);
    limitr__tb_int(b, x->samples);
    key(b, "source", &first);
    put_str(b, x->seeded ? "cloud" : "local");
    key(b, "updated", &first);
    limitr__tb_int(b, x->updated);
    key(b, "value_mean", &first);
    put_lnum(b, x->value_mean);
    key(b, "value_var", &first);
    put_lnum(b, x->value_var);
    limitr__tb_put(b, "}", 1);
}

/* {ent: {segment: estimate}}, both levels sorted. */
int limitr__put_estimates(textbuf *b, const limitr_engine *e,
                          const estimate_list *l)
{
    sort_entry *s;
    size_t i, j;
    if (l->n == 0) {
        limitr__tb_puts(b, "{}");
        return 0;
    }
    if ((s = malloc(l->n * sizeof *s)) == NULL) return -1;
    for (i = 0; i < l->n; i++) {
        s[i].name = limitr__state_name(&e->st, l->items[i].ent);
        s[i].index = i;
    }
    qsort(s, l->n, sizeof *s, by_name);
    limitr__tb_put(b, "{", 1);
    for (i = 0; i < l->n; i = j) {
        size_t k, n = 0;
        sort_entry *g; /* its segments, sorted */
        for (j = i; j < l->n && strcmp(s[j].name, s[i].name) == 0; j++)
            n++;
        if ((g = malloc(n * sizeof *g)) == NULL) {
            free(s);
            return -1;
        }
        for (k = 0; k < n; k++) {
            g[k].index = s[i + k].index;
            g[k].name =
                limitr__state_name(&e->st, l->items[g[k].index].segment);
        }
        qsort(g, n, sizeof *g, by_name);
        if (i > 0) limitr__tb_put(b, ",", 1);
        put_str(b, s[i].name);
        limitr__tb_put(b, ":{", 2);
        for (k = 0; k < n; k++) {
            if (k > 0) limitr__tb_put(b, ",", 1);
            put_str(b, g[k].name);
            limitr__tb_put(b, ":", 1);
            put_estimate(b, &l->items[g[k].index]);
        }
        limitr__tb_put(b, "}", 1);
        free(g);
    }
    limitr__tb_put(b, "}", 1);
    free(s);
    return 0;
}

/* ---- A customer's parts ---- */

static void put_meter(textbuf *b, const limitr_engine *e, const meter *m)
{
    int first = 1, i;
    limitr__tb_put(b, "{", 1);
    key(b, "credit", &first);
    put_name(b, e, m->credit);
    key(b, "ewma_rate", &first);
    if (m->has_ewma)
        put_double(b, m->ewma_rate);
    else
        limitr__tb_puts(b, "null");
    key(b, "governor_last_refill", &first);
    if (m->has_bucket)
        limitr__tb_int(b, m->last_refill);
    else
        limitr__tb_puts(b, "null");
    key(b, "governor_tokens", &first);
    if (m->has_bucket)
        put_lnum(b, m->tokens);
    else
        limitr__tb_puts(b, "null");
    key(b, "history", &first);
    limitr__tb_put(b, "[", 1);
    for (i = 0; i < m->n_history; i++) {
        if (i > 0) limitr__tb_put(b, ",", 1);
        limitr__tb_puts(b, "{\"delta\":");
        put_double(b, m->history[i].delta);
        limitr__tb_puts(b, ",\"ts\":");
        limitr__tb_int(b, m->history[i].ts);
        limitr__tb_put(b, "}", 1);
    }
    limitr__tb_put(b, "]", 1);
    key(b, "overhead", &first);
    put_lnum(b, m->overhead);
    key(b, "started", &first);
    limitr__tb_int(b, m->started);
    key(b, "value", &first);
    put_lnum(b, m->value);
    limitr__tb_put(b, "}", 1);
}

static void put_override(textbuf *b, const limitr_engine *e, const override *o)
{
    const limit_rule *r = &o->rule;
    int first = 1;
    limitr__tb_put(b, "{", 1);
    key(b, "credit", &first);
    put_name(b, e, o->credit);
    key(b, "ewma_alpha", &first);
    put_double(b, r->ewma_alpha);
    key(b, "expires", &first);
    if (o->has_expires)
        limitr__tb_int(b, o->expires);
    else
        limitr__tb_puts(b, "null");
    key(b, "governor_capacity", &first);
    put_lnum(b, r->governor_capacity);
    key(b, "governor_enabled", &first);
    put_bool(b, r->governor);
    key(b, "governor_refill_rate", &first);
    put_double(b, r->governor_refill_rate);
    key(b, "grants_apply", &first);
    put_bool(b, r->grants_apply);
    key(b, "hard_trailing", &first);
    put_bool(b, r->hard_trailing);
    key(b, "increment", &first);
    put_lnum(b, r->increment);
    key(b, "minimum", &first);
    if (r->has_minimum)
        put_lnum(b, r->minimum);
    else
        limitr__tb_puts(b, "null");
    key(b, "mode", &first);
    put_str(b, limitr__mode_names[r->mode]);
    put_reset_inc(b, r->reset, r->reset_inc, &first);
    put_reset_sch(b, r->reset, &r->sch, &first);
    key(b, "resets", &first);
    put_bool(b, r->reset != RESET_NONE);
    key(b, "value", &first);
    if (o->own_value)
        put_lnum(b, r->value);
    else
        limitr__tb_puts(b, "null");
    limitr__tb_put(b, "}", 1);
}

static void put_opt_lnum(textbuf *b, int has, lnum v)
{
    if (has)
        put_lnum(b, v);
    else
        limitr__tb_puts(b, "null");
}

static void put_grant(textbuf *b, const limitr_engine *e, const grant *g)
{
    const grant_rule *r = &g->rule;
    int first = 1;
    limitr__tb_put(b, "{", 1);
    key(b, "created_on", &first);
    limitr__tb_int(b, g->created_on);
    key(b, "credit", &first);
    put_name(b, e, g->credit);
    key(b, "expires_on", &first);
    if (g->has_expires)
        limitr__tb_int(b, g->expires_on);
    else
        limitr__tb_puts(b, "null");
    key(b, "granted_on", &first);
    limitr__tb_int(b, g->granted_on);
    key(b, "id", &first);
    limitr__tb_string(b, g->id, g->id_len);
    key(b, "last_reset", &first);
    limitr__tb_int(b, g->last_reset);
    key(b, "max_balance", &first);
    put_opt_lnum(b, r->has_max_balance, r->max_balance);
    key(b, "reset_catchup_cap", &first);
    if (r->catchup_cap >= 0)
        limitr__tb_int(b, r->catchup_cap);
    else
        limitr__tb_puts(b, "null");
    put_reset_inc(b, r->reset, r->reset_inc, &first);
    key(b, "reset_mode", &first);
    put_str(b, limitr__grant_reset_mode_names[r->mode]);
    put_reset_sch(b, r->reset, &r->sch, &first);
    key(b, "resets", &first);
    put_bool(b, r->reset != RESET_NONE);
    key(b, "rollover_max", &first);
    put_opt_lnum(b, r->has_rollover_max, r->rollover_max);
    key(b, "rollover_min", &first);
    put_opt_lnum(b, r->has_rollover_min, r->rollover_min);
    key(b, "rollover_pct", &first);
    put_opt_lnum(b, r->has_rollover_pct, r->rollover_pct);
    key(b, "starting_value", &first);
    put_lnum(b, g->starting_value);
    key(b, "topup", &first);
    put_name(b, e, g->topup);
    key(b, "value", &first);
    put_lnum(b, g->value);
    limitr__tb_put(b, "}", 1);
}

static void put_cap(textbuf *b, const limitr_engine *e, const spend_cap *k)
{
    int first = 1;
    limitr__tb_put(b, "{", 1);
    key(b, "created_on", &first);
    limitr__tb_int(b, k->created_on);
    key(b, "credit", &first);
    put_name(b, e, k->credit);
    key(b, "events", &first);
    put_bool(b, k->events);
    key(b, "exchangeable", &first);
    put_bool(b, k->exchangeable);
    key(b, "expires_on", &first);
    if (k->has_expires)
        limitr__tb_int(b, k->expires_on);
    else
        limitr__tb_puts(b, "null");
    key(b, "follow_decrements", &first);
    put_bool(b, k->follow_decrements);
    key(b, "hard_trailing", &first);
    put_bool(b, k->hard_trailing);
    key(b, "id", &first);
    limitr__tb_string(b, k->id, k->id_len);
    key(b, "ignore_grants", &first);
    put_bool(b, k->ignore_grants);
    key(b, "last_reset", &first);
    if (k->has_last_reset)
        limitr__tb_int(b, k->last_reset);
    else
        limitr__tb_puts(b, "null");
    key(b, "meter_value", &first);
    put_lnum(b, k->meter_value);
    key(b, "observe_only", &first);
    put_bool(b, k->observe_only);
    key(b, "overage_only", &first);
    put_bool(b, k->overage_only);
    key(b, "overhead_cost", &first);
    put_bool(b, k->overhead_cost);
    put_reset_inc(b, k->reset, k->reset_inc, &first);
    put_reset_sch(b, k->reset, &k->sch, &first);
    key(b, "resets", &first);
    put_bool(b, k->reset != RESET_NONE);
    key(b, "scope", &first);
    put_strlist(b, &k->scope);
    key(b, "shared", &first);
    put_bool(b, k->shared);
    key(b, "shared_with", &first);
    put_strlist(b, &k->shared_with);
    key(b, "started", &first);
    limitr__tb_int(b, k->started);
    key(b, "value", &first);
    put_lnum(b, k->value);
    limitr__tb_put(b, "}", 1);
}

static int holds_room(const held_list *l, uint64_t hold)
{
    size_t i;
    for (i = 0; i < l->n; i++)
        if (l->items[i].hold == hold) return 1;
    return 0;
}

/* Whether the cap or grant a part names still records its room: one
 * removed since (or replaced by another of the same ID) holds nothing of
 * it, and the part is not written. */
static int part_alive(const limitr_engine *e, const customer *c,
                      const reservation *h, const hold_part *p)
{
    if (p->id == NULL) return 0;
    if (p->is_cap) {
        const customer *holder =
            p->holder != NULL ? limitr__customer_lookup(e, p->holder) : NULL;
        const spend_cap *k =
            holder != NULL ? limitr__cap_find(holder, p->id) : NULL;
        return k != NULL && holds_room(&k->held, h->id);
    } else {
        const grant *g = limitr__grant_find(c, p->id);
        return g != NULL && holds_room(&g->held, h->id);
    }
}

static void put_parts(textbuf *b, const limitr_engine *e, const customer *c,
                      const reservation *h, int caps)
{
    size_t i;
    int n = 0;
    limitr__tb_put(b, "[", 1);
    for (i = 0; i < h->n_parts; i++) {
        const hold_part *p = &h->parts[i];
        if (p->is_cap != caps || !part_alive(e, c, h, p)) continue;
        if (n++ > 0) limitr__tb_put(b, ",", 1);
        limitr__tb_puts(b, "{\"amount\":");
        put_lnum(b, p->amount);
        limitr__tb_puts(b, ",\"customer\":");
        put_str(b, caps ? p->holder : c->id);
        limitr__tb_puts(b, ",\"id\":");
        put_str(b, p->id);
        limitr__tb_put(b, "}", 1);
    }
    limitr__tb_put(b, "]", 1);
}

static void put_hold(textbuf *b, const limitr_engine *e, const customer *c,
                     const reservation *h)
{
    int first = 1;
    limitr__tb_put(b, "{", 1);
    key(b, "basis", &first);
    put_opt_lnum(b, h->has_basis, h->basis);
    key(b, "capacity", &first);
    put_lnum(b, h->capacity);
    key(b, "caps", &first);
    put_parts(b, e, c, h, 1);
    key(b, "credit", &first);
    put_name(b, e, h->credit);
    key(b, "entitlement", &first);
    put_name(b, e, h->ent);
    key(b, "expires", &first);
    limitr__tb_int(b, h->expires);
    key(b, "grants", &first);
    put_parts(b, e, c, h, 0);
    key(b, "id", &first);
    limitr__tb_int(b, (int64_t)h->id);
    key(b, "overhead", &first);
    put_lnum(b, h->overhead);
    key(b, "segment", &first);
    put_str(b, h->segment);
    key(b, "tokens", &first);
    put_lnum(b, h->tokens);
    key(b, "value", &first);
    put_lnum(b, h->value);
    limitr__tb_put(b, "}", 1);
}

/* ---- A customer ---- */

int limitr__put_customer(textbuf *b, const limitr_engine *e, const customer *c)
{
    int first = 1;
    size_t i, n = c->n_meters > c->n_overrides ? c->n_meters : c->n_overrides;
    sort_entry *s = malloc((n + 1) * sizeof *s);
    if (s == NULL) return -1;
    limitr__tb_put(b, "{", 1);
    key(b, "alt_ids", &first);
    put_strlist(b, &c->alt_ids);
    key(b, "caps", &first);
    limitr__tb_put(b, "[", 1);
    for (i = 0; i < c->n_caps; i++) {
        if (i > 0) limitr__tb_put(b, ",", 1);
        put_cap(b, e, &c->caps[i]);
    }
    limitr__tb_put(b, "]", 1);
    key(b, "created", &first);
    limitr__tb_int(b, c->created);
    key(b, "estimates", &first);
    if (limitr__put_estimates(b, e, &c->estimates) != 0) goto nomem;
    key(b, "grants", &first);
    limitr__tb_put(b, "[", 1);
    for (i = 0; i < c->n_grants; i++) {
        if (i > 0) limitr__tb_put(b, ",", 1);
        put_grant(b, e, &c->grants[i]);
    }
    limitr__tb_put(b, "]", 1);
    key(b, "holds", &first);
    limitr__tb_put(b, "[", 1);
    for (i = 0; i < c->n_holds; i++) {
        if (i > 0) limitr__tb_put(b, ",", 1);
        put_hold(b, e, c, &c->holds[i]);
    }
    limitr__tb_put(b, "]", 1);
    key(b, "id", &first);
    limitr__tb_string(b, c->id, c->id_len);
    key(b, "included", &first);
    limitr__tb_put(b, "[", 1);
    for (i = 0; i < c->n_included; i++) {
        if (i > 0) limitr__tb_put(b, ",", 1);
        put_name(b, e, c->included[i]);
    }
    limitr__tb_put(b, "]", 1);
    key(b, "label", &first);
    put_str(b, c->label);
    key(b, "metadata", &first);
    limitr__tb_puts(b, c->metadata_json != NULL ? c->metadata_json : "null");
    key(b, "meters", &first);
    for (i = 0; i < c->n_meters; i++) {
        s[i].name = limitr__state_name(&e->st, c->meters[i].ent);
        s[i].index = i;
    }
    qsort(s, c->n_meters, sizeof *s, by_name);
    limitr__tb_put(b, "{", 1);
    for (i = 0; i < c->n_meters; i++) {
        if (i > 0) limitr__tb_put(b, ",", 1);
        put_str(b, s[i].name);
        limitr__tb_put(b, ":", 1);
        put_meter(b, e, &c->meters[s[i].index]);
    }
    limitr__tb_put(b, "}", 1);
    key(b, "overrides", &first);
    for (i = 0; i < c->n_overrides; i++) {
        s[i].name = limitr__state_name(&e->st, c->overrides[i].ent);
        s[i].index = i;
    }
    qsort(s, c->n_overrides, sizeof *s, by_name);
    limitr__tb_put(b, "{", 1);
    for (i = 0; i < c->n_overrides; i++) {
        if (i > 0) limitr__tb_put(b, ",", 1);
        put_str(b, s[i].name);
        limitr__tb_put(b, ":", 1);
        put_override(b, e, &c->overrides[s[i].index]);
    }
    limitr__tb_put(b, "}", 1);
    key(b, "own_plan", &first);
    put_str(b, c->own_plan);
    key(b, "refs", &first);
    put_strlist(b, &c->refs);
    key(b, "type", &first);
    put_str(b, c->type);
    limitr__tb_put(b, "}", 1);
    free(s);
    return 0;
nomem:
    free(s);
    return -1;
}

/* ---- The document ---- */

static int by_id(const void *a, const void *b)
{
    const customer *x = *(const customer *const *)a;
    const customer *y = *(const customer *const *)b;
    size_t n = x->id_len < y->id_len ? x->id_len : y->id_len;
    int d = memcmp(x->id, y->id, n);
    if (d != 0) return d;
    return x->id_len < y->id_len ? -1 : x->id_len > y->id_len;
}

customer **limitr__customers_by_id(const limitr_engine *e, size_t *n)
{
    const state_data *d = e->st.d;
    customer **list = malloc((d->customers.live + 1) * sizeof *list);
    size_t i;
    *n = 0;
    if (list == NULL) return NULL;
    for (i = 0; i < d->customers.cap; i++) {
        customer *c = limitr__idmap_at(&d->customers, i);
        if (c != NULL) list[(*n)++] = c;
    }
    qsort(list, *n, sizeof *list, by_id);
    return list;
}

/* Marks in seen (by state name) the credits a customer's state names. */
static void mark_credits(const customer *c, unsigned char *seen)
{
    size_t i;
    for (i = 0; i < c->n_meters; i++)
        if (c->meters[i].credit >= 0) seen[c->meters[i].credit] = 1;
    for (i = 0; i < c->n_overrides; i++)
        seen[c->overrides[i].credit] = 1;
    for (i = 0; i < c->n_grants; i++)
        seen[c->grants[i].credit] = 1;
    for (i = 0; i < c->n_caps; i++)
        seen[c->caps[i].credit] = 1;
}

/* units: each credit the customers name -> the units its amounts are kept
 * in (a symbol, or null). */
static int put_units(textbuf *b, const limitr_engine *e, customer **list,
                     size_t n)
{
    size_t i, n_names = e->st.d->names.n, k = 0;
    unsigned char *seen = calloc(n_names + 1, 1);
    sort_entry *s;
    if (seen == NULL) return -1;
    if (list == NULL)
        memset(seen, 1, n_names);
    else
        for (i = 0; i < n; i++)
            mark_credits(list[i], seen);
    if ((s = malloc((n_names + 1) * sizeof *s)) == NULL) {
        free(seen);
        return -1;
    }
    for (i = 0; i < n_names; i++)
        if (seen[i] && limitr__state_units(&e->st, (int)i) != UNITS_UNKNOWN) {
            s[k].name = limitr__state_name(&e->st, (int)i);
            s[k++].index = i;
        }
    qsort(s, k, sizeof *s, by_name);
    limitr__tb_put(b, "{", 1);
    for (i = 0; i < k; i++) {
        int units = limitr__state_units(&e->st, (int)s[i].index);
        if (i > 0) limitr__tb_put(b, ",", 1);
        put_str(b, s[i].name);
        limitr__tb_put(b, ":", 1);
        put_str(b, units >= 0 ? limitr__unit_symbol(units) : NULL);
    }
    limitr__tb_put(b, "}", 1);
    free(s);
    free(seen);
    return 0;
}

int limitr__put_all_units(textbuf *b, const limitr_engine *e)
{
    return put_units(b, e, NULL, 0);
}

char *limitr__state_export(limitr_engine *e, const customer *only, size_t *len)
{
    textbuf b = {NULL, 0, 0, 0};
    const state_data *d = e->st.d;
    customer **list;
    size_t n = 0, i;
    if (only != NULL) {
        if ((list = malloc(sizeof *list)) == NULL) return NULL;
        list[n++] = (customer *)only;
    } else if ((list = limitr__customers_by_id(e, &n)) == NULL) {
        return NULL;
    }
    limitr__tb_puts(&b, "{\"limitr_state\":" LIMITR_STATE_VERSION_TEXT
                        ",\"policy\":");
    put_str(&b, e->policy->fingerprint);
    limitr__tb_puts(&b, ",\"now\":");
    limitr__tb_int(&b, limitr__now(e));
    limitr__tb_puts(&b, ",\"units\":");
    if (put_units(&b, e, list, n) != 0) goto nomem;
    limitr__tb_puts(&b, ",\"seq\":{\"cap\":");
    limitr__tb_int(&b, (int64_t)d->next_cap);
    limitr__tb_puts(&b, ",\"grant\":");
    limitr__tb_int(&b, (int64_t)d->next_grant);
    limitr__tb_puts(&b, ",\"hold\":");
    limitr__tb_int(&b, (int64_t)d->next_hold);
    limitr__tb_puts(&b, "},\"estimates\":");
    if (limitr__put_estimates(&b, e, &d->estimates) != 0) goto nomem;
    limitr__tb_puts(&b, ",\"customers\":[");
    for (i = 0; i < n; i++) {
        if (i > 0) limitr__tb_put(&b, ",", 1);
        if (limitr__put_customer(&b, e, list[i]) != 0) goto nomem;
    }
    limitr__tb_puts(&b, "]}");
    free(list);
    return limitr__tb_take(&b, len);
nomem:
    free(list);
    limitr__tb_free(&b);
    return NULL;
}

int limitr_export(limitr_engine *e, const char *id, const char **json,
                  size_t *len)
{
    const customer *only = NULL;
    char *text;
    size_t n = 0;
    LIMITR_ENTER(e);
    if (json != NULL) *json = NULL;
    if (len != NULL) *len = 0;
    if (id != NULL && (only = limitr__customer_lookup(e, id)) == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    if ((text = limitr__state_export(e, only, &n)) == NULL)
        return limitr__nomem(e);
    free(e->result);
    e->result = text;
    if (json != NULL) *json = text;
    if (len != NULL) *len = n;
    return limitr__ok(e);
}
