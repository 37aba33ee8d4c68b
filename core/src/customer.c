/* customer.c: the customer map (open addressing on the ID hash), customer
 * creation, update and deletion, and snapshots. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "internal.h"

#define CUSTOMER_TOMBSTONE ((customer *)&customer_tombstone_mark)
static const int customer_tombstone_mark;

#ifndef LIMITR_DEFAULT_MAX_ID
#define LIMITR_DEFAULT_MAX_ID 1024 /* bytes of a customer ID */
#endif

/* ---- The map ---- */

customer *limitr__customer_find(const limitr_engine *e, const char *id,
                                size_t len, uint64_t hash)
{
    const customer_map *m = &e->customers;
    size_t mask, i;
    if (m->cap == 0) return NULL;
    mask = m->cap - 1;
    for (i = (size_t)hash & mask;; i = (i + 1) & mask) {
        const customer_slot *s = &m->slots[i];
        if (s->c == NULL) return NULL;
        if (s->hash == hash && s->c != CUSTOMER_TOMBSTONE &&
            s->c->id_len == len && limitr_bytes_equal(s->c->id, id, len))
            return s->c;
    }
}

static int map_grow(limitr_engine *e)
{
    customer_map *m = &e->customers;
    size_t cap = m->cap ? m->cap * 2 : 64, i;
    customer_slot *slots;
    if (m->live * 2 < m->cap) cap = m->cap; /* mostly tombstones: rehash */
    slots = limitr__alloc(e, cap * sizeof *slots);
    if (slots == NULL) return -1;
    memset(slots, 0, cap * sizeof *slots);
    for (i = 0; i < m->cap; i++) {
        customer_slot *s = &m->slots[i];
        size_t j;
        if (s->c == NULL || s->c == CUSTOMER_TOMBSTONE) continue;
        for (j = (size_t)s->hash & (cap - 1); slots[j].c != NULL;
             j = (j + 1) & (cap - 1))
            ;
        slots[j] = *s;
    }
    limitr__dealloc(e, m->slots, m->cap * sizeof *m->slots);
    m->slots = slots;
    m->cap = cap;
    m->used = m->live;
    return 0;
}

static int map_insert(limitr_engine *e, customer *c)
{
    customer_map *m = &e->customers;
    size_t i;
    if ((m->used + 1) * 10 > m->cap * 7 && map_grow(e) != 0) return -1;
    for (i = (size_t)c->hash & (m->cap - 1);
         m->slots[i].c != NULL && m->slots[i].c != CUSTOMER_TOMBSTONE;
         i = (i + 1) & (m->cap - 1))
        ;
    if (m->slots[i].c == NULL) m->used++;
    m->slots[i].hash = c->hash;
    m->slots[i].c = c;
    m->live++;
    return 0;
}

static void map_remove(limitr_engine *e, const customer *c)
{
    customer_map *m = &e->customers;
    size_t i;
    for (i = (size_t)c->hash & (m->cap - 1); m->slots[i].c != NULL;
         i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].c == c) {
            m->slots[i].c = CUSTOMER_TOMBSTONE;
            m->live--;
            return;
        }
    }
}

static void customer_destroy(limitr_engine *e, customer *c)
{
    limitr__dealloc(e, c->id, c->id_len + 1);
    limitr__strfree(e, c->own_plan);
    limitr__strfree(e, c->type);
    limitr__strfree(e, c->label);
    limitr__strfree(e, c->metadata_json);
    limitr__dealloc(e, c->meters, e->policy->n_ent_names * sizeof *c->meters);
    limitr__dealloc(e, c, sizeof *c);
}

