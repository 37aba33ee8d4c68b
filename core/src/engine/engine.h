/* engine.h: the engine: {policy, script VM (the policy's), state,
 * per-process caches of the state, subscriptions, host functions, result
 * buffers}, and what the engine's files share. The customer state itself is
 * state/state.h: the engine only borrows it. */
#ifndef LIMITR_ENGINE_H
#define LIMITR_ENGINE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hash.h"
#include "limitr.h"
#include "num.h"
#include "policy.h"
#include "state.h"

typedef struct cJSON cJSON;

/* ---- Events (event.c) ---- */

typedef struct subscription {
    int id;
    int event; /* event_kind, -1 for "*", EV_COUNT + i for notification i,
                  SUB_DORMANT for a notification the policy lacks now */
    char *notification;       /* the notification's name (malloc'ed), or NULL */
    limitr_event_fn fn;       /* JSON text; or */
    limitr_items_fn items_fn; /* items (NULL both: removed) */
    void *userdata;
} subscription;

#define SUB_DORMANT INT_MAX

/* Points the subscriptions to notifications at p's (by name): a reload
 * keeps them (event.c). */
struct lp_policy;
void limitr__subs_follow(limitr_engine *e, const struct lp_policy *p);

typedef struct host_fn {
    char *lib;
    char *name;
    limitr_lib_fn fn;             /* JSON; or */
    limitr_lib_items_fn items_fn; /* items */
    void *userdata;
} host_fn;

#ifndef LIMITR_DEFAULT_MAX_ID
#define LIMITR_DEFAULT_MAX_ID 1024 /* bytes of a customer ID or alt ID */
#endif
#define LIMITR_MAX_METADATA_DEPTH 24 /* levels a customer's metadata nests */

#ifndef LIMITR_MAX_VALUE_DEPTH
#define LIMITR_MAX_VALUE_DEPTH 8 /* value snippets reading other limits */
#endif
#ifndef LIMITR_MAX_EVENT_DEPTH
#define LIMITR_MAX_EVENT_DEPTH 16 /* events fired from event delivery */
#endif

/* ---- Item lists (items.c) ---- */

/* A growable list of items (the engine's: the results of JSON hosts). */
typedef struct item_list {
    limitr_item *items;
    size_t n, cap;
} item_list;

/* items[*i] (with its entries) as cJSON, *i moved past it; NULL when
   memory ran out. A SNAPSHOT item references its frame's snapshot. */
cJSON *limitr__items_cjson(limitr_engine *e, const limitr_item *items,
                           size_t *i);
/* json as items into list (replacing its items), strings borrowed from
   json. 0, or -1: out of memory. The depth is json's: cJSON_Parse bounds
   it. */
int limitr__items_of_json(const cJSON *json, item_list *list);
#define LIMITR_MAX_ITEM_DEPTH 32 /* a host function's result */
/* What is wrong with items as one value (a C host's result), or NULL. */
const char *limitr__items_check(const limitr_item *items, size_t n);

/* ---- Event payloads (payload.c) ---- */

#define PAYLOAD_ITEMS 32 /* the largest meter event has 25 */
#define PAYLOAD_DEPTH 3  /* payload, meter, governor */

/* An event's payload: items built without allocating (meter events), or a
 * cJSON tree (the others). Each other form is made from it once, when a
 * listener needs it. */
typedef struct payload {
    limitr_item items[PAYLOAD_ITEMS];
    size_t n;
    size_t open[PAYLOAD_DEPTH]; /* the tables being filled */
    int depth;
    cJSON *json; /* the payload as cJSON (owned), or NULL */
    char *text;  /* as JSON text (owned), or NULL */
} payload;

/* A customer in a meter event's payload, as it was when the event fired:
 * its snapshot is built the first time a listener reads it, or before
 * anything changes the state while the event is delivered. */
typedef struct event_frame {
    const customer *owner; /* NULL once the snapshot is built */
    int64_t now;
    uint64_t token; /* the SNAPSHOT items' */
    cJSON *snapshot;
    char *id;      /* the owner's ID, kept: id_buf or allocated */
    size_t id_len; /* bytes of id, its NUL included */
    char id_buf[48];
} event_frame;

/* Frames nest with event delivery: one per metering call that fires. */
#define LIMITR_MAX_FRAMES (LIMITR_MAX_EVENT_DEPTH + 2)

