/* script.c: the engine's private Lua 5.4 VM and its sandbox (docs/sandbox.md):
 * a memory ceiling per VM, an instruction budget and a deadline per call
 * that pcall cannot swallow, a read-only environment of safe functions,
 * frozen library tables, a locked string metatable and bounded patterns. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "limitr.h"
#include "script.h"
#include "script_api.h"
#include "script_pattern.h"
#include "script_sandbox.h"
/* After script_api.h: the copy is compiled against the private VM's API. */
/* Shared with the host binding: each side uses part of them. Copies out of
 * the VM fill lazy tables first (they read raw). */
static void fill_lazy_table(lua_State *L, int idx);
#define LIMITR_LUA_FILL(L, idx) fill_lazy_table(L, idx)
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include "lua_items.h"
#include "lua_json.h"
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

struct script {
    lua_State *L;
    script_host host; /* zeroed until bound */
    script_limits limits;
    size_t mem_used;
    int mem_exceeded; /* the allocator refused: LIMITR_MEMCAP */
    long instructions_left;
    int64_t deadline_ns; /* 0: the call's clock has not started yet */
    int killed; /* budget or deadline spent: sticky until the call ends */
    long pattern_left;
    int in_call;      /* nesting depth of snippet calls */
    int touched[8];   /* snippets the outermost call ran, to restore after */
    int n_touched;    /* past 8: every snippet's cells are restored */
    int policy_ref;   /* the policy globals (the `lua` chunk's environment) */
    int env_ref;      /* the read-only view snippets see (0: not made yet) */
    int freezer_ref;  /* script_freeze.c's freezer */
    int chunk_cells;  /* the chunk's functions have cells ([0] below) */
    int cells_ref;    /* upvalue cells to restore: [0] the chunk's, [ref] a
                         snippet's (script_freeze.c) */
    int lazy_mt_ref;  /* the metatable of lazy tables */
    int field_mt_ref; /* the metatable of tables with lazy fields */
    int lazy_map_ref; /* lazy table -> its script_lazy (weak keys) */
    int lazies_ref;   /* the lazy tables made by the calls in progress */
    int n_lazies;
    int dead_mt_ref; /* what a call's lazy tables get when it returns */
    char *customer;  /* limitr.meter/value's customer during a call */
};

#define HOOK_EVERY 1000 /* instructions between budget checks */

static script *of(lua_State *L)
{
    return *(script **)lua_getextraspace(L);
}

/* ---- Memory ceiling ---- */

/* Counts `ptr ? osize : 0` as the old size (osize is a type tag for new
 * blocks); never fails a free or a shrink; refuses growth past the cap. */
static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    script *s = ud;
    size_t old = ptr != NULL ? osize : 0;
    void *p;
    if (nsize == 0) {
        free(ptr);
        s->mem_used -= old;
        return NULL;
    }
    if (nsize > old && s->mem_used - old + nsize > s->limits.memory) {
        s->mem_exceeded = 1;
        return NULL;
    }
    p = realloc(ptr, nsize);
    if (p == NULL) return NULL;
    s->mem_used = s->mem_used - old + nsize;
    return p;
}

static int panic(lua_State *L)
{
    /* Unreachable: every entry into the VM is protected (docs/sandbox.md rule
     * 15). */
    (void)L;
    abort();
}

/* ---- Instruction budget and deadline ---- */

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Charges HOOK_EVERY instructions; once the budget or the deadline is
 * spent, re-arms itself on every instruction so that no pcall, xpcall or
 * error handler can run on (Redis's sticky kill, docs/sandbox.md rule 10). */
static int kill_call(lua_State *L, script *s);

/* Whether the call's deadline has passed. Its clock starts at the first
 * check: the first hook (at most HOOK_EVERY instructions in), budget charge
 * or host call, whichever comes first, so that a snippet that ends before
 * any reads no clock at all; what runs before that start is bounded by
 * HOOK_EVERY instructions. */
static int past_deadline(script *s)
{
    int64_t now = monotonic_ns();
    if (s->deadline_ns == 0) {
        s->deadline_ns = now + s->limits.milliseconds * 1000000LL;
        return 0;
    }
    return now >= s->deadline_ns;
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    script *s = of(L);
    (void)ar;
    if (!s->killed) {
        s->instructions_left -= HOOK_EVERY;
        if (s->instructions_left > 0 && !past_deadline(s)) return;
    }
    kill_call(L, s);
}

/* Kills the running call: sticky, as the hook does once a budget is spent. */
static int kill_call(lua_State *L, script *s)
{
    if (!s->killed) {
        s->killed = 1;
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    }
    lua_pushstring(L, s->instructions_left > 0
                          ? "snippet deadline exceeded"
                          : "snippet instruction budget exhausted");
    return lua_error(L);
}

void limitr__script_charge(lua_State *L, double cost)
{
    script *s = of(L);
    if (s->killed) kill_call(L, s);
    if (!(cost < (double)s->instructions_left)) {
        s->instructions_left = 0;
        kill_call(L, s);
    }
    s->instructions_left -= (long)cost;
    if (past_deadline(s)) kill_call(L, s);
}

long *limitr__pattern_budget(lua_State *L)
{
    return &of(L)->pattern_left;
}

/* pcall and xpcall that rethrow a spent budget or memory ceiling. */
static int continue_pcall(lua_State *L, int status, lua_KContext ctx)
{
    script *s = of(L);
    (void)ctx;
    if (s->killed || s->mem_exceeded) return lua_error(L);
    if (status != LUA_OK && status != LUA_YIELD) {
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    return lua_gettop(L) - 1; /* true, results... */
}

static int safe_pcall(lua_State *L)
{
    int status;
    luaL_checkany(L, 1);
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    status = lua_pcallk(L, lua_gettop(L) - 2, LUA_MULTRET, 0, 0, NULL);
    if (status != LUA_OK) return continue_pcall(L, status, 0);
    if (of(L)->killed || of(L)->mem_exceeded) return lua_error(L);
    return lua_gettop(L);
}

/* xpcall's message handler, guarded: once the call is killed, the kill is
 * raised from inside the budget hook, where Lua runs hooks off, and so
 * would the snippet's handler, past any budget. The handler then does not
 * run at all: the kill goes on as it is. */
static int guarded_handler(lua_State *L)
{
    script *s = of(L);
    if (s->killed || s->mem_exceeded) return 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_rotate(L, 1, 1);
    lua_callk(L, lua_gettop(L) - 1, 1, 0, NULL);
    return 1;
}

static int safe_xpcall(lua_State *L)
{
    int n = lua_gettop(L), status;
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, guarded_handler, 1);
    lua_copy(L, -1, 2);
    lua_settop(L, n);
    lua_pushboolean(L, 1);
    lua_pushvalue(L, 1);
    lua_rotate(L, 3, 2); /* handler, true, f, args... */
    status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 0, NULL);
    if (status != LUA_OK) return continue_pcall(L, status, 0);
    if (of(L)->killed || of(L)->mem_exceeded) return lua_error(L);
    return lua_gettop(L) - 2;
}

