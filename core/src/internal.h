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
#include "schedule.h"
#include "script.h"

typedef struct cJSON cJSON;

/* ---- Compiled policy (policy.c) ---- */

typedef struct lp_credit {
    char *name;
    char *label;
    char *unit;
    char *description;
    int units;          /* unit index (units.h) the values are kept in, or -1 */
    lnum overhead_cost; /* what one unit costs the provider, runes */
    int overhead_ref;   /* cost function(units, ctx) -> runes, or 0 */
} lp_credit;

typedef enum limit_mode { MODE_HARD, MODE_SOFT, MODE_OBSERVE } limit_mode;
typedef enum reset_kind {
    RESET_NONE,
    RESET_INTERVAL, /* reset_inc */
    RESET_SCHEDULE  /* reset_sch */
} reset_kind;

/* A limit, as compiled from a policy or an override: every field resolved,
 * every amount in the credit's units. */
typedef struct lp_limit {
    int credit;     /* index into policy->credits */
    lnum value;     /* allowance per period, credit units */
    lnum increment; /* amount of increment/decrement, > 0 */
    limit_mode mode;
    int has_minimum;
    lnum minimum; /* floor of the meter */
    int hard_trailing;
    int grants_apply;
    reset_kind reset;
    int64_t reset_inc; /* ms, RESET_INTERVAL */
    lp_schedule sch;   /* RESET_SCHEDULE */
    int governor;
    lnum governor_capacity;
    double governor_refill_rate; /* tokens per ms */
    double ewma_alpha;
    int value_ref;     /* `value` as a snippet: its reference, or 0 */
    int on_exceed_ref; /* custom overage logic, or 0 */
    const char *path;  /* the limit's policy path, for snippet errors */
} lp_limit;

typedef struct lp_entitlement {
    int name;        /* index into policy->ent_names */
    const char *key; /* policy->ent_names[name], for the hot-path scan */
    size_t key_len;
    char *description;
    char *scope;   /* customer type that owns the meter, or NULL */
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
/* policy.notifications.<name> (policy.md section 9). */
typedef struct lp_notification {
    char *name;
    int matches_ref; /* function(type, event) -> bool */
    int fire_ref;    /* function(event, name), or 0: re-emit */
    int handler_ref; /* policy.handlers[name], or 0 */
} lp_notification;

typedef struct lp_policy {
    char *version;
    lp_notification *notifications; /* document order */
    size_t n_notifications;
    script *vm;           /* the policy's Lua VM, or NULL: no snippets */
    script_limits limits; /* its budgets (engine options) */
    int handler_refs[32]; /* policy.handlers by event kind (0: none) */
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
                                  const char *format,
                                  const script_limits *limits, char **err);
void limitr__policy_free(lp_policy *p);
int limitr__policy_find_plan(const lp_policy *p, const char *name);
/* The index of the notification named name, or -1. */
int limitr__notification_find(const lp_policy *p, const char *name);

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

/* ---- Customer state (customer.c, graph.c, meter.c) ---- */

/* One committed change (or governed demand), for rate and acceleration. */
typedef struct history_entry {
    int64_t ts;
    double delta; /* credit units; only rates are computed from it */
} history_entry;

#define METER_HISTORY 3

typedef struct meter {
    int ent;         /* entitlement name index (policy->ent_names) */
    int64_t started; /* start of the current period, ms */
    lnum value;      /* usage this period, credit units */
    lnum overhead;   /* provider overhead this period, runes */
    history_entry history[METER_HISTORY]; /* oldest first */
    int n_history;
    int has_ewma;
    double ewma_rate;
    int has_bucket; /* governor state exists */
    lnum tokens;
    int64_t last_refill;
    /* Cache: the end of the period that began at `started`, valid while
       period_epoch equals the engine's graph_epoch (limits can change with
       overrides and plans). Spares allow() the calendar arithmetic. */
    int64_t period_end;
    uint64_t period_epoch;
} meter;

/* A customer's own limit for one entitlement (engine.md section 7). */
typedef struct override {
    int ent;
    lp_limit limit;
    int has_expires;
    int64_t expires;
} override;

typedef struct strlist {
    char **items;
    size_t n, cap;
} strlist;

typedef struct customer {
    char *id;
    size_t id_len;
    uint64_t hash;
    char *own_plan; /* as stored; "" = from refs, then the default plan */
    char *type;
    char *label;
    char *metadata_json; /* NULL = none */
    strlist refs;        /* IDs (or alt IDs) of related customers, in order */
    strlist alt_ids;
    int64_t created;
    meter *meters; /* the meters this customer owns, any order */
    size_t n_meters, cap_meters;
    override *overrides;
    size_t n_overrides, cap_overrides;
    /* Caches, valid while graph_epoch equals the engine's: any change to
       plans, types, refs, IDs or customers bumps it. */
    uint64_t graph_epoch;
    int plan;               /* resolved plan index, or -1 */
    const char *scope_type; /* last scope looked up (policy string) */
    struct customer *scope_owner;
} customer;

/* ID -> customer; keys point into the customer (its id or an alt id). */
typedef struct idmap_slot {
    uint64_t hash;
    const char *key;
    size_t key_len;
    customer *c; /* NULL: empty; IDMAP_TOMBSTONE: deleted */
} idmap_slot;

typedef struct idmap {
    idmap_slot *slots;
    size_t cap;  /* power of two, or 0 */
    size_t used; /* live + tombstones */
    size_t live;
} idmap;

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

_Static_assert(EV_COUNT <= 32, "lp_policy.handler_refs holds 32 events");

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
    idmap customers; /* primary IDs */
    idmap alt_ids;   /* alt IDs */
    uint64_t graph_epoch;

    int64_t clock;    /* set by set_time/advance */
    int clock_is_set; /* 0: system clock */

    const char *code;     /* reason code of the last call ("" after OK) */
    char reason_buf[128]; /* a reason an on_exceed snippet gave */
    char *message;        /* malloc'ed text of the last error, or NULL */
    int has_message;      /* message belongs to the last call */
    char *result;         /* malloc'ed borrowed result (JSON), or NULL */

    subscription *subs;
    size_t n_subs, cap_subs;
    int next_sub_id;
    int listeners[EV_COUNT]; /* named subscribers + App functions per event */
    int star_listeners;      /* "*" subscribers */
    int delivering;          /* nesting depth of event delivery */
    int reporting_error;     /* delivering an `error` event */
    int in_decision_snippet; /* a value, on_exceed or cost snippet runs */
    int subs_dirty;          /* removed subscriptions wait for depth 0 */

    host_fn *libs;
    size_t n_libs;
};

