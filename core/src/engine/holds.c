/* holds.c: reservations (docs/engine.md 19): reserve takes room in every
 * gate a call passes (the limit, the caps, the grants, the governor),
 * settle gives it back and records what was used, release gives it back. A
 * hold is dead from its expiry on: it holds nothing, and allow and reserve
 * remove it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "caps.h"
#include "grants.h"
#include "names.h"

static int live(const reservation *h, int64_t now)
{
    return now < h->expires;
}

lnum limitr__held(limitr_engine *e, const customer *owner, int ent, int credit,
                  int64_t now)
{
    lnum sum = 0;
    size_t i;
    (void)e;
    for (i = 0; i < owner->n_holds; i++) {
        const reservation *h = &owner->holds[i];
        if (h->ent == ent && h->credit == credit && live(h, now) &&
            lnum_add(sum, h->value, &sum) != 0)
            sum = LNUM_MAX;
    }
    return sum;
}

lnum limitr__dead_hold_tokens(const customer *owner, int ent, int credit,
                              int64_t now)
{
    lnum sum = 0;
    size_t i;
    for (i = 0; i < owner->n_holds; i++) {
        const reservation *h = &owner->holds[i];
        if (h->ent == ent && h->credit == credit && !live(h, now) &&
            lnum_add(sum, h->tokens, &sum) != 0)
            sum = LNUM_MAX;
    }
    return sum;
}

/* Gives a hold's room back to its caps and grants. */
static void give_back(limitr_engine *e, customer *owner, const reservation *h)
{
    size_t i;
    for (i = 0; i < h->n_parts; i++) {
        const hold_part *p = &h->parts[i];
        if (p->id == NULL) continue; /* a part memory ran out for */
        if (p->is_cap) {
            if (p->holder == NULL) continue;
            {
                customer *c = limitr__customer_lookup(e, p->holder);
                spend_cap *k = c != NULL ? limitr__cap_find(c, p->id) : NULL;
                if (k != NULL) limitr__held_drop(&k->held, h->id);
            }
        } else {
            grant *g = limitr__grant_find(owner, p->id);
            if (g != NULL) limitr__held_drop(&g->held, h->id);
        }
    }
}

/* The governor's tokens of (owner, ent) changed by delta (clamped to the
 * bucket); needs the meter. */
static void move_tokens(limitr_engine *e, const decision *d, lnum delta)
{
    meter *m = d->stored;
    lnum t;
    if (!d->lim->rule.governor || delta == 0 || m == NULL) return;
    (void)e;
    if (lnum_add(m->tokens, delta, &t) != 0) t = delta > 0 ? LNUM_MAX : 0;
    if (t < 0) t = 0;
    if (t > d->lim->rule.governor_capacity) t = d->lim->rule.governor_capacity;
    m->tokens = t;
}

/* A dead or dropped hold's governor tokens back in its meter's bucket. */
static void tokens_back(customer *owner, const reservation *h)
{
    meter *m;
    lnum t;
    if (h->tokens == 0 || (m = limitr__meter_find(owner, h->ent)) == NULL ||
        !m->has_bucket || m->credit != h->credit)
        return;
    if (lnum_add(m->tokens, h->tokens, &t) != 0) t = h->capacity;
    m->tokens = t > h->capacity ? h->capacity : t;
}

int limitr__holds_prune(limitr_engine *e, customer *owner, int64_t now)
{
    size_t i = owner->n_holds;
    int removed = 0;
    while (i-- > 0)
        if (!live(&owner->holds[i], now)) { /* room back as on release */
            give_back(e, owner, &owner->holds[i]);
            tokens_back(owner, &owner->holds[i]);
            limitr__hold_remove_at(&e->st, owner, i);
            removed = 1;
        }
    return removed;
}

void limitr__holds_drop_all(limitr_engine *e, customer *owner)
{
    size_t i;
    for (i = 0; i < owner->n_holds; i++)
        give_back(e, owner, &owner->holds[i]);
}

