/* customer_api.c: the customer calls (docs/engine.md section 2): creation,
 * update, deletion, refs, alt IDs and plan changes. Every call makes its
 * allocations before it changes anything, so running out of memory leaves
 * the customer as it was. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "decide.h"
#include "engine.h"
#include "grants.h"
#include "names.h"

/* How deep a metadata value nests (a scalar is 1), counting no deeper than
 * one past the bound: a state document must be able to carry it
 * (docs/state.md). */
static int json_depth(const cJSON *item, int depth)
{
    const cJSON *child;
    int deepest = depth + 1;
    if (depth > LIMITR_MAX_METADATA_DEPTH) return depth;
    for (child = item->child; child != NULL; child = child->next) {
        int d = json_depth(child, depth + 1);
        if (d > deepest) deepest = d;
    }
    return deepest;
}
/* A copy of a cJSON array of strings, in the state; -1 with nothing
 * allocated on failure. */
static int strlist_from_json(state *st, const cJSON *arr, strlist *out)
{
    const strlist none = {NULL, 0, 0};
    const cJSON *item;
    if (limitr__strlist_grow(st, &none, (size_t)cJSON_GetArraySize(arr), out) !=
        0)
        return -1;
    cJSON_ArrayForEach(item, arr)
    {
        if (limitr__strlist_append(st, out, item->valuestring) != 0) {
            limitr__strlist_free(st, out);
            return -1;
        }
    }
    return 0;
}

/* ---- Options of create_customer ---- */

typedef struct customer_opts {
    cJSON *root; /* the parsed options, or NULL */
    const char *type, *label;
    const cJSON *refs, *alt_ids; /* arrays of strings, or NULL */
    char *metadata_json;         /* malloc'ed, or NULL */
} customer_opts;

static void free_opts(customer_opts *o)
{
    cJSON_Delete(o->root);
    free(o->metadata_json);
    memset(o, 0, sizeof *o);
}

/* An ID or alt ID: 1 to LIMITR_DEFAULT_MAX_ID bytes of UTF-8 (snapshots
 * and payloads are JSON, which holds nothing else). */
static int valid_id(const char *s)
{
    size_t len = strlen(s);
    return len > 0 && len <= LIMITR_DEFAULT_MAX_ID &&
           limitr__utf8_valid(s, len);
}

static int string_array(const cJSON *item)
{
    const cJSON *x;
    if (!cJSON_IsArray(item)) return 0;
    cJSON_ArrayForEach(x, item)
    {
        if (!cJSON_IsString(x) || !valid_id(x->valuestring)) return 0;
    }
    return 1;
}

static int parse_opts(limitr_engine *e, const char *json, customer_opts *o)
{
    cJSON *item;
    memset(o, 0, sizeof *o);
    if (json == NULL) return LIMITR_OK;
    if (!limitr__utf8_valid(json, strlen(json)))
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "create_customer: options are not valid UTF-8");
    o->root = cJSON_Parse(json);
    if (o->root == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "create_customer: options are not valid JSON");
    if (!cJSON_IsObject(o->root)) {
        free_opts(o);
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "create_customer: options must be an object");
    }
    cJSON_ArrayForEach(item, o->root)
    {
        const char *k = item->string;
        int status = LIMITR_OK;
        if (strcmp(k, "type") == 0 || strcmp(k, "label") == 0) {
            if (!cJSON_IsString(item) || item->valuestring[0] == '\0')
                status = limitr__fail(e, LIMITR_INVALID, NULL,
                                      "create_customer: option '%s' must be "
                                      "a non-empty string",
                                      k);
            else if (k[0] == 't')
                o->type = item->valuestring;
            else
                o->label = item->valuestring;
        } else if (strcmp(k, "refs") == 0 || strcmp(k, "alt_ids") == 0) {
            if (!string_array(item))
                status = limitr__fail(e, LIMITR_INVALID, NULL,
                                      "create_customer: option '%s' must be "
                                      "a list of IDs (1 to %d bytes of UTF-8)",
                                      k, LIMITR_DEFAULT_MAX_ID);
            else if (k[0] == 'r')
                o->refs = item;
            else
                o->alt_ids = item;
        } else if (strcmp(k, "metadata") == 0) {
            if (json_depth(item, 0) > LIMITR_MAX_METADATA_DEPTH)
                status = limitr__fail(e, LIMITR_INVALID, NULL,
                                      "create_customer: metadata nests more "
                                      "than %d levels deep",
                                      LIMITR_MAX_METADATA_DEPTH);
            else if (!cJSON_IsNull(item) &&
                     (o->metadata_json = cJSON_PrintUnformatted(item)) == NULL)
                status = limitr__nomem(e);
        } else {
            status = limitr__fail(e, LIMITR_INVALID, NULL,
                                  "create_customer: unknown option '%s' "
                                  "(options are type, label, refs, alt_ids, "
                                  "metadata)",
                                  k);
        }
        if (status != LIMITR_OK) {
            free_opts(o);
            return status;
        }
    }
    return LIMITR_OK;
}

