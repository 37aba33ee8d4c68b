/* limitr_core.c: the Lua C module `limitr.core`, glue from Lua 5.4 (and
 * LuaJIT 2.1, through compat.h) to the public C API in limitr.h. Tables
 * cross the C API as JSON, converted here to and from Lua values. Misuse (a
 * wrong argument type) raises; every other outcome is one of two shapes
 * (see "Answers" below and the README's Lua section). */
#include <limits.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>

#include "compat.h"
#include "json_text.h"
#include "limitr.h"
/* lua_json.h and lua_items.h are shared with the engine's own VM: only
   lua_json_from (Lua to JSON) and lua_items_from (a host function's result)
   are used here; JSON text comes in through json_text.h. Both read tables
   raw, so they fill a lazy payload first. */
static void fill_lazy_for_copy(lua_State *L, int idx);
#define LIMITR_LUA_FILL(L, idx) fill_lazy_for_copy(L, idx)
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include "lua_items.h"
#include "lua_json.h"
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#define ENGINE_MT "limitr.Engine"

#if defined(__GNUC__)
#define LIMITR_LUA_API __attribute__((visibility("default")))
#else
#define LIMITR_LUA_API
#endif

#define KEY_SLOTS 64 /* payload keys kept as Lua strings (push_key: 2^6) */

/* A Lua function registered as an event subscriber or a host function. */
typedef struct lua_callback {
    struct engine_box *box;
    int fn_ref;       /* reference of the function in the box's functions
                         table; LUA_NOREF once released */
    int sub_id;       /* on(): the subscription's id; 0 for lib() */
    char *lib_key;    /* lib(): "lib.name", to release the one it replaces */
    int running;      /* calls of it in progress (events nest) */
    char *error;      /* last failure message (malloc'ed) */
    lua_items result; /* a host function's last result, as items; the
                         value stays in the box's results table */
    struct lua_callback *next;
} lua_callback;

typedef struct engine_box {
    const char *magic; /* &engine_magic */
    limitr_engine *e;
    lua_State *L; /* the thread of the call in progress */
    int busy;     /* nesting depth of calls into the engine */
    int live;     /* callbacks the engine may still call */
    int released; /* released callbacks not freed yet (one was running) */
    lua_callback *callbacks;
    int lazy_mt_ref;   /* metatable of lazy snapshots, or LUA_NOREF */
    int lazy_cell_ref; /* {[1] = box} (upvalue 1 of its metamethods) */
    int keys_ref;      /* payload keys as Lua strings, by slot */
    const char *key_ptrs[KEY_SLOTS]; /* the item key each slot holds */
} engine_box;

/* ---- Engine handle ---- */

/* Marks a full userdata as an engine box: its address is in no other. */
static const char engine_magic = 0;

/* The engine argument. A box is recognised by its size and magic pointer:
 * two cheap API calls instead of luaL_checkudata's metatable lookup by name
 * (measurable on the allow() path). Light userdata and strings fail the size
 * test before the box is read; anything else gets luaL_checkudata's error. */
static engine_box *check_box(lua_State *L)
{
    engine_box *b = lua_touserdata(L, 1);
    if (b == NULL || lua_rawlen(L, 1) != sizeof *b || b->magic != &engine_magic)
        b = luaL_checkudata(L, 1, ENGINE_MT);
    luaL_argcheck(L, b->e != NULL, 1, "engine is closed");
    return b;
}

static limitr_engine *check_engine(lua_State *L)
{
    return check_box(L)->e;
}

/* ---- Callbacks' life ----
 *
 * The functions of on() and lib() are kept in the box's functions table,
 * its user value (the environment under LuaJIT), not in the registry: a
 * function that refers to its engine (a subscriber calling e:value) then
 * makes a cycle the collector sees, and an engine no longer used is
 * collected with its functions. Every use is inside a method of the box,
 * which has the box at stack index 1 (check_box), so the table is always
 * at hand there.
 *
 * A callback is live from on() / lib() until off(), its replacement by lib()
 * or close(). Released, it lets go of its function at once (luaL_unref: the
 * function can be collected) but its struct stays while it runs: the
 * trampoline still reads it, and the engine copies the message it returns
 * after it returns. Released structs are freed when no call of theirs is in
 * progress, at the latest when the outermost engine call returns. */

/* Pushes the functions table of box b, which must be at index 1; 0 (and
 * nothing pushed) when it is not there. */
static int push_functions(lua_State *L, const engine_box *b)
{
    if (lua_touserdata(L, 1) != b) return 0;
    lua_getiuservalue(L, 1, 1);
    return 1;
}

static void free_callback(lua_callback *cb)
{
    free(cb->lib_key);
    free(cb->error);
    free(cb->result.items);
    free(cb);
}

/* Frees the released callbacks that are not running. */
static void sweep_callbacks(engine_box *b)
{
    lua_callback **p = &b->callbacks;
    while (*p != NULL) {
        lua_callback *cb = *p;
        if (cb->fn_ref == LUA_NOREF && cb->running == 0) {
            *p = cb->next;
            free_callback(cb);
            b->released--;
        } else {
            p = &cb->next;
        }
    }
}

/* The engine will not call cb again: drop its function. */
static void release_callback(lua_State *L, engine_box *b, lua_callback *cb)
{
    if (cb->fn_ref == LUA_NOREF) return;
    if (push_functions(L, b)) {
        luaL_unref(L, -1, cb->fn_ref);
        lua_pop(L, 1);
    }
    cb->fn_ref = LUA_NOREF;
    /* Its last result goes too, unless it is running: the engine reads
       that result after it returns (then the value stays until close(), or
       until a callback at the same address replaces it). */
    if (cb->running == 0 && push_functions(L, b)) {
        lua_getfield(L, -1, "results");
        if (lua_type(L, -1) == LUA_TTABLE) {
            lua_pushlightuserdata(L, cb);
            lua_pushnil(L);
            lua_rawset(L, -3);
        }
        lua_pop(L, 2);
    }
    b->live--;
    b->released++;
    sweep_callbacks(b);
}

static void free_callbacks(lua_State *L, engine_box *b)
{
    lua_callback *cb = b->callbacks, *next;
    for (; cb != NULL; cb = next) {
        next = cb->next;
        free_callback(cb);
    }
    b->callbacks = NULL;
    b->live = b->released = 0;
    if (lua_touserdata(L, 1) == b) { /* the functions go with a new table */
        lua_newtable(L);
        lua_setiuservalue(L, 1, 1);
    }
}

/* Around every call into the engine: a callback may run inside it (an
 * event, or a host function called by a snippet), and close() must refuse
 * while it does. The callbacks run on the thread of the call in progress
 * (b->L); a nested call from another coroutine gives it back when it
 * returns, so that the outer call's callbacks do not run on that
 * coroutine (dead by then, maybe). ENTER and LEAVE pair them in a method
 * (L its thread). */
static lua_State *enter(engine_box *b, lua_State *L)
{
    lua_State *outer = b->L;
    b->L = L;
    b->busy++;
    return outer;
}

static void leave(engine_box *b, lua_State *outer)
{
    b->L = outer;
    if (--b->busy == 0 && b->released > 0) sweep_callbacks(b);
}

#define ENTER(b) lua_State *const outer_thread = enter((b), L)
#define LEAVE(b) leave((b), outer_thread)

static void forget_payload_state(lua_State *L, engine_box *b);

static int push_fail(lua_State *L, limitr_engine *e);
static int push_true(lua_State *L);
static int push_done(lua_State *L, limitr_engine *e, int status);

/* The engine's end: freed with its callbacks (a store writes what is
 * pending; what it cannot is lost, as in a crash). */
static void engine_gone(lua_State *L, engine_box *b)
{
    limitr_free(b->e);
    b->e = NULL;
    free_callbacks(L, b);
    forget_payload_state(L, b);
}

static int l_engine_gc(lua_State *L)
{
    engine_box *b = luaL_checkudata(L, 1, ENGINE_MT);
    /* the collector never finalizes a box in use (the method holds it):
       only a direct call of the metamethod gets here busy */
    if (b->busy > 0)
        return luaL_error(L, "cannot close the engine from inside one of "
                             "its callbacks");
    if (b->e != NULL) engine_gone(L, b);
    return 0;
}

/* e:close(): a store is checkpointed and closed first (nil, err, code
 * leaves the engine open); then the engine is freed. true, and true
 * again. */
static int l_engine_close(lua_State *L)
{
    engine_box *b = luaL_checkudata(L, 1, ENGINE_MT);
    if (b->busy > 0)
        return luaL_error(L, "cannot close the engine from inside one of "
                             "its callbacks");
    if (b->e != NULL) {
        if (limitr_close(b->e) != LIMITR_OK) return push_fail(L, b->e);
        engine_gone(L, b);
    }
    return push_true(L);
}

static int l_engine_checkpoint(lua_State *L)
{
    engine_box *b = check_box(L);
    int status;
    ENTER(b);
    status = limitr_checkpoint(b->e);
    LEAVE(b);
    return push_done(L, b->e, status);
}

/* e:stats() -> {size, used, free, customers, shards, recoveries, locks,
 * lock_waits, journal_overflows, journal_grown} */
static int l_engine_stats(lua_State *L)
{
    engine_box *b = check_box(L);
    limitr_shared_stats st;
    int status;
    ENTER(b);
    status = limitr_stats(b->e, &st);
    LEAVE(b);
    if (status != LIMITR_OK) return push_done(L, b->e, status);
    {
        const struct {
            const char *key;
            uint64_t value;
        } fields[] = {{"size", st.size},
                      {"used", st.used},
                      {"free", st.free},
                      {"customers", st.customers},
                      {"shards", st.shards},
                      {"recoveries", st.recoveries},
                      {"locks", st.locks},
                      {"lock_waits", st.lock_waits},
                      {"journal_overflows", st.journal_overflows},
                      {"journal_grown", st.journal_grown}};
        size_t i, n = sizeof fields / sizeof fields[0];
        lua_createtable(L, 0, (int)n);
        for (i = 0; i < n; i++) {
            lua_pushinteger(L, (lua_Integer)fields[i].value);
            lua_setfield(L, -2, fields[i].key);
        }
    }
    return 1;
}

static int l_engine_tostring(lua_State *L)
{
    engine_box *b = luaL_checkudata(L, 1, ENGINE_MT);
    lua_pushfstring(L, "%s (%p)%s", ENGINE_MT, (void *)b,
                    b->e ? "" : " [closed]");
    return 1;
}

/* ---- JSON <-> Lua ---- */

/* Pushes the JSON text as a Lua value (nil for NULL or bad text), in one
 * pass (json_text.h). */
static void push_json_text(lua_State *L, const char *text)
{
    json_text_push(L, text, text != NULL ? strlen(text) : 0);
}

/* The value at idx as malloc'ed JSON text; raises with `what` on failure. */
static char *to_json_text(lua_State *L, int idx, const char *what)
{
    lua_json_error err = {"out of memory", ""};
    cJSON *root = lua_json_from(L, idx, 0, &err);
    char *text;
    if (root == NULL)
        luaL_error(L, "%s: %s%s%s", what, err.path,
                   err.path[0] != '\0' ? ": " : "", err.message);
    text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (text == NULL) luaL_error(L, "%s: out of memory", what);
    return text;
}

/* The table at idx as the text of a JSON object: an empty table (which
 * encodes as a list) is {}; a list of values raises, as the engine would
 * only refuse it later, and never silently read it as no fields. */
static char *object_json_text(lua_State *L, int idx, const char *what)
{
    char *text = to_json_text(L, idx, what);
    if (text[0] == '[') {
        int empty = strcmp(text, "[]") == 0;
        free(text);
        if (!empty)
            luaL_error(L, "%s: expected a table of named fields, got a list",
                       what);
        text = strdup("{}");
        if (text == NULL) luaL_error(L, "%s: out of memory", what);
    }
    return text;
}

/* ---- Argument helpers ---- */

/* A string argument for the NUL-terminated C API: numbers convert (as
 * luaL_checkstring does), embedded NUL bytes are refused. */
static const char *check_string(lua_State *L, int idx)
{
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    if (s == NULL) luaL_typeerror(L, idx, "string");
    if (strlen(s) != len) luaL_argerror(L, idx, "string contains a NUL byte");
    return s;
}

