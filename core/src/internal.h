/* internal.h: the structures shared by the engine's files: the compiled
 * policy (immutable, read by the hot path), customer state, and the engine. */
#ifndef LIMITR_INTERNAL_H
#define LIMITR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hash.h"
#include "limitr.h"
#include "num.h"

typedef struct cJSON cJSON;

/* ---- Compiled policy (policy.c) ---- */

typedef struct lp_credit {
    char *name;
    char *label;
    char *unit;
    char *description;
} lp_credit;

typedef struct lp_limit {
    int credit;     /* index into policy->credits */
    lnum value;     /* allowance, credit units */
    lnum increment; /* amount of increment/decrement, > 0 */
} lp_limit;

typedef struct lp_entitlement {
    int name;        /* index into policy->ent_names */
    const char *key; /* policy->ent_names[name], for the hot-path scan */
    size_t key_len;
    char *description;
    int has_limit; /* 0: a feature flag */
    lp_limit limit;
} lp_entitlement;

typedef struct lp_plan {
    char *name;
    char *label;
    char *description;
    int is_default;
    int hidden;
    lp_entitlement *ents; /* document order */
    size_t n_ents;
} lp_plan;

/* A compiled policy never changes after load, and customer state refers to
 * it by index (plan, entitlement name), never by pointer, so a later reload
 * can swap it under live state. */
typedef struct lp_policy {
    char *version;
    lp_credit *credits;
    size_t n_credits;
    lp_plan *plans;
    size_t n_plans;
    char **ent_names; /* every entitlement name of any plan, interned */
    size_t *ent_name_lens;
    size_t n_ent_names;
    int default_plan; /* index, or -1 */
} lp_policy;

/* Compiles a document into a policy. On failure returns NULL and sets *err
 * to the malloc'ed error list (one line each); NULL with *err NULL: out of
 * memory. */
lp_policy *limitr__policy_compile(const char *text, size_t len,
                                  const char *format, char **err);
void limitr__policy_free(lp_policy *p);
int limitr__policy_find_plan(const lp_policy *p, const char *name);

/* The plan's entitlement named key (len bytes), or NULL. */
static inline const lp_entitlement *
lp_plan_entitlement(const lp_plan *plan, const char *key, size_t len)
{
    size_t i;
    for (i = 0; i < plan->n_ents; i++) {
        const lp_entitlement *ent = &plan->ents[i];
        if (ent->key_len == len && limitr_bytes_equal(ent->key, key, len))
            return ent;
    }
    return NULL;
}

/* ---- Customer state (customer.c) ---- */

typedef struct meter {
    lnum value;      /* usage this period, credit units */
    int64_t started; /* start of the current period, ms */
    int present;
} meter;

typedef struct customer {
    char *id;
    size_t id_len;
    uint64_t hash;
    char *own_plan; /* as stored; "" = default plan */
    int plan;       /* resolved plan index in the policy, or -1 */
    char *type;
    char *label;
    char *metadata_json; /* NULL = none */
    int64_t created;
    meter *meters; /* indexed by entitlement name, n_ent_names long */
} customer;

typedef struct customer_slot {
    uint64_t hash;
    customer *c; /* NULL: empty; CUSTOMER_TOMBSTONE: deleted */
} customer_slot;

typedef struct customer_map {
    customer_slot *slots;
    size_t cap;  /* power of two, or 0 */
    size_t used; /* live + tombstones */
    size_t live;
} customer_map;

/* ---- Events (event.c) ---- */