/* ---- Values between the engine (cJSON) and the VM ---- */

/* ---- Host libraries and the limitr helper table ---- */

/* lib.name(...): arguments and results cross by copy, as items. */
static int call_host(lua_State *L)
{
    script *s = of(L);
    const char *lib = lua_tolstring(L, lua_upvalueindex(1), NULL);
    const char *name = lua_tolstring(L, lua_upvalueindex(2), NULL);
    int n = lua_gettop(L), i;
    lua_items args = {NULL, 0, 0};
    const limitr_item *result = NULL;
    size_t n_result = 0, at = 0;
    const char *err = "out of memory";
    char *failure = NULL;
    if (past_deadline(s)) kill_call(L, s); /* the host's time counts */
    if (lua_items_add(&args, NULL, LIMITR_ITEM_ARRAY) == NULL)
        return luaL_error(L, "out of memory");
    for (i = 1; i <= n; i++) {
        if (lua_items_from(L, i, NULL, 0, &args, &err) != 0) {
            free(args.items);
            return luaL_error(L, "%s.%s: argument %d: %s", lib, name, i, err);
        }
        args.items[0].size++;
    }
    if (s->host.call == NULL) {
        free(args.items);
        return luaL_error(L, "%s.%s: no host", lib, name);
    }
    if (s->host.call(s->host.ud, lib, name, args.items, args.n, &result,
                     &n_result, &failure) != 0) {
        free(args.items);
        lua_pushfstring(L, "%s.%s: %s", lib, name,
                        failure ? failure : "out of memory");
        free(failure);
        return lua_error(L);
    }
    free(args.items);
    if (result == NULL || n_result == 0) return 0;
    lua_items_push(L, result, &at);
    return 1;
}

static int helper_now(lua_State *L)
{
    script *s = of(L);
    lua_pushinteger(L, s->host.now ? (lua_Integer)s->host.now(s->host.ud) : 0);
    return 1;
}

/* The current customer's meter of ent through the host; 0, or -1: none.
 * Raises what the host says must raise. */
static int read_meter(lua_State *L, script *s, const char *ent, script_meter *m)
{
    const char *why = NULL;
    int r;
    if (s->host.meter == NULL || s->customer == NULL) return -1;
    if (past_deadline(s)) kill_call(L, s); /* the read's time counts */
    r = s->host.meter(s->host.ud, s->customer, ent, m, &why);
    if (r == -2) return luaL_error(L, "%s", why);
    return r;
}

/* limitr.value(ent) and limitr.meter(ent): the current customer's reads. */
static int helper_value(lua_State *L)
{
    script *s = of(L);
    const char *ent = luaL_checklstring(L, 1, NULL);
    script_meter m;
    if (read_meter(L, s, ent, &m) != 0) return 0;
    lua_pushnumber(L, m.value);
    return 1;
}

static int helper_meter(lua_State *L)
{
    script *s = of(L);
    const char *ent = luaL_checklstring(L, 1, NULL);
    script_meter m;
    if (read_meter(L, s, ent, &m) != 0) return 0;
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, m.value);
    lua_setfield(L, -2, "value");
    if (m.has_limit) {
        lua_pushnumber(L, m.limit);
        lua_setfield(L, -2, "limit");
        lua_pushnumber(L, m.remaining);
        lua_setfield(L, -2, "remaining");
    }
    return 1;
}

/* ---- The sandbox ---- */

static int refuse_write(lua_State *L)
{
    return luaL_error(L, "attempt to modify a read-only table (key '%s')",
                      luaL_tolstring(L, 2, NULL));
}

/* Replaces the table at the top with a read-only proxy of it. */
static void freeze(lua_State *L)
{
    lua_createtable(L, 0, 0);       /* proxy */
    lua_createtable(L, 0, 3);       /* its metatable */
    lua_rotate(L, -3, -1);          /* proxy, mt, table */
    lua_setfield(L, -2, "__index"); /* mt.__index = table */
    lua_pushcclosure(L, refuse_write, 0);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable"); /* getmetatable gives false */
    lua_setmetatable(L, -2);
}

/* A copy of the global library `name` without the keys in `drop`, left on
 * the stack (not frozen). */