/* ---- Create and update ---- */

/* Swaps a prepared copy into *slot (NULL: keep what is there). */
static void swap_in(limitr_engine *e, char **slot, char *copy)
{
    if (copy == NULL) return;
    limitr__st_strfree(&e->st, *slot);
    *slot = copy;
}

static char *copy_or_null(limitr_engine *e, const char *s, int *failed)
{
    char *copy;
    if (s == NULL) return NULL;
    copy = limitr__st_strdup(&e->st, s, strlen(s));
    if (copy == NULL) *failed = 1;
    return copy;
}

/* Alt IDs given that c does not hold yet; checks none is taken by another
 * customer. Returns the count, or -1 after setting the error. */
static int new_alt_ids(limitr_engine *e, const customer *c, const cJSON *ids)
{
    const cJSON *x;
    int n = 0;
    if (ids == NULL) return 0;
    cJSON_ArrayForEach(x, ids)
    {
        const customer *holder = limitr__customer_lookup(e, x->valuestring);
        if (holder != NULL && holder != c)
            return limitr__fail(e, LIMITR_INVALID, "alt_id_in_use",
                                "create_customer: '%s' is already the ID or "
                                "an alt ID of customer '%s'",
                                x->valuestring, holder->id),
                   -1;
        if (holder == NULL) n++;
    }
    return n;
}

/* Maps every alt ID of the list that is not yet mapped (room reserved). */
static void map_alt_ids(limitr_engine *e, customer *c)
{
    size_t i;
    for (i = 0; i < c->alt_ids.n; i++) {
        const char *alt = c->alt_ids.items[i];
        size_t len = strlen(alt);
        uint64_t h = limitr_hash(alt, len);
        if (limitr__idmap_find(&e->st.d->alt_ids, alt, len, h) == NULL)
            limitr__idmap_insert(&e->st, &e->st.d->alt_ids, alt, len, h, c);
    }
}

/* The meters a customer owns on its plan, started now (docs/engine.md 2.1.3):
 * limited entitlements without a scope, or scoped to its own type. */
static int ensure_owned_meters(limitr_engine *e, customer *c, int64_t started)
{
    int plan = limitr__resolved_plan(e, c);
    size_t i;
    if (plan < 0) return 0;
    if (limitr__meter_reserve(&e->st, c, e->policy->plans[plan].n_ents) != 0)
        return -1;
    for (i = 0; i < e->policy->plans[plan].n_ents; i++) {
        const lp_entitlement *ent = &e->policy->plans[plan].ents[i];
        if (!ent->has_limit) continue;
        if (ent->scope != NULL && strcmp(ent->scope, c->type) != 0) continue;
        if (limitr__meter_find(c, limitr__ent_name(e, ent->name)) != NULL)
            continue;
        if (limitr__meter_add(&e->st, c, limitr__ent_name(e, ent->name),
                              ent->limit.credit_name, started) == NULL)
            return -1;
    }
    return 0;
}

/* What the new customer following `refs` finds through them: its own walk,
 * one level more than its ref's (so a ref at the depth bound does not carry
 * its plan over); -1: none; -2 with the error set: out of memory. */
static int plan_of_new(limitr_engine *e, const cJSON *refs)
{
    const char **ids = malloc((size_t)cJSON_GetArraySize(refs) * sizeof *ids +
                              1);
    const cJSON *x;
    size_t n = 0;
    int plan;
    if (ids == NULL) {
        limitr__nomem(e);
        return -2;
    }
    cJSON_ArrayForEach(x, refs) ids[n++] = x->valuestring;
    plan = limitr__plan_of_new(e, ids, n);
    free(ids);
    return plan;
}