void limitr__customers_free(limitr_engine *e)
{
    customer_map *m = &e->customers;
    size_t i;
    for (i = 0; i < m->cap; i++)
        if (m->slots[i].c != NULL && m->slots[i].c != CUSTOMER_TOMBSTONE)
            customer_destroy(e, m->slots[i].c);
    limitr__dealloc(e, m->slots, m->cap * sizeof *m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- Snapshots ---- */

/* Adds a number rounded to 9 decimals, as every outgoing number is. */
static void add_num(cJSON *obj, const char *key, lnum v)
{
    cJSON_AddNumberToObject(obj, key, limitr__out_number(v));
}

static cJSON *meters_json(limitr_engine *e, const customer *c)
{
    const lp_policy *p = e->policy;
    const lp_plan *plan = c->plan >= 0 ? &p->plans[c->plan] : NULL;
    cJSON *meters = cJSON_CreateObject();
    size_t i;
    for (i = 0; meters != NULL && i < p->n_ent_names; i++) {
        const meter *m = &c->meters[i];
        const lp_entitlement *ent;
        cJSON *mj;
        if (!m->present) continue;
        ent = plan ? lp_plan_entitlement(plan, p->ent_names[i],
                                         p->ent_name_lens[i])
                   : NULL;
        mj = cJSON_AddObjectToObject(meters, p->ent_names[i]);
        if (mj == NULL) break;
        if (ent != NULL && ent->has_limit) {
            cJSON_AddStringToObject(mj, "credit",
                                    p->credits[ent->limit.credit].name);
            add_num(mj, "value", m->value);
            add_num(mj, "limit", ent->limit.value);
            add_num(mj, "remaining", ent->limit.value - m->value);
        } else {
            add_num(mj, "value", m->value);
        }
        add_num(mj, "overhead", LNUM_ZERO);
        cJSON_AddNumberToObject(mj, "started", (double)m->started);
    }
    return meters;
}

cJSON *limitr__customer_snapshot(limitr_engine *e, const customer *c)
{
    cJSON *s = cJSON_CreateObject();
    const lp_plan *plan = c->plan >= 0 ? &e->policy->plans[c->plan] : NULL;
    if (s == NULL) return NULL;
    cJSON_AddStringToObject(s, "id", c->id);
    if (plan != NULL) cJSON_AddStringToObject(s, "plan", plan->name);
    cJSON_AddStringToObject(s, "own_plan", c->own_plan);
    cJSON_AddStringToObject(s, "type", c->type);
    cJSON_AddStringToObject(s, "label", c->label);
    cJSON_AddNumberToObject(s, "created", (double)c->created);
    cJSON_AddItemToObject(s, "refs", cJSON_CreateArray());
    cJSON_AddItemToObject(s, "alt_ids", cJSON_CreateArray());
    if (c->metadata_json != NULL)
        cJSON_AddItemToObject(s, "metadata", cJSON_Parse(c->metadata_json));
    cJSON_AddItemToObject(s, "overrides", cJSON_CreateObject());
    cJSON_AddItemToObject(s, "grants", cJSON_CreateArray());
    cJSON_AddItemToObject(s, "caps", cJSON_CreateArray());
    cJSON_AddItemToObject(s, "meters", meters_json(e, c));
    return s;
}

/* ---- Create, update, delete ---- */

typedef struct customer_opts {
    char *type, *label;  /* malloc'ed, NULL: not given */
    char *metadata_json; /* malloc'ed */
    int nomem;
} customer_opts;

static void free_opts(customer_opts *o)
{
    free(o->type);
    free(o->label);
    free(o->metadata_json);
    memset(o, 0, sizeof *o);
}

static int parse_opts(limitr_engine *e, const char *json, customer_opts *o)
{
    cJSON *root, *item;
    memset(o, 0, sizeof *o);
    if (json == NULL) return LIMITR_OK;
    root = cJSON_Parse(json);
    if (root == NULL)
        return limitr__fail(e, LIMITR_INVALID,
                            "create_customer: options are not valid JSON");
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return limitr__fail(e, LIMITR_INVALID,
                            "create_customer: options must be an object");
    }
    cJSON_ArrayForEach(item, root)
    {
        const char *k = item->string;
        if (strcmp(k, "type") == 0 || strcmp(k, "label") == 0) {
            if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
                int status = limitr__fail(e, LIMITR_INVALID,
                                          "create_customer: option '%s' must "
                                          "be a non-empty string",
                                          k);
                cJSON_Delete(root);
                free(o->metadata_json);
                o->metadata_json = NULL;
                return status;
            }
        } else if (strcmp(k, "metadata") == 0) {
            if (!cJSON_IsNull(item)) {
                free(o->metadata_json);
                o->metadata_json = cJSON_PrintUnformatted(item);
                if (o->metadata_json == NULL) {
                    cJSON_Delete(root);
                    return limitr__fail(e, LIMITR_NOMEM, "out of memory");
                }
            }
        } else {
            int status = limitr__fail(e, LIMITR_INVALID,
                                      "create_customer: unknown option '%s' "
                                      "(options are type, label, metadata)",
                                      k);
            cJSON_Delete(root);
            free(o->metadata_json);
            o->metadata_json = NULL;
            return status;
        }
    }
    /* Keep the strings: copies that outlive root. */
    item = cJSON_GetObjectItemCaseSensitive(root, "type");
    o->type = item ? strdup(item->valuestring) : NULL;
    if (item != NULL && o->type == NULL) o->nomem = 1;
    item = cJSON_GetObjectItemCaseSensitive(root, "label");
    o->label = item ? strdup(item->valuestring) : NULL;
    if (item != NULL && o->label == NULL) o->nomem = 1;
    cJSON_Delete(root);
    if (o->nomem) {
        free_opts(o);
        return limitr__fail(e, LIMITR_NOMEM, "out of memory");
    }
    return LIMITR_OK;
}

