/* compat.h: the few Lua 5.2+ API calls limitr_core.c uses that LuaJIT 2.1
 * (the 5.1 API) lacks, as prefixed shims. Nothing here is compiled for
 * Lua 5.4, so that build stays exactly as it was. */
#ifndef LIMITR_LUA_COMPAT_H
#define LIMITR_LUA_COMPAT_H

#include <lauxlib.h>
#include <lua.h>

#if LUA_VERSION_NUM == 501

/* LuaJIT 2.1 already has luaL_setfuncs, luaL_setmetatable, luaL_newlib,
 * luaL_testudata, lua_tonumberx, lua_tointegerx and LUA_OK (lua.h and
 * lauxlib.h in /usr/include/luajit-2.1): those are never redefined here, as
 * a second definition clashes with the host's (openresty lua-cjson). */

#ifndef LUA_OK
#define LUA_OK 0
#endif

static inline int limitr_compat_absindex(lua_State *L, int idx)
{
    return (idx > 0 || idx <= LUA_REGISTRYINDEX) ? idx
                                                 : lua_gettop(L) + idx + 1;
}

/* Lua 5.4's one user value of a full userdata is its environment table in
 * 5.1 (the box's functions table: limitr_core.c, "Callbacks' life"): the
 * collector traverses it as part of the userdata, as 5.4 does its user
 * values. */
static inline void *limitr_compat_newuserdatauv(lua_State *L, size_t size,
                                                int nuvalue)
{
    (void)nuvalue;
    return lua_newuserdata(L, size);
}

static inline int limitr_compat_getiuservalue(lua_State *L, int idx, int n)
{
    (void)n;
    lua_getfenv(L, idx);
    return lua_type(L, -1);
}

static inline int limitr_compat_setiuservalue(lua_State *L, int idx, int n)
{
    (void)n;
    return lua_setfenv(L, idx);
}

/* Lua 5.4's luaL_typeerror, message for message: "bad argument #N to
 * 'name' (string expected, got number)", with the __name of the value's
 * metatable or "light userdata" as the actual type. LuaJIT's luaL_typerror
 * (one 'e') gives the same text for plain values but knows neither __name
 * nor light userdata, and does not return an int for the caller to return. */
static inline int limitr_compat_typeerror(lua_State *L, int arg,
                                          const char *tname)
{
    const char *msg, *typearg;
    if (luaL_getmetafield(L, arg, "__name") &&
        lua_type(L, -1) == LUA_TSTRING)
        typearg = lua_tostring(L, -1);
    else if (lua_type(L, arg) == LUA_TLIGHTUSERDATA)
        typearg = "light userdata";
    else
        typearg = luaL_typename(L, arg);
    msg = lua_pushfstring(L, "%s expected, got %s", tname, typearg);
    return luaL_argerror(L, arg, msg);
}

/* Lua 5.4's luaL_checkinteger refuses a number with a fraction; LuaJIT's
 * truncates it. Whole numbers (and strings of them) pass as in 5.4. */
static inline lua_Integer limitr_compat_checkinteger(lua_State *L, int arg)
{
    lua_Number n = luaL_checknumber(L, arg);
    lua_Integer i = (lua_Integer)n;
    if ((lua_Number)i != n)
        luaL_argerror(L, arg, "number has no integer representation");
    return i;
}

#define lua_absindex(L, i) limitr_compat_absindex(L, i)
#define lua_rawlen(L, i) lua_objlen(L, i)
#define lua_newuserdatauv(L, s, n) limitr_compat_newuserdatauv(L, s, n)
#define lua_getiuservalue(L, i, n) limitr_compat_getiuservalue(L, i, n)
#define lua_setiuservalue(L, i, n) limitr_compat_setiuservalue(L, i, n)
#define luaL_typeerror(L, a, t) limitr_compat_typeerror(L, a, t)
#define luaL_checkinteger(L, a) limitr_compat_checkinteger(L, a)

#endif /* LUA_VERSION_NUM == 501 */

#endif /* LIMITR_LUA_COMPAT_H */
