/* script_bounds.c: the library functions that loop in C on a count the
 * snippet chooses, bounded. The instruction hook never fires inside a C
 * function, so string.rep("", 1e9) would run for seconds past a 100 ms
 * deadline, and rep("", math.maxinteger) forever (docs/sandbox.md rule 12).
 * Each wrapper charges the work its arguments ask for to the call's budget
 * first (limitr__script_charge), then calls Lua's own function; the charge
 * is an estimate in instructions, and a call that cannot afford it is
 * killed before any work is done. Also setmetatable without finalizers. */
#include <math.h>
#include <string.h>

#include "script_sandbox.h"

/* Calls the original function (upvalue 1) with every argument after
 * charging `cost`. */
static int charged_call(lua_State *L, double cost)
{
    limitr__script_charge(L, cost);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_rotate(L, 1, 1);
    lua_callk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, NULL);
    return lua_gettop(L);
}

/* Argument i as an integer, or def when absent; a wrong type costs nothing
 * (the original function raises). */
static double int_arg(lua_State *L, int i, double def)
{
    int isnum;
    lua_Integer v;
    if (lua_type(L, i) <= LUA_TNIL) return def;
    v = lua_tointegerx(L, i, &isnum);
    return isnum ? (double)v : def;
}

static double len_arg(lua_State *L, int i)
{
    size_t len = 0;
    if (lua_type(L, i) == LUA_TSTRING) lua_tolstring(L, i, &len);
    return (double)len;
}

/* Table lengths without metamethods: a proxy's length is its own call. */
static double table_len(lua_State *L, int i)
{
    return lua_type(L, i) == LUA_TTABLE ? (double)lua_rawlen(L, i) : 0;
}

static double count(double from, double to)
{
    return to >= from ? to - from + 1 : 0;
}

/* What a byte of copying costs, in VM instructions (about 20 ns each on
 * this kind of machine: 256 bytes are copied in that time). */
#define PER_BYTE (1.0 / 256)

/* ---- string ---- */

static int b_rep(lua_State *L) /* rep(s, n [, sep]) */
{
    double n = int_arg(L, 2, 0);
    double piece = len_arg(L, 1) + len_arg(L, 3);
    /* and a few ns per repetition, however short */
    return charged_call(L, n > 0 ? n / 8 + n * piece * PER_BYTE : 0);
}

static int b_by_length(lua_State *L) /* upper, lower, reverse, sub */
{
    return charged_call(L, len_arg(L, 1) * PER_BYTE);
}

static int b_byte(lua_State *L) /* byte(s [, i [, j]]): a value per byte */
{
    return charged_call(L, len_arg(L, 1));
}

static int b_by_args(lua_State *L) /* char, format */
{
    int i, n = lua_gettop(L);
    double bytes = 0;
    for (i = 1; i <= n; i++)
        bytes += len_arg(L, i);
    return charged_call(L, n + bytes * PER_BYTE);
}

/* ---- table ---- */

static int b_move(lua_State *L) /* move(a1, f, e, t [, a2]) */
{
    return charged_call(L, count(int_arg(L, 2, 1), int_arg(L, 3, 0)));
}

static int b_concat(lua_State *L) /* concat(list [, sep [, i [, j]]]) */
{
    return charged_call(
        L, count(int_arg(L, 3, 1), int_arg(L, 4, table_len(L, 1))));
}

static int b_unpack(lua_State *L) /* unpack(list [, i [, j]]) */
{
    return charged_call(
        L, count(int_arg(L, 2, 1), int_arg(L, 3, table_len(L, 1))));
}

static int b_shift(lua_State *L) /* insert, remove: shift the list */
{
    return charged_call(L, table_len(L, 1));
}

static int b_sort(lua_State *L) /* sort(list [, comp]) */
{
    double n = table_len(L, 1);
    return charged_call(L, n * log2(n + 2));
}

/* ---- utf8 ---- */

static int b_utf8(lua_State *L) /* len, codepoint, offset: walk the string */
{
    return charged_call(L, len_arg(L, 1) * 16 * PER_BYTE);
}

/* ---- Installing ---- */

static void wrap(lua_State *L, int idx, const char *name, lua_CFunction fn)
{
    lua_getfield(L, idx, name);
    if (lua_type(L, -1) != LUA_TFUNCTION) { /* not in this Lua: nothing */
        lua_settop(L, -2);
        return;
    }
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, idx, name);
}

/* Every bounded function, by library. */
static const struct {
    const char *lib, *name;
    lua_CFunction fn;
} bounded[] = {
    {"string", "rep", b_rep},
    {"string", "byte", b_byte},
    {"string", "upper", b_by_length},
    {"string", "lower", b_by_length},
    {"string", "reverse", b_by_length},
    {"string", "sub", b_by_length},
    {"string", "char", b_by_args},
    {"string", "format", b_by_args},
    {"table", "move", b_move},
    {"table", "concat", b_concat},
    {"table", "unpack", b_unpack},
    {"table", "insert", b_shift},
    {"table", "remove", b_shift},
    {"table", "sort", b_sort},
    {"utf8", "len", b_utf8},
    {"utf8", "codepoint", b_utf8},
    {"utf8", "offset", b_utf8},
    {"utf8", "char", b_by_args},
};

void limitr__bounds_install(lua_State *L, int idx, const char *lib)
{
    size_t i;
    idx = lua_absindex(L, idx);
    for (i = 0; i < sizeof bounded / sizeof bounded[0]; i++)
        if (strcmp(bounded[i].lib, lib) == 0)
            wrap(L, idx, bounded[i].name, bounded[i].fn);
}

/* ---- setmetatable without finalizers ---- */

static int safe_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushstring(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "setmetatable: a metatable with __gc is not "
                                 "allowed (finalizers run outside the "
                                 "snippet's budget)");
        lua_settop(L, -2);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_rotate(L, 1, 1);
    lua_callk(L, lua_gettop(L) - 1, 1, 0, NULL);
    return 1;
}

void limitr__push_safe_setmetatable(lua_State *L)
{
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, safe_setmetatable, 1);
}