static void copy_library(lua_State *L, const char *name,
                         const char *const *drop)
{
    lua_getglobal(L, name);
    lua_createtable(L, 0, 32);
    lua_pushnil(L);
    while (lua_next(L, -3) != 0) {
        const char *const *d;
        int skip = 0;
        for (d = drop; *d != NULL; d++)
            if (lua_type(L, -2) == LUA_TSTRING &&
                strcmp(lua_tolstring(L, -2, NULL), *d) == 0)
                skip = 1;
        if (skip) {
            lua_settop(L, -2);
            continue;
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    lua_rotate(L, -2, -1);
    lua_settop(L, -2); /* the copy stays */
}

static int lazy_fill(lua_State *L);
static int lazy_field(lua_State *L);
static int lazy_pairs(lua_State *L);
static int skip_field(const struct script_field *fields, int i);

/* A registry reference to a metatable whose __index builds on demand
 * (index) and whose __pairs builds everything first; hidden from
 * snippets, which cannot reach the builders. */
/* A lazy table read after the call it was made for returned: what would
 * fill it is gone (it pointed into that call). */
static int dead_lazy(lua_State *L)
{
    return luaL_error(L, "a snapshot given to a snippet can be read only "
                         "during the call that received it");
}

static int lazy_metatable(lua_State *L, lua_CFunction index)
{
    lua_createtable(L, 0, 3);
    lua_pushcclosure(L, index, 0);
    lua_setfield(L, -2, "__index");
    lua_getglobal(L, "next");
    lua_pushcclosure(L, lazy_pairs, 1);
    lua_setfield(L, -2, "__pairs");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* The names every snippet sees (docs/sandbox.md): the base functions,
 * then pcall, xpcall, string, limitr and these libraries. */
static const char *const safe_base[] = {
    "assert",       "error",        "ipairs",   "next",
    "pairs",        "select",       "tonumber", "tostring",
    "type",         "rawequal",     "rawget",   "rawlen",
    "getmetatable", "setmetatable", "_VERSION", NULL};
static const char *const libs[] = {"math", "table", "utf8", NULL};

int limitr__script_reserved_name(const char *name)
{
    static const char *const others[] = {"pcall", "xpcall", "string",
                                         "limitr", NULL};
    const char *const *lists[] = {safe_base, libs, others};
    size_t i;
    const char *const *k;
    for (i = 0; i < sizeof lists / sizeof *lists; i++)
        for (k = lists[i]; *k != NULL; k++)
            if (strcmp(name, *k) == 0) return 1;
    return 0;
}

/* Builds the environment once, in a protected call (it allocates). */
static int build_sandbox(lua_State *L)
{
    static const char *const no_drop[] = {NULL};
    static const char *const string_drop[] = {"dump", NULL};
    script *s = of(L);
    const char *const *k;
    luaL_requiref(L, "_G", limitr__lua.luaopen_base, 1);
    luaL_requiref(L, "string", limitr__lua.luaopen_string, 1);
    luaL_requiref(L, "table", limitr__lua.luaopen_table, 1);
    luaL_requiref(L, "math", limitr__lua.luaopen_math, 1);
    luaL_requiref(L, "utf8", limitr__lua.luaopen_utf8, 1);
    lua_settop(L, 0);

    /* SAFE: what every snippet may read. */
    lua_createtable(L, 0, 32); /* 1: safe */
    for (k = safe_base; *k != NULL; k++) {
        lua_getglobal(L, *k);
        lua_setfield(L, 1, *k);
    }
    limitr__push_safe_setmetatable(L);
    lua_setfield(L, 1, "setmetatable");
    lua_pushcclosure(L, safe_pcall, 0);
    lua_setfield(L, 1, "pcall");
    lua_pushcclosure(L, safe_xpcall, 0);
    lua_setfield(L, 1, "xpcall");
    /* string: no dump, bounded patterns; also what the string metatable
       serves, so ("x"):rep() reaches this copy, never the original. */
    copy_library(L, "string", string_drop);
    limitr__pattern_install(L, lua_gettop(L));
    limitr__bounds_install(L, -1, "string");
    lua_pushvalue(L, -1);
    lua_pushstring(L, "");
    lua_getmetatable(L, -1); /* the string metatable */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable"); /* CVE-2025-46818 class */
    lua_settop(L, 2); /* safe and the copy (a copy left below became the
                         policy's globals: string functions as globals) */
    freeze(L);
    lua_setfield(L, 1, "string");
    for (k = libs; *k != NULL; k++) {
        copy_library(L, *k, no_drop);
        limitr__bounds_install(L, -1, *k);
        freeze(L);
        lua_setfield(L, 1, *k);
    }
    /* limitr: the engine's clock and the current customer's meters. */
    lua_createtable(L, 0, 3);
    lua_pushcclosure(L, helper_now, 0);
    lua_setfield(L, -2, "now");
    lua_pushcclosure(L, helper_value, 0);
    lua_setfield(L, -2, "value");
    lua_pushcclosure(L, helper_meter, 0);
    lua_setfield(L, -2, "meter");
    freeze(L);
    lua_setfield(L, 1, "limitr");

    /* POLICY: the `lua` chunk's globals, falling back to SAFE. */
    lua_createtable(L, 0, 16); /* 2: policy */
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, 2);
    lua_pushvalue(L, 2);
    s->policy_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    /* The freezer that makes ENV, the read-only view of POLICY snippets
       run in, once the chunk has run (ensure_env); SAFE and the libraries
       are read-only already. */
    limitr__push_freezer(L);
    lua_getfield(L, -1, "keep");
    lua_pushvalue(L, 1);
    lua_callk(L, 1, 0, 0, NULL);
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
        if (lua_type(L, -1) == LUA_TTABLE) {
            lua_getfield(L, -3, "keep");
            lua_pushvalue(L, -2);
            lua_callk(L, 1, 0, 0, NULL);
        }
        lua_settop(L, -2);
    }
    s->freezer_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_createtable(L, 0, 8);
    s->cells_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    /* Lazy tables and tables with lazy fields (script.h): a metatable
       each, and which fetch each table uses (the lazy map). */
    s->lazy_mt_ref = lazy_metatable(L, lazy_fill);
    s->field_mt_ref = lazy_metatable(L, lazy_field);
    lua_createtable(L, 0, 4);
    lua_createtable(L, 0, 1);
    lua_pushstring(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    s->lazy_map_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_createtable(L, 16, 0);
    s->lazies_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_createtable(L, 0, 4);
    lua_pushcclosure(L, dead_lazy, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcclosure(L, dead_lazy, 0);
    lua_setfield(L, -2, "__newindex");
    lua_pushcclosure(L, dead_lazy, 0);
    lua_setfield(L, -2, "__pairs");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    s->dead_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    /* Nothing else is reachable from a snippet; the real globals (with
       load, require, string.dump...) stay behind, unreferenced by it. */
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}

script *limitr__script_open(const script_limits *limits, const char **err)
{
    script *s;
    if (limitr__lua_api_load(err) != 0) return NULL;
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        *err = "out of memory";
        return NULL;
    }
    s->limits = *limits;
    s->L = lua_newstate(limited_alloc, s);
    if (s->L == NULL) {
        free(s);
        *err = "out of memory";
        return NULL;
    }
    *(script **)lua_getextraspace(s->L) = s;
    lua_atpanic(s->L, panic);
    lua_pushcclosure(s->L, build_sandbox, 0);
    if (lua_pcallk(s->L, 0, 0, 0, 0, NULL) != LUA_OK) {
        lua_close(s->L);
        free(s);
        *err = "out of memory while building the Lua sandbox";
        return NULL;
    }
    return s;
}

void limitr__script_bind(script *s, const script_host *host)
{
    s->host = *host;
}

void limitr__script_close(script *s)
{
    if (s == NULL) return;
    lua_close(s->L);
    free(s->customer);
    free(s);
}

void limitr__script_set_customer(script *s, const char *id)
{
    /* The same customer again (the usual case): nothing to copy. */
    if (id != NULL && s->customer != NULL && strcmp(id, s->customer) == 0)
        return;
    free(s->customer);
    s->customer = id ? strdup(id) : NULL;
}

/* ---- Calls ---- */

static void arm(script *s)
{
    s->instructions_left = s->limits.instructions;
    s->deadline_ns = 0; /* started by the first check (past_deadline) */
    s->pattern_left = s->limits.pattern_steps;
    s->killed = 0;
    s->mem_exceeded = 0;
    lua_sethook(s->L, budget_hook, LUA_MASKCOUNT, HOOK_EVERY);
}

static void disarm(script *s)
{
    lua_sethook(s->L, NULL, 0, 0);
}

/* Maps a failed protected call to a status and a message (malloc'ed). */
static int failure(script *s, int status, char **err)
{
    const char *msg = lua_type(s->L, -1) == LUA_TSTRING
                          ? lua_tolstring(s->L, -1, NULL)
                          : "(error object is not a string)";
    int code = LIMITR_SCRIPT;
    if (s->killed) {
        /* Whatever a message handler made of it, the budget is the cause. */
        code = LIMITR_BUDGET;
        msg = s->instructions_left > 0 ? "snippet deadline exceeded"
                                       : "snippet instruction budget exhausted";
    } else if (s->mem_exceeded || status == LUA_ERRMEM) {
        code = LIMITR_MEMCAP;
        msg = "snippet memory limit exceeded";
    }
    *err = strdup(msg);
    lua_settop(s->L, 0);
    return code;
}

/* ---- Read-only globals and restored cells (script_freeze.c) ---- */

/* In a protected call: ENV = freezer.root(POLICY, cells), the chunk's cells
 * kept as cells_by_ref[0]. */
static int make_env(lua_State *L)
{
    script *s = of(L);
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->freezer_ref); /* 1 */
    lua_createtable(L, 4, 0);                          /* 2: cells */
    lua_getfield(L, 1, "root");
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->policy_ref);
    lua_pushvalue(L, 2);
    lua_callk(L, 2, 1, 0, NULL);            /* 3: ENV */
    if (lua_rawgeti(L, 2, 1) != LUA_TNIL) { /* kept only when not empty */
        lua_rawgeti(L, LUA_REGISTRYINDEX, s->cells_ref);
        lua_pushvalue(L, 2);
        lua_rawseti(L, -2, 0);
        s->chunk_cells = 1;
    }
    lua_settop(L, 3);
    s->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* ENV, made once: after the `lua` chunk ran, or at the first snippet. */
static int ensure_env(script *s)
{
    int status;
    if (s->env_ref != 0) return LUA_OK;
    lua_pushcclosure(s->L, make_env, 0);
    status = lua_pcallk(s->L, 0, 0, 0, 0, NULL);
    if (status != LUA_OK) s->env_ref = 0;
    return status;
}

/* In a protected call (f, ref): walks snippet f's upvalues, its cells kept
 * as cells_by_ref[ref]. */
static int walk_snippet(lua_State *L)
{
    script *s = of(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->freezer_ref); /* 3 */
    lua_createtable(L, 3, 0);                          /* 4: cells */
    lua_getfield(L, 3, "walk");
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 4);
    lua_callk(L, 2, 0, 0, NULL);
    if (lua_rawgeti(L, 4, 1) == LUA_TNIL) return 0; /* no cells */
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->cells_ref);
    lua_pushvalue(L, 4);
    lua_rawseti(L, -2, lua_tointegerx(L, 2, NULL));
    return 0;
}