static const char *opt_string(lua_State *L, int idx)
{
    return lua_isnoneornil(L, idx) ? NULL : check_string(L, idx);
}

/* The opts argument: 1 a table, 0 none or nil; anything else raises. */
static int check_opts_table(lua_State *L, int idx)
{
    int t = lua_type(L, idx);
    if (t == LUA_TNONE || t == LUA_TNIL) return 0;
    if (t != LUA_TTABLE) luaL_typeerror(L, idx, "table or nil");
    return 1;
}

/* Raises on a key of the options table at idx (an absolute index; nil
 * passes) that is not one of keys (NULL-terminated): no misspelt option
 * passes silently. */
static void check_keys(lua_State *L, int idx, const char *what,
                       const char *const *keys)
{
    if (!check_opts_table(L, idx)) return;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        const char *k =
            lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int i, known = 0;
        for (i = 0; k != NULL && keys[i] != NULL && !known; i++)
            known = strcmp(k, keys[i]) == 0;
        if (!known) {
            luaL_Buffer list;
            luaL_buffinit(L, &list);
            for (i = 0; keys[i] != NULL; i++) {
                if (i > 0) luaL_addstring(&list, ", ");
                luaL_addstring(&list, keys[i]);
            }
            luaL_pushresult(&list);
            if (k == NULL)
                luaL_error(L, "%s: options are named (%s), not a list", what,
                           lua_tostring(L, -1));
            luaL_error(L, "%s: unknown option '%s' (options are %s)", what, k,
                       lua_tostring(L, -1));
        }
        lua_pop(L, 1);
    }
}

/* ---- Answers ----
 *
 * Every method answers in one of two shapes:
 * - a decision (allow, check, increment, decrement): true; false, reason
 *   when the policy or the call's own targets say no (see is_refusal); nil,
 *   err, code when no decision could be made.
 * - anything else: a value (a table, number, true), or nil, err, code.
 * err is limitr_last_error (for people), code limitr_last_reason (for
 * programs). lua/limitr/ffi.lua answers decisions with the same rules. */

static int push_fail(lua_State *L, limitr_engine *e)
{
    lua_pushnil(L);
    lua_pushstring(L, limitr_last_error(e));
    lua_pushstring(L, limitr_last_reason(e));
    return 3;
}

/* push_fail for a call whose fields the binding wrote as JSON from a table:
 * the engine's " at L:C" positions point into that text, which the caller
 * never saw, so each line goes without its own. */
static int push_fail_unplaced(lua_State *L, limitr_engine *e)
{
    const char *m = limitr_last_error(e);
    luaL_Buffer b;
    lua_pushnil(L);
    luaL_buffinit(L, &b);
    while (*m != '\0') {
        const char *end = strchr(m, '\n'), *at;
        size_t n = end != NULL ? (size_t)(end - m) : strlen(m), keep = n;
        /* the last " at " of the line, when digits:digits follow it */
        for (at = m + n; at > m + 3; at--)
            if (memcmp(at - 4, " at ", 4) == 0) {
                const char *p = at;
                while (*p >= '0' && *p <= '9')
                    p++;
                if (p > at && *p == ':') {
                    const char *q = ++p;
                    while (*p >= '0' && *p <= '9')
                        p++;
                    if (p > q && p == m + n) keep = (size_t)(at - 4 - m);
                }
                break;
            }
        luaL_addlstring(&b, m, keep);
        if (end == NULL) break;
        luaL_addchar(&b, '\n');
        m = end + 1;
    }
    luaL_pushresult(&b);
    lua_pushstring(L, limitr_last_reason(e));
    return 3;
}

/* nil, err, code of the binding's own. */
static int push_fail_text(lua_State *L, const char *err, const char *code)
{
    lua_pushnil(L);
    lua_pushstring(L, err);
    lua_pushstring(L, code);
    return 3;
}

static int push_true(lua_State *L)
{
    lua_pushboolean(L, 1);
    return 1;
}

/* A call that answers true or nil, err, code. */
static int push_done(lua_State *L, limitr_engine *e, int status)
{
    return status == LIMITR_OK ? push_true(L) : push_fail(L, e);
}

/* Whether a decision that did not pass is a refusal (false, reason) rather
 * than a failure (nil, err, code), by its status (limitr.h):
 * - DENIED: the policy's no (limit, governor, not_metered, an on_exceed
 *   snippet's reason);
 * - NOT_FOUND: gates 1-3 (unknown_customer, no_plan, unknown_entitlement,
 *   no_scope_customer);
 * - INVALID: only invalid_value; any other INVALID is a misuse of the C API
 *   (NULL arguments, an engine without a policy) that is a failure;
 * - SCRIPT, BUDGET, MEMCAP: in a decision, only a failed limit value
 *   snippet, reason "error" (the call is refused, the engine works on);
 * - NOMEM, ERROR (engine_busy: a change while a decision snippet runs) and
 *   anything else: failures. */
static int is_refusal(limitr_engine *e, int status)
{
    switch (status) {
    case LIMITR_DENIED:
    case LIMITR_NOT_FOUND:
    case LIMITR_SCRIPT:
    case LIMITR_BUDGET:
    case LIMITR_MEMCAP:
        return 1;
    case LIMITR_INVALID:
        return strcmp(limitr_last_reason(e), "invalid_value") == 0;
    default:
        return 0;
    }
}

static int push_decision(lua_State *L, limitr_engine *e, int status)
{
    if (status == LIMITR_OK) return push_true(L);
    if (is_refusal(e, status)) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, limitr_last_reason(e));
        return 2;
    }
    return push_fail(L, e);
}

/* ---- Module functions ---- */

/* The engine, or nil, err, code (the engine of a failed limitr_new is
 * freed here: it only held the error). */
static int push_new_engine(lua_State *L, limitr_engine *e, int status)
{
    engine_box *b;
    if (status != LIMITR_OK) {
        lua_pushnil(L);
        if (e == NULL) { /* memory ran out before the engine existed */
            lua_pushstring(L, limitr_strerror(status));
            lua_pushliteral(L, "out_of_memory");
        } else {
            lua_pushstring(L, limitr_last_error(e));
            lua_pushstring(L, limitr_last_reason(e));
        }
        limitr_free(e);
        return 3;
    }
    b = lua_newuserdatauv(L, sizeof *b, 1);
    memset(b, 0, sizeof *b);
    b->magic = &engine_magic;
    b->e = e;
    b->lazy_mt_ref = b->lazy_cell_ref = b->keys_ref = LUA_NOREF;
    luaL_setmetatable(L, ENGINE_MT); /* from here __gc frees e */
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1); /* its functions table */
    return 1;
}

/* The options each opener takes: the engine's, and its own before them. */
#define ENGINE_KEYS                                                            \
    "snippet_instructions", "snippet_milliseconds", "snippet_memory",          \
        "pattern_steps"
static const char *const new_keys[] = {ENGINE_KEYS, NULL};
static const char *const open_keys[] = {
    "store", "durability",  "batch_ms",  "readonly",
    "log",   "snapshot_ms", ENGINE_KEYS, NULL};
static const char *const shared_keys[] = {"name",         "size",      "shards",
                                          "lock_timeout", ENGINE_KEYS, NULL};

/* The whole number at opts[key] (absolute idx), from lo to hi; 0 when
 * absent. Raises otherwise: the C API takes integers, and a fraction cut
 * short would be a silent default. */
static double whole_option(lua_State *L, int idx, const char *what,
                           const char *key, double lo, double hi)
{
    double v;
    lua_getfield(L, idx, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    v = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || !(v >= lo) || !(v <= hi) ||
        v != floor(v)) {
        char hi_text[32];
        snprintf(hi_text, sizeof hi_text, "%.15g", hi);
        luaL_error(L, "%s: option '%s' must be a whole number from %d to %s",
                   what, key, (int)lo, hi_text);
    }
    lua_pop(L, 1);
    return v;
}

/* Engine options {snippet_instructions, snippet_milliseconds,
 * snippet_memory, pattern_steps} at idx (nil: the defaults); keys: every
 * option the opener `what` takes. */
static const limitr_options *engine_opts(lua_State *L, int idx,
                                         limitr_options *o, const char *what,
                                         const char *const *keys)
{
    memset(o, 0, sizeof *o);
    check_keys(L, idx, what, keys);
    if (lua_isnoneornil(L, idx)) return NULL;
    o->snippet_instructions =
        (long)whole_option(L, idx, what, "snippet_instructions", 1, 1e15);
    o->snippet_milliseconds =
        (long)whole_option(L, idx, what, "snippet_milliseconds", 1, 1e9);
    o->snippet_memory =
        (size_t)whole_option(L, idx, what, "snippet_memory", 1, 1e15);
    o->pattern_steps =
        (long)whole_option(L, idx, what, "pattern_steps", 1, 1e15);
    return o;
}

static int l_new(lua_State *L)
{
    size_t len;
    const char *text, *format;
    limitr_engine *e = NULL;
    limitr_options o;
    const limitr_options *opts;
    int status;
    if (lua_type(L, 1) != LUA_TSTRING) luaL_typeerror(L, 1, "string");
    text = lua_tolstring(L, 1, &len);
    format = opt_string(L, 2);
    opts = engine_opts(L, 3, &o, "new", new_keys);
    status = limitr_new(text, len, format, opts, &e);
    return push_new_engine(L, e, status);
}

static int l_load(lua_State *L)
{
    const char *path = check_string(L, 1);
    limitr_engine *e = NULL;
    limitr_options o;
    const limitr_options *opts = engine_opts(L, 2, &o, "load", new_keys);
    int status = limitr_load(path, opts, &e);
    return push_new_engine(L, e, status);
}

/* limitr.open's options beside the engine's: store, durability, batch_ms,
 * readonly, log (true, false, or {max_rows, max_age}), snapshot_ms. */
static void store_opts(lua_State *L, int idx, limitr_store_options *so)
{
    memset(so, 0, sizeof *so);
    if (lua_isnoneornil(L, idx)) {
        lua_pushnil(L); /* the path's slot */
        return;
    }
    lua_getfield(L, idx, "store");
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "open: option 'store' must be a path (string)");
    so->path = lua_tostring(L, -1); /* stays on the stack: kept alive */
    lua_getfield(L, idx, "durability");
    if (!lua_isnil(L, -1)) {
        const char *d = lua_tostring(L, -1);
        if (lua_type(L, -1) != LUA_TSTRING ||
            (strcmp(d, "sync") != 0 && strcmp(d, "batch") != 0))
            luaL_error(L, "open: option 'durability' must be \"sync\" or "
                          "\"batch\"");
        so->durability = strcmp(d, "batch") == 0 ? LIMITR_DURABILITY_BATCH
                                                 : LIMITR_DURABILITY_SYNC;
    }
    lua_pop(L, 1);
    so->batch_ms = (long)whole_option(L, idx, "open", "batch_ms", 1, 60000);
    so->snapshot_ms =
        (long)whole_option(L, idx, "open", "snapshot_ms", 1, 1e15);
    lua_getfield(L, idx, "readonly");
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
        luaL_error(L, "open: option 'readonly' must be a boolean");
    so->readonly = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, idx, "log");
    if (lua_isboolean(L, -1)) {
        so->no_log = !lua_toboolean(L, -1);
    } else if (lua_istable(L, -1)) {
        int t = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, t) != 0) {
            const char *k =
                lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
            if (strcmp(k, "max_rows") != 0 && strcmp(k, "max_age") != 0)
                luaL_error(L,
                           "open: unknown log option '%s' (max_rows, "
                           "max_age)",
                           k);
            lua_pop(L, 1);
        }
        so->log_max_rows =
            (long)whole_option(L, t, "open", "max_rows", 1, 1e15);
        so->log_max_age_ms =
            (int64_t)whole_option(L, t, "open", "max_age", 1, 1e15);
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "open: option 'log' must be true, false or {max_rows, "
                      "max_age}");
    }
    lua_pop(L, 1);
}

