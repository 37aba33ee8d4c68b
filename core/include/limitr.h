/* limitr.h: the one public C header of limitr, an embedded engine for plans,
 * entitlements, usage limits and credits.
 *
 * Ownership, in one paragraph (as cJSON does it):
 * - An engine returned by limitr_new or limitr_load is released with
 *   limitr_free, on success and on failure alike.
 * - Strings the library returns (const char *) are borrowed: they stay valid
 *   until the next call on the same engine, or until it is freed. The caller
 *   never frees them.
 * - Input buffers are copied. The library keeps no pointer into caller memory
 *   after a call returns (policy text, IDs, names, JSON options).
 * - Thread safety: an engine is used by one thread at a time; a host with
 *   several threads serializes its calls or keeps one engine per thread.
 *   Different engines share nothing and may be used from different threads,
 *   except shared engines (limitr_shared): those of one process share its
 *   hold on the regions' locks, so it calls them from one thread at a time.
 *
 * Numbers cross the API as doubles; inside, meter values are exact fixed-point
 * amounts (18 decimals). Tables (customer snapshots, event payloads) cross as
 * engine-owned JSON text. Time is int64 milliseconds since the Unix epoch, UTC.
 * Nothing in the library prints, exits or aborts on bad input.
 */
#ifndef LIMITR_H
#define LIMITR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define LIMITR_API __attribute__((visibility("default")))
#else
#define LIMITR_API
#endif

#define LIMITR_VERSION "0.1.0"

/* Status codes: one list, the enum and limitr_strerror are made from it.
 * Each condition has exactly one status, whichever function meets it:
 * - LIMITR_DENIED: a decision's "no" by the policy (reasons "limit",
 *   "cap", "too_many_caps", "governor", "not_metered", or an on_exceed
 *   snippet's own reason). Only the decisions return it (allow, check,
 *   increment, decrement, reserve, settle), and observe for "not_metered"
 *   and "no_basis".
 * - LIMITR_NOT_FOUND: something named does not exist ("unknown_customer",
 *   "unknown_entitlement", "unknown_plan", "no_plan", "no_scope_customer",
 *   "unknown_alt_id", "no_override", "no_subscription", "snapshot_expired",
 *   "unknown_currency", "no_exchange";
 *   a file that cannot be opened); for a read, also a value that is not
 *   defined ("observe", "not_metered", "no_reset", "no_projection",
 *   "needs_customer").
 * - LIMITR_INVALID: a bad argument or document ("invalid_value",
 *   "invalid_argument", "invalid_policy", "invalid_state" (a state
 *   document), "alt_id_in_use", "same_plan", "no_policy": the engine of a
 *   failed limitr_new).
 * - LIMITR_NOMEM, LIMITR_SCRIPT, LIMITR_BUDGET, LIMITR_MEMCAP: memory ran
 *   out; a policy snippet raised, overran its budget or its memory. A
 *   decision whose limit `value` snippet failed returns the snippet's status
 *   with the reason "error".
 * - LIMITR_STORE: the durable store (docs/store.md): a file that is not
 *   a store or is held by another writer, a failed write ("store_error"),
 *   a change asked of a read-only engine ("read_only"), a store call on an
 *   engine without one ("no_store").
 * - LIMITR_ERROR: anything else (a call refused while a snippet runs;
 *   "reload_in_delivery").
 * limitr_last_reason gives the condition's code, limitr_last_error a
 * message for people. */
#define LIMITR_STATUS_MAP(X)                                                   \
    X(OK, 0, "success")                                                        \
    X(DENIED, 1, "denied (a decision, not an error)")                          \
    X(NOT_FOUND, -1, "not found")                                              \
    X(INVALID, -2, "invalid argument or policy")                               \
    X(NOMEM, -3, "out of memory")                                              \
    X(SCRIPT, -4, "policy script raised an error")                             \
    X(BUDGET, -5, "policy script exceeded its instruction/time budget")        \
    X(MEMCAP, -6, "policy script exceeded its memory cap")                     \
    X(STORE, -7, "durable store error")                                        \
    X(ERROR, -8, "other error")

typedef enum limitr_status {
#define LIMITR_STATUS_ENUM(name, code, text) LIMITR_##name = code,
    LIMITR_STATUS_MAP(LIMITR_STATUS_ENUM)
#undef LIMITR_STATUS_ENUM
} limitr_status;

typedef struct limitr_engine limitr_engine;

/* Optional per-engine allocator (never process-global) for the engine and
 * all of its customer state; what is per process besides (caches,
 * subscriptions, messages, the policy and its Lua VM) uses malloc.
 * realloc(ud, NULL, 0, n) allocates; realloc(ud, p, old, 0) frees and must
 * return NULL; a failed allocation returns NULL. */
typedef struct limitr_allocator {
    void *(*realloc)(void *ud, void *ptr, size_t old_size, size_t new_size);
    void *ud;
} limitr_allocator;

/* Engine options; a zeroed struct (or NULL) means the defaults. */
typedef struct limitr_options {
    const limitr_allocator *allocator; /* NULL: malloc/realloc/free */
    /* Budgets of the policy's Lua snippets (0: the default). */
    long snippet_instructions; /* per call (1,000,000) */
    long snippet_milliseconds; /* wall clock per call (100) */
    size_t snippet_memory;     /* bytes for the whole Lua VM (32 MiB) */
    long pattern_steps;        /* string pattern work per call (1,000,000) */
} limitr_options;

/* Static text of a status code ("not found"); never NULL. */
LIMITR_API const char *limitr_strerror(int code);

/* ---- Engine ---- */

/* Loads a policy document and creates an engine for it.
 * text, len: the document (copied; need not be NUL-terminated).
 * format: "yaml", "json", or NULL to detect (a document whose first
 *   non-blank character is '{' is JSON, anything else YAML).
 * opts: NULL for the defaults.
 * out: receives the engine, also on failure (unless memory ran out before it
 *   existed, then NULL) so that limitr_last_error(*out) tells why: every
 *   validation problem, one per line, "<path>: <problem> at <line>:<col>".
 *   Free it with limitr_free either way.
 * Returns LIMITR_OK, LIMITR_INVALID (a bad document or format), LIMITR_NOMEM.
 */