/* After the outermost call: every cell the call may have changed gets its
 * value back, the chunk's and those of the snippets it ran. */
static void restore_after_call(script *s)
{
    lua_State *L = s->L;
    int i;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->cells_ref);
    if (s->n_touched > (int)(sizeof s->touched / sizeof s->touched[0])) {
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            limitr__restore_cells(L, -1);
            lua_settop(L, -2);
        }
    } else {
        if (s->chunk_cells) {
            if (lua_rawgeti(L, -1, 0) == LUA_TTABLE)
                limitr__restore_cells(L, -1);
            lua_settop(L, -2);
        }
        for (i = 0; i < s->n_touched; i++) {
            if (lua_rawgeti(L, -1, s->touched[i]) == LUA_TTABLE)
                limitr__restore_cells(L, -1);
            lua_settop(L, -2);
        }
    }
    lua_settop(L, -2);
    s->n_touched = 0;
}

static void touch(script *s, int ref)
{
    int i, cap = (int)(sizeof s->touched / sizeof s->touched[0]);
    for (i = 0; i < s->n_touched && i < cap; i++)
        if (s->touched[i] == ref) return;
    if (s->n_touched < cap) s->touched[s->n_touched] = ref;
    if (s->n_touched <= cap) s->n_touched++;
}

int limitr__script_run_chunk(script *s, const char *code, size_t len,
                             char **err)
{
    int status;
    lua_State *L = s->L;
    if (len > LIMITR_DEFAULT_SNIPPET_SIZE) {
        *err = strdup("the chunk is larger than 256 KiB");
        return LIMITR_INVALID;
    }
    status = luaL_loadbufferx(L, code, len, "=lua", "t");
    if (status != LUA_OK) {
        char *m;
        failure(s, status, &m);
        *err = NULL;
        if (m != NULL) {
            size_t n = strlen(m) + 32;
            *err = malloc(n);
            if (*err != NULL) snprintf(*err, n, "Lua syntax error: %s", m);
            free(m);
        }
        return LIMITR_SCRIPT;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->policy_ref);
    lua_setupvalue(L, -2, 1); /* _ENV = the policy globals */
    arm(s);
    status = lua_pcallk(L, 0, 0, 0, 0, NULL);
    disarm(s);
    if (status != LUA_OK) {
        char *m;
        int code_status = failure(s, status, &m);
        size_t n = (m ? strlen(m) : 0) + 48;
        *err = malloc(n);
        if (*err != NULL)
            snprintf(*err, n, "Lua error while running the chunk: %s",
                     m ? m : "out of memory");
        free(m);
        return code_status;
    }
    status = ensure_env(s); /* the chunk's globals, read-only from now on */
    if (status != LUA_OK) return failure(s, status, err);
    return LIMITR_OK;
}