/* The plan a new customer gets (docs/engine.md 2.1.2): the named one, else the
 * first ref with a resolved plan, else the default. -1 with the reason. */
static int initial_plan(limitr_engine *e, const char *plan, const cJSON *refs,
                        const char **own)
{
    const cJSON *x;
    *own = "";
    if (plan != NULL && plan[0] != '\0') {
        int p = limitr__policy_find_plan(e->policy, plan);
        if (p < 0) return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_plan");
        *own = e->policy->plans[p].name;
        return p;
    }
    if (refs != NULL) {
        cJSON_ArrayForEach(x, refs)
        {
            customer *r = limitr__customer_lookup(e, x->valuestring);
            if (r != NULL && limitr__resolved_plan(e, r) >= 0) {
                int p = plan_of_new(e, refs);
                if (p == -2) return LIMITR_NOMEM; /* (the error is set) */
                if (p >= 0) return p; /* follows refs: own "" */
                break; /* past the walk's bounds: the default, by name */
            }
        }
    }
    if (e->policy->default_plan >= 0) {
        *own = e->policy->plans[e->policy->default_plan].name;
        return e->policy->default_plan;
    }
    return limitr__reason(e, LIMITR_NOT_FOUND, "no_plan");
}

static int create_customer_call(limitr_engine *e, const char *id,
                                const char *plan, const char *opts_json,
                                const char **snapshot_json)
{
    size_t len;
    uint64_t hash;
    int status, n_alt, failed = 0;
    const char *own = NULL;
    customer *c, *created = NULL;
    customer_opts o;
    char *own_copy, *type, *label, *metadata;
    strlist refs = {NULL, 0, 0}, alts = {NULL, 0, 0};
    int alts_grown = 0, refs_given, new_plan = -1;
    int grants_changed;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "create_customer");
    LIMITR_LOG_OP(e, "create_customer", id, plan);
    if (id == NULL || !valid_id(id))
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "create_customer: the id must be 1 to %d bytes "
                            "of UTF-8",
                            LIMITR_DEFAULT_MAX_ID);
    len = strlen(id);
    hash = limitr_hash(id, len);
    c = limitr__customer_find(e, id, len, hash);
    status = parse_opts(e, opts_json, &o);
    if (status != LIMITR_OK) return status;
    if (c == NULL) {
        new_plan = initial_plan(e, plan, o.refs, &own);
        if (new_plan < 0) {
            free_opts(&o);
            return new_plan; /* the status */
        }
    } else if (plan != NULL && plan[0] != '\0') {
        int p = limitr__policy_find_plan(e->policy, plan);
        if (p < 0) {
            free_opts(&o);
            return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_plan");
        }
        own = e->policy->plans[p].name;
    }
    n_alt = new_alt_ids(e, c, o.alt_ids);
    if (n_alt < 0) {
        free_opts(&o);
        return LIMITR_INVALID;
    }

    /* Every allocation before any change. */
    own_copy = copy_or_null(e, own, &failed);
    type = copy_or_null(e, o.type, &failed);
    label = copy_or_null(e, o.label, &failed);
    metadata = copy_or_null(e, o.metadata_json, &failed);
    if (!failed && o.refs != NULL &&
        strlist_from_json(&e->st, o.refs, &refs) != 0)
        failed = 1;
    if (!failed && c == NULL) {
        created = limitr__customer_new(&e->st, id, len, hash, limitr__now(e));
        if (created == NULL ||
            limitr__idmap_reserve(&e->st, &e->st.d->customers, 1) != 0 ||
            limitr__meter_reserve(&e->st, created,
                                  e->policy->plans[new_plan].n_ents) != 0)
            failed = 1;
    }
    if (!failed && n_alt > 0) {
        const cJSON *x;
        const strlist *old = created ? &created->alt_ids : &c->alt_ids;
        if (limitr__idmap_reserve(&e->st, &e->st.d->alt_ids, (size_t)n_alt) !=
                0 ||
            limitr__strlist_grow(&e->st, old, (size_t)n_alt, &alts) != 0) {
            failed = 1;
        } else {
            alts_grown = 1;
            cJSON_ArrayForEach(x, o.alt_ids)
            {
                /* the same rule as new_alt_ids counted by: an ID nobody
                   holds yet, not the customer's own, once */
                if (!failed &&
                    limitr__customer_lookup(e, x->valuestring) == NULL &&
                    strcmp(x->valuestring, id) != 0 &&
                    limitr__strlist_index(&alts, x->valuestring) < 0 &&
                    limitr__strlist_append(&e->st, &alts, x->valuestring) != 0)
                    failed = 1;
            }
        }
    }
    if (failed) {
        if (alts_grown)
            limitr__strlist_abandon(
                &e->st, created ? &created->alt_ids : &c->alt_ids, &alts);
        if (created != NULL) limitr__customer_destroy(&e->st, created);
        limitr__st_strfree(&e->st, own_copy);
        limitr__st_strfree(&e->st, type);
        limitr__st_strfree(&e->st, label);
        limitr__st_strfree(&e->st, metadata);
        limitr__strlist_free(&e->st, &refs);
        free_opts(&o);
        return limitr__nomem(e);
    }
    refs_given = o.refs != NULL;
    free_opts(&o);
    if (created != NULL) {
        c = created;
        limitr__idmap_insert(&e->st, &e->st.d->customers, c->id, c->id_len,
                             hash, c);
        limitr__touch(e, c);
    }
    swap_in(e, &c->own_plan, own_copy);
    swap_in(e, &c->type, type);
    swap_in(e, &c->label, label);
    swap_in(e, &c->metadata_json, metadata);
    if (refs_given) {
        limitr__strlist_free(&e->st, &c->refs);
        c->refs = refs;
    }
    if (alts_grown) limitr__strlist_commit(&e->st, &c->alt_ids, &alts);
    map_alt_ids(e, c);
    limitr__state_changed(&e->st);
    if (created != NULL)
        ensure_owned_meters(e, c, c->created); /* room was reserved */
    /* included top-ups, before the one customer-set (docs/engine.md 15.2);
       without room for their grants they stay owed, which reads count,
       and the first draw that needs them grants them (or fails whole) */
    (void)limitr__grants_reconcile(e, c, limitr__now(e), &grants_changed);
    limitr__emit_customer(e, EV_CUSTOMER_SET, c);
    if (snapshot_json != NULL) {
        c = limitr__customer_find(e, id, len, hash); /* a handler may delete */
        if (c == NULL)
            return limitr__fail(e, LIMITR_NOT_FOUND, NULL,
                                "customer '%s' was deleted by an event handler",
                                id);
        return limitr__set_result(e, limitr__customer_snapshot(e, c),
                                  snapshot_json);
    }
    return limitr__ok(e);
}