LIMITR_API int limitr_new(const char *text, size_t len, const char *format,
                          const limitr_options *opts, limitr_engine **out);

/* As limitr_new with the file at path; the format comes from the extension
 * (.yaml/.yml, .json; anything else is detected). LIMITR_NOT_FOUND when the
 * file cannot be read (the message names the path and the system's reason). */
LIMITR_API int limitr_load(const char *path, const limitr_options *opts,
                           limitr_engine **out);

/* Replaces the engine's policy with the document text (len bytes; format
 * as limitr_new's) while every customer, meter, grant, cap and reservation
 * is kept (docs/reload.md): meters of entitlements the new policy lacks
 * are dormant and come back with their values when a later policy has them
 * again; amounts in a credit whose units change within their dimension are
 * converted; periods follow the new rules from each meter's start.
 * Subscriptions, host functions and the clock are kept.
 * result_json: NULL, or receives {previous, current, warnings} (borrowed):
 *   the fingerprints before and after, and what the new policy does not
 *   account for ("<customer>: meters.chat: ..."), at most 100 lines.
 * Fires policy-reloaded with the same fields. LIMITR_INVALID with every
 * problem of a bad document ("invalid_policy"), nothing changed;
 * LIMITR_ERROR "reload_in_delivery" while events are delivered or a
 * snippet runs; LIMITR_NOMEM, nothing changed. */
LIMITR_API int limitr_reload(limitr_engine *engine, const char *text,
                             size_t len, const char *format,
                             const char **result_json);
/* limitr_reload with the file at path (format from the extension, as
 * limitr_load). LIMITR_NOT_FOUND when it cannot be read. */
LIMITR_API int limitr_reload_file(limitr_engine *engine, const char *path,
                                  const char **result_json);

/* The policy's fingerprint: "sha256:" and 64 hex digits of its canonical
 * text (borrowed; "" for an engine without a policy). */
LIMITR_API const char *limitr_fingerprint(limitr_engine *engine);
/* The canonical text of the policy (docs/reload.md): one line of JSON,
 * keys in document order; limitr_new of it gives the same fingerprint.
 * Borrowed; *len receives its length when len is not NULL. */
LIMITR_API const char *limitr_policy_text(limitr_engine *engine, size_t *len);

/* ---- State documents (docs/state.md) ---- */

/* The customer state as one line of JSON (every customer sorted by ID, or
 * only customer id when id is not NULL), with the policy's fingerprint and
 * the engine time; the same state always gives the same bytes. Writes and
 * fires nothing. json: receives the text (borrowed); len: its length (may
 * be NULL). LIMITR_NOT_FOUND "unknown_customer"; LIMITR_NOMEM. */
LIMITR_API int limitr_export(limitr_engine *engine, const char *id,
                             const char **json, size_t *len);

/* Reads a state document into the engine, all or nothing: every problem
 * is checked before anything changes, and the first one is reported as
 * "<JSON path>: <problem>" (LIMITR_INVALID). replace: nonzero replaces
 * every customer, the id counters and the policy-wide estimates with the
 * document's; zero merges (no ID or alt ID of the document may exist in
 * the engine). Fires nothing and does not move the clock.
 * result_json: NULL, or receives {customers, warnings} (borrowed): how
 * many customers were read, and what the running policy does not account
 * for (another policy's state is accepted: docs/state.md). */
LIMITR_API int limitr_import(limitr_engine *engine, const char *text,
                             size_t len, int replace, const char **result_json);

/* ---- The durable store (docs/store.md) ---- */

#define LIMITR_DURABILITY_SYNC 0  /* each change written before it returns */
#define LIMITR_DURABILITY_BATCH 1 /* written every batch_ms by a thread */

/* A store's options; zero is the default of each. */
typedef struct limitr_store_options {
    const char *path;  /* the SQLite file (created when missing or empty) */
    int durability;    /* LIMITR_DURABILITY_SYNC or _BATCH */
    long batch_ms;     /* 0: 50; 1 to 60000 */
    int readonly;      /* load the committed state, take no lock, change
                          nothing (calls that would: "read_only") */
    int no_log;        /* no decision log */
    long log_max_rows; /* 0: keep every row; else rows kept at snapshots */
    int64_t log_max_age_ms; /* 0: keep every row; else their age */
    long snapshot_ms; /* 0: 3600000, a snapshot that long after the last */
} limitr_store_options;

/* An engine whose state lives in the store at store->path (SQLite, WAL):
 * restored from it when it exists, written to it as calls change it.
 * policy (len bytes, format as limitr_new's): the policy; NULL keeps the
 * store's own (a new store needs one). A policy other than the store's is
 * applied as a logged reload. store NULL (or no path): limitr_new.
 * out: as limitr_new's (the engine, or one holding the error).
 * info_json: NULL, or receives {created, customers, policy_changed,
 *   warnings} (borrowed).
 * Errors: LIMITR_STORE "store_error" for a file that is not a store ("<path>:
 * not a SQLite database", "not a limitr store (application_id N)", "store
 * format N is newer than this limitr", "store is corrupt: ...", "no such
 * store", "a new store needs a policy"), for another writer ("<path>: open for
 * writing by another engine (pid N)") or a failed write; LIMITR_NOMEM. Nothing
 * is written to a file that is refused. */
LIMITR_API int limitr_open(const char *policy, size_t len, const char *format,
                           const limitr_options *opts,
                           const limitr_store_options *store,
                           limitr_engine **out, const char **info_json);
/* Writes what is pending, a snapshot, drops what the log's retention
 * says, and truncates the WAL. LIMITR_STORE "no_store" without a store. */
LIMITR_API int limitr_checkpoint(limitr_engine *engine);
/* Checkpoints, then closes the store and drops its lock; the engine then
 * runs in memory only. LIMITR_OK also without a store; on failure the
 * store stays open (LIMITR_STORE "store_error"). */