int limitr__script_compile(script *s, const char *code, size_t len,
                           const char *path, char **err)
{
    lua_State *L = s->L;
    char *text, chunkname[300];
    int status, ref;
    if (len > LIMITR_DEFAULT_SNIPPET_SIZE) {
        *err = strdup("snippet larger than 256 KiB");
        return 0;
    }
    text = malloc(len + 10);
    if (text == NULL) {
        *err = NULL;
        return 0;
    }
    memcpy(text, "return ", 7);
    memcpy(text + 7, code, len);
    snprintf(chunkname, sizeof chunkname, "=%s", path);
    status = luaL_loadbufferx(L, text, len + 7, chunkname, "t");
    if (status == LUA_OK) {
        /* One expression, not a list whose first value would be kept:
           "return (" <code> "\n)" compiles only then (the newline keeps a
           last line's comment from hiding the parenthesis). */
        size_t n = len; /* without a statement's closing ';' */
        while (n > 0 && (code[n - 1] == ';' || code[n - 1] == ' ' ||
                         code[n - 1] == '\t' || code[n - 1] == '\n' ||
                         code[n - 1] == '\r'))
            n--;
        memcpy(text, "return (", 8);
        memcpy(text + 8, code, n);
        memcpy(text + 8 + n, "\n)", 2);
        if (luaL_loadbufferx(L, text, n + 10, chunkname, "t") != LUA_OK) {
            free(text);
            lua_settop(L, 0);
            *err = strdup("a snippet must be one expression (function(...) "
                          "... end), not a list of them");
            return 0;
        }
        lua_pop(L, 1);
    }
    free(text);
    if (status != LUA_OK) {
        char *m, *line;
        failure(s, status, &m);
        *err = NULL;
        if (m == NULL) return 0;
        /* "path:3: msg" -> "Lua syntax error: snippet line 3: msg" */
        line = strncmp(m, path, strlen(path)) == 0 ? m + strlen(path) : m;
        if (line[0] == ':') {
            size_t n = strlen(line) + 48;
            *err = malloc(n);
            if (*err != NULL)
                snprintf(*err, n, "Lua syntax error: snippet line %s",
                         line + 1);
            free(m);
        } else {
            *err = m;
        }
        return 0;
    }
    if ((status = ensure_env(s)) != LUA_OK) {
        failure(s, status, err);
        return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->env_ref);
    lua_setupvalue(L, -2, 1); /* _ENV = the read-only view */
    arm(s);
    status = lua_pcallk(L, 0, 1, 0, 0, NULL);
    disarm(s);
    if (status != LUA_OK) {
        failure(s, status, err);
        return 0;
    }
    if (lua_type(L, -1) != LUA_TFUNCTION) {
        lua_settop(L, 0);
        *err = strdup("expected a Lua function expression (function(...) "
                      "... end)");
        return 0;
    }
    ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, 0);
    if (ref <= 0) return 0;
    /* Its own upvalues, should it keep any, are restored after each call. */
    lua_pushcclosure(L, walk_snippet, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_pushinteger(L, ref);
    status = lua_pcallk(L, 2, 0, 0, 0, NULL);
    if (status != LUA_OK) {
        failure(s, status, err);
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
        return 0;
    }
    return ref;
}

void limitr__script_unref(script *s, int ref)
{
    if (s == NULL || ref <= 0) return;
    luaL_unref(s->L, LUA_REGISTRYINDEX, ref);
    lua_rawgeti(s->L, LUA_REGISTRYINDEX, s->cells_ref);
    lua_pushnil(s->L);
    lua_rawseti(s->L, -2, ref);
    lua_settop(s->L, -2);
}