/* core.open(text or nil, format, opts) -> engine, info | nil, err, code */
static int l_open(lua_State *L)
{
    size_t len = 0;
    const char *text = NULL, *format, *info = NULL;
    limitr_engine *e = NULL;
    limitr_options o;
    limitr_store_options so;
    const limitr_options *opts;
    int status, n;
    if (!lua_isnoneornil(L, 1)) {
        if (lua_type(L, 1) != LUA_TSTRING)
            luaL_typeerror(L, 1, "string or nil");
        text = lua_tolstring(L, 1, &len);
    }
    format = opt_string(L, 2);
    opts = engine_opts(L, 3, &o, "open", open_keys);
    store_opts(L, 3, &so);
    status = limitr_open(text, len, format, opts, &so, &e, &info);
    if (status != LIMITR_OK) return push_new_engine(L, e, status);
    n = push_new_engine(L, e, status);
    if (info != NULL)
        push_json_text(L, info);
    else
        lua_newtable(L);
    return n + 1;
}

/* core.shared(text, format, opts) -> engine | nil, err, code. opts: the
 * engine's options and name, size (bytes), shards, lock_timeout (ms); the
 * Lua front reads size strings and paths. */
static int l_shared(lua_State *L)
{
    size_t len;
    const char *text, *format;
    limitr_engine *e = NULL;
    limitr_options o;
    limitr_shared_options so;
    const limitr_options *opts;
    int status;
    if (lua_type(L, 1) != LUA_TSTRING) luaL_typeerror(L, 1, "string");
    text = lua_tolstring(L, 1, &len);
    format = opt_string(L, 2);
    memset(&so, 0, sizeof so);
    opts = engine_opts(L, 3, &o, "shared", shared_keys);
    if (opts != NULL) {
        size_t name_len;
        lua_getfield(L, 3, "name");
        if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "shared: option 'name' must be a string");
        so.name = lua_tolstring(L, -1, &name_len); /* stays on the stack */
        if (so.name != NULL && strlen(so.name) != name_len)
            luaL_error(L, "shared: option 'name' contains a NUL byte");
        so.size = (size_t)whole_option(L, 3, "shared", "size", 1, 1e15);
        so.shards =
            (unsigned)whole_option(L, 3, "shared", "shards", 1, 1 << 30);
        so.lock_timeout_ms =
            (long)whole_option(L, 3, "shared", "lock_timeout", 1, 1e9);
        /* the engine refuses these too, but they are the caller's
           mistakes: raised as every bad option is */
        if ((so.shards & (so.shards - 1)) != 0)
            luaL_error(L, "shared: option 'shards' must be a power of two");
        if (so.name != NULL && (name_len == 0 || name_len > 63))
            luaL_error(L, "shared: option 'name' must have 1 to 63 bytes");
    }
    status = limitr_shared(text, len, format, opts, &so, &e);
    return push_new_engine(L, e, status);
}

/* ---- Customers ---- */

/* ---- Snapshots without JSON ----
 *
 * The snapshot table is built from the engine's records through
 * limitr_customer_view and limitr_customer_meter_at: no JSON printed by the
 * engine, none read here (create_customer's snapshot JSON cost 15 times the
 * create itself: tests/bench/bench_create). The table is the one the JSON
 * snapshot gives: id, plan (absent when none resolves), own_plan, type,
 * label, created, refs, alt_ids, metadata (absent when none), overrides, and
 * meters {<entitlement> = {credit, value, limit, remaining, overhead,
 * started}} (credit absent on a meter whose entitlement is no longer
 * limited, limit and remaining absent for observe and snippet limits). */

static void push_number(lua_State *L, double out);

static void set_string(lua_State *L, const char *key, const char *value)
{
    if (value == NULL) return;
    lua_pushstring(L, value);
    lua_setfield(L, -2, key);
}

static void set_number(lua_State *L, const char *key, double value)
{
    push_number(L, value);
    lua_setfield(L, -2, key);
}

static void set_strings(lua_State *L, const char *key, const char *const *items,
                        size_t n)
{
    size_t i;
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        lua_pushstring(L, items[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, key);
}

/* ---- Reading what the engine lends, with the collector stopped ----
 *
 * A snapshot or a result text is borrowed from the engine until its next
 * call, and building Lua tables from it allocates: a collection step could
 * then run a __gc finalizer that calls the engine, which would free what is
 * being read. So the reading runs with the collector stopped, in a
 * protected call that restarts it whatever happens. */

static int gc_stopped_call(lua_State *L, lua_CFunction fn, int nargs)
{
    int running = lua_gc(L, LUA_GCISRUNNING, 0), status;
    lua_gc(L, LUA_GCSTOP, 0);
    lua_pushcfunction(L, fn);
    lua_insert(L, -(nargs + 1));
    status = lua_pcall(L, nargs, LUA_MULTRET, 0);
    if (running) lua_gc(L, LUA_GCRESTART, 0);
    if (status != LUA_OK) return lua_error(L);
    return 1;
}

static int push_borrowed_text(lua_State *L)
{
    const char *text = lua_touserdata(L, 1);
    lua_settop(L, 0);
    json_text_push(L, text, strlen(text));
    return 1;
}

/* The engine's borrowed JSON text as a Lua value. */
static int push_result_text(lua_State *L, const char *text)
{
    lua_pushlightuserdata(L, (void *)text);
    return gc_stopped_call(L, push_borrowed_text, 1);
}

static int build_snapshot(lua_State *L);
static int build_event_snapshot(lua_State *L);

/* The snapshot of customer id (or alt ID), or nil, err, code. */
static int push_snapshot(lua_State *L, limitr_engine *e, const char *id)
{
    int top = lua_gettop(L);
    lua_pushlightuserdata(L, e);
    lua_pushlightuserdata(L, (void *)id);
    gc_stopped_call(L, build_snapshot, 2);
    return lua_gettop(L) - top;
}

/* Pushes the snapshot table of info (limitr_customer_view's), its meters
 * read from the engine; or nil, err, code. */
static int push_customer_info(lua_State *L, limitr_engine *e,
                              const limitr_customer_info *info)
{
    limitr_meter_info m;
    size_t i, n_meters = info->n_meters;
    int top = lua_gettop(L);
    luaL_checkstack(L, 8, "snapshot");
    lua_createtable(L, 0, 16);
    set_string(L, "id", info->id);
    set_string(L, "plan", info->plan);
    set_string(L, "own_plan", info->own_plan);
    set_string(L, "type", info->type);
    set_string(L, "label", info->label);
    set_number(L, "created", (double)info->created);
    set_strings(L, "refs", info->refs, info->n_refs);
    set_strings(L, "alt_ids", info->alt_ids, info->n_alt_ids);
    if (info->metadata_json != NULL) {
        push_json_text(L, info->metadata_json);
        lua_setfield(L, -2, "metadata");
    }
    if (info->overrides_json != NULL)
        push_json_text(L, info->overrides_json);
    else
        lua_createtable(L, 0, 0);
    lua_setfield(L, -2, "overrides");
    /* after the overrides: this read reuses the engine's result buffer */
    if (info->n_grants > 0) {
        const char *grants;
        if (limitr_customer_grants(e, info->id, &grants) != LIMITR_OK) {
            lua_settop(L, top);
            return push_fail(L, e);
        }
        push_json_text(L, grants);
    } else {
        lua_createtable(L, 0, 0);
    }
    lua_setfield(L, -2, "grants");
    if (info->n_caps > 0) {
        const char *caps;
        if (limitr_customer_caps(e, info->id, &caps) != LIMITR_OK) {
            lua_settop(L, top);
            return push_fail(L, e);
        }
        push_json_text(L, caps);
    } else {
        lua_createtable(L, 0, 0);
    }
    lua_setfield(L, -2, "caps");
    lua_createtable(L, 0, (int)n_meters);
    for (i = 0; i < n_meters; i++) {
        if (limitr_customer_meter_at(e, info->id, i, &m) != LIMITR_OK) {
            lua_settop(L, top);
            return push_fail(L, e);
        }
        lua_createtable(L, 0, 6);
        set_string(L, "credit", m.credit);
        set_number(L, "value", m.value);
        if (m.has_limit) {
            set_number(L, "limit", m.limit);
            set_number(L, "remaining", m.remaining);
        }
        set_number(L, "overhead", m.overhead);
        set_number(L, "started", (double)m.started);
        lua_setfield(L, -2, m.entitlement);
    }
    lua_setfield(L, -2, "meters");
    return 1;
}

/* In a protected call, the collector stopped: (engine, id). */
static int build_snapshot(lua_State *L)
{
    limitr_engine *e = lua_touserdata(L, 1);
    const char *id = lua_touserdata(L, 2);
    limitr_customer_info info;
    lua_settop(L, 0);
    if (limitr_customer_view(e, id, &info) != LIMITR_OK) return push_fail(L, e);
    return push_customer_info(L, e, &info);
}

/* In a protected call, the collector stopped: (engine, &token). An event's
 * customer: read straight from the engine when nothing moved since the
 * event, else from the engine's copy as JSON; raises once it expired. */
static int build_event_snapshot(lua_State *L)
{
    limitr_engine *e = lua_touserdata(L, 1);
    uint64_t token = *(const uint64_t *)lua_touserdata(L, 2);
    limitr_customer_info info;
    const char *json;
    lua_settop(L, 0);
    if (limitr_event_customer_view(e, token, &info) == LIMITR_OK) {
        if (push_customer_info(L, e, &info) != 1) /* nil, err, code */
            return luaL_error(L, "event payload: %s", lua_tostring(L, -2));
        return 1;
    }
    if (strcmp(limitr_last_reason(e), "snapshot_moved") != 0 ||
        limitr_event_snapshot(e, token, &json) != LIMITR_OK)
        return luaL_error(L, "event payload: %s", limitr_last_error(e));
    json_text_push(L, json, strlen(json));
    return 1;
}

/* create_customer(id, plan, opts): the snapshot table, or nil, err, code. */
static int l_engine_create_customer(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *plan = opt_string(L, 3);
    char *opts = NULL;
    int status;
    static const char *const keys[] = {"type",    "label",    "refs",
                                       "alt_ids", "metadata", NULL};
    check_keys(L, 4, "create_customer", keys);
    /* no options: no JSON to build, and the engine reads none */
    if (!lua_isnoneornil(L, 4))
        opts = object_json_text(L, 4, "create_customer");
    ENTER(b);
    status = limitr_create_customer(b->e, id, plan, opts, NULL);
    LEAVE(b);
    free(opts);
    if (status != LIMITR_OK) return push_fail(L, b->e);
    /* after leave(): building tables may raise (out of memory), and the
       view runs no callback */
    return push_snapshot(L, b->e, id);
}

static int l_engine_customer(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2);
    return push_snapshot(L, b->e, id); /* runs no callback */
}

static int l_engine_delete_customer(lua_State *L)
{
    engine_box *b = check_box(L);
    int status;
    const char *id = check_string(L, 2);
    ENTER(b);
    status = limitr_delete_customer(b->e, id);
    LEAVE(b);
    return push_done(L, b->e, status);
}

/* ---- Decisions ---- */

/* A table at the top as JSON text, left on the stack in its place as a Lua
 * string (alive while the call runs, freed by Lua whatever raises). */
static const char *json_on_stack(lua_State *L, const char *what)
{
    char *text = to_json_text(L, lua_gettop(L), what);
    lua_pop(L, 1);
    lua_pushstring(L, text);
    free(text);
    return lua_tostring(L, -1);
}

static void read_call_opts(lua_State *L, int idx, const char *what,
                           limitr_call_opts *o)
{
    static const char *const keys[] = {"caps", "force", "overhead", "event",
                                       NULL};
    memset(o, 0, sizeof *o);
    check_keys(L, idx, what, keys);
    if (lua_isnoneornil(L, idx)) return;
    lua_getfield(L, idx, "caps");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1))
            luaL_error(L, "opts.caps must be a table ({rune = 0.5} or a list "
                          "of caps)");
        o->caps_json = json_on_stack(L, "opts.caps");
    } else {
        lua_pop(L, 1);
    }
    lua_getfield(L, idx, "force");
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
        luaL_error(L, "%s: opts.force must be a boolean", what);
    o->force = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, idx, "overhead");
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "opts.overhead must be a number of runes");
        o->has_overhead = 1;
        o->overhead = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "event");
    if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))
        lua_pop(L, 1), o->no_events = 1;
    else if (!lua_isnil(L, -1))
        o->event_json = json_on_stack(L, "opts.event");
    else
        lua_pop(L, 1);
}