LIMITR_API int limitr_close(limitr_engine *engine);

/* ---- Credits changed at run time (docs/engine.md 11) ---- */

/* Adds or replaces credit `name` with credit_json (a JSON object with the
 * fields a policy document gives a credit). It is checked as the document
 * would be (LIMITR_INVALID "invalid_policy", every problem with its path,
 * credits.<name>...; nothing changed). Later calls use the new price,
 * pricing and overhead; usage recorded before is not priced again. State is
 * kept, as by limitr_reload (policy-reloaded does not fire). */
LIMITR_API int limitr_set_credit(limitr_engine *engine, const char *name,
                                 const char *credit_json);
/* The credit as the policy gives it, as JSON (borrowed);
 * LIMITR_NOT_FOUND "unknown_credit". */
LIMITR_API int limitr_credit(limitr_engine *engine, const char *name,
                             const char **credit_json);

/* ---- A state shared by processes (docs/shared.md) ---- */

/* A shared engine's options; zero is the default of each. */
typedef struct limitr_shared_options {
    const char *name;     /* the region a second call finds again; NULL:
                             "limitr" */
    size_t size;          /* bytes, at least 1 MiB; 0: 16 MiB */
    unsigned shards;      /* a power of two; 0: 1024 (reported by stats) */
    long lock_timeout_ms; /* 0: 1000 */
} limitr_shared_options;

/* An engine whose customer state lives in a MAP_SHARED region that every
 * process forked afterwards shares, exactly: one lock guards it, and a
 * process killed anywhere inside a call leaves the call made whole or not
 * at all. The first call with a name maps the region; a later one in the
 * same process with the same name and size attaches to it (state kept) and
 * applies its policy as a reload; another size is LIMITR_INVALID. policy,
 * len and format as limitr_new's. Calls past the region's room fail with
 * LIMITR_NOMEM "region_full" ("state region full"), changing nothing; a
 * lock wait past lock_timeout_ms fails with LIMITR_ERROR "lock_timeout". */
LIMITR_API int limitr_shared(const char *policy, size_t len, const char *format,
                             const limitr_options *opts,
                             const limitr_shared_options *shared,
                             limitr_engine **out);

typedef struct limitr_shared_stats {
    size_t size, used, free; /* bytes of the region */
    size_t customers;
    unsigned shards;
    uint64_t recoveries;        /* calls undone after their process died */
    uint64_t locks;             /* times the lock was taken: once per outermost
                                   call (calls from handlers run inside it) */
    uint64_t journal_overflows; /* calls too big for the undo journal and the
                                   free room: made, but not undoable had
                                   their process died */
    uint64_t journal_grown;     /* calls whose journal took free room past
                                   its fixed part (given back at their end) */
    uint64_t lock_waits;        /* of `locks`, those that found the lock held
                                   by another process and waited for it */
} limitr_shared_stats;
/* LIMITR_INVALID "not_shared" for an engine that is not shared. */
LIMITR_API int limitr_stats(limitr_engine *engine, limitr_shared_stats *out);

/* Frees the engine and all of its state (a store's pending changes are
 * written first; a shared region stays for the processes that share it).
 * NULL is a no-op. */
LIMITR_API void limitr_free(limitr_engine *engine);

/* The message of the engine's last call, for people: what was wrong and
 * where (a policy path, an argument), or the standard text of its reason
 * code; "" after success. Borrowed, valid until the next call on the
 * engine. Never NULL (NULL engine: "no engine"). */
LIMITR_API const char *limitr_last_error(const limitr_engine *engine);

/* The reason code of the engine's last call, for programs: snake_case and
 * stable ("limit", "unknown_customer", "invalid_value", "out_of_memory",
 * ...; the list is under the status codes above); "" after success. Static
 * or borrowed like limitr_last_error. NULL engine: "no_engine". */
LIMITR_API const char *limitr_last_reason(const limitr_engine *engine);

/* ---- Clock ---- */

/* The engine clock in ms since the Unix epoch (UTC): the system clock until
 * limitr_set_time or limitr_advance is called, then only moved by them. */
LIMITR_API int64_t limitr_now(limitr_engine *engine);
LIMITR_API int limitr_set_time(limitr_engine *engine, int64_t ms);
LIMITR_API int limitr_advance(limitr_engine *engine, int64_t ms);

/* ---- Customers ---- */

/* Creates the customer `id`, or updates it when the ID (or an alt ID)
 * exists (docs/engine.md section 2.1).
 * plan: the plan's name; NULL or "": a new customer takes the first ref's
 *   resolved plan (and follows its refs from then on), else the default plan.
 * opts_json: NULL or a JSON object with optional `type` (default "user"),
 *   `label` (default "User"), `refs` (list of IDs), `alt_ids` (list) and
 *   `metadata` (any JSON value). On an update, each given field replaces the
 *   stored one (alt_ids are added); meters, overrides are kept.
 * snapshot_json: NULL, or receives the customer's snapshot (borrowed).
 * Fires customer-set. Returns LIMITR_OK; LIMITR_NOT_FOUND with the reason
 * "unknown_plan" or "no_plan"; LIMITR_INVALID for a bad id or opts
 * ("alt_id_in_use": an alt ID held by another customer); LIMITR_NOMEM, with
 * nothing changed. */
LIMITR_API int limitr_create_customer(limitr_engine *engine, const char *id,
                                      const char *plan, const char *opts_json,
                                      const char **snapshot_json);

/* The customer's snapshot as JSON: id, plan, own_plan, type, label, created,
 * refs, alt_ids, metadata, overrides, and meters
 * {<entitlement> = {credit, value, limit, remaining, overhead, started}}.
 * LIMITR_NOT_FOUND for an unknown customer. */
LIMITR_API int limitr_customer(limitr_engine *engine, const char *id,
                               const char **snapshot_json);

/* A customer as the engine holds it, for hosts that build their own
 * snapshot without JSON (the Lua binding does). Every pointer is borrowed:
 * valid until the next call on the engine. */