void limitr__script_result_free(script_result *r)
{
    if (r == NULL) return;
    free(r->string[0]);
    free(r->string[1]);
    memset(r, 0, sizeof *r);
}

/* ---- Arguments ---- */

/* What a call passes: cJSON arguments, or one argument built first (a lazy
 * table, or a table of fields). */
typedef struct call_args {
    const cJSON *const *args;
    int nargs;
    const script_lazy *lazy;    /* or: the one argument, this lazy table */
    const script_field *fields; /* or: the one argument, these fields */
    int nfields;
} call_args;

/* In a protected call: copies the fields of the cJSON object (light
 * userdata 2) into the table at 1. */
static int copy_fields(lua_State *L)
{
    const cJSON *v = lua_touserdata(L, 2), *child;
    luaL_checkstack(L, 4, "lazy table");
    for (child = v != NULL ? v->child : NULL; child != NULL;
         child = child->next) {
        if (child->string == NULL) continue;
        lua_pushstring(L, child->string);
        if (lua_rawget(L, 1) != LUA_TNIL) { /* the snippet's write stays */
            lua_settop(L, -2);
            continue;
        }
        lua_settop(L, -2);
        lua_pushstring(L, child->string);
        lua_json_push(L, child, 1);
        lua_rawset(L, 1);
    }
    return 0;
}

/* What the lazy map (script.h) holds for the table at 1, or NULL. */
static const void *lazy_mapped(lua_State *L)
{
    const void *p;
    lua_rawgeti(L, LUA_REGISTRYINDEX, of(L)->lazy_map_ref);
    lua_pushvalue(L, 1);
    lua_rawget(L, -2);
    p = lua_touserdata(L, -1);
    lua_settop(L, -3);
    return p;
}

/* Fills the table at idx from one fetch; raises what the copy raised. */
static void fill_from(lua_State *L, int idx, const script_lazy *lz)
{
    cJSON *v = lz->fetch(lz->ud, lz->key);
    int status;
    if (v == NULL) luaL_error(L, "out of memory");
    idx = lua_absindex(L, idx);
    lua_pushcclosure(L, copy_fields, 0);
    lua_pushvalue(L, idx);
    lua_pushlightuserdata(L, v);
    status = lua_pcallk(L, 2, 0, 0, 0, NULL);
    cJSON_Delete(v);
    if (status != LUA_OK) lua_error(L);
}

/* A lazy table's __index (t, k): fills t once from its fetch, drops the
 * metatable, then reads t[k] raw. */
static int lazy_fill(lua_State *L)
{
    const script_lazy *lz;
    lua_settop(L, 2);
    if ((lz = lazy_mapped(L)) == NULL) return 0;
    lua_pushnil(L);
    lua_setmetatable(L, 1);
    fill_from(L, 1, lz);
    lua_rawget(L, 1);
    return 1;
}

/* Whether the table at (absolute) idx is still lazy: its metatable is
 * that of lazy tables or of tables with lazy fields. */
static int is_lazy(lua_State *L, const script *s, int idx)
{
    int lazy;
    if (!lua_getmetatable(L, idx)) return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->lazy_mt_ref);
    lazy = lua_rawequal(L, -1, -2);
    lua_settop(L, -2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->field_mt_ref);
    lazy = lazy || lua_rawequal(L, -1, -2);
    lua_settop(L, -3);
    return lazy;
}

/* Builds what the table at 1 has not built yet, if it is a lazy table
 * (filled whole) or has lazy fields (each read once). */
static void build_lazy(lua_State *L)
{
    script *s = of(L);
    int i, whole;
    if (!lua_getmetatable(L, 1)) return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->lazy_mt_ref);
    whole = lua_rawequal(L, -1, -2);
    lua_settop(L, -3);
    if (whole) { /* a whole lazy table: any missing key fills it */
        lua_pushstring(L, "");
        lua_gettable(L, 1);
        lua_settop(L, -2);
    } else { /* read each lazy field */
        const call_args *ca = lazy_mapped(L);
        int n;
        for (i = 0, n = 0; ca != NULL && n < ca->nfields;
             i = skip_field(ca->fields, i), n++)
            if (ca->fields[i].kind == SCRIPT_FIELD_LAZY) {
                lua_getfield(L, 1, ca->fields[i].name);
                lua_settop(L, -2);
            }
    }
}

/* __pairs of lazy tables and of tables with lazy fields: builds what is
 * not built yet (reading each lazy field), then iterates raw. */
static int lazy_pairs(lua_State *L)
{
    lua_settop(L, 1);
    build_lazy(L);
    lua_pushvalue(L, lua_upvalueindex(1)); /* next */
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* build_lazy as a C function: (the table). */
static int build_lazy_call(lua_State *L)
{
    lua_settop(L, 1);
    build_lazy(L);
    return 0;
}

/* Fills the table at idx if it is one of the lazy tables (either kind),
 * as pairs() does. A table of the snippet's own is left alone (its
 * metamethods are never run by a copy: docs/sandbox.md rule 16). */
static void fill_lazy_table(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (!is_lazy(L, of(L), idx)) return;
    lua_pushcclosure(L, build_lazy_call, 0);
    lua_pushvalue(L, idx);
    lua_callk(L, 1, 0, 0, NULL);
}

/* Records the lazy table on top as made by the call in progress: it is
 * killed when that call returns (kill_lazies). */
static void remember_lazy(lua_State *L)
{
    script *s = of(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->lazies_ref);
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, (lua_Integer)s->n_lazies + 1);
    s->n_lazies++;
    lua_settop(L, -2);
}

/* The lazy tables made since `mark` still lazy get the dead metatable:
 * each one's fetch points into a call that has returned. */