/* "h<n>" -> n, or 0 (n from 1, no leading zero, within 64 bits). */
static uint64_t hold_number(const char *s)
{
    uint64_t n = 0, digit;
    if (s == NULL || s[0] != 'h' || s[1] < '1' || s[1] > '9') return 0;
    for (s++; *s >= '0' && *s <= '9'; s++) {
        digit = (uint64_t)(*s - '0');
        if (n > UINT64_MAX / 10 ||
            (n == UINT64_MAX / 10 && digit > UINT64_MAX % 10))
            return 0; /* n * 10 + digit would not fit */
        n = n * 10 + digit;
    }
    return *s == '\0' ? n : 0;
}

/* n as "h<n>" into out (24 bytes hold every n). */
static void hold_name(uint64_t n, char *out)
{
    char digits[20];
    int k = 0;
    do
        digits[k++] = (char)('0' + n % 10);
    while ((n /= 10) != 0);
    *out++ = 'h';
    while (k > 0)
        *out++ = digits[--k];
    *out = '\0';
}

/* The options of reserve and settle. */
typedef struct hold_opts {
    cJSON *root;
    char *event; /* JSON text, or NULL */
    int has_overhead, has_basis, has_ttl, has_quantile;
    lnum overhead, basis;
    int64_t ttl;
    double quantile;
    const char *segment;
} hold_opts;

static int read_hold_opts(limitr_engine *e, const char *call, const char *json,
                          hold_opts *o)
{
    const cJSON *v;
    static const hold_opts none;
    *o = none; /* a copy: a memset this size is a `rep stos`, slow to start */
    if (json == NULL) return LIMITR_OK;
    if ((o->root = cJSON_Parse(json)) == NULL || !cJSON_IsObject(o->root))
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "%s: opts must be a JSON object", call);
    if ((v = cJSON_GetObjectItemCaseSensitive(o->root, "overhead")) != NULL) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
            limitr__lnum_from_double(v->valuedouble, &o->overhead) != 0)
            return limitr__fail(e, LIMITR_INVALID, NULL,
                                "%s: opts.overhead must be runes >= 0", call);
        o->has_overhead = 1;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(o->root, "basis")) != NULL) {
        if (!cJSON_IsNumber(v) ||
            limitr__lnum_from_double(v->valuedouble, &o->basis) != 0)
            return limitr__fail(e, LIMITR_INVALID, NULL,
                                "%s: opts.basis must be a number", call);
        o->has_basis = 1;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(o->root, "ttl")) != NULL) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) ||
            v->valuedouble > 8.64e15)
            return limitr__fail(e, LIMITR_INVALID, NULL,
                                "%s: opts.ttl must be ms >= 0", call);
        o->ttl = (int64_t)v->valuedouble;
        o->has_ttl = 1;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(o->root, "quantile")) != NULL) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble > 0 && v->valuedouble < 1))
            return limitr__fail(e, LIMITR_INVALID, NULL,
                                "%s: opts.quantile must be in (0, 1)", call);
        o->quantile = v->valuedouble;
        o->has_quantile = 1;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(o->root, "segment")) != NULL) {
        if (!cJSON_IsString(v) ||
            !limitr__utf8_valid(v->valuestring, strlen(v->valuestring)))
            return limitr__fail(e, LIMITR_INVALID, NULL,
                                "%s: opts.segment must be a string of UTF-8",
                                call);
        o->segment = v->valuestring;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(o->root, "event")) != NULL &&
        (o->event = cJSON_PrintUnformatted(v)) == NULL)
        return limitr__nomem(e);
    return LIMITR_OK;
}

static void free_hold_opts(hold_opts *o)
{
    if (o->root == NULL) return; /* no opts (event comes from them) */
    cJSON_Delete(o->root);
    cJSON_free(o->event);
}

/* The estimate options (basis, segment, quantile, event) as JSON for
 * limitr_estimate / limitr_observe, or NULL. */
