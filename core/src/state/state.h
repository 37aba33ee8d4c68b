/* state.h: customer state: the records, their meters and overrides, the ID
 * index, the names they use, the epoch and the clock.
 *
 * The state is self-contained, so that it can live somewhere else than the
 * process heap (a region shared by nginx workers, a store mirrored to
 * SQLite) without another engine: every byte of it (state_data and what
 * hangs from it) comes from its home's allocator, and nothing in it points
 * at a compiled policy, a Lua VM or process memory; the home's function
 * pointers stay in each process's handle (state). Plans, types and credits are
 * kept by name (text), entitlements and credits of meters and overrides by
 * interned name (an index into the state's own name table); pointers inside it
 * point inside it. What a process derives from it (a customer's resolved plan,
 * the end of a meter's period) is cached beside the engine (engine/cache.h),
 * keyed by the epoch, which every change to plans, types, refs, IDs, customers
 * or overrides moves. */
#ifndef LIMITR_STATE_H
#define LIMITR_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "grant_rule.h"
#include "hash.h"
#include "limit_rule.h"
#include "num.h"

/* Where a state lives, in the spirit of SQLite's VFS: its allocator and
 * its journal. Two homes exist: the heap, and a region shared by processes
 * (region/region.c), which the engine locks around each outermost call. */
typedef struct state_home {
    /* realloc(ud, NULL, 0, n) allocates; realloc(ud, p, old, 0) frees and
       returns NULL; a failed allocation returns NULL. */
    void *(*realloc)(void *ud, void *ptr, size_t old_size, size_t new_size);
    /* Called before the state's bytes [p, p + n) are written in place, so
       that the home can undo the write (the shared region journals it);
       NULL: nothing to undo. Freshly allocated memory needs no call. */
    void (*save)(void *ud, const void *p, size_t n);
    void *ud;
} state_home;

/* ---- Records ---- */

typedef struct strlist {
    char **items;
    size_t n, cap;
} strlist;

/* One committed change (or governed demand), for rate and acceleration. */
typedef struct history_entry {
    int64_t ts;
    double delta; /* credit units; only rates are computed from it */
} history_entry;

#define METER_HISTORY 3

typedef struct meter {
    int ent;         /* the entitlement's interned name */
    int credit;      /* its credit's interned name: a meter whose limit now
                        counts in another credit is dormant (reads as
                        absent; the next commit starts it again) */
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
} meter;

/* A customer's own limit for one entitlement (docs/engine.md section 7), kept
 * as its fields: the engine builds the limit a decision uses from it. It
 * holds no snippet: the plan limit's on_exceed applies, and its `value`
 * snippet too unless the override gives a value (own_value). */
typedef struct override {
    int ent;    /* interned name */
    int credit; /* interned name of its credit */
    limit_rule rule;
    int own_value; /* rule.value applies (else the plan's value snippet) */
    int has_expires;
    int64_t expires;
} override;

/* Room reservations hold in a grant or a cap: one entry per hold, so that
 * a hold that died holds nothing from its expiry on, whoever looks. */
typedef struct held_room {
    uint64_t hold; /* the reservation's number */
    int64_t expires;
    lnum amount;
} held_room;

typedef struct held_list {
    held_room *items;
    size_t n, cap;
} held_list;

/* A balance of credit on a customer (docs/engine.md 15): from a top-up, or
 * made by the host. */
typedef struct grant {
    char *id; /* unique on the customer */
    size_t id_len;
    int credit;          /* interned name: a credit, or a currency */
    int topup;           /* interned top-up name, or -1: made by the host */
    int64_t created_on;  /* when it was made */
    int64_t granted_on;  /* its last refill: creation or the latest reset */
    int64_t last_reset;  /* the period boundary its refills count from */
    lnum starting_value; /* the refill */
    lnum value;          /* the balance, in the credit's units */
    held_list held;      /* of it, set aside by reservations */
    int has_expires;
    int64_t expires_on;
    grant_rule rule;
} grant;

/* The most grants a customer holds: a bound on the work of a draw and of
 * every read that sums them. */
#define MAX_CUSTOMER_GRANTS 256

/* Where a reservation took room (docs/engine.md 19.2): a cap (holder ID
 * and cap ID) or a grant (grant ID on the meter owner), and how much. */
typedef struct hold_part {
    int is_cap;   /* a cap (else a grant of the meter owner) */
    char *holder; /* the cap's holder */
    char *id;     /* the cap's or the grant's ID */
    lnum amount;  /* in the cap's or the grant's credit */
} hold_part;