/* The value argument of allow, check and explain, read one way for all
 * three: a number, or a string Lua reads as a number ("0x10", " 5 "), is
 * *out; any other string is *text, a unit string the engine converts (an
 * embedded NUL byte raises: the C API would see a shorter string); nil is
 * 0; other types raise. */
static void value_arg(lua_State *L, int idx, double *out, const char **text)
{
    int isnum;
    size_t len;
    *out = lua_tonumberx(L, idx, &isnum);
    *text = NULL;
    if (isnum) return;
    *out = 0;
    if (lua_type(L, idx) == LUA_TSTRING) {
        *text = lua_tolstring(L, idx, &len);
        if (strlen(*text) != len)
            luaL_argerror(L, idx, "string contains a NUL byte");
    } else if (lua_type(L, idx) > LUA_TNIL) {
        luaL_typeerror(L, idx, "number, string or nil");
    }
}

/* A string argument and its length; a number is converted, as
 * luaL_checklstring does (one API call on the allow() path). */
static const char *string_arg(lua_State *L, int idx, size_t *len)
{
    const char *s = lua_tolstring(L, idx, len);
    if (s == NULL) luaL_typeerror(L, idx, "string");
    return s;
}

/* A value that may be a unit string ("2GB"): the number, or *text (no NUL
 * inside: the text API takes it). */
static double number_or_text(lua_State *L, int idx, const char **text)
{
    int isnum;
    double value = lua_tonumberx(L, idx, &isnum); /* "50" converts too */
    *text = NULL;
    if (isnum) return value;
    if (lua_type(L, idx) == LUA_TSTRING) {
        *text = check_string(L, idx);
        return 0;
    }
    return luaL_checknumber(L, idx); /* raises the type error */
}

/* The hot path: as few Lua API calls as the checks allow. */
static int l_engine_allow(lua_State *L)
{
    engine_box *b = check_box(L);
    size_t id_len, ent_len;
    const char *id = string_arg(L, 2, &id_len);
    const char *ent = string_arg(L, 3, &ent_len);
    limitr_call_opts o, *opts = NULL;
    int status;
    const char *text;
    double value;
    value_arg(L, 4, &value, &text);
    if (lua_gettop(L) >= 5 && !lua_isnil(L, 5)) {
        read_call_opts(L, 5, "allow", &o);
        opts = &o;
    }
    ENTER(b);
    if (text != NULL)
        status = limitr_allow_str(b->e, id, ent, text, opts);
    else
        status = limitr_allow_n(b->e, id, id_len, ent, ent_len, value, opts);
    LEAVE(b);
    if (status == LIMITR_OK) {
        lua_pushboolean(L, 1);
        return 1;
    }
    return push_decision(L, b->e, status);
}

static void push_number_or_nil(lua_State *L, int has, double v)
{
    if (has)
        push_number(L, v);
    else
        lua_pushnil(L);
}

/* e:decide(id, ent, value, opts) -> ok, reason, limit, remaining, reset,
 * retry_after, now (limitr_decide: what an HTTP answer needs, from one
 * hold); nil, err, code on an error. reason is nil when ok; limit,
 * remaining, reset and retry_after nil when they do not apply. */
static int l_engine_decide(lua_State *L)
{
    engine_box *b = check_box(L);
    size_t id_len, ent_len;
    const char *id = string_arg(L, 2, &id_len);
    const char *ent = string_arg(L, 3, &ent_len);
    const char *text;
    double value;
    limitr_decision d;
    limitr_call_opts o, *opts = NULL;
    int status;
    value_arg(L, 4, &value, &text);
    if (!lua_isnoneornil(L, 5)) { /* allow's opts: event, caps, overhead */
        read_call_opts(L, 5, "decide", &o);
        opts = &o;
    }
    ENTER(b);
    status =
        limitr_decide(b->e, id, id_len, ent, ent_len, value, text, opts, &d);
    LEAVE(b);
    if (status != LIMITR_OK && !is_refusal(b->e, status))
        return push_fail(L, b->e);
    lua_pushboolean(L, status == LIMITR_OK);
    if (status == LIMITR_OK)
        lua_pushnil(L);
    else
        lua_pushstring(L, d.reason);
    push_number_or_nil(L, d.has_limit, d.limit);
    push_number_or_nil(L, d.has_limit, d.remaining);
    push_number_or_nil(L, d.has_reset, (double)d.reset);
    push_number_or_nil(L, d.has_retry_after, d.retry_after);
    push_number(L, (double)d.now);
    return 7;
}

static int l_engine_check(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *ent = check_string(L, 3);
    const char *text;
    double value;
    int status;
    value_arg(L, 4, &value, &text);
    if (!lua_isnoneornil(L, 5)) { /* opts: caps and overhead count */
        limitr_call_opts o;
        read_call_opts(L, 5, "check", &o);
        ENTER(b);
        status = limitr_check_opts(b->e, id, ent, value, text, &o);
        LEAVE(b);
        return push_decision(L, b->e, status);
    }
    ENTER(b); /* a limit snippet may call a lib() function */
    status = text != NULL ? limitr_check_str(b->e, id, ent, text)
                          : limitr_check(b->e, id, ent, value);
    LEAVE(b);
    return push_decision(L, b->e, status);
}

static int l_engine_explain(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *ent = check_string(L, 3);
    const char *json = NULL, *text;
    double value;
    int status;
    value_arg(L, 4, &value, &text);
    ENTER(b);
    status = limitr_explain(b->e, id, ent, value, text, &json);
    LEAVE(b);
    if (status != LIMITR_OK) return push_fail(L, b->e);
    return push_result_text(L, json);
}

static int step(lua_State *L, int up)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *ent = check_string(L, 3);
    limitr_call_opts o;
    const limitr_call_opts *po = lua_isnoneornil(L, 4) ? NULL : &o;
    int status;
    read_call_opts(L, 4, up ? "increment" : "decrement", &o);
    ENTER(b);
    status = up ? limitr_increment(b->e, id, ent, po)
                : limitr_decrement(b->e, id, ent, po);
    LEAVE(b);
    return push_decision(L, b->e, status);
}

static int l_engine_increment(lua_State *L)
{
    return step(L, 1);
}
static int l_engine_decrement(lua_State *L)
{
    return step(L, 0);
}

/* ---- Reads ---- */

static void push_number(lua_State *L, double out)
{
    if (out == (double)(lua_Integer)out && out >= -9007199254740992.0 &&
        out <= 9007199254740992.0)
        lua_pushinteger(L, (lua_Integer)out);
    else
        lua_pushnumber(L, out);
}

/* A boolean option at opts[key] (absolute idx): 0 or 1, dflt when absent;
 * raises on another type. */
static int bool_option(lua_State *L, int idx, const char *what, const char *key,
                       int dflt)
{
    int on = dflt;
    lua_getfield(L, idx, key);
    if (!lua_isnil(L, -1)) {
        if (!lua_isboolean(L, -1))
            luaL_error(L, "%s: opts.%s must be a boolean", what, key);
        on = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return on;
}

/* The one boolean option `key` of opts at idx (nil: dflt): every other key
 * raises, as check_keys. */
static int sole_bool_option(lua_State *L, int idx, const char *what,
                            const char *key, int dflt)
{
    const char *const keys[] = {key, NULL};
    check_keys(L, idx, what, keys);
    return lua_istable(L, idx) ? bool_option(L, idx, what, key, dflt) : dflt;
}

/* opts = {percent, smoothed, grants = true} of a read: keys are those the
 * read `what` takes. */
static const limitr_read_opts *read_opts(lua_State *L, int idx,
                                         const char *what,
                                         const char *const *keys,
                                         limitr_read_opts *o)
{
    check_keys(L, idx, what, keys);
    if (lua_isnoneornil(L, idx)) return NULL;
    o->percent = bool_option(L, idx, what, "percent", 0);
    o->smoothed = bool_option(L, idx, what, "smoothed", 0);
    o->no_grants = !bool_option(L, idx, what, "grants", 1);
    return o;
}

enum {
    READ_VALUE,
    READ_REMAINING,
    READ_LIMIT,
    READ_COST,
    READ_ALLOWANCE,
    READ_RATE,
    READ_ACCELERATION,
    READ_PROJECTED
};

/* Each read's name and options (read.c reads no others). */
static const char *const percent_keys[] = {"percent", "grants", NULL};
static const char *const grants_keys[] = {"grants", NULL};
static const char *const no_keys[] = {NULL};
static const char *const smoothed_keys[] = {"smoothed", NULL};
static const struct {
    const char *name;
    const char *const *keys;
} reads[] = {
    {"value", percent_keys},   {"remaining", percent_keys},
    {"limit", grants_keys},    {"cost", no_keys},
    {"allowance", no_keys},    {"rate", no_keys},
    {"acceleration", no_keys}, {"projected_exhaustion", smoothed_keys}};

/* A read: the number, or nil, err, code when there is none (an unknown
 * customer as much as an observe limit: the code tells which). */
static int push_read(lua_State *L, int what)
{
    engine_box *b = check_box(L);
    limitr_engine *e = b->e;
    const char *id = check_string(L, 2), *ent = check_string(L, 3);
    limitr_read_opts ro = {0, 0, 0};
    const limitr_read_opts *opts =
        read_opts(L, 4, reads[what].name, reads[what].keys, &ro);
    double out = 0;
    int status;
    ENTER(b); /* a limit snippet may call a lib() function */
    switch (what) {
    case READ_VALUE:
        status = limitr_value(e, id, ent, opts, &out);
        break;
    case READ_REMAINING:
        status = limitr_remaining(e, id, ent, opts, &out);
        break;
    case READ_LIMIT:
        status = limitr_limit_opts(e, id, ent, opts, &out);
        break;
    case READ_COST:
        status = limitr_cost(e, id, ent, &out);
        break;
    case READ_ALLOWANCE:
        status = limitr_allowance(e, id, ent, &out);
        break;
    case READ_RATE:
        status = limitr_rate(e, id, ent, &out);
        break;
    case READ_ACCELERATION:
        status = limitr_acceleration(e, id, ent, &out);
        break;
    default:
        status = limitr_projected_exhaustion(e, id, ent, opts, &out);
        break;
    }
    LEAVE(b);
    if (status != LIMITR_OK) return push_fail(L, e);
    push_number(L, out);
    return 1;
}

static int l_engine_value(lua_State *L)
{
    return push_read(L, READ_VALUE);
}
static int l_engine_remaining(lua_State *L)
{
    return push_read(L, READ_REMAINING);
}
static int l_engine_limit(lua_State *L)
{
    return push_read(L, READ_LIMIT);
}
static int l_engine_cost(lua_State *L)
{
    return push_read(L, READ_COST);
}
static int l_engine_allowance(lua_State *L)
{
    return push_read(L, READ_ALLOWANCE);
}
static int l_engine_rate(lua_State *L)
{
    return push_read(L, READ_RATE);
}
static int l_engine_acceleration(lua_State *L)
{
    return push_read(L, READ_ACCELERATION);
}
static int l_engine_projected_exhaustion(lua_State *L)
{
    return push_read(L, READ_PROJECTED);
}

static int l_engine_resets(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *ent = check_string(L, 3);
    int64_t out;
    int status;
    ENTER(b);
    status = limitr_resets(b->e, id, ent, &out);
    LEAVE(b);
    if (status != LIMITR_OK) return push_fail(L, b->e);
    lua_pushinteger(L, (lua_Integer)out);
    return 1;
}

/* credit_exchange(from, to, value = 1): a number, or nil, err, code. */
static int l_engine_credit_exchange(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *from = check_string(L, 2), *to = check_string(L, 3);
    double value = luaL_optnumber(L, 4, 1), out;
    int status;
    ENTER(b);
    status = limitr_credit_exchange(b->e, from, to, value, &out);
    LEAVE(b);
    if (status != LIMITR_OK) return push_fail(L, b->e);
    push_number(L, out);
    return 1;
}

/* ---- Grants and top-ups ---- */

static int l_engine_apply_customer_topup(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *topup = check_string(L, 3);
    int status;
    ENTER(b);
    status = limitr_apply_customer_topup(b->e, id, topup);
    LEAVE(b);
    return push_done(L, b->e, status);
}

/* ensure_included_topups(id, {event = true}) */
static int l_engine_ensure_included_topups(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2);
    int status,
        events = sole_bool_option(L, 3, "ensure_included_topups", "event", 1);
    ENTER(b);
    status = limitr_ensure_included_topups(b->e, id, events);
    LEAVE(b);
    return push_done(L, b->e, status);
}

