/* cap_api.c: the calls on spend caps (docs/engine.md 16.1):
 * add_customer_cap, customer_cap, reset_customer_cap, remove_customer_cap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "compile.h"
#include "caps.h"
#include "names.h"

static const field cap_fields[] = {
    {"value", FIELD_OK},
    {"id", FIELD_OK},
    {"credit", FIELD_OK},
    {"exchangeable", FIELD_OK},
    {"overage_only", FIELD_OK},
    {"ignore_grants", FIELD_OK},
    {"observe_only", FIELD_OK},
    {"overhead_cost", FIELD_OK},
    {"follow_decrements", FIELD_OK},
    {"hard_trailing", FIELD_OK},
    {"shared", FIELD_OK},
    {"shared_with", FIELD_OK},
    {"scope", FIELD_OK},
    {"resets", FIELD_OK},
    {"reset_inc", FIELD_OK},
    {"reset_sch", FIELD_OK},
    {"expires_on", FIELD_OK},
    {"events", FIELD_OK},
};

/* A list of strings at key into *out (borrowed from the document: the
 * state copies it). */
static void read_names(compiler *cc, const doc_node *root, const char *path,
                       const char *key, strlist *out, char **slots)
{
    const doc_node *v = limitr__get(root, key);
    char fpath[160];
    size_t i;
    snprintf(fpath, sizeof fpath, "%s.%s", path, key);
    out->items = slots;
    out->n = out->cap = 0;
    if (v == NULL || !limitr__expect(cc, v, fpath, DOC_LIST, "list")) return;
    if (v->count > MAX_CAP_NAMES) {
        ERR(cc, fpath, v, "at most %d names", MAX_CAP_NAMES);
        return;
    }
    for (i = 0; i < v->count; i++)
        if (limitr__expect(cc, v->items[i], fpath, DOC_STRING, "string"))
            slots[out->n++] = v->items[i]->text;
}

void limitr__cap_compile(limitr_engine *e, compiler *cc, const doc_node *root,
                         const char *path, const customer *c, cap_fields_buf *b,
                         spend_cap *k)
{
    const doc_node *v;
    char fpath[160];
    int credit = AMOUNT_PLAIN, found, is_currency;
    lnum f;
    int end;
    memset(k, 0, sizeof *k);
    b->id[0] = '\0';
    b->credit = "rune";
    k->created_on = k->started = limitr__now(e);
#define FIELD(name) (snprintf(fpath, sizeof fpath, "%s.%s", path, name), fpath)
    if (!limitr__expect(cc, root, path, DOC_MAP, "mapping")) return;
    limitr__check_fields(cc, root, path, cap_fields, N_FIELDS(cap_fields));
    if ((v = limitr__get(root, "credit")) != NULL &&
        limitr__expect(cc, v, FIELD("credit"), DOC_STRING, "string"))
        b->credit = v->text;
    found = limitr__credit_find(e->policy, b->credit);
    is_currency = found < 0 &&
                  (strcmp(b->credit, "rune") == 0 ||
                   limitr__exchange_resolve(e->policy, b->credit, &f, &end) ==
                       EXCHANGE_OK);
    if (found >= 0)
        credit = found;
    else if (!is_currency)
        ERR(cc, FIELD("credit"), v != NULL ? v : root,
            "'%s' is neither rune, a credit nor a currency of the exchange",
            b->credit);
    k->exchangeable =
        limitr__read_bool(cc, root, path, "exchangeable", found < 0);
    if (found >= 0 && k->exchangeable &&
        e->policy->credits[found].model == PRICING_STAIRSTEP)
        ERR(cc, FIELD("exchangeable"), root,
            "a cap in the stairstep-priced credit '%s' counts only its own "
            "units (exchangeable: false)",
            b->credit);
    if ((v = limitr__get(root, "value")) == NULL)
        limitr__verr(&cc->errs, path, root->line, root->col,
                     "missing required field 'value'");
    else
        limitr__read_ranged(cc, v, FIELD("value"), credit, 1, &k->value);
    if ((v = limitr__get(root, "id")) != NULL &&
        limitr__expect(cc, v, FIELD("id"), DOC_STRING, "string")) {
        if (v->text[0] == '\0' || strlen(v->text) >= sizeof b->id ||
            !limitr__utf8_valid(v->text, strlen(v->text)))
            ERR(cc, FIELD("id"), v, "must be 1 to %zu bytes of UTF-8",
                sizeof b->id - 1);
        else if (c != NULL && limitr__cap_find(c, v->text) != NULL)
            ERR(cc, FIELD("id"), v, "the customer has a cap '%s'", v->text);
        else
            snprintf(b->id, sizeof b->id, "%s", v->text);
    }
    k->overage_only = limitr__read_bool(cc, root, path, "overage_only", 0);
    k->ignore_grants = limitr__read_bool(cc, root, path, "ignore_grants", 0);
    k->observe_only = limitr__read_bool(cc, root, path, "observe_only", 0);
    k->overhead_cost = limitr__read_bool(cc, root, path, "overhead_cost", 0);
    k->follow_decrements =
        limitr__read_bool(cc, root, path, "follow_decrements", 0);
    k->hard_trailing = limitr__read_bool(cc, root, path, "hard_trailing", 0);
    k->shared = limitr__read_bool(cc, root, path, "shared", 0);
    k->events = limitr__read_bool(cc, root, path, "events", 1);
    read_names(cc, root, path, "shared_with", &k->shared_with, b->with);
    read_names(cc, root, path, "scope", &k->scope, b->scope);
    limitr__read_resets(cc, root, path, &k->reset, &k->reset_inc, &k->sch);
    if ((v = limitr__get(root, "expires_on")) != NULL) {
        int64_t at;
        if (limitr__read_duration(cc, v, FIELD("expires_on"), &at)) {
            k->has_expires = 1;
            k->expires_on = at;
        }
    }
#undef FIELD
}