typedef struct limitr_customer_info {
    const char *id;       /* its ID, also when looked up by an alt ID */
    const char *plan;     /* the resolved plan's name; NULL: none */
    const char *own_plan; /* as stored; "" follows refs, then the default */
    const char *type;
    const char *label;
    int64_t created;         /* ms */
    const char *const *refs; /* n_refs IDs, in order */
    size_t n_refs;
    const char *const *alt_ids;
    size_t n_alt_ids;
    const char *metadata_json;  /* the stored metadata as JSON; NULL: none */
    const char *overrides_json; /* {<ent>: override}; NULL: no overrides */
    size_t n_meters;            /* for limitr_customer_meter_at */
    size_t n_grants;            /* > 0: limitr_customer_grants reads them */
    size_t n_caps;              /* > 0: limitr_customer_caps reads them */
} limitr_customer_info;

/* One meter of a customer, in its current period, as in the snapshot. */
typedef struct limitr_meter_info {
    const char *entitlement;
    const char *credit; /* NULL: no longer limited here (stored state) */
    double value;
    int has_limit; /* limit and remaining; 0 for observe and snippet limits */
    double limit, remaining;
    double overhead;
    int64_t started; /* ms */
} limitr_meter_info;

/* Fills *out with customer id (or alt ID). Runs no snippet and fires
 * nothing. LIMITR_OK; LIMITR_NOT_FOUND ("unknown_customer"); LIMITR_INVALID
 * for NULL arguments; LIMITR_NOMEM. */
LIMITR_API int limitr_customer_view(limitr_engine *engine, const char *id,
                                    limitr_customer_info *out);

/* Meter `index` (0 to n_meters - 1) of customer id, with the snapshot's
 * fields. LIMITR_NOT_FOUND ("unknown_customer"); LIMITR_INVALID for NULL
 * arguments or an index out of range. */
LIMITR_API int limitr_customer_meter_at(limitr_engine *engine, const char *id,
                                        size_t index, limitr_meter_info *out);

/* Fires customer-removed (the snapshot before removal), then removes the
 * customer and its state. LIMITR_NOT_FOUND for an unknown customer. */
LIMITR_API int limitr_delete_customer(limitr_engine *engine, const char *id);

/* Replaces the customer's refs with the JSON list of IDs refs_json; fires
 * customer-set. LIMITR_NOT_FOUND "unknown_customer"; LIMITR_INVALID. */
LIMITR_API int limitr_set_customer_refs(limitr_engine *engine, const char *id,
                                        const char *refs_json);

/* Sets the customer's own plan (docs/engine.md section 8). overwrite_meters:
 * nonzero gives each limited entitlement it owns on the new plan a fresh
 * meter. Fires customer-set, then customer-plan-changed. LIMITR_NOT_FOUND
 * "unknown_customer" or "unknown_plan"; LIMITR_INVALID "same_plan" (no
 * event). */
LIMITR_API int limitr_set_customer_plan(limitr_engine *engine, const char *id,
                                        const char *plan, int overwrite_meters);

/* Adds the alt ID `alt` to the customer (it then resolves to it wherever an
 * ID is accepted); fires customer-set. LIMITR_NOT_FOUND "unknown_customer";
 * LIMITR_INVALID "alt_id_in_use" (another customer holds it as ID or alt
 * ID). */
LIMITR_API int limitr_set_alt_customer_id(limitr_engine *engine, const char *id,
                                          const char *alt);

/* Removes an alt ID; fires customer-set. LIMITR_NOT_FOUND "unknown_alt_id".
 */
LIMITR_API int limitr_delete_alt_customer_id(limitr_engine *engine,
                                             const char *alt);

/* The customer's own limit for one entitlement (docs/engine.md section 7).
 * fields_json: a JSON object of limit fields (docs/policy.md section 6) plus
 * `expires` (ms); unset fields copy the current limit.
 * override_json: NULL, or receives the override with every field.
 * Fires customer-set. LIMITR_NOT_FOUND "unknown_customer" or
 * "unknown_entitlement" (not in its plan); LIMITR_INVALID with every
 * problem of the fields, one per line, under the path overrides.<id>.<ent>. */
LIMITR_API int limitr_create_customer_override(limitr_engine *engine,
                                               const char *id, const char *ent,
                                               const char *fields_json,
                                               const char **override_json);

/* Removes an override; fires customer-set. LIMITR_NOT_FOUND when there is
 * none ("no_override") or the customer is unknown. */
LIMITR_API int limitr_remove_customer_override(limitr_engine *engine,
                                               const char *id, const char *ent);

/* ---- Decisions ---- */

/* Options of one metering call; NULL means none. */
typedef struct limitr_call_opts {
    const char *event_json; /* JSON value handed to events as event_data */
    int no_events;          /* nonzero: fire no event for this call */
    int force;        /* nonzero: record usage that already happened: skips the
                         governor, and past a hard limit commits like soft */
    int has_overhead; /* nonzero: `overhead` is this call's actual cost */
    double overhead;  /* runes; else the credit's cost function decides */
    /* caps for this call only (docs/engine.md 16.2): a JSON object
       {"<credit>": ceiling} or a list of cap objects; NULL: none */
    const char *caps_json;
} limitr_call_opts;

/* Decides whether customer `id` may use `value` more of entitlement `ent`,
 * and records it when allowed (docs/engine.md section 4).
 * Returns LIMITR_OK (allowed) or LIMITR_DENIED ("limit", "cap",
 * "too_many_caps", "governor", "not_metered", an on_exceed snippet's
 * reason), the reason in limitr_last_reason; or, when no decision could be
 * made, LIMITR_NOT_FOUND ("unknown_customer", "no_plan",
 * "unknown_entitlement", "no_scope_customer"), LIMITR_INVALID
 * ("invalid_value": not finite, or the meter would pass +-1e20;
 * "invalid_argument": NULL arguments, bad opts), a failed limit value
 * snippet's status ("error"), LIMITR_NOMEM, LIMITR_ERROR ("engine_busy",
 * "event_depth"). An entitlement without a limit is a
 * feature flag: allowed whatever the value. Events fire after the commit
 * (meter-changed or meter-overage) or on a denial (meter-limit,
 * meter-governed). Allocates nothing when no event has a listener. */