static int l_engine_add_customer_grant(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *json = NULL;
    char *fields;
    int status;
    luaL_checktype(L, 3, LUA_TTABLE);
    fields = object_json_text(L, 3, "add_customer_grant");
    ENTER(b);
    status = limitr_add_customer_grant(b->e, id, fields, &json);
    LEAVE(b);
    free(fields);
    if (status != LIMITR_OK) return push_fail_unplaced(L, b->e);
    if (json == NULL) /* an event handler removed it again */
        return push_fail_text(L, "the grant was removed by an event handler",
                              "unknown_grant");
    return push_result_text(L, json);
}

static int l_engine_remove_customer_grant(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *grant = check_string(L, 3);
    int status;
    ENTER(b);
    status = limitr_remove_customer_grant(b->e, id, grant);
    LEAVE(b);
    return push_done(L, b->e, status);
}

static int l_engine_credit_remaining(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *credit = check_string(L, 3);
    double out;
    int status;
    ENTER(b);
    status = limitr_credit_remaining(b->e, id, credit, &out);
    LEAVE(b);
    if (status != LIMITR_OK) return push_fail(L, b->e);
    push_number(L, out);
    return 1;
}

/* ---- Plans and the plan fee ---- */

/* ---- State documents (docs/state.md) ---- */

static int l_engine_export(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = opt_string(L, 2), *json;
    size_t len;
    int status;
    ENTER(b);
    status = limitr_export(b->e, id, &json, &len);
    LEAVE(b);
    if (status != LIMITR_OK) return push_fail(L, b->e);
    lua_pushlstring(L, json, len);
    return 1;
}

static int l_engine_import(lua_State *L)
{
    engine_box *b = check_box(L);
    size_t len;
    const char *text, *json;
    int replace, status;
    if (lua_type(L, 2) != LUA_TSTRING) luaL_typeerror(L, 2, "string");
    text = lua_tolstring(L, 2, &len);
    replace = sole_bool_option(L, 3, "import", "replace", 0);
    ENTER(b);
    status = limitr_import(b->e, text, len, replace, &json);
    LEAVE(b);
    if (status != LIMITR_OK) return push_fail(L, b->e);
    if (json == NULL) return push_true(L); /* the report ran out of memory */
    return push_result_text(L, json);
}

/* ---- Reload (docs/reload.md) ---- */

static int l_engine_reload(lua_State *L)
{
    engine_box *b = check_box(L);
    size_t len;
    const char *text, *format, *json;
    int status;
    if (lua_type(L, 2) != LUA_TSTRING) luaL_typeerror(L, 2, "string");
    text = lua_tolstring(L, 2, &len);
    format = opt_string(L, 3);
    ENTER(b);
    status = limitr_reload(b->e, text, len, format, &json);
    LEAVE(b);
    if (status != LIMITR_OK) return push_fail(L, b->e);
    if (json == NULL) return push_true(L); /* the report ran out of memory */
    return push_result_text(L, json);
}

static int l_engine_reload_file(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *path = check_string(L, 2), *json;
    int status;
    ENTER(b);
    status = limitr_reload_file(b->e, path, &json);
    LEAVE(b);
    if (status != LIMITR_OK) return push_fail(L, b->e);
    if (json == NULL) return push_true(L); /* the report ran out of memory */
    return push_result_text(L, json);
}

static int l_engine_fingerprint(lua_State *L)
{
    engine_box *b = check_box(L);
    lua_pushstring(L, limitr_fingerprint(b->e));
    return 1;
}

static int l_engine_policy_text(lua_State *L)
{
    engine_box *b = check_box(L);
    size_t len;
    const char *text = limitr_policy_text(b->e, &len);
    lua_pushlstring(L, text, len);
    return 1;
}

/* A read that takes one string (a name, an id) and gives JSON: the table,
 * or nil, err, code. */
static int push_named_read(lua_State *L,
                           int (*read)(limitr_engine *, const char *,
                                       const char **))
{
    engine_box *b = check_box(L);
    const char *name = check_string(L, 2), *json;
    int status;
    ENTER(b);
    status = read(b->e, name, &json);
    LEAVE(b);
    if (status != LIMITR_OK) return push_fail(L, b->e);
    return push_result_text(L, json);
}

static int l_engine_plan(lua_State *L)
{
    return push_named_read(L, limitr_plan);
}

/* e:set_credit(name, credit) -> true | nil, err, code */
static int l_engine_set_credit(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *name = check_string(L, 2);
    char *json;
    int status;
    luaL_checktype(L, 3, LUA_TTABLE);
    json = object_json_text(L, 3, "set_credit");
    ENTER(b);
    status = limitr_set_credit(b->e, name, json);
    LEAVE(b);
    free(json);
    if (status != LIMITR_OK) return push_fail_unplaced(L, b->e);
    return push_true(L);
}

/* e:credit(name) -> the credit as the policy gives it | nil, err, code */
static int l_engine_credit(lua_State *L)
{
    return push_named_read(L, limitr_credit);
}

static int l_engine_plan_trial_period(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *name = check_string(L, 2);
    int64_t ms;
    int status;
    ENTER(b);
    status = limitr_plan_trial_period(b->e, name, &ms);
    LEAVE(b);
    if (status != LIMITR_OK) return push_fail(L, b->e);
    lua_pushinteger(L, (lua_Integer)ms);
    return 1;
}

static int l_engine_ensure_plan_subscription(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2);
    int status;
    ENTER(b);
    status = limitr_ensure_plan_subscription(b->e, id);
    LEAVE(b);
    return push_decision(L, b->e, status);
}

static int l_engine_customer_local_margin_breakdown(lua_State *L)
{
    return push_named_read(L, limitr_customer_local_margin_breakdown);
}

/* local_margin_breakdown(plan, usage, {scaled = true}) */
static int l_engine_local_margin_breakdown(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *plan = check_string(L, 2), *json;
    char *usage;
    int status, scaled;
    luaL_checktype(L, 3, LUA_TTABLE);
    scaled = sole_bool_option(L, 4, "local_margin_breakdown", "scaled", 1);
    usage = to_json_text(L, 3, "local_margin_breakdown");
    ENTER(b);
    status = limitr_local_margin_breakdown(b->e, plan, usage, scaled, &json);
    LEAVE(b);
    free(usage);
    if (status != LIMITR_OK) return push_fail(L, b->e);
    return push_result_text(L, json);
}

/* ---- Learned estimates ---- */

/* opts (a table or nil) as JSON text, or NULL. */
static char *opts_json_text(lua_State *L, int idx, const char *what,
                            const char *const *keys)
{
    check_keys(L, idx, what, keys);
    if (!check_opts_table(L, idx)) return NULL;
    return object_json_text(L, idx, what);
}

/* The options of the learning and reservation calls (docs/engine.md 18, 19). */
static const char *const observe_keys[] = {"overhead", "basis", "segment",
                                           "event", NULL};
static const char *const estimate_keys[] = {"basis", "segment", "quantile",
                                            "event", NULL};
static const char *const reserve_keys[] = {
    "event", "basis", "segment", "ttl", "quantile", "overhead", NULL};
static const char *const settle_keys[] = {"event", "overhead", "basis",
                                          "segment", NULL};

static int l_engine_observe(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *ent = check_string(L, 3), *text;
    double value = number_or_text(L, 4, &text);
    char *opts = opts_json_text(L, 5, "observe", observe_keys);
    int status;
    ENTER(b);
    status = text != NULL ? limitr_observe_str(b->e, id, ent, text, opts)
                          : limitr_observe(b->e, id, ent, value, opts);
    LEAVE(b);
    free(opts);
    return push_decision(L, b->e, status);
}

static int l_engine_estimate(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *ent = check_string(L, 3), *json;
    char *opts = opts_json_text(L, 4, "estimate", estimate_keys);
    int status;
    ENTER(b);
    status = limitr_estimate(b->e, id, ent, opts, &json);
    LEAVE(b);
    free(opts);
    if (status != LIMITR_OK) return push_fail(L, b->e);
    return push_result_text(L, json);
}

/* ---- Reservations ---- */

/* reserve(id, ent, value | nil, opts): the hold's number (an integer: no
 * new string per hold), or nil, err, code (false, reason for a refusal). */
static int l_engine_reserve(lua_State *L)
{
    engine_box *b = check_box(L);
    size_t id_len, ent_len;
    const char *id = string_arg(L, 2, &id_len);
    const char *ent = string_arg(L, 3, &ent_len), *text = NULL;
    int estimated = lua_isnoneornil(L, 4);
    double value = estimated ? NAN : number_or_text(L, 4, &text);
    char *opts, name[24];
    uint64_t hold;
    int status;
    /* NaN is refused as allow refuses it (the C API's NaN asks for the
       estimate, nil does here): as the text it is, through the engine */
    if (!estimated && text == NULL && isnan(value)) text = "NaN";
    if (text != NULL) /* the text API: no NUL inside */
        id = check_string(L, 2), ent = check_string(L, 3);
    opts = opts_json_text(L, 5, "reserve", reserve_keys);
    ENTER(b);
    if (text != NULL) {
        status =
            limitr_reserve_str(b->e, id, ent, text, opts, name, sizeof name);
        hold = status == LIMITR_OK ? strtoull(name + 1, NULL, 10) : 0;
    } else {
        status = limitr_reserve_n(b->e, id, id_len, ent, ent_len, value, opts,
                                  &hold);
    }
    LEAVE(b);
    free(opts);
    if (status != LIMITR_OK) return push_decision(L, b->e, status);
    lua_pushinteger(L, (lua_Integer)hold);
    return 1;
}

/* The hold argument of settle and release: the number reserve gave, or
 * the C API's text "h<n>" (*text then; NULL for a number). A number that is
 * no hold's (0, negative, a fraction) names none. */
static uint64_t hold_arg(lua_State *L, int idx, const char **text)
{
    lua_Number n;
    *text = NULL;
#if LUA_VERSION_NUM >= 503
    if (lua_isinteger(L, idx)) { /* what reserve answers */
        lua_Integer i = lua_tointeger(L, idx);
        return i > 0 ? (uint64_t)i : 0;
    }
#endif
    if (lua_type(L, idx) != LUA_TNUMBER) {
        *text = check_string(L, idx);
        return 0;
    }
    n = lua_tonumber(L, idx);
    return n >= 1 && n < 9007199254740992.0 && n == floor(n) ? (uint64_t)n : 0;
}

static int l_engine_settle(lua_State *L)
{
    engine_box *b = check_box(L);
    size_t id_len, ent_len;
    const char *id = string_arg(L, 2, &id_len);
    const char *ent = string_arg(L, 3, &ent_len), *text, *actual_text;
    uint64_t hold = hold_arg(L, 4, &text);
    double actual = number_or_text(L, 5, &actual_text);
    char *opts, name[24];
    int status;
    if (text != NULL || actual_text != NULL) /* the text API: no NUL inside */
        id = check_string(L, 2), ent = check_string(L, 3);
    if (actual_text != NULL && text == NULL) { /* the hold by its name */
        snprintf(name, sizeof name, "h%llu", (unsigned long long)hold);
        text = name;
    }
    /* last: every check above may raise, and opts is allocated */
    opts = opts_json_text(L, 6, "settle", settle_keys);
    ENTER(b);
    if (actual_text != NULL)
        status = limitr_settle_str(b->e, id, ent, text, actual_text, opts);
    else if (text != NULL)
        status = limitr_settle(b->e, id, ent, text, actual, opts);
    else
        status =
            limitr_settle_n(b->e, id, id_len, ent, ent_len, hold, actual, opts);
    LEAVE(b);
    free(opts);
    return push_decision(L, b->e, status);
}