int limitr_create_customer(limitr_engine *e, const char *id, const char *plan,
                           const char *opts_json, const char **snapshot_json)
{
    LIMITR_ENTER(e);
    return limitr__stored(
        e, create_customer_call(e, id, plan, opts_json, snapshot_json));
}

int limitr_customer(limitr_engine *e, const char *id,
                    const char **snapshot_json)
{
    customer *c;
    LIMITR_ENTER(e);
    if (id == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL, "customer: no id given");
    c = limitr__customer_lookup(e, id);
    if (c == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    return limitr__set_result(e, limitr__customer_snapshot(e, c),
                              snapshot_json);
}

static void unmap_alt_ids(limitr_engine *e, customer *c)
{
    size_t i;
    for (i = 0; i < c->alt_ids.n; i++) {
        const char *alt = c->alt_ids.items[i];
        size_t len = strlen(alt);
        limitr__idmap_remove(&e->st, &e->st.d->alt_ids, alt, len,
                             limitr_hash(alt, len));
    }
}

void limitr__customer_drop(limitr_engine *e, customer *c)
{
    unmap_alt_ids(e, c);
    limitr__idmap_remove(&e->st, &e->st.d->customers, c->id, c->id_len,
                         c->hash);
    limitr__customer_destroy(&e->st, c);
    limitr__state_changed(&e->st);
}

static int delete_customer_call(limitr_engine *e, const char *id)
{
    customer *c;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "delete_customer");
    LIMITR_LOG_OP(e, "delete_customer", id, NULL);
    if (id == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "delete_customer: no id given");
    c = limitr__customer_lookup(e, id);
    if (c == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    limitr__emit_customer(e, EV_CUSTOMER_REMOVED, c);
    c = limitr__customer_lookup(e, id); /* a handler may have deleted it */
    if (c != NULL) {
        limitr__holds_drop_all(e, c); /* their room in others' caps */
        if (e->store != NULL) limitr__store_forget(e, c);
        limitr__customer_drop(e, c);
    }
    return limitr__ok(e);
}

int limitr_delete_customer(limitr_engine *e, const char *id)
{
    LIMITR_ENTER(e);
    return limitr__stored(e, delete_customer_call(e, id));
}

/* ---- Refs, alt IDs, plan changes ---- */

static int set_customer_refs_call(limitr_engine *e, const char *id,
                                  const char *refs_json)
{
    customer *c;
    cJSON *arr;
    strlist refs;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "set_customer_refs");
    LIMITR_LOG_OP(e, "set_customer_refs", id, refs_json);
    if (id == NULL || refs_json == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "set_customer_refs: id and refs are required");
    arr = cJSON_Parse(refs_json);
    if (arr == NULL || !string_array(arr)) {
        cJSON_Delete(arr);
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "set_customer_refs: refs must be a list of IDs "
                            "(1 to %d bytes of UTF-8)",
                            LIMITR_DEFAULT_MAX_ID);
    }
    c = limitr__customer_lookup(e, id);
    if (c == NULL) {
        cJSON_Delete(arr);
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    }
    if (strlist_from_json(&e->st, arr, &refs) != 0) {
        cJSON_Delete(arr);
        return limitr__nomem(e);
    }
    cJSON_Delete(arr);
    limitr__strlist_free(&e->st, &c->refs);
    c->refs = refs;
    limitr__state_changed(&e->st);
    limitr__emit_customer(e, EV_CUSTOMER_SET, c);
    return limitr__ok(e);
}