LIMITR_API int limitr_allow(limitr_engine *engine, const char *id,
                            const char *ent, double value,
                            const limitr_call_opts *opts);

/* limitr_allow with the lengths of id and ent given (they need not be
 * NUL-terminated): what a binding that knows its string lengths calls, so
 * the hot path measures no string twice. An id containing a NUL byte matches
 * no customer. */
LIMITR_API int limitr_allow_n(limitr_engine *engine, const char *id,
                              size_t id_len, const char *ent, size_t ent_len,
                              double value, const limitr_call_opts *opts);

/* limitr_allow with the value as a string: a number ("2.5") or a unit
 * string ("2GB", "30s") converted into the credit's units. A string that is
 * neither, or a unit of the wrong dimension, is LIMITR_INVALID
 * "invalid_value". */
LIMITR_API int limitr_allow_str(limitr_engine *engine, const char *id,
                                const char *ent, const char *value,
                                const limitr_call_opts *opts);

/* The same decision as limitr_allow, writing and firing nothing. */
LIMITR_API int limitr_check(limitr_engine *engine, const char *id,
                            const char *ent, double value);
LIMITR_API int limitr_check_str(limitr_engine *engine, const char *id,
                                const char *ent, const char *value);
/* limitr_check with options: value_str non-NULL is a unit string (value
 * ignored); opts->caps_json and opts->overhead count as they would for
 * allow (events and force do not apply: a check writes and fires nothing). */
LIMITR_API int limitr_check_opts(limitr_engine *engine, const char *id,
                                 const char *ent, double value,
                                 const char *value_str,
                                 const limitr_call_opts *opts);

/* Why the decision limitr_check would make (docs/engine.md section 9), as JSON:
 * {allowed, gate, reason, limit, value, remaining, reset, retry_after}.
 * gate is value, customer, entitlement, scope, governor, limit, on_exceed,
 * flag or none; retry_after is the ms until the same call could pass, when
 * known.
 * value_str: NULL, or the value as a string (then `value` is ignored).
 * Writes nothing. Returns LIMITR_OK with explain_json set. */
LIMITR_API int limitr_explain(limitr_engine *engine, const char *id,
                              const char *ent, double value,
                              const char *value_str, const char **explain_json);

/* An allow and what an HTTP answer says of it (RateLimit-* fields,
 * Retry-After), read under the same hold: docs/shared.md, limitr.resty. */
typedef struct limitr_decision {
    const char *reason; /* limitr_last_reason of the allow; "" when it passed */
    int has_limit;      /* limit and remaining: 0 for flags, observe limits */
    double limit, remaining; /* remaining after the call */
    int has_reset;           /* reset: the ms the period ends at */
    int64_t reset;
    int has_retry_after; /* a denial: ms until the same call could pass */
    double retry_after;
    int64_t now; /* the engine's clock at the decision */
} limitr_decision;

/* limitr_allow of value (or value_str, a unit string, when not NULL) on
 * id and ent (id_len and ent_len bytes, NUL-terminated) with opts (NULL:
 * none), filling *out. Returns limitr_allow's status. A `value` snippet of
 * the limit runs twice (the allow, then the read of what remains); an
 * `on_exceed` snippet once. */
LIMITR_API int limitr_decide(limitr_engine *engine, const char *id,
                             size_t id_len, const char *ent, size_t ent_len,
                             double value, const char *value_str,
                             const limitr_call_opts *opts,
                             limitr_decision *out);

/* limitr_allow with plus / minus the limit's `increment`. An entitlement
 * without a limit is denied with "not_metered". */
LIMITR_API int limitr_increment(limitr_engine *engine, const char *id,
                                const char *ent, const limitr_call_opts *opts);
LIMITR_API int limitr_decrement(limitr_engine *engine, const char *id,
                                const char *ent, const limitr_call_opts *opts);

/* ---- Reads ---- */

/* Options of a read; NULL means none. */
typedef struct limitr_read_opts {
    int percent;   /* value and remaining as a percentage of the limit */
    int smoothed;  /* projected_exhaustion: use the smoothed rate */
    int no_grants; /* value, remaining, limit: leave grants out */
} limitr_read_opts;

/* Reads of a customer's entitlement in the current period (docs/engine.md
 * section 9), in credit units, writing nothing: value (0 for a flag),
 * remaining (limit - value), limit (id may also be a plan name), cost (the
 * limit's increment; id may be a plan name), allowance (what can run now:
 * the governor's tokens or remaining, whichever is less), rate and
 * acceleration (credit units per ms), projected_exhaustion (ms timestamp).
 * LIMITR_NOT_FOUND, with *out untouched, when the read is nil: unknown
 * customer, entitlement or scope, a flag (except value), an observe limit
 * (remaining, limit, allowance, projected_exhaustion), nothing projected. */
LIMITR_API int limitr_value(limitr_engine *engine, const char *id,
                            const char *ent, const limitr_read_opts *opts,
                            double *out);
LIMITR_API int limitr_remaining(limitr_engine *engine, const char *id,
                                const char *ent, const limitr_read_opts *opts,
                                double *out);
LIMITR_API int limitr_limit(limitr_engine *engine, const char *id,
                            const char *ent, double *out);
/* limit with read options: grants count unless opts->no_grants. */
LIMITR_API int limitr_limit_opts(limitr_engine *engine, const char *id,
                                 const char *ent, const limitr_read_opts *opts,
                                 double *out);
LIMITR_API int limitr_cost(limitr_engine *engine, const char *id,
                           const char *ent, double *out);
LIMITR_API int limitr_allowance(limitr_engine *engine, const char *id,
                                const char *ent, double *out);
LIMITR_API int limitr_rate(limitr_engine *engine, const char *id,
                           const char *ent, double *out);