/* Swaps a prepared copy into *slot (NULL: keep what is there). */
static void swap_in(limitr_engine *e, char **slot, char *copy)
{
    if (copy == NULL) return;
    limitr__strfree(e, *slot);
    *slot = copy;
}

/* An engine-allocated copy of s, or NULL for NULL; sets *failed when the
 * copy could not be made. */
static char *copy_or_null(limitr_engine *e, const char *s, int *failed)
{
    char *copy;
    if (s == NULL) return NULL;
    copy = limitr__strdup(e, s, strlen(s));
    if (copy == NULL) *failed = 1;
    return copy;
}

static customer *customer_new(limitr_engine *e, const char *id, size_t len,
                              uint64_t hash, int plan)
{
    const lp_policy *p = e->policy;
    size_t meters_size = p->n_ent_names * sizeof(meter), i;
    customer *c = limitr__alloc(e, sizeof *c);
    if (c == NULL) return NULL;
    memset(c, 0, sizeof *c);
    c->id = limitr__strdup(e, id, len);
    c->own_plan = limitr__strdup(e, "", 0);
    c->type = limitr__strdup(e, "user", 4);
    c->label = limitr__strdup(e, "User", 4);
    c->meters = meters_size ? limitr__alloc(e, meters_size) : NULL;
    c->id_len = len;
    c->hash = hash;
    c->plan = plan;
    c->created = limitr__now(e);
    if (c->id == NULL || c->own_plan == NULL || c->type == NULL ||
        c->label == NULL || (meters_size && c->meters == NULL)) {
        customer_destroy(e, c);
        return NULL;
    }
    if (meters_size) memset(c->meters, 0, meters_size);
    /* A meter per limited entitlement of the plan (engine.md 2.1.3). */
    for (i = 0; i < p->plans[plan].n_ents; i++) {
        const lp_entitlement *ent = &p->plans[plan].ents[i];
        if (!ent->has_limit) continue;
        c->meters[ent->name].present = 1;
        c->meters[ent->name].started = c->created;
    }
    return c;
}

static void emit_customer(limitr_engine *e, event_kind ev, const customer *c)
{
    if (limitr__listening(e, ev))
        limitr__emit(e, ev, limitr__customer_snapshot(e, c));
}