/* A reservation on the meter owner (docs/engine.md 19). */
typedef struct reservation {
    uint64_t id; /* "h<id>" */
    int ent;     /* interned entitlement name */
    int credit;  /* interned name of the credit value counts in: a hold
                    holds nothing in a limit that counts another one now */
    lnum value;  /* units held in the limit */
    lnum overhead;
    lnum tokens; /* governor tokens taken */
    int64_t expires;
    int has_basis;
    lnum basis;
    char *segment; /* the estimate segment to learn in, or NULL */
    lnum capacity; /* the governor's, to give tokens back */
    hold_part *parts;
    size_t n_parts;
} reservation;

/* The most live reservations a customer holds. */
#define MAX_CUSTOMER_HOLDS 1024

/* A learned estimate of a call's size and cost (docs/engine.md 18), per
 * entitlement and segment: policy-wide in the state, per customer on the
 * meter owner. */
typedef struct estimate {
    int ent;     /* interned entitlement name */
    int segment; /* interned segment key ("all" when none) */
    int64_t samples;
    double alpha;
    int per_basis;                    /* values are per unit of basis */
    lnum value_mean, value_var;       /* credit units */
    lnum overhead_mean, overhead_var; /* runes */
    int seeded;                       /* from the policy: source "cloud" */
    int64_t updated;
} estimate;

/* The most estimates kept per customer, and policy-wide: a bound on the
 * segments event data can create. */
#define MAX_ESTIMATES 1024

typedef struct estimate_list {
    estimate *items;
    size_t n, cap;
} estimate_list;

/* A spend cap on a customer (docs/engine.md 16): a ceiling across calls,
 * entitlements and credits. */
typedef struct spend_cap {
    char *id; /* unique on the customer */
    size_t id_len;
    int credit;       /* interned: "rune", a credit, or a currency */
    lnum value;       /* the ceiling, in the cap's credit */
    lnum meter_value; /* what counted this period */
    held_list held;   /* room reservations hold */
    int exchangeable, overage_only, ignore_grants, observe_only;
    int overhead_cost, follow_decrements, hard_trailing, shared, events;
    strlist shared_with; /* caller types a shared cap applies to; none: all */
    strlist scope;       /* entitlement names; none: all */
    reset_kind reset;
    int64_t reset_inc;
    lp_schedule sch;
    int64_t created_on, started;
    int has_last_reset;
    int64_t last_reset;
    int has_expires;
    int64_t expires_on;
} spend_cap;

/* The most caps a customer holds: a bound on what a call looks at. */
#define MAX_CUSTOMER_CAPS 64

typedef struct customer {
    char *id;
    size_t id_len;
    uint64_t hash;
    uint32_t slot;  /* dense and unique among live customers: keys caches */
    char *own_plan; /* plan name as stored; "" = from refs, then default */
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
    grant *grants; /* in the order they were made */
    size_t n_grants, cap_grants;
    estimate_list estimates; /* learned on the meters it owns */
    reservation *holds;      /* reservations on its meters */
    size_t n_holds, cap_holds;
    spend_cap *caps; /* in the order they were added */
    size_t n_caps, cap_caps;
    /* included top-ups received on a plan, as interned "<plan>.<topup>":
       one drained to nothing is not granted again on that plan */
    int *included;
    size_t n_included, cap_included;
    /* a durable store's (store/store.c): the hash of the row last written
       for it, and whether the call running reached it */
    uint64_t stored_hash;
    int reached;
} customer;

/* ID -> customer; keys point into the customer (its id or an alt id). */
/* A deleted slot's c: a fixed non-pointer, the same in every process that
 * maps the state. */
#define IDMAP_TOMBSTONE ((customer *)(uintptr_t)1)

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

/* Interned names: an index never changes and a name is never removed. */
typedef struct name_table {
    char **items;
    size_t *lens;
    /* for a credit's name, the units its amounts are kept in (a unit
       index, or -1: none), as the last policy that had it said; -2: no
       policy named it a credit. A reload converts from these. */
    int *units;
    size_t n, cap;
    /* an open-addressed index: name + 1 per slot, 0 empty; slot count a
       power of two, at least twice n (estimate segments make names many) */
    int *index;
    size_t index_cap;
} name_table;

/* The state itself: what lives in its home and what every process that
 * shares it sees. */