LIMITR_API int limitr_acceleration(limitr_engine *engine, const char *id,
                                   const char *ent, double *out);
LIMITR_API int limitr_projected_exhaustion(limitr_engine *engine,
                                           const char *id, const char *ent,
                                           const limitr_read_opts *opts,
                                           double *out);

/* The next reset of the customer's entitlement: the first period boundary
 * after now, in ms. LIMITR_NOT_FOUND when the limit does not reset, for a
 * flag, and when gates 1-3 fail. */
LIMITR_API int limitr_resets(limitr_engine *engine, const char *id,
                             const char *ent, int64_t *out);

/* ---- Money (docs/engine.md 15-19, docs/policy.md 7-8) ---- */

/* ---- Plans at run time and the plan fee (docs/engine.md 14.14) ---- */

/* The plan named name_or_id (else a customer's resolved plan) as JSON:
 * name, label, description, default, hidden, period, subscription,
 * trial_period, extends, entitlements, topups. LIMITR_NOT_FOUND
 * "unknown_plan". */
LIMITR_API int limitr_plan(limitr_engine *engine, const char *name_or_id,
                           const char **plan_json);
/* The plan's trial_period in ms; LIMITR_NOT_FOUND "unknown_plan" or
 * "no_trial". */
LIMITR_API int limitr_plan_trial_period(limitr_engine *engine,
                                        const char *name_or_id, int64_t *ms);
/* Meters the plan fee for the current period: the plan's subscription
 * entitlement brought to 1 (0 while now < the customer's creation +
 * trial_period), committing only the difference (forced, with the usual
 * meter events, so the fee is priced by price_diff). LIMITR_NOT_FOUND
 * "unknown_customer", "no_plan", or "no_subscription" when the plan has no
 * such limited entitlement. */
LIMITR_API int limitr_ensure_plan_subscription(limitr_engine *engine,
                                               const char *id);

/* ---- Margins (docs/engine.md 17) ---- */

/* The customer's margins this period, as JSON {revenue, cost, margin,
 * entitlements = {<name> = {revenue, cost, margin}}}: revenue the billable
 * units at list price (the plan fee for the subscription entitlement),
 * cost the recorded overhead; margin in percent to 2 places, absent when
 * revenue is 0 (the total: -100). LIMITR_NOT_FOUND "unknown_customer",
 * "no_plan". */
LIMITR_API int limitr_customer_local_margin_breakdown(limitr_engine *engine,
                                                      const char *id,
                                                      const char **json);
/* Margins of modeled usage on a plan: usage_json {<ent>: value | unit
 * string | {value (or meter), limit, credit, overhead, event}}; scaled:
 * limits of another fixed period are scaled to the plan's period. */
LIMITR_API int limitr_local_margin_breakdown(limitr_engine *engine,
                                             const char *plan,
                                             const char *usage_json, int scaled,
                                             const char **json);

/* ---- Reservations (docs/engine.md 19) ---- */

/* Holds room for a call whose size is known only afterwards: value NAN
 * holds the estimate at opts.quantile (1 with nothing learned). opts_json:
 * NULL or {event, basis, segment, ttl (ms), quantile, overhead}. Decides as
 * check would, counting every live hold; the hold takes room in the limit,
 * the caps, the grants the part past the limit needs, and the governor's
 * tokens. hold_out receives its id ("h<n>", 24 bytes suffice). LIMITR_DENIED
 * with the reason a check would give; LIMITR_INVALID "invalid_value" for a
 * value <= 0 (nothing to hold) or one past the range. */
LIMITR_API int limitr_reserve(limitr_engine *engine, const char *id,
                              const char *ent, double value,
                              const char *opts_json, char *hold_out,
                              size_t hold_size);
/* limitr_reserve with lengths (id and ent need no NUL) and the hold's
 * number n: the hold the text "h<n>" names. */
LIMITR_API int limitr_reserve_n(limitr_engine *engine, const char *id,
                                size_t id_len, const char *ent, size_t ent_len,
                                double value, const char *opts_json,
                                uint64_t *hold_out);
/* limitr_reserve of a value string: a number, or a number with a unit of
 * the credit's dimension ("2GB"), converted to the limit's credit units as
 * limitr_allow_str does; LIMITR_INVALID "invalid_value" for one that is
 * neither ("ten", a duration for MB), before any gate. */
LIMITR_API int limitr_reserve_str(limitr_engine *engine, const char *id,
                                  const char *ent, const char *value,
                                  const char *opts_json, char *hold_out,
                                  size_t hold_size);
/* Gives the hold's room back, records `actual` (forced, past limits and
 * caps, with events), the governor taking what was used past the hold or
 * keeping the refund, then learns it. An unknown or dead hold still
 * records. Returns the recording's result. opts_json: NULL or {event,
 * overhead, basis, segment}. */
LIMITR_API int limitr_settle(limitr_engine *engine, const char *id,
                             const char *ent, const char *hold, double actual,
                             const char *opts_json);
/* limitr_settle with lengths and the hold by number (0 names none). */
LIMITR_API int limitr_settle_n(limitr_engine *engine, const char *id,
                               size_t id_len, const char *ent, size_t ent_len,
                               uint64_t hold, double actual,
                               const char *opts_json);
/* limitr_settle of a value string (as limitr_reserve_str). */
LIMITR_API int limitr_settle_str(limitr_engine *engine, const char *id,
                                 const char *ent, const char *hold,
                                 const char *actual, const char *opts_json);
/* Gives the hold's room back and records nothing; LIMITR_NOT_FOUND
 * "unknown_hold" for an unknown, released or dead hold. */
LIMITR_API int limitr_release(limitr_engine *engine, const char *id,
                              const char *ent, const char *hold);
/* limitr_release with lengths and the hold by number (0 names none). */
LIMITR_API int limitr_release_n(limitr_engine *engine, const char *id,
                                size_t id_len, const char *ent, size_t ent_len,
                                uint64_t hold);
/* The room live holds take on the meter of (id, ent). */
LIMITR_API int limitr_held(limitr_engine *engine, const char *id,
                           const char *ent, double *out);