int limitr_set_customer_refs(limitr_engine *e, const char *id,
                             const char *refs_json)
{
    LIMITR_ENTER(e);
    return limitr__stored(e, set_customer_refs_call(e, id, refs_json));
}

static int set_alt_customer_id_call(limitr_engine *e, const char *id,
                                    const char *alt)
{
    customer *c, *holder;
    size_t len;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "set_alt_customer_id");
    LIMITR_LOG_OP(e, "set_alt_customer_id", id, alt);
    if (id == NULL || alt == NULL || !valid_id(alt))
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "set_alt_customer_id: id and an alt ID (1 to %d "
                            "bytes of UTF-8) are required",
                            LIMITR_DEFAULT_MAX_ID);
    c = limitr__customer_lookup(e, id);
    if (c == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    holder = limitr__customer_lookup(e, alt);
    if (holder != NULL && holder != c)
        return limitr__reason(e, LIMITR_INVALID, "alt_id_in_use");
    if (holder == c) return limitr__ok(e); /* already its ID or alt ID */
    len = strlen(alt);
    {
        strlist grown;
        if (limitr__idmap_reserve(&e->st, &e->st.d->alt_ids, 1) != 0 ||
            limitr__strlist_grow(&e->st, &c->alt_ids, 1, &grown) != 0)
            return limitr__nomem(e);
        if (limitr__strlist_append(&e->st, &grown, alt) != 0) {
            limitr__strlist_abandon(&e->st, &c->alt_ids, &grown);
            return limitr__nomem(e);
        }
        limitr__strlist_commit(&e->st, &c->alt_ids, &grown);
    }
    alt = c->alt_ids.items[c->alt_ids.n - 1];
    limitr__idmap_insert(&e->st, &e->st.d->alt_ids, alt, len,
                         limitr_hash(alt, len), c);
    limitr__state_changed(&e->st);
    limitr__emit_customer(e, EV_CUSTOMER_SET, c);
    return limitr__ok(e);
}

int limitr_set_alt_customer_id(limitr_engine *e, const char *id,
                               const char *alt)
{
    LIMITR_ENTER(e);
    return limitr__stored(e, set_alt_customer_id_call(e, id, alt));
}