static int add_customer_cap_call(limitr_engine *e, const char *id,
                                 const char *cap_json, const char **cap_out)
{
    compiler cc;
    doc_node *root;
    char *err = NULL, idbuf[128];
    cap_fields_buf b;
    customer *c;
    spend_cap k;
    int status = LIMITR_OK;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "add_customer_cap");
    LIMITR_LOG_OP(e, "add_customer_cap", id, cap_json);
    if (id == NULL || cap_json == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "add_customer_cap: id and the cap are required");
    if ((c = limitr__customer_lookup(e, id)) == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    limitr__caps_remove_expired(e, c, limitr__now(e)); /* their ids are free */
    root = limitr__doc_parse(cap_json, strlen(cap_json), "json", &err);
    if (root == NULL) {
        status = err ? limitr__fail(e, LIMITR_INVALID, NULL,
                                    "add_customer_cap: %s", err)
                     : limitr__nomem(e);
        free(err);
        return status;
    }
    memset(&cc, 0, sizeof cc);
    cc.p = e->policy;
    cc.no_snippets = 1;
    limitr__cap_compile(e, &cc, root, "cap", c, &b, &k);
    snprintf(idbuf, sizeof idbuf, "%s", b.id);
    if (cc.errs.n == 0 && c->n_caps >= MAX_CUSTOMER_CAPS)
        limitr__verr(&cc.errs, "cap", 0, 0,
                     "customer '%s' holds %d caps already (the most)", id,
                     MAX_CUSTOMER_CAPS);
    if (!cc.nomem && !cc.errs.nomem && cc.errs.n == 0) {
        uint64_t seq = e->st.d->next_cap; /* kept when the cap is not */
        k.credit = limitr__state_intern(&e->st, b.credit, strlen(b.credit));
        if (idbuf[0] == '\0') /* generated: cap-<n>, skipping taken ones */
            do {
                snprintf(idbuf, sizeof idbuf, "cap-%llu",
                         (unsigned long long)++e->st.d->next_cap);
            } while (limitr__cap_find(c, idbuf) != NULL);
        k.id = idbuf;
        k.id_len = strlen(idbuf);
        if (k.credit < 0 || limitr__cap_add(&e->st, c, &k) != 0) {
            e->st.d->next_cap = seq;
            cc.nomem = 1;
        }
    }
    limitr__doc_free(root);
    if ((status = limitr__compile_status(e, &cc)) != LIMITR_OK) return status;
    if (k.events && limitr__listening(e, EV_CUSTOMER_CAP_ADDED)) {
        cJSON *ev = cJSON_CreateObject();
        if (ev != NULL) {
            cJSON_AddItemToObject(ev, "customer",
                                  limitr__customer_snapshot(e, c));
            cJSON_AddItemToObject(ev, "cap",
                                  limitr__cap_json(e,
                                                   limitr__cap_find(c, idbuf),
                                                   limitr__now(e)));
        }
        limitr__emit(e, EV_CUSTOMER_CAP_ADDED, ev);
    }
    if (k.events && (c = limitr__customer_lookup(e, id)) != NULL)
        limitr__emit_customer(e, EV_CUSTOMER_SET, c);
    c = limitr__customer_lookup(e, id);
    {
        spend_cap *stored = c != NULL ? limitr__cap_find(c, idbuf) : NULL;
        if (stored == NULL) { /* a handler removed it */
            if (cap_out != NULL) *cap_out = NULL;
            return limitr__ok(e);
        }
        return limitr__set_result(
            e, limitr__cap_json(e, stored, limitr__now(e)), cap_out);
    }
}