static int l_engine_release(lua_State *L)
{
    engine_box *b = check_box(L);
    size_t id_len, ent_len;
    const char *id = string_arg(L, 2, &id_len);
    const char *ent = string_arg(L, 3, &ent_len), *text;
    uint64_t hold = hold_arg(L, 4, &text);
    int status;
    if (text != NULL) /* the text API: no NUL inside */
        id = check_string(L, 2), ent = check_string(L, 3);
    ENTER(b);
    status = text != NULL
                 ? limitr_release(b->e, id, ent, text)
                 : limitr_release_n(b->e, id, id_len, ent, ent_len, hold);
    LEAVE(b);
    lua_pushboolean(L, status == LIMITR_OK);
    return 1;
}

static int l_engine_held(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *ent = check_string(L, 3);
    double out;
    int status;
    ENTER(b);
    status = limitr_held(b->e, id, ent, &out);
    LEAVE(b);
    if (status != LIMITR_OK) return push_fail(L, b->e);
    push_number(L, out);
    return 1;
}

/* ---- Spend caps ---- */

/* The `events` option of reset/remove (default true). */
static int events_opt(lua_State *L, int idx, const char *what)
{
    return sole_bool_option(L, idx, what, "events", 1);
}

/* add_customer_cap(id, value, opts): the cap's table, or nil, err, code. */
static int l_engine_add_customer_cap(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *json = NULL;
    char *fields;
    static const char *const keys[] = {"id",
                                       "credit",
                                       "exchangeable",
                                       "overage_only",
                                       "ignore_grants",
                                       "observe_only",
                                       "overhead_cost",
                                       "follow_decrements",
                                       "hard_trailing",
                                       "shared",
                                       "shared_with",
                                       "scope",
                                       "resets",
                                       "reset_inc",
                                       "reset_sch",
                                       "expires_on",
                                       "events",
                                       NULL};
    int status, t = lua_type(L, 3);
    if (t != LUA_TNUMBER && t != LUA_TSTRING)
        return luaL_typeerror(L, 3, "number or unit string");
    check_keys(L, 4, "add_customer_cap", keys);
    lua_newtable(L); /* the options with value, as one object */
    if (lua_istable(L, 4)) {
        lua_pushnil(L);
        while (lua_next(L, 4) != 0) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, -4);
        }
    }
    lua_pushvalue(L, 3);
    lua_setfield(L, -2, "value");
    fields = to_json_text(L, lua_gettop(L), "add_customer_cap");
    lua_pop(L, 1);
    ENTER(b);
    status = limitr_add_customer_cap(b->e, id, fields, &json);
    LEAVE(b);
    free(fields);
    if (status != LIMITR_OK) return push_fail_unplaced(L, b->e);
    if (json == NULL)
        return push_fail_text(L, "the cap was removed by an event handler",
                              "unknown_cap");
    return push_result_text(L, json);
}

static int l_engine_customer_cap(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *cap = check_string(L, 3), *json;
    int status;
    ENTER(b);
    status = limitr_customer_cap(b->e, id, cap, &json);
    LEAVE(b);
    if (status != LIMITR_OK) return push_fail(L, b->e);
    return push_result_text(L, json);
}

static int l_engine_reset_customer_cap(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *cap = check_string(L, 3);
    int events = events_opt(L, 4, "reset_customer_cap"), status;
    ENTER(b);
    status = limitr_reset_customer_cap(b->e, id, cap, events);
    LEAVE(b);
    return push_done(L, b->e, status);
}

static int l_engine_remove_customer_cap(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *cap = check_string(L, 3);
    int events = events_opt(L, 4, "remove_customer_cap"), status;
    ENTER(b);
    status = limitr_remove_customer_cap(b->e, id, cap, events);
    LEAVE(b);
    return push_done(L, b->e, status);
}

/* ---- Customer graph and overrides ---- */

static int l_engine_set_customer_refs(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2);
    char *refs;
    int status;
    luaL_checktype(L, 3, LUA_TTABLE);
    refs = to_json_text(L, 3, "set_customer_refs");
    ENTER(b);
    status = limitr_set_customer_refs(b->e, id, refs);
    LEAVE(b);
    free(refs);
    return push_done(L, b->e, status);
}

static int l_engine_set_customer_plan(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *plan = check_string(L, 3);
    int overwrite, status;
    overwrite =
        sole_bool_option(L, 4, "set_customer_plan", "overwrite_meters", 0);
    ENTER(b);
    status = limitr_set_customer_plan(b->e, id, plan, overwrite);
    LEAVE(b);
    return push_done(L, b->e, status);
}

static int l_engine_set_alt_customer_id(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *alt = check_string(L, 3);
    int status;
    ENTER(b);
    status = limitr_set_alt_customer_id(b->e, id, alt);
    LEAVE(b);
    return push_done(L, b->e, status);
}

static int l_engine_delete_alt_customer_id(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *alt = check_string(L, 2);
    int status;
    ENTER(b);
    status = limitr_delete_alt_customer_id(b->e, alt);
    LEAVE(b);
    return push_done(L, b->e, status);
}

static int l_engine_create_customer_override(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *ent = check_string(L, 3);
    const char *json = NULL;
    char *fields;
    int status;
    luaL_checktype(L, 4, LUA_TTABLE);
    fields = object_json_text(L, 4, "create_customer_override");
    ENTER(b);
    status = limitr_create_customer_override(b->e, id, ent, fields, &json);
    LEAVE(b);
    free(fields);
    if (status != LIMITR_OK) return push_fail_unplaced(L, b->e);
    if (json == NULL) /* an event handler removed it again */
        return push_fail_text(L,
                              "the override was removed by an event "
                              "handler",
                              "no_override");
    return push_result_text(L, json);
}

static int l_engine_remove_customer_override(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *id = check_string(L, 2), *ent = check_string(L, 3);
    int status;
    ENTER(b);
    status = limitr_remove_customer_override(b->e, id, ent);
    LEAVE(b);
    return push_done(L, b->e, status);
}

/* ---- Events and host functions ---- */

/* A live callback holding the function at idx; raises on out of memory
 * before anything is kept. */
static lua_callback *new_callback(lua_State *L, engine_box *b, int idx)
{
    lua_callback *cb;
    push_functions(L, b); /* (a method of the box: it is at index 1) */
    lua_pushvalue(L, idx);
    cb = calloc(1, sizeof *cb);
    if (cb == NULL) luaL_error(L, "out of memory");
    cb->fn_ref = luaL_ref(L, -2);
    lua_pop(L, 1);
    cb->box = b;
    cb->next = b->callbacks;
    b->callbacks = cb;
    b->live++;
    return cb;
}

/* Keeps the error at the top of the stack as the callback's message. */
static const char *callback_failed(lua_callback *cb, lua_State *L)
{
    const char *msg =
        lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    free(cb->error);
    cb->error = strdup(msg != NULL ? msg : "(error object is not a string)");
    lua_pop(L, 1);
    return cb->error != NULL ? cb->error : "out of memory";
}

/* ---- Event payloads ----
 *
 * A payload arrives as items (limitr.h) and is pushed as plain tables. Its
 * customer snapshot is built only if the subscriber reads it: under Lua
 * 5.2+ the subscriber gets an empty table that fills itself at its first
 * read, write or pairs() (a "lazy snapshot"), from the engine's copy of the
 * customer as it was when the event fired. That copy lives while the event
 * is delivered: a lazy snapshot first read after its subscriber returned
 * raises. LuaJIT has no __pairs, so there the snapshot is pushed whole. */

/* The engine's snapshot `token` as a table, or raises. */
static void push_event_snapshot(lua_State *L, limitr_engine *e,
                                lua_Number token)
{
    uint64_t t = (uint64_t)token;
    lua_pushlightuserdata(L, e);
    lua_pushlightuserdata(L, &t);
    gc_stopped_call(L, build_event_snapshot, 2);
}

#if LUA_VERSION_NUM >= 502
/* A lazy table holds what fills it under this key (a light userdata: no
 * Lua code can make it) until it is filled: a snapshot token (number) or a
 * payload's blob (userdata). Upvalue 1 of the metamethods: the box's cell,
 * {[1] = the box as light userdata} until close(). */
static const char token_key = 0;

/* A payload's items copied into one userdata, their texts after them;
 * `filled` marks the payload's entries already set in its table. */
typedef struct item_blob {
    uint32_t filled;      /* bit k: entry k of items[0] */
    limitr_item items[1]; /* items[0] and its entries */
} item_blob;

static void push_item(lua_State *L, engine_box *b, int keys,
                      const limitr_item *items, size_t *i);
static void push_keys(lua_State *L, engine_box *b);
static void push_key(lua_State *L, engine_box *b, int keys, const char *key);

/* The entries that follow an item (a table's or a list's). */
static size_t entries(const limitr_item *it)
{
    return it->kind == LIMITR_ITEM_TABLE || it->kind == LIMITR_ITEM_ARRAY
               ? it->size
               : 0;
}

/* The box, or raises once close() ran (upvalue 1: the cell). */
static engine_box *lazy_box(lua_State *L)
{
    engine_box *b;
    lua_rawgeti(L, lua_upvalueindex(1), 1);
    b = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (b == NULL || b->e == NULL)
        luaL_error(L, "event payload: the engine is closed");
    return b;
}

/* Pushes what fills lazy table t (nil once it is filled). */
static void lazy_source(lua_State *L, int t)
{
    lua_pushlightuserdata(L, (void *)&token_key);
    lua_rawget(L, t);
}

/* t is filled: a plain table from now on. */
static void lazy_done(lua_State *L, int t)
{
    lua_pushlightuserdata(L, (void *)&token_key);
    lua_pushnil(L);
    lua_rawset(L, t);
    lua_pushnil(L);
    lua_setmetatable(L, t);
}

/* The entry of items[0] named key: its index in blob->items, and its rank
 * k; 0 when there is none. */
static size_t blob_entry(const item_blob *blob, const char *key, int *rank)
{
    size_t i = 1, k, left;
    for (k = 0; k < blob->items[0].size && k < 32; k++) {
        if (strcmp(blob->items[i].key, key) == 0) {
            *rank = (int)k;
            return i;
        }
        /* skip the entry with everything nested in it */
        for (left = 1; left > 0; i++, left--)
            left += entries(&blob->items[i]);
    }
    return 0;
}

/* Sets entry `rank` (at items index i) of the blob at index bi into t. */
static void blob_fill_entry(lua_State *L, engine_box *b, int t, int bi,
                            size_t i, int rank)
{
    item_blob *blob = lua_touserdata(L, bi);
    int keys;
    luaL_checkstack(L, 6, "event payload");
    blob->filled |= (uint32_t)1 << rank;
    push_keys(L, b);
    keys = lua_gettop(L);
    push_key(L, b, keys, blob->items[i].key);
    push_item(L, b, keys, blob->items, &i);
    lua_rawset(L, t);
    lua_pop(L, 1);
}

/* Fills all of lazy table t (source at index si) and makes it plain. */
static void lazy_fill_all(lua_State *L, engine_box *b, int t, int si)
{
    if (lua_type(L, si) == LUA_TUSERDATA) {
        item_blob *blob = lua_touserdata(L, si);
        size_t i = 1, k, left;
        for (k = 0; k < blob->items[0].size && k < 32; k++) {
            size_t at = i;
            for (left = 1; left > 0; i++, left--)
                left += entries(&blob->items[i]);
            if (!(blob->filled & ((uint32_t)1 << k)))
                blob_fill_entry(L, b, t, si, at, (int)k);
        }
    } else {
        push_event_snapshot(L, b->e, lua_tonumber(L, si));
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) { /* what the subscriber wrote stays */
            lua_pushvalue(L, -2);
            if (lua_rawget(L, t) != LUA_TNIL) {
                lua_pop(L, 2);
                continue;
            }
            lua_pop(L, 1);
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, t);
        }
        lua_pop(L, 1);
    }
    lazy_done(L, t);
}