static char *estimate_opts(const hold_opts *o, int with_quantile,
                           const lnum *overhead)
{
    cJSON *j = cJSON_CreateObject();
    char *text;
    if (j == NULL) return NULL;
    if (o->has_basis)
        cJSON_AddNumberToObject(j, "basis", limitr__lnum_to_double(o->basis));
    if (o->segment != NULL) cJSON_AddStringToObject(j, "segment", o->segment);
    if (with_quantile)
        cJSON_AddNumberToObject(j, "quantile",
                                o->has_quantile ? o->quantile : 0.9);
    if (overhead != NULL)
        cJSON_AddNumberToObject(j, "overhead",
                                limitr__lnum_to_double(*overhead));
    if (o->root != NULL) {
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o->root, "event");
        if (ev != NULL)
            cJSON_AddItemToObject(j, "event", cJSON_Duplicate(ev, 1));
    }
    text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return text;
}

/* A hold call's target: the customer and entitlement with their lengths
 * (the _n calls' strings need no NUL), and the hold by number (0: names
 * none) with its text for the log (NULL: written as "h<n>"). */
typedef struct hold_call {
    const char *id, *ent;
    size_t id_len, ent_len;
    uint64_t hold;
    const char *hold_text;
    int no_hold; /* the text API was given no hold: a bad call */
} hold_call;

/* What a reserve without a value holds: the estimate at the quantile and
 * its overhead, else 1. 0, or -1 when memory ran out. */
static int predicted(limitr_engine *e, const hold_call *c, const hold_opts *o,
                     lnum *v, lnum *overhead)
{
    char *eo = estimate_opts(o, 1, NULL);
    char *id = strndup(c->id, c->id_len), *ent = strndup(c->ent, c->ent_len);
    const char *json;
    int status = eo != NULL && id != NULL && ent != NULL ? 0 : -1;
    *v = LNUM_SCALE;
    if (status == 0 && limitr_estimate(e, id, ent, eo, &json) == LIMITR_OK) {
        cJSON *x = cJSON_Parse(json);
        const cJSON *f = x ? cJSON_GetObjectItem(x, "value") : NULL;
        const cJSON *g = x ? cJSON_GetObjectItem(x, "overhead") : NULL;
        if (cJSON_IsNumber(f)) limitr__lnum_from_double(f->valuedouble, v);
        if (cJSON_IsNumber(g))
            limitr__lnum_from_double(g->valuedouble, overhead);
        cJSON_Delete(x);
    }
    cJSON_free(eo);
    free(id);
    free(ent);
    return status;
}

static const reservation no_hold;