int limitr_add_customer_cap(limitr_engine *e, const char *id,
                            const char *cap_json, const char **cap_out)
{
    LIMITR_ENTER(e);
    return limitr__stored(e, add_customer_cap_call(e, id, cap_json, cap_out));
}

int limitr_customer_cap(limitr_engine *e, const char *id, const char *cap_id,
                        const char **cap_out)
{
    customer *c;
    spend_cap *k;
    LIMITR_ENTER(e);
    if (id == NULL || cap_id == NULL || cap_out == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "customer_cap: id, cap id and out are required");
    if ((c = limitr__customer_lookup(e, id)) == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    k = limitr__cap_find(c, cap_id);
    if (k == NULL || (k->has_expires && limitr__now(e) >= k->expires_on))
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_cap");
    return limitr__set_result(e, limitr__cap_json(e, k, limitr__now(e)),
                              cap_out);
}

/* The cap cap_id of customer id for reset / remove, or a reason set. */
static spend_cap *cap_for(limitr_engine *e, const char *call, const char *id,
                          const char *cap_id, customer **c, int *status)
{
    spend_cap *k;
    if (id == NULL || cap_id == NULL) {
        *status = limitr__fail(e, LIMITR_INVALID, NULL,
                               "%s: id and cap id are required", call);
        return NULL;
    }
    if ((*c = limitr__customer_lookup(e, id)) == NULL) {
        *status = limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
        return NULL;
    }
    limitr__caps_remove_expired(e, *c, limitr__now(e));
    if ((k = limitr__cap_find(*c, cap_id)) == NULL)
        *status = limitr__reason(e, LIMITR_NOT_FOUND, "unknown_cap");
    return k;
}

static int reset_customer_cap_call(limitr_engine *e, const char *id,
                                   const char *cap_id, int events)
{
    customer *c;
    spend_cap *k;
    int status = LIMITR_OK;
    int64_t now;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "reset_customer_cap");
    LIMITR_LOG_OP(e, "reset_customer_cap", id, cap_id);
    if ((k = cap_for(e, "reset_customer_cap", id, cap_id, &c, &status)) == NULL)
        return status;
    now = limitr__now(e);
    k->meter_value = 0;
    k->started = now;
    k->has_last_reset = k->reset == RESET_SCHEDULE;
    k->last_reset = k->has_last_reset ? now : 0;
    if (events && limitr__listening(e, EV_CUSTOMER_CAP_RESET)) {
        cJSON *ev = cJSON_CreateObject();
        if (ev != NULL) {
            cJSON_AddItemToObject(ev, "customer",
                                  limitr__customer_snapshot(e, c));
            cJSON_AddItemToObject(ev, "cap", limitr__cap_json(e, k, now));
        }
        limitr__emit(e, EV_CUSTOMER_CAP_RESET, ev);
    }
    if (events && (c = limitr__customer_lookup(e, id)) != NULL)
        limitr__emit_customer(e, EV_CUSTOMER_SET, c);
    return limitr__ok(e);
}