/* ---- Learned estimates (docs/engine.md 18) ---- */

/* Learns one call's size (`value`, credit units) and cost on the meter
 * owner and policy-wide, per entitlement and segment. opts_json: NULL or
 * {overhead, basis, segment, event} (basis and segment default to the
 * event-data fields the entitlement's estimate_basis / estimate_segment
 * name; overhead to the credit's cost for the value). LIMITR_OK when
 * either learned; LIMITR_DENIED "no_basis" when both need a basis. */
LIMITR_API int limitr_observe(limitr_engine *engine, const char *id,
                              const char *ent, double value,
                              const char *opts_json);
/* limitr_observe of a value string (as limitr_reserve_str). */
LIMITR_API int limitr_observe_str(limitr_engine *engine, const char *id,
                                  const char *ent, const char *value,
                                  const char *opts_json);
/* The estimate at a quantile as JSON {value, overhead, samples, source,
 * scope}: the customer's own from estimate_min_samples samples on, else
 * the policy-wide one (also for an id that is no customer). opts_json:
 * NULL or {basis, segment, quantile = 0.9, event}. LIMITR_NOT_FOUND
 * "no_estimate". */
LIMITR_API int limitr_estimate(limitr_engine *engine, const char *id,
                               const char *ent, const char *opts_json,
                               const char **estimate_json);

/* ---- Spend caps (docs/engine.md 16) ---- */

/* A spend cap on a customer: cap_json is an object with `value` (the
 * ceiling, a number or a unit string in the cap credit's units) and the
 * options of docs/engine.md 16 (id, credit = "rune", exchangeable,
 * overage_only, ignore_grants, observe_only, overhead_cost,
 * follow_decrements, hard_trailing, shared, shared_with, scope, resets,
 * reset_inc, reset_sch, expires_on, events = true). cap_out: NULL, or the
 * cap's snapshot (borrowed). Fires customer-cap-added and customer-set.
 * LIMITR_INVALID with every problem under the path `cap`. */
LIMITR_API int limitr_add_customer_cap(limitr_engine *engine, const char *id,
                                       const char *cap_json,
                                       const char **cap_out);
/* The cap's snapshot; LIMITR_NOT_FOUND "unknown_customer", "unknown_cap". */
LIMITR_API int limitr_customer_cap(limitr_engine *engine, const char *id,
                                   const char *cap_id, const char **cap_out);
/* Zeroes the cap's meter now; fires customer-cap-reset then customer-set
 * when `events`. */
LIMITR_API int limitr_reset_customer_cap(limitr_engine *engine, const char *id,
                                         const char *cap_id, int events);
/* Removes the cap; fires customer-cap-removed then customer-set when
 * `events`. */
LIMITR_API int limitr_remove_customer_cap(limitr_engine *engine, const char *id,
                                          const char *cap_id, int events);

/* ---- Grants and top-ups (docs/engine.md 15) ---- */

/* The customer's grants as a JSON array, as in its snapshot (borrowed
 * until the next call). LIMITR_NOT_FOUND "unknown_customer". */
LIMITR_API int limitr_customer_grants(limitr_engine *engine, const char *id,
                                      const char **grants_json);

/* Grants the customer the top-up `topup` of its resolved plan (call it
 * after the host's payment succeeded): a new grant each call; fires
 * customer-topup-granted. LIMITR_NOT_FOUND "unknown_customer", "no_plan",
 * "unknown_topup"; LIMITR_INVALID "too_many_grants" past 256 grants, or
 * "topup_not_for_type" for an included top-up whose included_scopes leave
 * the customer's type out. */
LIMITR_API int limitr_apply_customer_topup(limitr_engine *engine,
                                           const char *id, const char *topup);

/* Reconciles the customer's top-up grants with its plan: grants of top-ups
 * the plan no longer has (or no longer includes for its type) go, the
 * others follow their top-up's fields, included top-ups not yet given are
 * granted. One customer-set when something changed and `events`. */
LIMITR_API int limitr_ensure_included_topups(limitr_engine *engine,
                                             const char *id, int events);

/* A grant made by the host: fields_json is an object with `credit` (a
 * credit, or a currency such as "usd"), `value`, and optionally `id`,
 * `expires_on` (ms) and the refill fields of a top-up (resets, reset_inc,
 * reset_sch, reset_mode, rollover_min, rollover_max, rollover_pct,
 * max_balance, reset_catchup_cap). grant_json: NULL, or receives the grant
 * (borrowed until the next call). Fires customer-set. LIMITR_INVALID with
 * every problem under the path `grant`. */
LIMITR_API int limitr_add_customer_grant(limitr_engine *engine, const char *id,
                                         const char *fields_json,
                                         const char **grant_json);

/* Removes a grant; fires customer-set. LIMITR_NOT_FOUND "unknown_customer"
 * or "unknown_grant". */
LIMITR_API int limitr_remove_customer_grant(limitr_engine *engine,
                                            const char *id,
                                            const char *grant_id);

/* The customer's caps as a JSON array, as in its snapshot (borrowed). */
LIMITR_API int limitr_customer_caps(limitr_engine *engine, const char *id,
                                    const char **caps_json);

/* What the customer's grants are worth in `credit` (a credit or a
 * currency): balances in it unit for unit, the others through the
 * exchange; 0 without grants. Rounded to 9 decimals. LIMITR_NOT_FOUND
 * "unknown_customer" or "unknown_currency". */
LIMITR_API int limitr_credit_remaining(limitr_engine *engine, const char *id,
                                       const char *credit, double *out);

/* What `value` units of `from` (a currency, an exchange pair or a priced
 * credit) are worth in `to`, through runes: value itself when from == to.
 * LIMITR_NOT_FOUND "unknown_currency" for a name that reaches no runes,
 * "no_exchange" when one unit of `to` is worth nothing; LIMITR_INVALID
 * "invalid_value" for a value that is not finite or passes 1e20. */