static int reserve(limitr_engine *e, const hold_call *c, double value,
                   const char *value_text, const char *opts_json,
                   uint64_t *hold_out)
{
    decision d;
    hold_opts o;
    reservation h;
    lnum v = 0, overhead = 0, over, with_before, limit;
    limitr_call_opts co;
    int status, allowed, estimated = value_text == NULL && isnan(value);
    int64_t ttl;
    meter *m;
    if ((status = read_hold_opts(e, "reserve", opts_json, &o)) != LIMITR_OK) {
        free_hold_opts(&o);
        return status;
    }
    h = no_hold; /* (not memset: see read_hold_opts) */
    h.segment = NULL;
    if (value_text != NULL && !limitr__value_ok(0, value_text)) {
        free_hold_opts(&o); /* "ten": before any gate */
        return limitr__reason(e, LIMITR_INVALID, "invalid_value");
    }
    if (limitr__target(e, c->id, c->id_len, c->ent, c->ent_len, &d) != 0) {
        free_hold_opts(&o);
        return limitr__reason(e, d.status, d.reason);
    }
    if (d.lim == NULL) {
        free_hold_opts(&o);
        return limitr__deny(e, "not_metered");
    }
    if (estimated) {
        if (predicted(e, c, &o, &v, &overhead) != 0) {
            free_hold_opts(&o);
            return limitr__nomem(e);
        }
    } else if (value_text != NULL) { /* in the limit's credit units */
        if (limitr__requested(e, &d, 0, value_text) != 0) {
            free_hold_opts(&o);
            return limitr__reason(e, LIMITR_INVALID, "invalid_value");
        }
        v = d.requested;
    } else if (limitr__lnum_from_double(value, &v) != 0) {
        free_hold_opts(&o);
        return limitr__reason(e, LIMITR_INVALID, "invalid_value");
    }
    if (v <= 0) { /* nothing to hold: a bad value, as allow's */
        free_hold_opts(&o);
        return limitr__reason(e, LIMITR_INVALID, "invalid_value");
    }
    ttl = o.has_ttl ? o.ttl : e->policy->hold_ttl;
    if (ttl > LIMITR_MAX_TIME - d.now) {
        free_hold_opts(&o); /* its expiry could not be kept, nor exported */
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "reserve: opts.ttl is too long: the hold would "
                            "expire past the clock's range (%lld ms after "
                            "1970)",
                            (long long)LIMITR_MAX_TIME);
    }
    /* allow and reserve remove dead holds; the decision counts the live */
    if (limitr__holds_prune(e, d.owner, d.now)) /* tokens came back */
        limitr__view_again(e, &d);
    d.requested = v;
    if (lnum_add(d.v.value, v, &d.new_value) != 0) {
        free_hold_opts(&o);
        return limitr__reason(e, LIMITR_INVALID, "invalid_value");
    }
    if (o.has_overhead) {
        overhead = o.overhead;
    } else if (!estimated) { /* what the call would cost */
        limitr_call_opts cost = {o.event, 0, 0, 0, 0, NULL};
        overhead = limitr__overhead_of(e, &d, &cost);
    }
    /* decided as check decides the same value: the gate prices overhead
       caps at the credit's rate unless opts or the estimate say what the
       call costs (the cost function runs at commit only) */
    memset(&co, 0, sizeof co);
    if (o.has_overhead || estimated) {
        co.has_overhead = 1;
        co.overhead = limitr__lnum_to_double(overhead);
    }
    d.opts = &co;
    /* caps and the limit see the held room too */
    allowed = limitr__decide(e, &d, 0);
    if (!allowed && d.reason == limitr__caps_no_memory) {
        free_hold_opts(&o); /* no decision: nothing to log */
        return limitr__nomem(e);
    }
    if (e->store != NULL) /* the decision's gate and plan, for the log */
        limitr__store_money(e, d.now, d.gate, e->policy->plans[d.plan].name, 0,
                            0, 0);
    if (!allowed) {
        free_hold_opts(&o);
        return limitr__deny(e, d.reason);
    }
    /* Room: the governor's tokens, the caps, the grants the part past the
       limit needs (in draw order). */
    h.id = e->st.d->next_hold + 1; /* taken once the hold is added */
    h.ent = d.ent_name;
    h.credit = d.lim->credit_name;
    h.value = v;
    h.overhead = overhead;
    h.expires = d.now + ttl;
    h.has_basis = o.has_basis;
    h.basis = o.basis;
    h.capacity = d.lim->rule.governor_capacity;
    if (o.segment != NULL &&
        (h.segment = limitr__st_strdup(&e->st, o.segment, strlen(o.segment))) ==
            NULL) {
        free_hold_opts(&o);
        return limitr__nomem(e);
    }
    if ((m = d.stored) == NULL &&
        (m = d.stored = limitr__meter_take(e, d.owner, d.ent_name, d.lim,
                                           d.now)) == NULL) {
        free_hold_opts(&o);
        return limitr__nomem(e);
    }
    if (d.lim->rule.governor) h.tokens = v; /* taken below, once it holds */
    status = limitr__caps_hold(e, &d, overhead, h.id, h.expires, &h.parts,
                               &h.n_parts);
    limit = d.lim->rule.mode == MODE_OBSERVE ? d.v.value : d.limit;
    if (lnum_add(d.v.value, d.held, &with_before) != 0 ||
        lnum_add(with_before, v, &over) != 0)
        status = -2; /* past the range of amounts */
    else
        over = (over > limit ? over - limit : 0) -
               (with_before > limit ? with_before - limit : 0);
    if (status == 0 && over > 0 && d.lim->rule.grants_apply)
        status = limitr__grants_set_aside(
            e, d.owner, d.lim->credit, over,
            with_before > limit ? with_before - limit : 0, d.now, h.id,
            h.expires, &h.parts, &h.n_parts);
    if (status != 0 || d.owner->n_holds >= MAX_CUSTOMER_HOLDS ||
        limitr__hold_add(&e->st, d.owner, &h) != 0) {
        int full = d.owner->n_holds >= MAX_CUSTOMER_HOLDS;
        give_back(e, d.owner, &h); /* (the meter is not written yet) */
        limitr__hold_parts_free(&e->st, h.parts, h.n_parts);
        limitr__st_strfree(&e->st, h.segment);
        free_hold_opts(&o);
        if (status == -2)
            return limitr__reason(e, LIMITR_INVALID, "invalid_value");
        return full ? limitr__fail(e, LIMITR_INVALID, "too_many_holds",
                                   "reserve: customer '%.*s' holds %d "
                                   "reservations already",
                                   (int)c->id_len, c->id, MAX_CUSTOMER_HOLDS)
                    : limitr__nomem(e);
    }
    /* it holds: the roll-over and the refill, then the governor's tokens */
    e->st.d->next_hold = h.id;
    limitr__meter_apply(m, &d.v);
    move_tokens(e, &d, -h.tokens);
    *hold_out = h.id;
    memset(&co, 0, sizeof co);
    co.event_json = o.event;        /* the payload's event_data */
    limitr__fire_reset(e, &d, &co); /* it wrote the roll-over */
    free_hold_opts(&o);
    return limitr__ok(e);
}