int limitr_reset_customer_cap(limitr_engine *e, const char *id,
                              const char *cap_id, int events)
{
    LIMITR_ENTER(e);
    return limitr__stored(e, reset_customer_cap_call(e, id, cap_id, events));
}

static int remove_customer_cap_call(limitr_engine *e, const char *id,
                                    const char *cap_id, int events)
{
    customer *c;
    spend_cap *k;
    int status = LIMITR_OK;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "remove_customer_cap");
    LIMITR_LOG_OP(e, "remove_customer_cap", id, cap_id);
    if ((k = cap_for(e, "remove_customer_cap", id, cap_id, &c, &status)) ==
        NULL)
        return status;
    limitr__cap_remove_at(&e->st, c, (size_t)(k - c->caps));
    if (events && limitr__listening(e, EV_CUSTOMER_CAP_REMOVED)) {
        cJSON *ev = cJSON_CreateObject();
        if (ev != NULL) {
            cJSON_AddItemToObject(ev, "customer",
                                  limitr__customer_snapshot(e, c));
            cJSON_AddStringToObject(ev, "id", cap_id);
        }
        limitr__emit(e, EV_CUSTOMER_CAP_REMOVED, ev);
    }
    if (events && (c = limitr__customer_lookup(e, id)) != NULL)
        limitr__emit_customer(e, EV_CUSTOMER_SET, c);
    return limitr__ok(e);
}

int limitr_remove_customer_cap(limitr_engine *e, const char *id,
                               const char *cap_id, int events)
{
    LIMITR_ENTER(e);
    return limitr__stored(e, remove_customer_cap_call(e, id, cap_id, events));
}