/* ---- Per-process caches of the state (cache.c) ---- */

#define CACHED_PERIODS                                                         \
    4 /* period ends kept per customer (its first meters)                      \
       */

/* The end of meter i's period under limit lim, from its start. */
typedef struct period_cache {
    const lp_limit *lim;
    int64_t started;
    int64_t end;
} period_cache;

/* What this process derived from one customer's record: valid while the
 * state's epoch is the one it was filled at (every change to plans, types,
 * refs, IDs, customers or overrides moves it). */
typedef struct customer_cache {
    uint64_t epoch;         /* 0: never filled */
    int plan;               /* resolved plan index, or -1 */
    const char *scope_type; /* the scope last looked up (policy string) */
    customer *scope_owner;
    period_cache periods[CACHED_PERIODS];
} customer_cache;

/* ---- A grant draw, decided and then committed (grants.c) ---- */

/* One grant's balance after a draw. */
typedef struct draw_step {
    size_t i; /* index in the customer's grants; SIZE_MAX: an owed one */
    lnum value;
} draw_step;

/* A grant that may pay for a draw, in draw order (grants.c). */
/* What a settle hands its own allow (and no call nested in it): the
 * grants the hold set aside room in (their IDs, copied: the hold goes
 * first), drawn first on `owner`, and the call's overhead, worked out once
 * for the recording and the learning. `depth`: the allow's event depth
 * (e->delivering). */
typedef struct settle_context {
    char **ids;
    size_t n;
    const customer *owner;
    int depth;
    lnum overhead;
} settle_context;

typedef struct draw_candidate {
    const grant *g;  /* in the customer's grants, or an owed one */
    size_t i;        /* its index in the customer's grants; SIZE_MAX: owed */
    lnum balance;    /* now */
    lnum unit_runes; /* what a unit of its credit is worth */
    int exact;       /* in the limit's own credit */
    int preferred;   /* set aside by the hold a settle records */
} draw_candidate;

/* The draw an allow decided, kept so that its commit writes it without
 * working it out again; valid for the same customer, credit, amounts,
 * time and state. */
typedef struct draw_plan {
    int valid;
    const customer *c;
    int credit;
    lnum overage, pos, covered;
    int64_t now;
    uint64_t epoch;
    size_t n_grants, n_owed;
    size_t n;
    draw_step steps[MAX_CUSTOMER_GRANTS];
    /* scratch of a draw (kept here, off the stack) */
    draw_candidate cands[MAX_CUSTOMER_GRANTS];
    grant owed[MAX_INCLUDED_TOPUPS];
} draw_plan;

/* ---- The caps a call meets (caps.c) ---- */

typedef struct cap_ref {
    customer *holder;
    size_t i;       /* in holder->caps */
    int has_amount; /* the gate's amount holds for the commit too */
    int status;     /* consumed()'s */
    lnum amount;
} cap_ref;

/* Scratch of the walk up a caller's refs: grown as needed, never freed
 * until the engine is (no allocation once warm). */
typedef struct cap_walk {
    customer **queue;
    size_t queue_cap;
    uint32_t *seen; /* by customer slot: == mark when seen this walk */
    size_t seen_cap;
    uint32_t mark;
    cap_ref *refs;
    size_t refs_cap;
    /* what refs holds: the caps of this call, kept from the gate for the
       commit while the state has not changed */
    long n;
    int past_bound; /* n past MAX_CAP_WALK_CAPS, or the customers past
                       theirs: what the gate refuses, the commit counts */
    const customer *caller;
    const char *ent;
    uint64_t epoch;
    int64_t now;
    uint64_t gate; /* counts gates: which one computed the amounts */
} cap_walk;

/* ---- Engine ---- */

/* An estimate's alpha as an amount: most estimates share one (0.1), so
 * learning keeps the last conversion (zeroed: alpha 0 is 0). */
typedef struct alpha_memo {
    double alpha;
    lnum value;
} alpha_memo;

struct limitr_engine {
    lp_policy *policy;
    state st;               /* this process's handle on the customer state */
    limitr_allocator alloc; /* the engine struct's and the heap state's */
    int *ent_names;         /* policy ent_names[i] -> the state's name */
    int *credit_names;      /* policy credits[i] -> the state's name */
    int rune_name;          /* the state's name of "rune" */
    customer_cache *caches; /* by customer slot */
    size_t n_caches;
    int holding; /* nesting depth of calls holding the state */
    /* Events held while a call holds the state, delivered once it is
       written (a sync store) or unlocked (a shared region): hold_events
       says which engines do (event.c). */
    int hold_events;
    struct held_event *held;
    size_t n_held, cap_held;