LIMITR_API int limitr_credit_exchange(limitr_engine *engine, const char *from,
                                      const char *to, double value,
                                      double *out);

/* ---- Events ---- */

/* An event subscriber: name is the event's name, payload_json its payload
 * (borrowed for the duration of the call). Return NULL on success, or a
 * message when the callback failed: the engine then fires `error` with that
 * message (copied) and goes on delivering. The callback may call the engine,
 * mutating calls included (events those raise are delivered at once), but
 * must not free it. */
typedef const char *(*limitr_event_fn)(const char *name,
                                       const char *payload_json,
                                       void *userdata);

/* Subscribes fn to the event `name` ("meter-changed", ...) or "*" for all.
 * Subscribers run in registration order, "*" ones after named ones.
 * sub_id: NULL, or receives an id for limitr_off. LIMITR_INVALID for an
 * unknown event name (the message suggests the nearest one). */
LIMITR_API int limitr_on(limitr_engine *engine, const char *name,
                         limitr_event_fn fn, void *userdata, int *sub_id);

/* Removes a subscription. LIMITR_NOT_FOUND when there is none with that id. */
LIMITR_API int limitr_off(limitr_engine *engine, int sub_id);

/* ---- Events without JSON ----
 *
 * For hosts that build their own tables (the Lua binding does): a payload
 * as a flat list of items, a table's entries following it depth first.
 * The meter events' customer snapshot is not built unless asked for. */

typedef enum limitr_item_kind {
    LIMITR_ITEM_NUMBER,
    LIMITR_ITEM_STRING,
    LIMITR_ITEM_TABLE,    /* its `size` entries follow, each table's entries
                             right after it */
    LIMITR_ITEM_JSON,     /* `text` is a JSON value (event data, the payload
                             of an event given whole) */
    LIMITR_ITEM_SNAPSHOT, /* a customer snapshot: `text` is its ID;
                            limitr_event_snapshot(`snapshot`) builds it */
    LIMITR_ITEM_ARRAY,    /* as TABLE, its entries without keys, in order */
    LIMITR_ITEM_BOOLEAN,  /* `number` 0 or 1 */
    LIMITR_ITEM_NULL      /* nil */
} limitr_item_kind;

typedef struct limitr_item {
    const char *key; /* the entry's name; NULL for the payload itself and
                        a list's entries. In event payloads a static string
                        (a host may cache it by address); in a host
                        function's arguments borrowed for the call */
    limitr_item_kind kind;
    double number;     /* NUMBER */
    const char *text;  /* STRING, JSON; SNAPSHOT: the customer's ID */
    size_t size;       /* TABLE: its entries */
    uint64_t snapshot; /* SNAPSHOT */
} limitr_item;

/* An event subscriber without JSON: items[0] is the payload (a TABLE, or
 * JSON for events given whole: every event of a sync store's or a shared
 * region's engine, which holds its events until the write or the unlock),
 * n the items in all. Every pointer is borrowed for the duration of the
 * call. Returns as limitr_event_fn. */
typedef const char *(*limitr_items_fn)(const char *name,
                                       const limitr_item *items, size_t n,
                                       void *userdata);

/* limitr_on for a subscriber without JSON: same events, same order (a
 * subscription of either kind counts in registration order), same ids for
 * limitr_off. */
LIMITR_API int limitr_on_items(limitr_engine *engine, const char *name,
                               limitr_items_fn fn, void *userdata, int *sub_id);

/* The customer snapshot of a SNAPSHOT item as JSON text (valid until the
 * next call): the customer as it was when the event fired, also after a
 * subscriber changed it. Only while the event is being delivered:
 * LIMITR_NOT_FOUND ("snapshot_expired") once its subscribers have all
 * returned. */
LIMITR_API int limitr_event_snapshot(limitr_engine *engine, uint64_t snapshot,
                                     const char **json);

/* The customer of a SNAPSHOT item without JSON, when nothing moved since
 * the event (neither the state nor the clock's millisecond): *out as
 * limitr_customer_view fills it, and limitr_customer_meter_at (out->id)
 * gives its meters, until the next call that changes anything. Otherwise
 * LIMITR_NOT_FOUND: "snapshot_moved" (use limitr_event_snapshot), or
 * "snapshot_expired". */
LIMITR_API int limitr_event_customer_view(limitr_engine *engine,
                                          uint64_t snapshot,
                                          limitr_customer_info *out);

/* A host library function: args_json is a JSON array of the arguments;
 * *result_json may be set to a JSON value (borrowed from the callee until its
 * next call), or left NULL for no result. Return NULL on success or an error
 * message, as limitr_event_fn. */
typedef const char *(*limitr_lib_fn)(const char *args_json,
                                     const char **result_json, void *userdata);

/* A host library function without JSON: args[0] is an ARRAY of the
 * arguments (their items follow it); *result may be set to the items of one
 * value (borrowed from the callee until its next call; no JSON or SNAPSHOT
 * items), or left NULL for no result. App functions receive the payload
 * items (SNAPSHOT included) as limitr_items_fn does. Returns as
 * limitr_lib_fn. */
typedef const char *(*limitr_lib_items_fn)(const limitr_item *args, size_t n,
                                           const limitr_item **result,
                                           size_t *n_result, void *userdata);

/* limitr_lib for a function without JSON. */
LIMITR_API int limitr_lib_items(limitr_engine *engine, const char *lib,
                                const char *name, limitr_lib_items_fn fn,
                                void *userdata);

/* Registers lib.name (registering it again replaces it); fn NULL removes
 * it (LIMITR_NOT_FOUND "unknown_lib" when there is none; a snippet calling
 * it then fails with "no such host function"). The engine calls
 * App.<event name with '-' as '_'> (App.meter_limit for meter-limit) with the
 * payload, then App.event_handler(name, payload), for every event.
 * LIMITR_INVALID when lib or name is not an identifier. */
LIMITR_API int limitr_lib(limitr_engine *engine, const char *lib,
                          const char *name, limitr_lib_fn fn, void *userdata);

#ifdef __cplusplus
}
#endif

#endif