int limitr_create_customer(limitr_engine *e, const char *id, const char *plan,
                           const char *opts_json, const char **snapshot_json)
{
    size_t len;
    uint64_t hash;
    int plan_index = -1, status;
    customer *c;
    customer_opts o;
    if (e == NULL) return LIMITR_INVALID;
    if (id == NULL || id[0] == '\0')
        return limitr__fail(e, LIMITR_INVALID,
                            "create_customer: the id must be a non-empty "
                            "string");
    len = strlen(id);
    if (len > LIMITR_DEFAULT_MAX_ID)
        return limitr__fail(e, LIMITR_INVALID,
                            "create_customer: the id is longer than %d bytes",
                            LIMITR_DEFAULT_MAX_ID);
    hash = limitr_hash(id, len);
    c = limitr__customer_find(e, id, len, hash);
    if (plan != NULL && plan[0] != '\0') {
        plan_index = limitr__policy_find_plan(e->policy, plan);
        if (plan_index < 0)
            return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_plan");
    } else if (c == NULL) {
        plan_index = e->policy->default_plan;
        if (plan_index < 0)
            return limitr__reason(e, LIMITR_NOT_FOUND, "no_plan");
    }
    status = parse_opts(e, opts_json, &o);
    if (status != LIMITR_OK) return status;
    /* Every allocation happens before anything changes, so a failure leaves
       the customer (or its absence) as it was. */
    {
        int failed = 0;
        char *own = copy_or_null(
            e, plan_index >= 0 ? e->policy->plans[plan_index].name : NULL,
            &failed);
        char *type = copy_or_null(e, o.type, &failed);
        char *label = copy_or_null(e, o.label, &failed);
        char *metadata = copy_or_null(e, o.metadata_json, &failed);
        customer *created = NULL;
        free_opts(&o);
        if (!failed && c == NULL) {
            created = customer_new(e, id, len, hash, plan_index);
            if (created == NULL || map_insert(e, created) != 0) failed = 1;
        }
        if (failed) {
            if (created != NULL) customer_destroy(e, created);
            limitr__strfree(e, own);
            limitr__strfree(e, type);
            limitr__strfree(e, label);
            limitr__strfree(e, metadata);
            return limitr__fail(e, LIMITR_NOMEM, "out of memory");
        }
        if (created != NULL) c = created;
        if (plan_index >= 0) c->plan = plan_index;
        swap_in(e, &c->own_plan, own);
        swap_in(e, &c->type, type);
        swap_in(e, &c->label, label);
        swap_in(e, &c->metadata_json, metadata);
    }
    emit_customer(e, EV_CUSTOMER_SET, c);
    if (snapshot_json != NULL) {
        c = limitr__customer_find(e, id, len, hash); /* a handler may delete */
        if (c == NULL)
            return limitr__fail(e, LIMITR_NOT_FOUND,
                                "customer '%s' was deleted by an "
                                "event handler",
                                id);
        return limitr__set_result(e, limitr__customer_snapshot(e, c),
                                  snapshot_json);
    }
    return limitr__ok(e);
}

int limitr_customer(limitr_engine *e, const char *id,
                    const char **snapshot_json)
{
    customer *c;
    size_t len;
    if (e == NULL) return LIMITR_INVALID;
    if (id == NULL)
        return limitr__fail(e, LIMITR_INVALID, "customer: no id given");
    len = strlen(id);
    c = limitr__customer_find(e, id, len, limitr_hash(id, len));
    if (c == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    return limitr__set_result(e, limitr__customer_snapshot(e, c),
                              snapshot_json);
}

int limitr_delete_customer(limitr_engine *e, const char *id)
{
    customer *c;
    size_t len;
    uint64_t hash;
    if (e == NULL) return LIMITR_INVALID;
    if (id == NULL)
        return limitr__fail(e, LIMITR_INVALID, "delete_customer: no id given");
    len = strlen(id);
    hash = limitr_hash(id, len);
    c = limitr__customer_find(e, id, len, hash);
    if (c == NULL)
        return limitr__reason(e, LIMITR_NOT_FOUND, "unknown_customer");
    emit_customer(e, EV_CUSTOMER_REMOVED, c);
    /* A handler may have deleted it already. */
    c = limitr__customer_find(e, id, len, hash);
    if (c != NULL) {
        map_remove(e, c);
        customer_destroy(e, c);
    }
    return limitr__ok(e);
}