typedef struct state_data {
    idmap customers; /* primary IDs */
    idmap alt_ids;
    name_table names;
    uint64_t epoch; /* starts at 1; 0 marks a cache never filled */
    uint32_t *free_slots;
    size_t n_free_slots, cap_free_slots;
    uint32_t next_slot;      /* slots ever handed out */
    uint64_t next_hold;      /* numbers reservations */
    uint64_t next_grant;     /* numbers generated grant ids */
    uint64_t next_cap;       /* numbers generated cap ids */
    size_t n_caps;           /* caps on all customers: 0 spares calls a look */
    size_t n_shared_caps;    /* shared ones: 0 spares calls the walk up refs */
    estimate_list estimates; /* policy-wide (docs/engine.md 18) */
    int64_t clock;           /* set by set_time/advance */
    int clock_is_set;        /* 0: the system clock */
} state_data;

/* One process's handle on a state: its home (function pointers, which are
 * this process's) and the data. The engine keeps it by value. */
typedef struct state {
    state_home home;
    state_data *d;
} state;

/* ---- Life cycle and memory (state.c) ---- */

/* The heap's allocator (malloc, realloc, free) in the home's shape. */
void *limitr__heap_realloc(void *ud, void *ptr, size_t old_size,
                           size_t new_size);
/* A new, empty state in home (NULL: the heap), handled by *st; -1 when
 * memory runs out (st->d is then NULL). */
int limitr__state_open(state *st, const state_home *home);
void limitr__state_close(state *st); /* a handle without data is a no-op */
void *limitr__st_alloc(state *st, size_t size);
void limitr__st_free(state *st, void *p, size_t size);
char *limitr__st_strdup(state *st, const char *s, size_t len);
void limitr__st_strfree(state *st, char *s);
static inline void limitr__st_save(state *st, const void *p, size_t n)
{
    if (st->home.save != NULL) st->home.save(st->home.ud, p, n);
}
/* Saves every byte of c a call may write in place (its record and arrays). */
void limitr__customer_save(state *st, const customer *c);

/* Room for one more item in the array *items (n used, *cap held, each
 * `size` bytes), doubling from `first`: items move, nothing else changes.
 * 0, or -1: out of memory (the array as it was). */
int limitr__st_grow(state *st, void **items, size_t n, size_t *cap, size_t size,
                    size_t first);

/* Something the caches depend on changed. */
static inline void limitr__state_changed(state *st)
{
    st->d->epoch++;
}

/* ---- Names (state.c) ---- */

/* The index of name (len bytes), interned if new; -1: out of memory. */
int limitr__state_intern(state *st, const char *name, size_t len);
/* The index of name, or -1 when the state never saw it. */
int limitr__state_name_find(const state *st, const char *name, size_t len);
static inline const char *limitr__state_name(const state *st, int name)
{
    return st->d->names.items[name];
}
#define UNITS_UNKNOWN (-2)
static inline int limitr__state_units(const state *st, int name)
{
    return st->d->names.units[name];
}
static inline void limitr__state_set_units(state *st, int name, int units)
{
    limitr__st_save(st, &st->d->names.units[name], sizeof(int));
    st->d->names.units[name] = units;
}

/* ---- The ID index (idmap.c) ---- */

customer *limitr__idmap_find(const idmap *m, const char *key, size_t len,
                             uint64_t hash);
/* Makes room for `extra` more keys, so inserts after it cannot fail. */
int limitr__idmap_reserve(state *st, idmap *m, size_t extra);
int limitr__idmap_insert(state *st, idmap *m, const char *key, size_t len,
                         uint64_t hash, customer *c);
void limitr__idmap_remove(state *st, idmap *m, const char *key, size_t len,
                          uint64_t hash);
customer *limitr__idmap_at(const idmap *m, size_t i); /* slot i, or NULL */
void limitr__idmap_free(state *st, idmap *m);

/* The customer with this ID or alt ID, or NULL. */
static inline customer *limitr__state_find(const state *st, const char *id,
                                           size_t len, uint64_t hash)
{
    customer *c = limitr__idmap_find(&st->d->customers, id, len, hash);
    if (c == NULL && st->d->alt_ids.live > 0)
        c = limitr__idmap_find(&st->d->alt_ids, id, len, hash);
    return c;
}
static inline customer *limitr__state_lookup(const state *st, const char *id)
{
    size_t len = strlen(id);
    return limitr__state_find(st, id, len, limitr_hash(id, len));
}

/* ---- Customer records (customer.c) ---- */

/* A record with type "user", label "User", own plan "" and a slot, not yet
 * in the index; NULL when memory runs out. */
customer *limitr__customer_new(state *st, const char *id, size_t len,
                               uint64_t hash, int64_t created);
/* Frees a record (not in the index, or removed from it first). */
void limitr__customer_destroy(state *st, customer *c);

/* String lists (refs, alt IDs). Growing one is two steps, so that a call
 * can make every allocation before it changes anything: grow moves l's
 * strings into out (l untouched), append adds copies, then commit replaces
 * l's array, or abandon frees what was appended. */