/* __index(t, k): a payload builds entry k alone; a snapshot fills whole. */
static int lazy_index(lua_State *L)
{
    engine_box *b = lazy_box(L);
    lua_settop(L, 2);
    lazy_source(L, 1);             /* 3 */
    if (lua_isnil(L, 3)) return 1; /* filled: nothing else to give */
    if (lua_type(L, 3) == LUA_TUSERDATA) {
        const char *key =
            lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
        item_blob *blob = lua_touserdata(L, 3);
        int rank;
        size_t i = key != NULL ? blob_entry(blob, key, &rank) : 0;
        if (i == 0 || (blob->filled & ((uint32_t)1 << rank))) {
            lua_pushnil(L);
            return 1;
        }
        blob_fill_entry(L, b, 1, 3, i, rank);
    } else {
        lazy_fill_all(L, b, 1, 3);
    }
    lua_pushvalue(L, 2);
    lua_rawget(L, 1);
    return 1;
}

/* __newindex(t, k, v): a payload entry written before it was read is the
 * writer's from then on; a snapshot fills whole first. */
static int lazy_newindex(lua_State *L)
{
    engine_box *b = lazy_box(L);
    lua_settop(L, 3);
    lazy_source(L, 1); /* 4 */
    if (lua_type(L, 4) == LUA_TUSERDATA) {
        item_blob *blob = lua_touserdata(L, 4);
        int rank;
        if (lua_type(L, 2) == LUA_TSTRING &&
            blob_entry(blob, lua_tostring(L, 2), &rank) != 0)
            blob->filled |= (uint32_t)1 << rank;
    } else if (!lua_isnil(L, 4)) {
        lazy_fill_all(L, b, 1, 4);
    }
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 0;
}

/* next() for the filled table (the global one may be gone). */
static int lazy_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_next(L, 1)) return 2;
    lua_pushnil(L);
    return 1;
}

static int lazy_pairs(lua_State *L)
{
    engine_box *b = lazy_box(L);
    lua_settop(L, 1);
    lazy_source(L, 1);
    if (!lua_isnil(L, 2)) lazy_fill_all(L, b, 1, 2);
    lua_pushcfunction(L, lazy_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Makes the box's metatable of lazy snapshots and its cell. */
static void make_lazy_mt(lua_State *L, engine_box *b)
{
    static const luaL_Reg methods[] = {{"__index", lazy_index},
                                       {"__newindex", lazy_newindex},
                                       {"__pairs", lazy_pairs},
                                       {NULL, NULL}};
    lua_createtable(L, 0, 3);
    lua_createtable(L, 1, 0); /* the cell */
    lua_pushlightuserdata(L, b);
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, -1);
    b->lazy_cell_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    luaL_setfuncs(L, methods, 1);
    b->lazy_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* An empty-looking table that fills itself from the value on top (popped)
 * when first used; next() alone sees that value. */
static void push_lazy(lua_State *L, engine_box *b, int fields)
{
    if (b->lazy_mt_ref == LUA_NOREF) make_lazy_mt(L, b);
    lua_createtable(L, 0, fields + 1);
    lua_pushlightuserdata(L, (void *)&token_key);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_remove(L, -2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, b->lazy_mt_ref);
    lua_setmetatable(L, -2);
}

/* A lazy snapshot of the engine's snapshot `token`, its `id` (when known)
 * set at once: the field most read, and one that never changes. */
static void push_lazy_snapshot(lua_State *L, engine_box *b, lua_Number token,
                               const char *id)
{
    lua_pushnumber(L, token);
    push_lazy(L, b, id != NULL);
    if (id != NULL) { /* raw: the table has its metatable already */
        lua_pushliteral(L, "id");
        lua_pushstring(L, id);
        lua_rawset(L, -3);
    }
}

static int has_text(const limitr_item *it)
{
    return (it->kind == LIMITR_ITEM_STRING || it->kind == LIMITR_ITEM_JSON ||
            it->kind == LIMITR_ITEM_SNAPSHOT) &&
           it->text != NULL;
}

/* A lazy payload: the items (a TABLE first) copied into a blob, built into
 * tables only when the subscriber reads the payload. */
static void push_lazy_payload(lua_State *L, engine_box *b,
                              const limitr_item *items, size_t n)
{
    size_t i, bytes = offsetof(item_blob, items) + n * sizeof *items;
    item_blob *blob;
    char *text;
    for (i = 0; i < n; i++)
        if (has_text(&items[i])) bytes += strlen(items[i].text) + 1;
    blob = lua_newuserdatauv(L, bytes, 0);
    blob->filled = 0;
    memcpy(blob->items, items, n * sizeof *items);
    text = (char *)&blob->items[n];
    for (i = 0; i < n; i++) {
        limitr_item *it = &blob->items[i];
        if (has_text(it)) {
            size_t len = strlen(it->text) + 1;
            memcpy(text, it->text, len);
            it->text = text;
            text += len;
        }
    }
    push_lazy(L, b, 0);
}
#endif

/* Fills the table at idx if it is a lazy one (it holds token_key), as
 * pairs() does: for the copies that read tables raw. */
static void fill_lazy_for_copy(lua_State *L, int idx)
{
#if LUA_VERSION_NUM >= 502
    idx = lua_absindex(L, idx);
    lua_pushlightuserdata(L, (void *)&token_key);
    if (lua_rawget(L, idx) == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (luaL_getmetafield(L, idx, "__pairs") == LUA_TNIL) return;
    lua_pushvalue(L, idx);
    lua_call(L, 1, 3);
    lua_pop(L, 3);
#else
    (void)L;
    (void)idx;
#endif
}

/* At close(): lazy snapshots still around raise instead of reading the
 * freed engine, and the key slots go. */
static void forget_payload_state(lua_State *L, engine_box *b)
{
#if LUA_VERSION_NUM >= 502
    if (b->lazy_mt_ref != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, b->lazy_cell_ref);
        lua_pushnil(L);
        lua_rawseti(L, -2, 1);
        lua_pop(L, 1);
        luaL_unref(L, LUA_REGISTRYINDEX, b->lazy_mt_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, b->lazy_cell_ref);
        b->lazy_mt_ref = b->lazy_cell_ref = LUA_NOREF;
    }
#endif
    luaL_unref(L, LUA_REGISTRYINDEX, b->keys_ref);
    b->keys_ref = LUA_NOREF;
}

/* Pushes an item's key (static: limitr.h) from the box's key slots, where
 * the table at keys holds it as a Lua string: no strcmp, no hashing of the
 * text once a key is known. */
static void push_key(lua_State *L, engine_box *b, int keys, const char *key)
{
    if (keys == 0) { /* keys that are not static (a snippet's tables) */
        lua_pushstring(L, key);
        return;
    }
    size_t slot =
        (size_t)(((uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15u) >> 58);
    lua_rawgeti(L, keys, (lua_Integer)slot + 1);
    if (b->key_ptrs[slot] == key) return;
    lua_pop(L, 1);
    lua_pushstring(L, key);
    lua_pushvalue(L, -1);
    lua_rawseti(L, keys, (lua_Integer)slot + 1);
    b->key_ptrs[slot] = key;
}

/* Pushes items[*i] (a table with its entries) and moves *i past it; keys
 * is the index of the box's key table, or 0 for keys that are not static
 * (push_key). */
static void push_item(lua_State *L, engine_box *b, int keys,
                      const limitr_item *items, size_t *i)
{
    const limitr_item *it = &items[(*i)++];
    size_t k;
    switch (it->kind) {
    case LIMITR_ITEM_NUMBER:
        push_number(L, it->number);
        return;
    case LIMITR_ITEM_STRING:
        lua_pushstring(L, it->text);
        return;
    case LIMITR_ITEM_JSON:
        push_json_text(L, it->text);
        return;
    case LIMITR_ITEM_SNAPSHOT:
#if LUA_VERSION_NUM >= 502
        push_lazy_snapshot(L, b, (lua_Number)it->snapshot, it->text);
#else
        push_event_snapshot(L, b->e, (lua_Number)it->snapshot);
#endif
        return;
    case LIMITR_ITEM_BOOLEAN:
        lua_pushboolean(L, it->number != 0);
        return;
    case LIMITR_ITEM_NULL:
        lua_pushnil(L);
        return;
    case LIMITR_ITEM_ARRAY:
        luaL_checkstack(L, 4, "value nested too deeply");
        lua_createtable(L, (int)it->size, 0);
        for (k = 0; k < it->size; k++) {
            push_item(L, b, keys, items, i);
            lua_rawseti(L, -2, (lua_Integer)k + 1);
        }
        return;
    case LIMITR_ITEM_TABLE:
        break;
    }
    luaL_checkstack(L, 4, "event payload");
    lua_createtable(L, 0, (int)it->size);
    for (k = 0; k < it->size; k++) {
        push_key(L, b, keys, items[*i].key);
        push_item(L, b, keys, items, i);
        lua_rawset(L, -3);
    }
}

/* Pushes the box's key table (push_key), made at first use. */
static void push_keys(lua_State *L, engine_box *b)
{
    if (b->keys_ref == LUA_NOREF) {
        lua_createtable(L, KEY_SLOTS, 0);
        b->keys_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        memset(b->key_ptrs, 0, sizeof b->key_ptrs);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, b->keys_ref);
}

/* What a subscriber call receives, on the C stack of the trampoline. */
typedef struct event_call {
    lua_callback *cb;
    const char *name;
    const limitr_item *items;
    size_t n;
} event_call;

/* Runs inside lua_pcall: (fn, event_call as light userdata). The
 * trampolines only push values that cannot raise, so no Lua error ever
 * unwinds through the engine's C frames. */
static int call_subscriber(lua_State *L)
{
    const event_call *ev = lua_touserdata(L, 2);
    engine_box *b = ev->cb->box;
    size_t i = 0;
    lua_settop(L, 1);
#if LUA_VERSION_NUM >= 502
    if (ev->items[0].kind == LIMITR_ITEM_TABLE) {
        push_lazy_payload(L, b, ev->items, ev->n);
    } else
#endif
    {
        push_keys(L, b); /* 2 */
        push_item(L, b, 2, ev->items, &i);
        lua_remove(L, 2);
    }
    lua_pushstring(L, ev->name);
    lua_call(L, 2, 0);
    return 0;
}

/* Pushes cb's function (the engine calls it from inside a method of its
 * box); 0, the stack as it was, when the box is not at hand. */
static int push_function(lua_State *L, const lua_callback *cb)
{
    if (!push_functions(L, cb->box)) return 0;
    lua_rawgeti(L, -1, cb->fn_ref);
    lua_remove(L, -2);
    return 1;
}

static const char *on_trampoline(const char *name, const limitr_item *items,
                                 size_t n, void *userdata)
{
    lua_callback *cb = userdata;
    lua_State *L = cb->box->L;
    const char *failure = NULL;
    event_call ev;
    if (cb->fn_ref == LUA_NOREF) return NULL; /* released: not called */
    if (L == NULL) /* outside every method of its engine: none should be */
        return "callback called outside its engine's methods";
    if (!lua_checkstack(L, 8)) return "Lua stack overflow";
    ev.cb = cb;
    ev.name = name;
    ev.items = items;
    ev.n = n;
    if (!push_function(L, cb)) return "subscriber called outside its engine";
    lua_pushcfunction(L, call_subscriber);
    lua_insert(L, -2);
    lua_pushlightuserdata(L, &ev);
    cb->running++; /* off() inside it must not free cb under us */
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) failure = callback_failed(cb, L);
    cb->running--;
    return failure;
}

static int l_engine_on(lua_State *L)
{
    engine_box *b = check_box(L);
    const char *name = check_string(L, 2);
    lua_callback *cb;
    int id, status;
    luaL_checktype(L, 3, LUA_TFUNCTION);
    cb = new_callback(L, b, 3);
    status = limitr_on_items(b->e, name, on_trampoline, cb, &id);
    if (status != LIMITR_OK) { /* the engine kept nothing */
        release_callback(L, b, cb);
        return push_fail(L, b->e);
    }
    cb->sub_id = id;
    lua_pushinteger(L, id);
    return 1;
}

static int l_engine_off(lua_State *L)
{
    engine_box *b = check_box(L);
    lua_Integer id = luaL_checkinteger(L, 2);
    lua_callback *cb;
    int status;
    if (id < INT_MIN || id > INT_MAX) /* no subscription has such an id */
        return push_fail_text(L, "no subscription has this id",
                              "no_subscription");
    status = limitr_off(b->e, (int)id);
    if (status != LIMITR_OK) return push_fail(L, b->e);
    for (cb = b->callbacks; cb != NULL; cb = cb->next)
        if (cb->sub_id == id && cb->fn_ref != LUA_NOREF) {
            release_callback(L, b, cb);
            break;
        }
    return push_true(L);
}

/* A host function call, on the C stack of its trampoline. */
typedef struct host_call {
    lua_callback *cb;
    const limitr_item *args; /* an ARRAY of the arguments first */
    size_t n;
} host_call;

/* Runs inside lua_pcall: (fn, host_call as light userdata, the results
 * table). Calls fn with the arguments, plain tables (an App function's
 * payload too, but for its customer, read when first used as a
 * subscriber's is) and keeps its first result as items, the value held in
 * the results table (the box's functions table's, so that a result that
 * refers to the engine does not keep it alive). */
static int call_host_fn(lua_State *L)
{
    const host_call *hc = lua_touserdata(L, 2);
    lua_callback *cb = hc->cb;
    engine_box *b = cb->box;
    const char *err = "out of memory";
    size_t i = 1, k, nargs = hc->args[0].size;
    lua_settop(L, 3);
    luaL_checkstack(L, (int)nargs + 8, "too many arguments");
    lua_pushvalue(L, 1);
    /* A snippet's table keys live in its VM, not at static addresses: no
       key slots (0). */
    for (k = 0; k < nargs; k++)
        push_item(L, b, 0, hc->args, &i);
    lua_call(L, (int)nargs, 1);
    cb->result.n = 0;
    lua_pushlightuserdata(L, cb);
    lua_pushvalue(L, -2);
    lua_rawset(L, 3); /* the value its items point into stays alive */
    if (!lua_isnil(L, -1) &&
        lua_items_from(L, -1, NULL, 0, &cb->result, &err) != 0)
        return luaL_error(L, "result: %s", err);
    return 0;
}

static const char *lib_trampoline(const limitr_item *args, size_t n,
                                  const limitr_item **result, size_t *n_result,
                                  void *userdata)
{
    lua_callback *cb = userdata;
    lua_State *L = cb->box->L;
    const char *failure = NULL;
    host_call hc;
    *result = NULL;
    *n_result = 0;
    if (cb->fn_ref == LUA_NOREF) return "host function was replaced";
    if (L == NULL) /* outside every method of its engine: none should be */
        return "callback called outside its engine's methods";
    if (!lua_checkstack(L, 8)) return "Lua stack overflow";
    hc.cb = cb;
    hc.args = args;
    hc.n = n;
    if (!push_function(L, cb)) return "host function called outside its engine";
    lua_pushcfunction(L, call_host_fn);
    lua_insert(L, -2);
    lua_pushlightuserdata(L, &hc);
    push_functions(L, cb->box); /* (push_function found the box) */
    lua_getfield(L, -1, "results");
    if (lua_type(L, -1) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 1);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "results");
    }
    lua_remove(L, -2);
    cb->running++;
    if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
        failure = callback_failed(cb, L);
    } else if (cb->result.n > 0) {
        *result = cb->result.items;
        *n_result = cb->result.n;
    }
    cb->running--;
    return failure;
}