/* The hold `hold` of (owner of id, ent), d targeted: its index, -1 when
 * there is no such hold, or -2 when the lookup failed (d->status and
 * d->reason say why). */
static long hold_of(limitr_engine *e, const hold_call *c, decision *d)
{
    size_t i;
    if (limitr__target(e, c->id, c->id_len, c->ent, c->ent_len, d) != 0)
        return -2;
    if (d->lim == NULL) return -1;
    /* dead holds go first, their room and tokens back (a view counts a
       dead hold's tokens as back: what writes a view must not keep it),
       whatever hold is named */
    if (limitr__holds_prune(e, d->owner, d->now)) {
        if (limitr__target(e, c->id, c->id_len, c->ent, c->ent_len, d) != 0)
            return -2;
        if (d->lim == NULL) return -1;
    }
    if (c->hold == 0) return -1;
    for (i = 0; i < d->owner->n_holds; i++)
        if (d->owner->holds[i].id == c->hold &&
            d->owner->holds[i].ent == d->ent_name)
            return (long)i;
    return -1;
}

/* Both reserve calls, entered once: the log row, then the arguments'
 * checks (a bad call is logged too), then reserve(). text: the text API's
 * out ("h<n>"), or NULL for limitr_reserve_n's; hold_out NULL: no out. */
static int reserve_call(limitr_engine *e, const hold_call *c, double value,
                        const char *value_text, const char *opts_json,
                        uint64_t *hold_out, char *text)
{
    char name[24];
    int status;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "reserve");
    if (e->store != NULL)
        limitr__store_op(e, "reserve", c->id, c->id != NULL ? c->id_len : 0,
                         c->ent, c->ent != NULL ? c->ent_len : 0,
                         value_text != NULL || isnan(value) ? NULL : &value,
                         value_text, opts_json);
    if (c->id == NULL || c->ent == NULL || hold_out == NULL)
        status = limitr__fail(e, LIMITR_INVALID, NULL,
                              "reserve: id, entitlement and %s are required",
                              text != NULL ? "a 24-byte out" : "an out");
    else
        status = reserve(e, c, value, value_text, opts_json, hold_out);
    if (status == LIMITR_OK && (text != NULL || e->store != NULL)) {
        hold_name(*hold_out, name);
        if (text != NULL) memcpy(text, name, strlen(name) + 1);
        if (e->store != NULL) limitr__store_detail(e, name);
    }
    return e->store != NULL ? limitr__store_decision(e, status) : status;
}