static void kill_lazies(script *s, int mark)
{
    lua_State *L = s->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->lazies_ref);
    for (; s->n_lazies > mark; s->n_lazies--) {
        lua_rawgeti(L, -1, s->n_lazies);
        if (is_lazy(L, s, lua_gettop(L))) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, s->dead_mt_ref);
            lua_setmetatable(L, -2);
        }
        lua_settop(L, -2);
        lua_pushnil(L);
        lua_rawseti(L, -2, s->n_lazies);
    }
    lua_settop(L, -2);
}

/* Pushes a whole lazy table for lz: empty but for its id, the shared
 * metatable, and its entry in the lazy map. */
static void push_lazy(lua_State *L, const script_lazy *lz)
{
    script *s = of(L);
    lua_createtable(L, 0, lz->id != NULL);
    if (lz->id != NULL) {
        lua_pushstring(L, lz->id);
        lua_setfield(L, -2, "id");
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->lazy_mt_ref);
    lua_setmetatable(L, -2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->lazy_map_ref);
    lua_pushvalue(L, -2);
    lua_pushlightuserdata(L, (void *)lz);
    lua_rawset(L, -3);
    lua_settop(L, -2);
    remember_lazy(L);
}

/* In a protected call: the lazy table of call_args (light userdata 1). */
static int make_lazy(lua_State *L)
{
    const call_args *ca = lua_touserdata(L, 1);
    lua_settop(L, 0);
    push_lazy(L, ca->lazy);
    return 1;
}

/* Pushes a number as Lua would read it: integral values as integers. */
static void push_number(lua_State *L, double d)
{
    if (d >= -9007199254740992.0 && d <= 9007199254740992.0 &&
        d == (double)(lua_Integer)d)
        lua_pushinteger(L, (lua_Integer)d);
    else
        lua_pushnumber(L, d);
}

/* The index of the field after field i and everything nested in it. */
static int skip_field(const script_field *fields, int i)
{
    int left = 1;
    for (; left > 0; i++, left--)
        if (fields[i].kind == SCRIPT_FIELD_TABLE) left += fields[i].size;
    return i;
}

/* Pushes field *i (a table with its fields) and moves *i past it; a lazy
 * field is left out (0 returned), the others pushed (1). */
static int push_field(lua_State *L, const script_field *fields, int *i)
{
    const script_field *f = &fields[(*i)++];
    int k;
    switch (f->kind) {
    case SCRIPT_FIELD_NUMBER:
        push_number(L, f->number);
        return 1;
    case SCRIPT_FIELD_STRING:
        lua_pushstring(L, f->string);
        return 1;
    case SCRIPT_FIELD_JSON:
        if (f->json == NULL)
            lua_pushnil(L);
        else
            lua_json_push(L, f->json, 0);
        return 1;
    case SCRIPT_FIELD_LAZY:
        return 0;
    case SCRIPT_FIELD_TABLE:
        break;
    }
    luaL_checkstack(L, 4, "table of fields");
    lua_createtable(L, 0, f->size);
    for (k = 0; k < f->size; k++) {
        const char *name = fields[*i].name;
        if (push_field(L, fields, i)) lua_setfield(L, -2, name);
    }
    return 1;
}

/* In a protected call (call_args): the one argument of
 * limitr__script_call_fields, a table of the fields. Lazy fields are not
 * there: the table's metatable builds one the first time it is read. */
static int make_ctx(lua_State *L)
{
    script *s = of(L);
    const call_args *ca = lua_touserdata(L, 1);
    int i = 0, k, lazy = 0;
    lua_settop(L, 0);
    lua_createtable(L, 0, ca->nfields);
    for (k = 0; k < ca->nfields; k++) {
        const char *name = ca->fields[i].name;
        if (push_field(L, ca->fields, &i))
            lua_setfield(L, 1, name);
        else
            lazy = 1;
    }
    if (lazy) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, s->lazy_map_ref);
        lua_pushvalue(L, 1);
        lua_pushlightuserdata(L, (void *)ca);
        lua_rawset(L, -3);
        lua_settop(L, 1);
        lua_rawgeti(L, LUA_REGISTRYINDEX, s->field_mt_ref);
        lua_setmetatable(L, 1);
        remember_lazy(L);
    }
    return 1;
}

/* __index (t, k) of a table with lazy fields: builds field k once. */
static int lazy_field(lua_State *L)
{
    const call_args *ca;
    const char *k;
    int i, n;
    lua_settop(L, 2);
    if (lua_type(L, 2) != LUA_TSTRING) return 0;
    k = lua_tolstring(L, 2, NULL);
    ca = lazy_mapped(L);
    for (i = 0, n = 0; ca != NULL && n < ca->nfields;
         i = skip_field(ca->fields, i), n++) {
        const script_field *f = &ca->fields[i];
        if (f->kind != SCRIPT_FIELD_LAZY || strcmp(f->name, k) != 0) continue;
        push_lazy(L, &f->lazy); /* filled when read beyond its id */
        lua_pushvalue(L, 2);
        lua_pushvalue(L, 3);
        lua_rawset(L, 1); /* made once */
        return 1;
    }
    return 0;
}

/* In a protected call (call_args): pushes the cJSON arguments. */
static int push_args(lua_State *L)
{
    const call_args *ca = lua_touserdata(L, 1);
    int i;
    lua_settop(L, 0);
    luaL_checkstack(L, ca->nargs + 4, "too many arguments");
    for (i = 0; i < ca->nargs; i++)
        lua_json_push(L, ca->args[i], 0);
    return ca->nargs;
}

/* Whether every argument is a number or nil (cost functions). */
static int scalar_args(const cJSON *const *args, int nargs)
{
    int i;
    for (i = 0; i < nargs; i++)
        if (args[i] != NULL && !cJSON_IsNumber(args[i]) &&
            !cJSON_IsNull(args[i]))
            return 0;
    return 1;
}

/* The three entry points share this one. */
static int script_call(script *s, int ref, const call_args *ca,
                       script_result *res, char **err);