void limitr__strlist_free(state *st, strlist *l);
int limitr__strlist_grow(state *st, const strlist *l, size_t extra,
                         strlist *out);
int limitr__strlist_append(state *st, strlist *grown, const char *s);
void limitr__strlist_commit(state *st, strlist *l, strlist *grown);
void limitr__strlist_abandon(state *st, const strlist *l, strlist *grown);
int limitr__strlist_index(const strlist *l, const char *s); /* or -1 */
void limitr__strlist_remove_at(state *st, strlist *l, size_t i);

/* ---- Meters (meter.c) ---- */

static inline meter *limitr__meter_find(customer *c, int ent)
{
    size_t i;
    for (i = 0; i < c->n_meters; i++)
        if (c->meters[i].ent == ent) return &c->meters[i];
    return NULL;
}
/* Room for `extra` more meters, so that many meter_add cannot fail. */
int limitr__meter_reserve(state *st, customer *c, size_t extra);
/* Adds a meter (may move the customer's meters: re-find older pointers). */
meter *limitr__meter_add(state *st, customer *c, int ent, int credit,
                         int64_t started);
/* A fresh meter: value 0, no history or bucket, started then (its
   entitlement and credit kept). */
void limitr__meter_restart(meter *m, int64_t started);
/* Records a committed change (or governed demand) in the rate history and
 * the EWMA trend (docs/engine.md 6.3). */
void limitr__meter_push(meter *m, int64_t ts, double delta, double alpha,
                        int is_demand);

/* ---- Overrides (override.c) ---- */

override *limitr__override_find(const customer *c, int ent);
/* Sets c's override of ov->ent (replacing one); -1: out of memory, nothing
 * changed. */
int limitr__override_put(state *st, customer *c, const override *ov);
void limitr__override_remove(state *st, customer *c, override *ov);

/* ---- Estimates (estimate.c) ---- */

estimate *limitr__estimate_find(const estimate_list *l, int ent, int segment);
/* A new zeroed estimate for (ent, segment) in l; NULL: out of memory or
 * MAX_ESTIMATES reached. */
estimate *limitr__estimate_add(state *st, estimate_list *l, int ent,
                               int segment);
void limitr__estimate_list_free(state *st, estimate_list *l);

/* ---- Held room (hold.c) ---- */

/* What live entries of l hold at now (most lists are empty: no call). */
lnum limitr__held_sum(const held_list *l, int64_t now);
static inline lnum limitr__held_now(const held_list *l, int64_t now)
{
    return l->n == 0 ? 0 : limitr__held_sum(l, now);
}
/* -1: out of memory, nothing changed. */
int limitr__held_add(state *st, held_list *l, uint64_t hold, int64_t expires,
                     lnum amount);
void limitr__held_drop(held_list *l, uint64_t hold);
void limitr__held_free(state *st, held_list *l);

/* ---- Holds (hold.c) ---- */

reservation *limitr__hold_find(const customer *c, uint64_t id);
/* Adds h (its parts taken over); -1: out of memory, nothing changed. */
int limitr__hold_add(state *st, customer *c, const reservation *h);
void limitr__hold_remove_at(state *st, customer *c, size_t i);
void limitr__hold_parts_free(state *st, hold_part *parts, size_t n);
/* A new zeroed part at the end of *parts (counted at once, so that a part
 * whose copies then fail is still freed); NULL: out of memory. */
hold_part *limitr__hold_part_new(state *st, hold_part **parts, size_t *n);

/* ---- Caps (cap.c) ---- */

spend_cap *limitr__cap_find(const customer *c, const char *id);
/* Adds k, taking its id and lists (copied); -1: out of memory, nothing
 * changed. */
int limitr__cap_add(state *st, customer *c, const spend_cap *k);
void limitr__cap_remove_at(state *st, customer *c, size_t i);

/* ---- Grants (grant.c) ---- */

grant *limitr__grant_find(const customer *c, const char *id);
/* Room for one more grant and its id (so that the add cannot fail); -1:
 * out of memory. */
int limitr__grant_reserve(state *st, customer *c);
/* Adds g (its id copied); -1: out of memory, nothing changed. */
int limitr__grant_add(state *st, customer *c, const grant *g);
void limitr__grant_remove_at(state *st, customer *c, size_t i);
/* Whether c received the included top-up `key` ("<plan>.<topup>"). */
int limitr__included_has(const customer *c, int key);
int limitr__included_add(state *st, customer *c, int key);
void limitr__included_clear(customer *c);

#endif