int limitr_reserve_n(limitr_engine *e, const char *id, size_t id_len,
                     const char *ent, size_t ent_len, double value,
                     const char *opts_json, uint64_t *hold_out)
{
    hold_call c = {id, ent, id_len, ent_len, 0, NULL, 0};
    return reserve_call(e, &c, value, NULL, opts_json, hold_out, NULL);
}

/* The text API's reserve: the hold's name "h<n>" into hold_out. */
static int reserve_text(limitr_engine *e, const char *id, const char *ent,
                        double value, const char *value_text,
                        const char *opts_json, char *hold_out, size_t hold_size)
{
    hold_call c = {id, ent, LIMITR_LEN(id), LIMITR_LEN(ent), 0, NULL, 0};
    uint64_t n;
    char unused[24]; /* no out given: the call fails before writing it */
    return reserve_call(e, &c, value, value_text, opts_json,
                        hold_out != NULL && hold_size >= 24 ? &n : NULL,
                        hold_out != NULL ? hold_out : unused);
}

int limitr_reserve(limitr_engine *e, const char *id, const char *ent,
                   double value, const char *opts_json, char *hold_out,
                   size_t hold_size)
{
    return reserve_text(e, id, ent, value, NULL, opts_json, hold_out,
                        hold_size);
}

int limitr_reserve_str(limitr_engine *e, const char *id, const char *ent,
                       const char *value, const char *opts_json,
                       char *hold_out, size_t hold_size)
{
    return reserve_text(e, id, ent, 0, value != NULL ? value : "", opts_json,
                        hold_out, hold_size);
}

/* The target of the text API's settle and release. */
static hold_call text_call(const char *id, const char *ent, const char *hold)
{
    hold_call c = {.id = id,
                   .ent = ent,
                   .id_len = LIMITR_LEN(id),
                   .ent_len = LIMITR_LEN(ent),
                   .hold = hold_number(hold),
                   .hold_text = hold,
                   .no_hold = hold == NULL};
    return c;
}

/* The log's text of c's hold: as the caller wrote it, else "h<n>" (NULL:
 * none was given). */
static const char *hold_text(const hold_call *c, char name[24])
{
    if (c->hold_text != NULL || c->no_hold) return c->hold_text;
    hold_name(c->hold, name);
    return name;
}

static int release_call(limitr_engine *e, const hold_call *c)
{
    decision d;
    long i;
    reservation *h;
    char name[24];
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "release");
    if (e->store != NULL)
        limitr__store_op(e, "release", c->id, c->id != NULL ? c->id_len : 0,
                         c->ent, c->ent != NULL ? c->ent_len : 0, NULL, NULL,
                         hold_text(c, name));
    if (c->id == NULL || c->ent == NULL || c->no_hold)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "release: id, entitlement and hold are required");
    if ((i = hold_of(e, c, &d)) < 0)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_hold");
    h = &d.owner->holds[i];
    if (!live(h, d.now)) { /* dead: it held nothing since (limitr's choice) */
        give_back(e, d.owner, h);
        limitr__hold_remove_at(&e->st, d.owner, (size_t)i);
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_hold");
    }
    give_back(e, d.owner, h);
    if (d.stored != NULL) limitr__meter_apply(d.stored, &d.v);
    if (d.lim != NULL && h->credit == d.lim->credit_name)
        move_tokens(e, &d, h->tokens);
    limitr__hold_remove_at(&e->st, d.owner, (size_t)i);
    if (d.stored != NULL)
        limitr__fire_reset(e, &d, NULL); /* it wrote the roll */
    return limitr__ok(e);
}

int limitr_release(limitr_engine *e, const char *id, const char *ent,
                   const char *hold)
{
    hold_call c = text_call(id, ent, hold);
    LIMITR_ENTER(e);
    return limitr__stored(e, release_call(e, &c));
}