int limitr__script_call(script *s, int ref, const cJSON *const *args, int nargs,
                        script_result *res, char **err)
{
    call_args ca = {args, nargs, NULL, NULL, 0};
    return script_call(s, ref, &ca, res, err);
}

int limitr__script_call_lazy(script *s, int ref, const script_lazy *arg,
                             script_result *res, char **err)
{
    call_args ca = {NULL, 1, arg, NULL, 0};
    return script_call(s, ref, &ca, res, err);
}

int limitr__script_call_fields(script *s, int ref, const script_field *fields,
                               int nfields, script_result *res, char **err)
{
    call_args ca = {NULL, 1, NULL, fields, nfields};
    return script_call(s, ref, &ca, res, err);
}

static int script_call(script *s, int ref, const call_args *ca,
                       script_result *res, char **err)
{
    lua_State *L = s->L;
    int status = LUA_OK, i, top = lua_gettop(L), nargs = ca->nargs;
    int mark = s->n_lazies;
    /* a lazy table or a table of fields is built first and kept below the
       call, to be disarmed after it */
    int built = ca->lazy != NULL || ca->fields != NULL;
    if (res != NULL) memset(res, 0, sizeof *res);
    *err = NULL;
    /* A snippet that calls the engine may run another snippet: the outer
       call's budget carries on. */
    if (s->in_call == 0) arm(s);
    s->in_call++;
    touch(s, ref);
    if (built) {
        lua_pushcclosure(L, ca->fields != NULL ? make_ctx : make_lazy, 0);
        lua_pushlightuserdata(L, (void *)ca);
        status = lua_pcallk(L, 1, 1, 0, 0, NULL);
        if (status == LUA_OK) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
            lua_pushvalue(L, top + 1);
        }
    } else if (scalar_args(ca->args, nargs) && lua_checkstack(L, nargs + 1)) {
        /* numbers and nils allocate nothing: no protected call needed */
        lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
        for (i = 0; i < nargs; i++)
            if (ca->args[i] == NULL || cJSON_IsNull(ca->args[i]))
                lua_pushnil(L);
            else
                push_number(L, ca->args[i]->valuedouble);
    } else {
        lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
        lua_pushcclosure(L, push_args, 0);
        lua_pushlightuserdata(L, (void *)ca);
        status = lua_pcallk(L, 1, nargs, 0, 0, NULL);
    }
    if (status == LUA_OK) status = lua_pcallk(L, nargs, 2, 0, 0, NULL);
    kill_lazies(s, mark); /* the tables made for this call */
    s->in_call--;
    if (s->in_call == 0) {
        disarm(s);
        restore_after_call(s);
    }
    if (status != LUA_OK) {
        int code = failure(s, status, err);
        lua_settop(L, top);
        return code;
    }
    if (res != NULL) {
        res->n = 2;
        for (i = 0; i < 2; i++) {
            int idx = top + built + 1 + i;
            switch (lua_type(L, idx)) {
            case LUA_TNIL:
                res->type[i] = SCRIPT_NIL;
                break;
            case LUA_TBOOLEAN:
                res->type[i] = SCRIPT_BOOLEAN;
                res->boolean[i] = lua_toboolean(L, idx);
                break;
            case LUA_TNUMBER:
                res->type[i] = SCRIPT_NUMBER;
                res->number[i] = lua_tonumberx(L, idx, NULL);
                break;
            case LUA_TSTRING: { /* one with a NUL byte cannot cross whole */
                size_t len;
                const char *text = lua_tolstring(L, idx, &len);
                res->string[i] = strlen(text) == len ? strdup(text) : NULL;
                res->type[i] =
                    res->string[i] != NULL ? SCRIPT_STRING : SCRIPT_OTHER;
                break;
            }
            default:
                res->type[i] = SCRIPT_OTHER;
            }
        }
    }
    lua_settop(L, top);
    return LIMITR_OK;
}

/* Runs in a protected call: (lib, name) as light userdata. SAFE[lib] is a
 * frozen proxy of a table of host functions; lib.name calls back into the
 * engine. A lib may not take a name the sandbox already uses. */
static int add_lib_protected(lua_State *L)
{
    script *s = of(L);
    const char *lib = lua_touserdata(L, 1), *name = lua_touserdata(L, 2);
    int safe;
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->policy_ref);
    lua_getmetatable(L, 1);
    lua_getfield(L, 2, "__index");
    safe = lua_gettop(L);
    lua_getfield(L, safe, lib);
    if (lua_type(L, -1) == LUA_TNIL) {
        lua_settop(L, safe);
        lua_createtable(L, 0, 4);
        freeze(L);
        lua_getmetatable(L, -1);
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "__limitr_lib");
        lua_settop(L, -2);
        lua_pushvalue(L, -1);
        lua_setfield(L, safe, lib);
    } else {
        int ours = 0;
        if (lua_getmetatable(L, -1)) {
            lua_getfield(L, -1, "__limitr_lib");
            ours = lua_toboolean(L, -1);
            lua_settop(L, -3);
        }
        if (!ours)
            return luaL_error(L, "'%s' is a name of the snippet sandbox", lib);
    }
    lua_getmetatable(L, -1);
    lua_getfield(L, -1, "__index"); /* the functions table */
    lua_pushstring(L, lib);
    lua_pushstring(L, name);
    lua_pushcclosure(L, call_host, 2);
    lua_setfield(L, -2, name);
    return 0;
}

int limitr__script_add_lib(script *s, const char *lib, const char *name,
                           char **err)
{
    lua_State *L = s->L;
    int status;
    *err = NULL;
    lua_pushcclosure(L, add_lib_protected, 0);
    lua_pushlightuserdata(L, (void *)lib);
    lua_pushlightuserdata(L, (void *)name);
    status = lua_pcallk(L, 2, 0, 0, 0, NULL);
    if (status != LUA_OK) return failure(s, status, err);
    lua_settop(L, 0);
    return LIMITR_OK;
}