    const char *code;     /* reason code of the last call ("" after OK) */
    char reason_buf[128]; /* a reason an on_exceed snippet gave (127 at most) */
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
    int reading_back;        /* limitr_decide reads its allow's outcome: the
                                on_exceed snippet ran once already, not again */
    struct {
        const customer *owner;
        int ent;                          /* state name */
    } evaluating[LIMITR_MAX_VALUE_DEPTH]; /* value snippets running */
    int n_evaluating;
    /* value snippets running read themselves (or nest too deep): 1 found,
       2 reported; every snippet on the way fails, one error event */
    int value_cycle;
    int subs_dirty; /* removed subscriptions wait for depth 0 */
    event_frame frames[LIMITR_MAX_FRAMES]; /* customers of payloads */
    size_t n_frames;
    uint64_t next_token;

    draw_plan draw;                      /* the last grant draw decided */
    const struct settle_context *settle; /* a settle's allow runs, or NULL */
    cap_walk walk;                       /* the caps of a call */
    alpha_memo alpha_memo;               /* the last estimate alpha converted */
    int all_segment;                     /* the name "all": -1, or a guess */
    struct call_caps *call_caps; /* opts.caps of the call running, or NULL */

    host_fn *libs;
    size_t n_libs;
    cJSON *lib_result;   /* a JSON host function's last result, and */
    item_list lib_items; /* it as items, for the snippet that called */

    /* A durable store (store/store.c), or NULL: what each call changes is
       written to it. `hooked`: the store or a shared region needs the
       outermost call's entry and exit (limitr__hold), and the customers
       each call reaches (limitr__touch). */
    struct limitr_store *store;
    /* A region shared by processes (region/shared.c), or NULL: the state
       lives there, under its lock. */
    struct shared_link *shared;
    int hooked;
    int read_only;      /* opened read-only: calls that change state refuse */
    int unlogged_depth; /* the call at this depth is part of its caller's
                           (the plan fee's allow): no log row of its own */
};

/* ---- Errors and results (engine.c) ---- */

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
/* In a shared region: "state region full" when the region ran out, else out
   of memory (region/shared.c). */
int limitr__shared_nomem(limitr_engine *e);
static inline int limitr__nomem(limitr_engine *e)
{
    if (e->shared != NULL) return limitr__shared_nomem(e);
    return limitr__fail(e, LIMITR_NOMEM, NULL, "out of memory");
}
int limitr__set_result(limitr_engine *e, cJSON *json, const char **out);
/* The outcome of compiling fields given at run time (fields.c): LIMITR_OK
 * (no problem), LIMITR_NOMEM, or LIMITR_INVALID with every problem, one per
 * line; the problem list is freed. */
struct compiler;
int limitr__compile_status(limitr_engine *e, struct compiler *cc);
int64_t limitr__now(limitr_engine *e);
/* The clock's range: the ECMAScript date range, about 273,790 years
 * either side of 1970. Every sum of a time and a period fits in int64;
 * times kept in the state (a hold's expiry) stay within it. */
#define LIMITR_MAX_TIME INT64_C(8640000000000000)

/* ---- Warnings of reload and import (reload.c) ---- */

/* The most warning lines a reload or an import returns: a bound on its
 * result whatever the number of customers; the rest are counted in a last
 * line. */
#define MAX_WARNINGS 100

typedef struct warning_list {
    cJSON *list; /* a cJSON array */
    size_t n, more;
    int nomem;
} warning_list;