int limitr_release_n(limitr_engine *e, const char *id, size_t id_len,
                     const char *ent, size_t ent_len, uint64_t hold)
{
    hold_call c = {id, ent, id_len, ent_len, hold, NULL, 0};
    LIMITR_ENTER(e);
    return limitr__stored(e, release_call(e, &c));
}

static void free_ids(settle_context *l)
{
    size_t i;
    for (i = 0; i < l->n; i++)
        free(l->ids[i]);
    free(l->ids);
    l->ids = NULL;
    l->n = 0;
}

/* The grants h set aside room in; -1 when memory ran out (l empty). */
static int grants_of_hold(const reservation *h, settle_context *l)
{
    size_t i;
    if (h->n_parts == 0) return 0;
    if ((l->ids = malloc(h->n_parts * sizeof *l->ids)) == NULL) return -1;
    for (i = 0; i < h->n_parts; i++) {
        if (h->parts[i].is_cap) continue;
        if ((l->ids[l->n] = strdup(h->parts[i].id)) == NULL) {
            free_ids(l);
            return -1;
        }
        l->n++;
    }
    return 0;
}

static int settle_call(limitr_engine *e, const hold_call *c, double actual,
                       const char *actual_text, const char *opts_json)
{
    settle_context context = {NULL, 0, NULL, 0, 0};
    decision d;
    hold_opts o;
    long i;
    int status;
    uint64_t epoch;
    const lp_policy *policy;
    lnum a, sum;
    char segment[208];
    limitr_call_opts co;
    int rolled;
    lnum previous_value;
    char name[24];
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "settle");
    if (e->store != NULL)
        limitr__store_op(e, "settle", c->id, c->id != NULL ? c->id_len : 0,
                         c->ent, c->ent != NULL ? c->ent_len : 0,
                         actual_text != NULL ? NULL : &actual, actual_text,
                         hold_text(c, name));
    if (c->id == NULL || c->ent == NULL || c->no_hold)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "settle: id, entitlement and hold are required");
    if (actual_text != NULL ? !limitr__value_ok(0, actual_text)
                            : limitr__lnum_from_double(actual, &a) != 0 || a < 0)
        return limitr__reason(e, LIMITR_INVALID, "invalid_value");
    if ((status = read_hold_opts(e, "settle", opts_json, &o)) != LIMITR_OK) {
        free_hold_opts(&o);
        return status;
    }
    if ((i = hold_of(e, c, &d)) == -2) {
        free_hold_opts(&o);
        return limitr__reason(e, d.status, d.reason);
    }
    if (actual_text != NULL) { /* in the limit's credit units */
        a = 0;                 /* (a flag records nothing) */
        if (d.lim != NULL &&
            (limitr__requested(e, &d, 0, actual_text) != 0 ||
             (a = d.requested) < 0)) {
            free_hold_opts(&o);
            return limitr__reason(e, LIMITR_INVALID, "invalid_value");
        }
    }
    if (d.lim != NULL && lnum_add(d.v.value, a, &sum) != 0) {
        free_hold_opts(&o); /* it could not be recorded: the hold stays */
        return limitr__reason(e, LIMITR_INVALID, "invalid_value");
    }
    /* the roll-over written below is still this call's */
    rolled = d.v.rolled;
    previous_value = d.v.previous_value;
    if (i >= 0) { /* its room back where it came from (it is live) */
        reservation *h = &d.owner->holds[i];
        if (grants_of_hold(h, &context) != 0) {
            free_hold_opts(&o);
            return limitr__nomem(e);
        }
        give_back(e, d.owner, h);
        if (d.stored != NULL) limitr__meter_apply(d.stored, &d.v);
        /* the governor takes what was used past what it gave, or keeps the
           refund */
        if (h->credit == d.lim->credit_name) move_tokens(e, &d, h->tokens - a);
        if (!o.has_basis && h->has_basis) {
            o.has_basis = 1;
            o.basis = h->basis;
        }
        if (o.segment == NULL && h->segment != NULL) {
            size_t n = strlen(h->segment);
            if (n >= sizeof segment) n = sizeof segment - 1;
            memcpy(segment, h->segment, n); /* the hold goes below */
            segment[n] = '\0';
            o.segment = segment;
        }
        limitr__hold_remove_at(&e->st, d.owner, (size_t)i);
    } else if (d.lim != NULL && d.stored != NULL && d.lim->rule.governor) {
        /* an unknown or expired hold held nothing: the governor takes all
           of actual */
        limitr__meter_apply(d.stored, &d.v);
        move_tokens(e, &d, -a);
    }
    /* what the call costs, worked out once: the recording and the learning
       both use it (a cost function runs once per settle) */
    memset(&co, 0, sizeof co);
    co.event_json = o.event;
    co.force = 1;
    if (!o.has_overhead && d.lim != NULL) {
        d.requested = a;
        o.overhead = limitr__overhead_of(e, &d, &co);
    }
    /* record what was used, past any limit and cap, on d as a new lookup
       would find it now (the hold gone, the meter written); the grants the
       hold set aside pay first */
    if (d.lim != NULL) {
        limitr__view_again(e, &d);
        d.v.rolled = rolled; /* fires meter-reset, as an allow would */
        d.v.previous_value = previous_value;
    }
    epoch = e->st.d->epoch;
    policy = e->policy;
    context.owner = d.owner;
    context.depth = e->delivering; /* its allow, not the calls its events
                                      make (a decision's snippets change
                                      nothing) */
    context.overhead = o.overhead;
    e->settle = &context;
    e->draw.valid = 0;
    status = limitr__allow_found(e, &d, actual, actual_text, &co);
    e->settle = NULL;
    e->draw.valid = 0;
    free_ids(&context);
    /* then learn it, with the hold's basis and segment unless opts say
       otherwise; the target found above still stands unless the allow's
       handlers changed customers or the policy */
    if (status == LIMITR_OK && d.lim != NULL &&
        (e->st.d->epoch == epoch && e->policy == policy
             ? 1
             : limitr__target(e, c->id, c->id_len, c->ent, c->ent_len, &d) ==
                       0 &&
                   d.lim != NULL)) {
        limitr__observe_call(e, &d, a, o.overhead, o.has_basis, o.basis,
                             o.segment);
        limitr__ok(e); /* the recording's result stands */
    }
    free_hold_opts(&o);
    return status;
}