/* lib(lib, name, fn): true, or nil, err, code. A registration replaces the
 * one of the same lib.name, whose function is then released. */
static int l_engine_lib(lua_State *L)
{
    engine_box *b = check_box(L);
    size_t lib_len, name_len;
    const char *lib = luaL_checklstring(L, 2, &lib_len);
    const char *name = luaL_checklstring(L, 3, &name_len);
    lua_callback *cb, *old;
    char *key;
    check_string(L, 2); /* no NUL bytes */
    check_string(L, 3);
    if (lua_type(L, 4) == LUA_TNIL) { /* lib(lib, name, nil) removes it */
        if (limitr_lib(b->e, lib, name, NULL, NULL) != LIMITR_OK)
            return push_fail(L, b->e);
        for (old = b->callbacks; old != NULL; old = old->next)
            if (old->fn_ref != LUA_NOREF && old->lib_key != NULL &&
                strncmp(old->lib_key, lib, lib_len) == 0 &&
                old->lib_key[lib_len] == '.' &&
                strcmp(old->lib_key + lib_len + 1, name) == 0) {
                release_callback(L, b, old);
                break;
            }
        return push_true(L);
    }
    luaL_checktype(L, 4, LUA_TFUNCTION);
    cb = new_callback(L, b, 4); /* raises before keeping anything */
    key = malloc(lib_len + name_len + 2);
    if (key == NULL) {
        release_callback(L, b, cb); /* the engine has not seen it */
        return luaL_error(L, "out of memory");
    }
    memcpy(key, lib, lib_len);
    key[lib_len] = '.';
    memcpy(key + lib_len + 1, name, name_len + 1);
    cb->lib_key = key;
    if (limitr_lib_items(b->e, lib, name, lib_trampoline, cb) != LIMITR_OK) {
        release_callback(L, b, cb); /* a failed limitr_lib keeps nothing */
        return push_fail(L, b->e);
    }
    for (old = b->callbacks; old != NULL; old = old->next)
        if (old != cb && old->fn_ref != LUA_NOREF && old->lib_key != NULL &&
            strcmp(old->lib_key, key) == 0) {
            release_callback(L, b, old);
            break;
        }
    return push_true(L);
}

/* ---- Clock ---- */

static int l_engine_set_time(lua_State *L)
{
    limitr_engine *e = check_engine(L);
    return push_done(L, e,
                     limitr_set_time(e, (int64_t)luaL_checkinteger(L, 2)));
}

static int l_engine_advance(lua_State *L)
{
    limitr_engine *e = check_engine(L);
    return push_done(L, e, limitr_advance(e, (int64_t)luaL_checkinteger(L, 2)));
}

static int l_engine_now(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)limitr_now(check_engine(L)));
    return 1;
}

/* ---- LuaJIT FFI front (internal) ----
 *
 * lua/limitr/ffi.lua calls limitr_allow_n and limitr_check through LuaJIT's
 * FFI, which the JIT compiles, instead of the methods below, which stop it.
 * It loads these symbols from this shared object and passes the engine's
 * userdata itself (the FFI converts it to a pointer to the box). Not part of
 * the API: the names and behaviour may change with this file. */

/* The engine of `box` when a call through the FFI may use it directly: the
 * box is one of this module instance's, open, not inside a call (a
 * callback), and has no live Lua callback (an on() subscriber not yet
 * off(), or a lib() function: the engine keeps those for its life): a C
 * function called through the FFI must not re-enter the Lua VM, and the
 * trampolines do. NULL otherwise, and the front calls the method. */
LIMITR_LUA_API limitr_engine *limitr_lua_ffi_engine(const void *box);

/* is_refusal for the front: the one rule for both paths, so that a
 * decision answers the same through the FFI (1: false, reason; 0: nil, err,
 * code). */
LIMITR_LUA_API int limitr_lua_ffi_is_refusal(limitr_engine *e, int status);

LIMITR_LUA_API int limitr_lua_ffi_is_refusal(limitr_engine *e, int status)
{
    return is_refusal(e, status);
}

LIMITR_LUA_API limitr_engine *limitr_lua_ffi_engine(const void *box)
{
    const engine_box *b = box;
    if (b == NULL || b->magic != &engine_magic || b->busy > 0 || b->live > 0)
        return NULL;
    return b->e;
}

/* This module instance's token, also in the module table as _ffi_token: the
 * front checks that the library it loaded through the FFI is this one. */
LIMITR_LUA_API const void *limitr_lua_ffi_token(void);

LIMITR_LUA_API const void *limitr_lua_ffi_token(void)
{
    return &engine_magic;
}

static const luaL_Reg engine_methods[] = {
    {"create_customer", l_engine_create_customer},
    {"add_customer", l_engine_create_customer},
    {"customer", l_engine_customer},
    {"delete_customer", l_engine_delete_customer},
    {"allow", l_engine_allow},
    {"check", l_engine_check},
    {"increment", l_engine_increment},
    {"decrement", l_engine_decrement},
    {"explain", l_engine_explain},
    {"value", l_engine_value},
    {"remaining", l_engine_remaining},
    {"limit", l_engine_limit},
    {"cost", l_engine_cost},
    {"resets", l_engine_resets},
    {"allowance", l_engine_allowance},
    {"rate", l_engine_rate},
    {"acceleration", l_engine_acceleration},
    {"projected_exhaustion", l_engine_projected_exhaustion},
    {"set_customer_refs", l_engine_set_customer_refs},
    {"set_customer_plan", l_engine_set_customer_plan},
    {"set_alt_customer_id", l_engine_set_alt_customer_id},
    {"delete_alt_customer_id", l_engine_delete_alt_customer_id},
    {"create_customer_override", l_engine_create_customer_override},
    {"remove_customer_override", l_engine_remove_customer_override},
    {"credit_exchange", l_engine_credit_exchange},
    {"apply_customer_topup", l_engine_apply_customer_topup},
    {"ensure_included_topups", l_engine_ensure_included_topups},
    {"add_customer_grant", l_engine_add_customer_grant},
    {"remove_customer_grant", l_engine_remove_customer_grant},
    {"credit_remaining", l_engine_credit_remaining},
    {"plan", l_engine_plan},
    {"reload", l_engine_reload},
    {"export", l_engine_export},
    {"import", l_engine_import},
    {"reload_file", l_engine_reload_file},
    {"fingerprint", l_engine_fingerprint},
    {"checkpoint", l_engine_checkpoint},
    {"stats", l_engine_stats},
    {"decide", l_engine_decide},
    {"set_credit", l_engine_set_credit},
    {"credit", l_engine_credit},
    {"policy_text", l_engine_policy_text},
    {"observe", l_engine_observe},
    {"reserve", l_engine_reserve},
    {"settle", l_engine_settle},
    {"release", l_engine_release},
    {"held", l_engine_held},
    {"estimate", l_engine_estimate},
    {"customer_local_margin_breakdown",
     l_engine_customer_local_margin_breakdown},
    {"local_margin_breakdown", l_engine_local_margin_breakdown},
    {"plan_trial_period", l_engine_plan_trial_period},
    {"ensure_plan_subscription", l_engine_ensure_plan_subscription},
    {"add_customer_cap", l_engine_add_customer_cap},
    {"customer_cap", l_engine_customer_cap},
    {"reset_customer_cap", l_engine_reset_customer_cap},
    {"remove_customer_cap", l_engine_remove_customer_cap},
    {"on", l_engine_on},
    {"off", l_engine_off},
    {"lib", l_engine_lib},
    {"set_time", l_engine_set_time},
    {"advance", l_engine_advance},
    {"now", l_engine_now},
    {"close", l_engine_close},
    {NULL, NULL},
};

static const luaL_Reg engine_meta[] = {
    {"__gc", l_engine_gc},
    {"__close", l_engine_close},
    {"__tostring", l_engine_tostring},
    {NULL, NULL},
};

/* _json_decode(text): json_text_push on any text. Internal, for
 * tests/spec/json_spec.lua: the engine only ever hands over cJSON's output,
 * which never has a \u surrogate pair nor bad text to try the reader on. */
static int l_json_decode(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    json_text_push(L, text, len);
    return 1;
}

static const luaL_Reg module_functions[] = {
    {"new", l_new},
    {"load", l_load},
    {"open", l_open},
    {"shared", l_shared},
    {"_json_decode", l_json_decode},
    {NULL, NULL},
};

LIMITR_LUA_API int luaopen_limitr_core(lua_State *L);

LIMITR_LUA_API int luaopen_limitr_core(lua_State *L)
{
    if (luaL_newmetatable(L, ENGINE_MT)) {
        luaL_setfuncs(L, engine_meta, 0);
        luaL_newlib(L, engine_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_newlib(L, module_functions);
    lua_pushliteral(L, LIMITR_VERSION);
    lua_setfield(L, -2, "_VERSION");
    lua_pushlightuserdata(L, (void *)&engine_magic);
    lua_setfield(L, -2, "_ffi_token"); /* internal: see limitr_lua_ffi_token */
    return 1;
}