#define LIMITR_EVENT_LIST(X)                                                   \
    X(METER_CHANGED, "meter-changed")                                          \
    X(METER_OVERAGE, "meter-overage")                                          \
    X(METER_LIMIT, "meter-limit")                                              \
    X(METER_GOVERNED, "meter-governed")                                        \
    X(METER_RESET, "meter-reset")                                              \
    X(CAP_LIMIT, "cap-limit")                                                  \
    X(CAP_THRESHOLD_CROSSED, "cap-threshold-crossed")                          \
    X(CUSTOMER_CAP_ADDED, "customer-cap-added")                                \
    X(CUSTOMER_CAP_RESET, "customer-cap-reset")                                \
    X(CUSTOMER_CAP_REMOVED, "customer-cap-removed")                            \
    X(CUSTOMER_SET, "customer-set")                                            \
    X(CUSTOMER_REMOVED, "customer-removed")                                    \
    X(CUSTOMER_PLAN_CHANGED, "customer-plan-changed")                          \
    X(CUSTOMER_TOPUP_GRANTED, "customer-topup-granted")                        \
    X(PLAN_SET, "plan-set")                                                    \
    X(PLAN_REMOVED, "plan-removed")                                            \
    X(POLICY_RELOADED, "policy-reloaded")                                      \
    X(ERROR, "error")

typedef enum event_kind {
#define LIMITR_EVENT_ENUM(name, text) EV_##name,
    LIMITR_EVENT_LIST(LIMITR_EVENT_ENUM)
#undef LIMITR_EVENT_ENUM
        EV_COUNT
} event_kind;

extern const char *const limitr__event_names[EV_COUNT];

typedef struct subscription {
    int id;
    int event; /* event_kind, or -1 for "*" */
    limitr_event_fn fn;
    void *userdata;
} subscription;

typedef struct host_fn {
    char *lib;
    char *name;
    limitr_lib_fn fn;
    void *userdata;
} host_fn;

/* ---- Engine ---- */

struct limitr_engine {
    lp_policy *policy;
    limitr_allocator alloc;
    customer_map customers;

    int64_t clock;    /* set by set_time/advance */
    int clock_is_set; /* 0: system clock */

    const char *reason; /* static text of the last result, or NULL */
    char *message;      /* malloc'ed text of the last error, or NULL */
    char *result;       /* malloc'ed borrowed result (JSON), or NULL */

    subscription *subs;
    size_t n_subs, cap_subs;
    int next_sub_id;
    int listeners[EV_COUNT]; /* named subscribers + App functions per event */
    int star_listeners;      /* "*" subscribers */
    int delivering;          /* nesting depth of event delivery */
    int subs_dirty;          /* removed subscriptions wait for depth 0 */

    host_fn *libs;
    size_t n_libs;
};

/* engine.c */
int limitr__fail(limitr_engine *e, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Returns status with a static reason ("limit", "unknown_customer") as the
 * last error: no allocation, so the hot path can use it. */
static inline int limitr__reason(limitr_engine *e, int status,
                                 const char *reason)
{
    e->reason = reason;
    return status;
}
static inline int limitr__deny(limitr_engine *e, const char *reason)
{
    return limitr__reason(e, LIMITR_DENIED, reason);
}
static inline int limitr__ok(limitr_engine *e)
{
    e->reason = "";
    return LIMITR_OK;
}
int limitr__set_result(limitr_engine *e, cJSON *json, const char **out);
void *limitr__alloc(limitr_engine *e, size_t size);
void limitr__dealloc(limitr_engine *e, void *p, size_t size);
char *limitr__strdup(limitr_engine *e, const char *s, size_t len);
void limitr__strfree(limitr_engine *e, char *s);
int64_t limitr__now(limitr_engine *e);

/* customer.c */
customer *limitr__customer_find(const limitr_engine *e, const char *id,
                                size_t len, uint64_t hash);
void limitr__customers_free(limitr_engine *e);
cJSON *limitr__customer_snapshot(limitr_engine *e, const customer *c);

/* event.c */
static inline int limitr__listening(const limitr_engine *e, event_kind ev)
{
    return e->listeners[ev] > 0 || e->star_listeners > 0;
}
void limitr__emit(limitr_engine *e, event_kind ev, cJSON *payload);
void limitr__events_free(limitr_engine *e);
int limitr__event_find(const char *name);
double limitr__out_number(lnum v);
cJSON *limitr__credit_json(const lp_credit *cr);

#endif