int limitr_settle(limitr_engine *e, const char *id, const char *ent,
                  const char *hold, double actual, const char *opts_json)
{
    hold_call c = text_call(id, ent, hold);
    LIMITR_ENTER(e);
    return limitr__stored(e, settle_call(e, &c, actual, NULL, opts_json));
}

int limitr_settle_str(limitr_engine *e, const char *id, const char *ent,
                      const char *hold, const char *actual,
                      const char *opts_json)
{
    hold_call c = text_call(id, ent, hold);
    LIMITR_ENTER(e);
    return limitr__stored(e, settle_call(e, &c, 0,
                                         actual != NULL ? actual : "",
                                         opts_json));
}

int limitr_settle_n(limitr_engine *e, const char *id, size_t id_len,
                    const char *ent, size_t ent_len, uint64_t hold,
                    double actual, const char *opts_json)
{
    hold_call c = {id, ent, id_len, ent_len, hold, NULL, 0};
    LIMITR_ENTER(e);
    return limitr__stored(e, settle_call(e, &c, actual, NULL, opts_json));
}

int limitr_held(limitr_engine *e, const char *id, const char *ent, double *out)
{
    decision d;
    LIMITR_ENTER(e);
    if (id == NULL || ent == NULL || out == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "held: id, entitlement and out are required");
    if (limitr__target(e, id, strlen(id), ent, strlen(ent), &d) != 0)
        return limitr__reason(e, d.status, d.reason);
    if (d.lim == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "not_metered");
    *out = limitr__lnum_to_double(limitr__lnum_round9(
        limitr__held(e, d.owner, d.ent_name, d.lim->credit_name, d.now)));
    return limitr__ok(e);
}