int limitr_customer_caps(limitr_engine *e, const char *id,
                         const char **caps_json)
{
    const customer *c;
    LIMITR_ENTER(e);
    if (id == NULL || caps_json == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "customer_caps: id and out are required");
    if ((c = limitr__customer_lookup(e, id)) == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    return limitr__set_result(e, limitr__caps_json(e, c, limitr__now(e)),
                              caps_json);
}

/* ---- Caps passed on a call ---- */

void limitr__call_caps_free(call_caps *cc)
{
    if (cc == NULL) return;
    limitr__doc_free(cc->root);
    free(cc);
}

/* Fields of a standing cap that mean nothing for one call: refused, so
 * that nothing is silently ignored. */
static void refuse_lasting_fields(compiler *cc, const doc_node *n,
                                  const char *path)
{
    static const char *const lasting[] = {
        "hard_trailing", "shared",    "shared_with", "resets",
        "reset_inc",     "reset_sch", "expires_on",  "follow_decrements",
        "events"};
    size_t i;
    if (n == NULL || n->type != DOC_MAP) return;
    for (i = 0; i < sizeof lasting / sizeof lasting[0]; i++) {
        const doc_pair *p = limitr__doc_get(n, lasting[i]);
        if (p != NULL)
            limitr__verr(&cc->errs, path, p->key_line, p->key_col,
                         "'%s' is for standing caps: a cap on a call binds "
                         "that call alone",
                         lasting[i]);
    }
}

/* The cap {<credit> = ceiling} (the mapping's pair p at path) into k. */
static void ceiling_cap(limitr_engine *e, compiler *cc, const doc_pair *p,
                        const char *path, cap_fields_buf *b, spend_cap *k)
{
    int found = limitr__credit_find(e->policy, p->key);
    lnum f;
    int end;
    char fpath[160];
    memset(k, 0, sizeof *k);
    k->created_on = k->started = limitr__now(e);
    k->events = 1;
    b->credit = p->key;
    snprintf(fpath, sizeof fpath, "%s.%s", path, p->key);
    if (found < 0 && strcmp(p->key, "rune") != 0 &&
        limitr__exchange_resolve(e->policy, p->key, &f, &end) != EXCHANGE_OK)
        limitr__verr(&cc->errs, fpath, p->key_line, p->key_col,
                     "'%s' is neither rune, a credit nor a currency of the "
                     "exchange",
                     p->key);
    k->exchangeable = found < 0;
    limitr__read_ranged(cc, p->value, fpath, found >= 0 ? found : AMOUNT_PLAIN,
                        1, &k->value);
    b->id[0] = '\0';
}

int limitr__call_caps_parse(limitr_engine *e, const char *json, call_caps **out)
{
    int status;
    compiler comp;
    call_caps *cc = calloc(1, sizeof *cc);
    char *err = NULL, path[64];
    size_t i, n;
    *out = NULL;
    if (cc == NULL) return limitr__nomem(e);
    cc->root = limitr__doc_parse(json, strlen(json), "json", &err);
    if (cc->root == NULL) {
        status = err != NULL ? limitr__fail(e, LIMITR_INVALID, NULL,
                                            "opts.caps: %s", err)
                             : limitr__nomem(e);
        free(err);
        free(cc);
        return status;
    }
    memset(&comp, 0, sizeof comp);
    comp.p = e->policy;
    comp.no_snippets = 1;
    n = cc->root->type == DOC_MAP || cc->root->type == DOC_LIST
            ? cc->root->count
            : 0;
    if (cc->root->type != DOC_MAP && cc->root->type != DOC_LIST)
        limitr__verr(&comp.errs, "opts.caps", 0, 0,
                     "a mapping of credit to ceiling, or a list of caps");
    else if (n > MAX_CALL_SCOPED_CAPS)
        limitr__verr(&comp.errs, "opts.caps", 0, 0, "at most %d caps on a call",
                     MAX_CALL_SCOPED_CAPS);
    for (i = 0; comp.errs.n == 0 && i < n; i++) {
        spend_cap *k = &cc->caps[i];
        cap_fields_buf *b = &cc->bufs[i];
        if (cc->root->type == DOC_MAP) {
            ceiling_cap(e, &comp, &cc->root->pairs[i], "opts.caps", b, k);
        } else {
            snprintf(path, sizeof path, "opts.caps[%zu]", i);
            limitr__cap_compile(e, &comp, cc->root->items[i], path, NULL, b, k);
        }
        if (b->id[0] == '\0')
            snprintf(b->id, sizeof b->id, "tmp-%s", b->credit);
        k->id = b->id;
        k->id_len = strlen(b->id);
        if (cc->root->type == DOC_LIST)
            refuse_lasting_fields(&comp, cc->root->items[i], path);
        cc->n++;
    }
    /* names enter the state only for caps that compiled (a read makes no
       name of a bad one) */
    for (i = 0; comp.errs.n == 0 && !comp.nomem && i < cc->n; i++) {
        const char *credit = cc->bufs[i].credit;
        cc->caps[i].credit =
            limitr__state_intern(&e->st, credit, strlen(credit));
        if (cc->caps[i].credit < 0) comp.nomem = 1;
    }
    if ((status = limitr__compile_status(e, &comp)) != LIMITR_OK) {
        limitr__call_caps_free(cc);
        return status;
    }
    *out = cc;
    return LIMITR_OK;
}