/* engine.c */
/* Returns status after setting the last error: code (static, NULL for the
 * status's own: "invalid_argument", "out_of_memory", ...) for programs and
 * the formatted message for people. */
int limitr__fail(limitr_engine *e, int status, const char *code,
                 const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Returns status with a static reason code ("limit", "unknown_customer")
 * whose message is the code's standard text: no allocation, so the hot path
 * can use it. */
static inline int limitr__reason(limitr_engine *e, int status,
                                 const char *reason)
{
    e->code = reason;
    e->has_message = 0;
    return status;
}
/* A snippet that runs in the middle of a decision (limit value, on_exceed,
 * cost function) may reach the host, and the host the engine: changing
 * customers then would free what the decision holds. Calls that change
 * state refuse while one runs; reads are fine. */
#define LIMITR_REFUSE_DURING_SNIPPET(e, what)                                  \
    do {                                                                       \
        if ((e)->in_decision_snippet > 0)                                      \
            return limitr__fail((e), LIMITR_ERROR, "engine_busy",                      \
                                "%s: the engine cannot be changed from "       \
                                "inside a limit value, on_exceed or cost "     \
                                "snippet",                                     \
                                (what));                                       \
    } while (0)

/* Every public function starts here: a NULL engine, or one whose
 * limitr_new / limitr_load failed (no policy), is an error, never a crash. */
#define LIMITR_ENTER(e)                                                        \
    do {                                                                       \
        if ((e) == NULL) return LIMITR_INVALID;                                \
        if ((e)->policy == NULL)                                               \
            return limitr__reason((e), LIMITR_INVALID, "no_policy");           \
    } while (0)

static inline int limitr__deny(limitr_engine *e, const char *reason)
{
    return limitr__reason(e, LIMITR_DENIED, reason);
}
static inline int limitr__ok(limitr_engine *e)
{
    e->code = "";
    e->has_message = 0;
    return LIMITR_OK;
}
int limitr__set_result(limitr_engine *e, cJSON *json, const char **out);
void *limitr__alloc(limitr_engine *e, size_t size);
void limitr__dealloc(limitr_engine *e, void *p, size_t size);
char *limitr__strdup(limitr_engine *e, const char *s, size_t len);
void limitr__strfree(limitr_engine *e, char *s);
int64_t limitr__now(limitr_engine *e);

/* idmap.c */
customer *limitr__idmap_find(const idmap *m, const char *key, size_t len,
                             uint64_t hash);
/* Makes room for `extra` more keys, so inserts after it cannot fail. */
int limitr__idmap_reserve(limitr_engine *e, idmap *m, size_t extra);
int limitr__idmap_insert(limitr_engine *e, idmap *m, const char *key,
                         size_t len, uint64_t hash, customer *c);
void limitr__idmap_remove(idmap *m, const char *key, size_t len, uint64_t hash);
customer *limitr__idmap_at(const idmap *m, size_t i); /* slot i, or NULL */
void limitr__idmap_free(limitr_engine *e, idmap *m);

/* customer.c */
/* The customer with this ID or alt ID, or NULL. */
static inline customer *limitr__customer_find(const limitr_engine *e,
                                              const char *id, size_t len,
                                              uint64_t hash)
{
    customer *c = limitr__idmap_find(&e->customers, id, len, hash);
    if (c == NULL && e->alt_ids.live > 0)
        c = limitr__idmap_find(&e->alt_ids, id, len, hash);
    return c;
}
static inline customer *limitr__customer_lookup(const limitr_engine *e,
                                                const char *id)
{
    size_t len = strlen(id);
    return limitr__customer_find(e, id, len, limitr_hash(id, len));
}
void limitr__customers_free(limitr_engine *e);

/* meter.c */
/* A meter as it is in the current period, computed without writing: the
 * few numbers a decision needs, so nothing is copied on the hot path. */
typedef struct meter_view {
    const meter *stored; /* the customer's meter, or NULL */
    int exists;          /* stored != NULL */
    int rolled;          /* a new period began since its last write */
    int64_t started;     /* start of the current period */
    lnum value;          /* this period's value (0 after a roll) */
    lnum overhead;
    lnum previous_value; /* the stored value, before any roll */
    int has_bucket;      /* governor: bucket after refill to now */
    lnum tokens;
    int64_t last_refill;
} meter_view;

static inline meter *limitr__meter_find(customer *c, int ent)
{
    size_t i;
    for (i = 0; i < c->n_meters; i++)
        if (c->meters[i].ent == ent) return &c->meters[i];
    return NULL;
}
/* Room for `extra` more meters, so that many meter_add cannot fail. */
int limitr__meter_reserve(limitr_engine *e, customer *c, size_t extra);
/* Adds a meter (may move the customer's meters: re-find older pointers). */
meter *limitr__meter_add(limitr_engine *e, customer *c, int ent,
                         int64_t started);
int64_t limitr__period_start(const lp_limit *lim, int64_t started, int64_t now);
/* The first boundary after now (v NULL: no meter yet); 0 when the limit
 * does not reset. */
int64_t limitr__next_reset(const lp_limit *lim, const meter_view *v,
                           int64_t now);
/* epoch: the engine's graph_epoch, which keys the meter's period cache
 * (the only field of m this writes). */
void limitr__meter_view(const lp_limit *lim, meter *m, int64_t now,
                        uint64_t epoch, meter_view *v);
/* Writes the view's period and bucket into the stored meter. */
void limitr__meter_apply(meter *m, const meter_view *v);
/* Rate and acceleration in the current period (engine.md 6.3). */
double limitr__meter_rate(const meter_view *v);
double limitr__meter_acceleration(const meter_view *v);
void limitr__meter_push(meter *m, int64_t ts, double delta, double alpha,
                        int is_demand);

/* override.c */
override *limitr__override_find(const customer *c, int ent);
/* The limit a decision uses: the owner's override unless it expired, else
 * the (caller's) plan entitlement's; NULL for a flag. */
const lp_limit *limitr__effective_limit(const customer *owner, int ent,
                                        const lp_entitlement *plan_ent,
                                        int64_t now);
void limitr__override_remove_at(limitr_engine *e, customer *c, override *ov);
cJSON *limitr__limit_json(const limitr_engine *e, const lp_limit *lim);
cJSON *limitr__overrides_json(const limitr_engine *e, const customer *c);

/* graph.c */
void limitr__graph_changed(limitr_engine *e);
int limitr__resolve_plan(const limitr_engine *e, customer *c);
customer *limitr__find_scope_owner(const limitr_engine *e, customer *caller,
                                   const char *scope);

/* The customer's resolved plan index (own, through refs, default) or -1;
 * the cached answer while the graph is unchanged. */
static inline int limitr__resolved_plan(const limitr_engine *e, customer *c)
{
    if (c->graph_epoch == e->graph_epoch) return c->plan;
    return limitr__resolve_plan(e, c);
}

/* Whose meter moves when caller uses an entitlement of this scope (NULL
 * scope: the caller); NULL when no customer of that type is reachable. */
static inline customer *limitr__scope_owner(const limitr_engine *e,
                                            customer *caller, const char *scope)
{
    if (scope == NULL) return caller;
    return limitr__find_scope_owner(e, caller, scope);
}
cJSON *limitr__customer_snapshot(limitr_engine *e, customer *c);
/* Fires a customer event (customer-set, ...) when someone listens. */
void limitr__emit_customer(limitr_engine *e, event_kind ev, customer *c);

/* event.c */
static inline int limitr__listening(const limitr_engine *e, event_kind ev)
{
    return e->listeners[ev] > 0 || e->star_listeners > 0;
}
void limitr__emit(limitr_engine *e, event_kind ev, cJSON *payload);
void limitr__events_free(limitr_engine *e);
/* Calls the host function lib.name with a JSON array of arguments (from a
 * snippet). 0 with *result (malloc'ed JSON or NULL), or -1 with *failure
 * (malloc'ed message, or NULL: out of memory). */
int limitr__call_host(limitr_engine *e, const char *lib, const char *name,
                      const char *args_json, char **result, char **failure);
/* Reports a failed snippet or callback: fires `error` {message, path}. */
void limitr__report_error(limitr_engine *e, const char *path,
                          const char *message);
int limitr__event_find(const char *name);
double limitr__out_number(lnum v);
cJSON *limitr__credit_json(const lp_credit *cr);

#endif