void limitr__warn(warning_list *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The "(and N more warnings)" line, when some were counted only. */
void limitr__warn_end(warning_list *w);
/* What the policy does not account for in c's state: an unknown own plan,
 * dormant meters, unused overrides. */
void limitr__warn_customer(limitr_engine *e, customer *c, warning_list *w);

/* Every customer, sorted by ID bytewise (export.c): a malloc'ed array of
 * *n, or NULL when memory ran out. */
customer **limitr__customers_by_id(const limitr_engine *e, size_t *n);

/* ---- Units changes (reload.c) ---- */

/* A credit whose units changed: its amounts convert (same dimension), or
 * its meters go dormant. */
typedef struct unit_change {
    int credit;   /* its state name */
    int from, to; /* unit indexes (-1: none) */
    int convert;  /* same dimension */
    double factor;
    const char *name;
} unit_change;

void limitr__unit_change(unit_change *u, const char *name, int credit, int from,
                         int to);
/* Every amount in u's credit of the customers of list (NULL: all of the
 * engine's), and the room their holds took in their caps and grants; write
 * 0 only checks that each converts within range. 0, or -1. */
int limitr__convert_units(limitr_engine *e, customer *const *list, size_t n,
                          const unit_change *u, int write);
/* The estimates of l whose entitlement counts in u's credit, alike. */
int limitr__convert_estimates(limitr_engine *e, const unit_change *u,
                              estimate_list *l, int write);

/* ---- Loading policies (engine.c) ---- */

/* The state's names of p's entitlements and credits, in two malloc'ed
 * arrays; -1: out of memory (nothing allocated). */
int limitr__intern_policy_names(limitr_engine *e, const lp_policy *p,
                                int **ent_names, int **credit_names);
/* Counts p's handlers and notifications as listeners (sign +1), or stops
 * counting them (-1). */
void limitr__policy_listeners(limitr_engine *e, const lp_policy *p, int sign);
/* Sets each limit's credit_name (the state's name of its credit) from
 * credit_names. */
static inline void limitr__name_limit_credits(lp_policy *p,
                                              const int *credit_names)
{
    size_t i, j;
    for (i = 0; i < p->n_plans; i++)
        for (j = 0; j < p->plans[i].n_ents; j++)
            p->plans[i].ents[j].limit.credit_name =
                p->plans[i].ents[j].has_limit
                    ? credit_names[p->plans[i].ents[j].limit.credit]
                    : -1;
}
/* Records in the state the units the policy's credits keep amounts in. */
static inline void limitr__record_units(limitr_engine *e)
{
    size_t i;
    for (i = 0; i < e->policy->n_credits; i++)
        limitr__state_set_units(&e->st, e->credit_names[i],
                                e->policy->credits[i].units);
}
/* "yaml" or "json" by path's extension, or NULL (detect). */
const char *limitr__format_of_path(const char *path);
/* Reads a policy file: LIMITR_OK with *text (malloc'ed, may be NULL when
 * empty) and *len; else the status, and what went wrong in msg. */
int limitr__read_file(const char *path, char **text, size_t *len, char *msg,
                      size_t msg_len);

/* ---- Entering the engine (engine.c) ---- */

/* The state is held (its home's lock taken) by the outermost call, for as
 * long as it runs; calls made from snippets and event handlers run inside
 * it. A guard releases it when the calling function returns. A store sees
 * every level leave (its log rows) and the outermost one (its writes). Both
 * are off the hot path until a shared region or a store is set
 * (e->hooked). */
typedef struct state_hold {
    limitr_engine *e;
    int status; /* not LIMITR_OK: the state could not be held (a shared
                   region's lock timed out), and is not released */
} state_hold;
int limitr__enter_hooked(limitr_engine *e);
void limitr__leave_hooked(limitr_engine *e);
static inline void limitr__release(state_hold *h)
{
    if (h->e->hooked && h->status == LIMITR_OK) limitr__leave_hooked(h->e);
}
static inline state_hold limitr__hold(limitr_engine *e)
{
    state_hold h = {e, LIMITR_OK};
    if (e->hooked) h.status = limitr__enter_hooked(e);
    return h;
}

/* c was reached by the call running, which may write it: a store writes it
 * at the call's end, a shared region journals it first. */
void limitr__touch_hooked(const limitr_engine *e, customer *c);
static inline void limitr__touch(const limitr_engine *e, customer *c)
{
    if (e->hooked && c != NULL) limitr__touch_hooked(e, c);
}
/* Every customer may change (import, reload); called before any is
 * destroyed. in_place: the call writes into existing customers (a shared
 * region journals them all), else it only replaces or drops them. */
void limitr__touch_all(limitr_engine *e, int in_place);

/* An engine without a policy: its state in the heap, or *in (a handle on a
 * state that lives elsewhere); NULL when memory runs out. */
limitr_engine *limitr__engine_create(const limitr_options *opts,
                                     const state *in);
/* limitr_new's work on an engine made by limitr__engine_create: the policy
 * compiled, its names interned. */
int limitr__engine_compile(limitr_engine *e, const char *text, size_t len,
                           const char *format, const limitr_options *opts);
/* limitr_reload's work (reload.c): policy-reloaded fires when announce. */
int limitr__reload(limitr_engine *e, const char *text, size_t len,
                   const char *format, const char **result_json, int announce);
/* Another process reloaded a shared region's policy: this engine follows
 * (compiled and swapped, the state untouched). reload.c. */
int limitr__adopt_policy(limitr_engine *e, const char *text, size_t len,
                         const char *format);

/* ---- A shared region's view of calls (region/shared.c) ----
 * Called only while e->shared is set. */

/* The outermost call starts: the region's lock, a policy another process
   reloaded; LIMITR_ERROR "lock_timeout" past the engine's lock_timeout. */
int limitr__shared_enter(limitr_engine *e);
/* Commits, or undoes a section whose call failed with region_full; 1 when
   the section ran out of room (then limitr__shared_report_full, once
   unlocked). */
int limitr__shared_leave(limitr_engine *e);
void limitr__shared_report_full(limitr_engine *e);
/* The open section must not be undone (its writes are someone's). */
void limitr__shared_keep(limitr_engine *e);
void limitr__shared_touch(const limitr_engine *e, customer *c);
/* A decision snippet of this process starts (+1) or ends (-1) on the
   region: another engine on it must not change the state meanwhile. */
void limitr__shared_deciding(const limitr_engine *e, int delta);
int limitr__shared_deciding_now(const limitr_engine *e);
/* A reload in this process: the region's policy becomes text. */
int limitr__shared_publish(limitr_engine *e, const char *text, size_t len,
                           const char *format);
void limitr__shared_detach(limitr_engine *e); /* limitr_free */
/* The engine's region (for tests' figures: region.h). */
struct region *limitr__shared_region(const limitr_engine *e);

/* ---- The store's view of calls (store/store.c) ----
 * Called only while e->store is set. */

/* c was reached by the call running: written at its end if it changed. */
void limitr__store_reach(struct limitr_store *s, customer *c);
/* c is about to be destroyed: its row goes. */
void limitr__store_forget(limitr_engine *e, customer *c);
/* Every customer changed (import, reload): all rows are written again;
   called before any customer is destroyed (the reached list is emptied). */
void limitr__store_all(limitr_engine *e);
/* A call of the decision log starts at this depth (id_len (size_t)-1:
   id is NUL-terminated or NULL; value: NULL or the
   number, value_text: or the text; args: the options' JSON, or a
   method's other argument, or NULL). */
void limitr__store_op(limitr_engine *e, const char *op, const char *id,
                      size_t id_len, const char *ent, size_t ent_len,
                      const double *value, const char *value_text,
                      const char *args);
/* The status of the metering call being logged; returns it, or the
   store's failure when the call's write failed (sync). */
int limitr__store_decision(limitr_engine *e, int status);
/* The status of a call that changes state, run inside a wrapper's
   LIMITR_ENTER: a sync store writes its changes here, and a failed write
   makes it LIMITR_ERROR "store_error" (the changes undone). */
int limitr__store_result(limitr_engine *e, int status);
static inline int limitr__stored(limitr_engine *e, int status)
{
    return e->store != NULL ? limitr__store_result(e, status) : status;
}
void limitr__store_enter(limitr_engine *e);
void limitr__store_leave(limitr_engine *e);
/* Sync: the log row open when an event is held (-1: none), and the one
   whose held event is delivered now (-1: none): the log names it as the
   parent of the calls that event's handlers make. */
long limitr__store_open_row(limitr_engine *e);
void limitr__store_origin(limitr_engine *e, long row);

/* Writes what is left and closes the store (limitr_free). */
void limitr__store_free(limitr_engine *e);
/* The logged call's detail column (a reservation's hold id). */
void limitr__store_detail(limitr_engine *e, const char *detail);
void limitr__store_money(limitr_engine *e, int64_t now, const char *gate,
                         const char *plan, lnum overage, lnum overage_price,
                         lnum price_diff);

#define LIMITR_LOG_OP(e, op, id, args)                                         \
    do {                                                                       \
        if ((e)->store != NULL)                                                \
            limitr__store_op((e), (op), (id), (size_t)-1, NULL, 0, NULL, NULL, \
                             (args));                                          \
    } while (0)

/* Every public function starts here: a NULL engine, or one whose
 * limitr_new / limitr_load failed (no policy), is an error, never a crash;
 * then the state is held until the function returns. */
#define LIMITR_ENTER(e)                                                        \
    do {                                                                       \
        if ((e) == NULL) return LIMITR_INVALID;                                \
        if ((e)->policy == NULL)                                               \
            return limitr__reason((e), LIMITR_INVALID, "no_policy");           \
    } while (0);                                                               \
    state_hold limitr_hold_                                                    \
        __attribute__((cleanup(limitr__release), unused)) = limitr__hold(e);   \
    if (limitr_hold_.status != LIMITR_OK) return limitr_hold_.status

void limitr__frames_freeze(limitr_engine *e);

/* A limit value, on_exceed or cost snippet of this process runs, in this
 * engine's decision or in one of another engine on the same shared region
 * (a host function the snippet called may use either): changes wait. */
static inline int limitr__in_decision(const limitr_engine *e)
{
    return e->in_decision_snippet > 0 ||
           (e->shared != NULL && limitr__shared_deciding_now(e));
}

/* The snippet of a decision starts or ends (limitr__in_decision). */
static inline void limitr__decision_snippet(limitr_engine *e, int delta)
{
    e->in_decision_snippet += delta;
    if (e->shared != NULL) limitr__shared_deciding(e, delta);
}

/* Calls that change state refuse two kinds of re-entry:
 * - while a snippet runs in the middle of a decision (limit value,
 *   on_exceed, cost function): it may reach the host, and the host the
 *   engine, and changing customers then would free what the decision
 *   holds; reads are fine;
 * - past LIMITR_MAX_EVENT_DEPTH levels of event delivery (a subscriber that
 *   allows on the meter whose change it was told of, a customer-set
 *   handler that creates customers): the call fails and `error` fires,
 *   where it would otherwise recurse until the stack ran out. */
#define LIMITR_REFUSE_REENTRY(e, what)                                         \
    do {                                                                       \
        if ((e)->read_only)                                                    \
            return limitr__fail((e), LIMITR_STORE, "read_only",                \
                                "%s: the engine was opened read-only",         \
                                (what));                                       \
        if (limitr__in_decision(e))                                            \
            return limitr__fail((e), LIMITR_ERROR, "engine_busy",              \
                                "%s: the engine cannot be changed from "       \
                                "inside a limit value, on_exceed or cost "     \
                                "snippet",                                     \
                                (what));                                       \
        if ((e)->delivering >= LIMITR_MAX_EVENT_DEPTH)                         \
            return limitr__too_deep((e), (what));                              \
        if ((e)->n_frames > 0) limitr__frames_freeze(e);                       \
    } while (0)

/* The customer with this ID or alt ID, or NULL. */
static inline customer *limitr__customer_find(const limitr_engine *e,
                                              const char *id, size_t len,
                                              uint64_t hash)
{
    customer *c = limitr__state_find(&e->st, id, len, hash);
    limitr__touch(e, c);
    return c;
}
static inline customer *limitr__customer_lookup(const limitr_engine *e,
                                                const char *id)
{
    customer *c = limitr__state_lookup(&e->st, id);
    limitr__touch(e, c);
    return c;
}

/* Takes c out of the engine (its IDs and record) as it is: nothing else
 * (a deleted customer's holds give their room back first). */
void limitr__customer_drop(limitr_engine *e, customer *c);

/* The state's name of policy entitlement name index ent. */
static inline int limitr__ent_name(const limitr_engine *e, int ent)
{
    return e->ent_names[ent];
}

/* The owner's meter of the state name ent_name as lim counts it: NULL when
 * there is none, or when the stored one counts in another credit (dormant
 * since a reload changed the limit's credit). */
static inline meter *limitr__live_meter(customer *owner, int ent_name,
                                        const lp_limit *lim)
{
    meter *m = limitr__meter_find(owner, ent_name);
    if (m != NULL && m->credit != lim->credit_name) return NULL;
    return m;
}
/* The meter a commit writes: the live one, a dormant one started afresh in
 * lim's credit at `now`, or a new one; NULL when memory ran out. */
meter *limitr__meter_take(limitr_engine *e, customer *owner, int ent_name,
                          const lp_limit *lim, int64_t now);

/* ---- Caches (cache.c) ---- */

/* Empties a cache entry for epoch. */
static inline void limitr__cache_reset(customer_cache *cc, uint64_t epoch)
{
    cc->epoch = epoch;
    cc->plan = -2; /* not resolved yet */
    cc->scope_type = NULL;
    memset(cc->periods, 0, sizeof cc->periods);
}
/* Grows the caches to hold c's slot; NULL when memory runs out. */
customer_cache *limitr__cache_grow(limitr_engine *e, const customer *c);
/* The customer's cache, valid for the current epoch; NULL when memory for
 * it ran out (callers then compute without it). */
static inline customer_cache *limitr__cache_of(limitr_engine *e,
                                               const customer *c)
{
    customer_cache *cc;
    if (c->slot >= e->n_caches) return limitr__cache_grow(e, c);
    cc = &e->caches[c->slot];
    if (cc->epoch != e->st.d->epoch) limitr__cache_reset(cc, e->st.d->epoch);
    return cc;
}

/* ---- Meter periods (period.c) ---- */

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

int64_t limitr__period_start(const lp_limit *lim, int64_t started, int64_t now);
/* The first boundary after now (v NULL: no meter yet); 0 when the limit
 * does not reset. */
int64_t limitr__next_reset(const lp_limit *lim, const meter_view *v,
                           int64_t now);
/* The view of owner's meter m (NULL: none yet) under lim at now. Writes
 * nothing to the state. */
void limitr__meter_view(limitr_engine *e, const lp_limit *lim,
                        const customer *owner, const meter *m, int64_t now,
                        meter_view *v);
/* Writes the view's period and bucket into the stored meter. */
void limitr__meter_apply(meter *m, const meter_view *v);
/* Rate and acceleration in the current period (docs/engine.md 6.3). */
double limitr__meter_rate(const meter_view *v);
double limitr__meter_acceleration(const meter_view *v);

/* ---- Reads (read.c) ---- */

/* The value, and when limited (not observe) the limit and remaining of
 * (id, ent), as limitr_value, limitr_limit and limitr_remaining give them,
 * from one lookup: what a snippet's limitr.meter reads (a limit's value
 * snippet runs once for the three). A flag reads value 0, no limit. */
int limitr__meter_read(limitr_engine *e, const char *id, const char *ent,
                       double *value, int *has_limit, double *limit,
                       double *remaining);

/* ---- Overrides (override_api.c) ---- */

/* limitr__effective_limit for an owner with overrides. */
const lp_limit *limitr__override_limit(const limitr_engine *e,
                                       const customer *owner, int ent_name,
                                       const lp_entitlement *plan_ent,
                                       int64_t now, lp_limit *buf);
/* The limit a decision uses: the owner's override unless it expired (built
 * into *buf), else the (caller's) plan entitlement's; NULL for a flag. */
static inline const lp_limit *
limitr__effective_limit(const limitr_engine *e, const customer *owner,
                        int ent_name, const lp_entitlement *plan_ent,
                        int64_t now, lp_limit *buf)
{
    if (owner->n_overrides > 0)
        return limitr__override_limit(e, owner, ent_name, plan_ent, now, buf);
    return plan_ent != NULL && plan_ent->has_limit ? &plan_ent->limit : NULL;
}
cJSON *limitr__limit_json(const limitr_engine *e, const lp_limit *lim);
cJSON *limitr__overrides_json(const limitr_engine *e, const customer *c);

/* ---- The customer graph (graph.c) ---- */

/* limitr__resolved_plan when it is not cached. */
int limitr__resolve_plan(limitr_engine *e, const customer *c);
/* The plan a new customer without a plan of its own would find through
 * these refs (its own walk, from its refs one level down), or -1: none
 * within the walk's bounds. */
int limitr__plan_of_new(const limitr_engine *e, const char *const *refs,
                        size_t n);
/* The customer's resolved plan index (own, through refs, default) or -1. */
static inline int limitr__resolved_plan(limitr_engine *e, const customer *c)
{
    customer_cache *cc = limitr__cache_of(e, c);
    if (cc != NULL && cc->plan != -2) return cc->plan;
    return limitr__resolve_plan(e, c);
}
/* Whose meter moves when caller uses an entitlement of this scope (NULL
 * scope: the caller); NULL when no customer of that type is reachable. */
customer *limitr__scope_owner(limitr_engine *e, customer *caller,
                              const char *scope);

/* ---- Snapshots (snapshot.c) ---- */

cJSON *limitr__customer_snapshot(limitr_engine *e, const customer *c);
/* The snapshot with the customer's meters as they are at `now`. */
cJSON *limitr__customer_snapshot_at(limitr_engine *e, const customer *c,
                                    int64_t now);
/* Fires a customer event (customer-set, ...) when someone listens. */
void limitr__emit_customer(limitr_engine *e, event_kind ev, const customer *c);
void limitr__add_num(cJSON *obj, const char *key, lnum v);
/* Copies the policy's seeded estimates into the state (estimate_api.c);
 * -1: out of memory. */
int limitr__estimates_seed(limitr_engine *e);
/* x (its entitlement and segment kept) as seed s says. */
void limitr__estimate_from_seed(estimate *x, const lp_estimate_seed *s);
cJSON *limitr__credit_json(const lp_credit *cr);

/* ---- Events (event.c) ---- */

static inline int limitr__listening(const limitr_engine *e, event_kind ev)
{
    return e->listeners[ev] > 0 || e->star_listeners > 0;
}
/* Delivers an event given as cJSON (consumed). */
void limitr__emit(limitr_engine *e, event_kind ev, cJSON *json);
/* What a call leaves for its caller (its reason, message and borrowed
 * result), kept over work done after it was set (held events' handlers,
 * a store's undo): keep, then restore. */
typedef struct call_answer {
    const char *code;
    char *message, *result;
    int has_message;
    char reason[128]; /* reason_buf */
} call_answer;
void limitr__answer_keep(limitr_engine *e, call_answer *a);
void limitr__answer_restore(limitr_engine *e, call_answer *a);

/* Delivers the events held so far (docs/store.md, docs/shared.md), each
   at the event depth it fired at; the calls their handlers make hold
   events of their own. The call's answer (reason, message, borrowed
   result) is kept over them. */
void limitr__deliver_held(limitr_engine *e);
/* Drops the events held (their changes were undone). */
void limitr__drop_held(limitr_engine *e);
/* Delivers an event given as a payload (freed). */
void limitr__emit_payload(limitr_engine *e, event_kind ev, payload *p);

/* Building a payload's items (payload.c): start, then entries; open and
   close nest a table. */
void limitr__payload_start(payload *p);
void limitr__payload_number(payload *p, const char *key, double v);
void limitr__payload_lnum(payload *p, const char *key, lnum v);
void limitr__payload_string(payload *p, const char *key, const char *s);
void limitr__payload_json(payload *p, const char *key, const char *text);
/* The customer of frame `token` (limitr__frame_push). */
void limitr__payload_snapshot(limitr_engine *e, payload *p, const char *key,
                              uint64_t token);
void limitr__payload_open(payload *p, const char *key);
void limitr__payload_close(payload *p);
/* The payload as cJSON / as JSON text, made once; NULL when memory ran
   out. */
const cJSON *limitr__payload_cjson(limitr_engine *e, payload *p);
const char *limitr__payload_text(limitr_engine *e, payload *p);
void limitr__payload_free(payload *p);

/* A frame for owner's snapshot at now: its token for SNAPSHOT items; 0
   when none was pushed (memory for a long ID ran out; frames cannot run
   out: metering calls nest at most LIMITR_MAX_EVENT_DEPTH deep), and the
   listeners then find the snapshot gone. Pop only what was pushed. */
uint64_t limitr__frame_push(limitr_engine *e, const customer *owner,
                            int64_t now);
void limitr__frame_pop(limitr_engine *e);
/* The snapshot of frame `token`, built if needed; NULL when the frame is
   gone or memory ran out. */
const cJSON *limitr__frame_snapshot(limitr_engine *e, uint64_t token);
void limitr__events_free(limitr_engine *e);
/* The failure of a call made past LIMITR_MAX_EVENT_DEPTH levels of event
 * delivery: fires `error` and returns LIMITR_ERROR ("event_depth"). */
int limitr__too_deep(limitr_engine *e, const char *what);
/* Reports a failed snippet or callback: fires `error` {message, path}. */
void limitr__report_error(limitr_engine *e, const char *path,
                          const char *message);
/* The host interface the policy's VM calls back through. */
void limitr__bind_script(limitr_engine *e);

#endif