static int delete_alt_customer_id_call(limitr_engine *e, const char *alt)
{
    customer *c;
    size_t len;
    uint64_t h;
    int i;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "delete_alt_customer_id");
    LIMITR_LOG_OP(e, "delete_alt_customer_id", alt, NULL);
    if (alt == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "delete_alt_customer_id: no alt ID given");
    len = strlen(alt);
    h = limitr_hash(alt, len);
    c = limitr__idmap_find(&e->st.d->alt_ids, alt, len, h);
    if (c == NULL) return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_alt_id");
    limitr__touch(e, c);
    i = limitr__strlist_index(&c->alt_ids, alt);
    limitr__idmap_remove(&e->st, &e->st.d->alt_ids, alt, len, h);
    if (i >= 0) limitr__strlist_remove_at(&e->st, &c->alt_ids, (size_t)i);
    limitr__state_changed(&e->st);
    limitr__emit_customer(e, EV_CUSTOMER_SET, c);
    return limitr__ok(e);
}

int limitr_delete_alt_customer_id(limitr_engine *e, const char *alt)
{
    LIMITR_ENTER(e);
    return limitr__stored(e, delete_alt_customer_id_call(e, alt));
}

static int set_customer_plan_call(limitr_engine *e, const char *id,
                                  const char *plan, int overwrite_meters)
{
    customer *c;
    int p, previous;
    size_t i;
    int64_t earliest, now;
    char *own;
    const lp_plan *np;
    int grants_changed;
    LIMITR_ENTER(e);
    LIMITR_REFUSE_REENTRY(e, "set_customer_plan");
    LIMITR_LOG_OP(e, "set_customer_plan", id, plan);
    if (id == NULL || plan == NULL)
        return limitr__fail(e, LIMITR_INVALID, NULL,
                            "set_customer_plan: id and plan are required");
    c = limitr__customer_lookup(e, id);
    if (c == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    p = limitr__policy_find_plan(e->policy, plan);
    if (p < 0) return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_plan");
    previous = limitr__resolved_plan(e, c);
    if (previous == p) return limitr__reason(e, LIMITR_INVALID, "same_plan");
    np = &e->policy->plans[p];
    /* Room first: a meter per entitlement of the new plan at most. */
    if (limitr__meter_reserve(&e->st, c, np->n_ents) != 0)
        return limitr__nomem(e);
    own = limitr__st_strdup(&e->st, np->name, strlen(np->name));
    if (own == NULL) return limitr__nomem(e);
    now = limitr__now(e);
    /* New meters start with the earliest of the current ones, so periods
       stay aligned (docs/engine.md 8.2). */
    earliest = now;
    for (i = 0; i < c->n_meters; i++)
        if (c->meters[i].started < earliest) earliest = c->meters[i].started;
    swap_in(e, &c->own_plan, own);
    limitr__state_changed(&e->st);
    for (i = 0; i < np->n_ents; i++) {
        const lp_entitlement *ent = &np->ents[i];
        meter *m;
        if (!ent->has_limit) continue;
        if (ent->scope != NULL && strcmp(ent->scope, c->type) != 0) continue;
        m = limitr__meter_find(c, limitr__ent_name(e, ent->name));
        if (m == NULL)
            limitr__meter_add(&e->st, c, limitr__ent_name(e, ent->name),
                              ent->limit.credit_name,
                              overwrite_meters ? now : earliest);
        else if (overwrite_meters)
            limitr__meter_restart(m, now);
    }
    /* The new plan's included top-ups (limitr's choice: at once); those of
       the old plan's that the new one lacks go. */
    limitr__included_clear(c);
    /* (without room they stay owed, as create_customer's) */
    (void)limitr__grants_reconcile(e, c, now, &grants_changed);
    limitr__emit_customer(e, EV_CUSTOMER_SET, c);
    c = limitr__customer_lookup(e, id);
    if (c != NULL && limitr__listening(e, EV_CUSTOMER_PLAN_CHANGED)) {
        cJSON *ev = cJSON_CreateObject();
        if (ev != NULL) {
            if (previous >= 0)
                cJSON_AddStringToObject(ev, "previous_plan",
                                        e->policy->plans[previous].name);
            cJSON_AddStringToObject(ev, "new_plan", np->name);
            cJSON_AddItemToObject(ev, "customer",
                                  limitr__customer_snapshot(e, c));
            limitr__emit(e, EV_CUSTOMER_PLAN_CHANGED, ev);
        }
    }
    return limitr__ok(e);
}

int limitr_set_customer_plan(limitr_engine *e, const char *id, const char *plan,
                             int overwrite_meters)
{
    LIMITR_ENTER(e);
    return limitr__stored(
        e, set_customer_plan_call(e, id, plan, overwrite_meters));
}
