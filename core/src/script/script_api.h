/* script_api.h: the Lua 5.4 C API as the engine's private VM uses it.
 * Policy snippets run in a Lua 5.4 that the engine loads itself (dlopen of
 * liblua5.4.so.0, see script_api.c), never the host's: inside nginx the
 * lua_* names belong to LuaJIT. Files that touch the private VM include
 * this header instead of calling lua_* directly; every lua_* / luaL_* name
 * below is redirected to a function pointer of that library. The binding
 * for the host VM (bindings/lua) does not include it. */
#ifndef LIMITR_SCRIPT_API_H
#define LIMITR_SCRIPT_API_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

/* The functions the engine uses, looked up once per process. */
typedef struct limitr_lua_api {
    lua_State *(*lua_newstate)(lua_Alloc f, void *ud);
    void (*lua_close)(lua_State *L);
    lua_CFunction (*lua_atpanic)(lua_State *L, lua_CFunction panicf);
    int (*lua_absindex)(lua_State *L, int idx);
    int (*lua_gettop)(lua_State *L);
    void (*lua_settop)(lua_State *L, int idx);
    void (*lua_pushvalue)(lua_State *L, int idx);
    void (*lua_rotate)(lua_State *L, int idx, int n);
    void (*lua_copy)(lua_State *L, int fromidx, int toidx);
    int (*lua_checkstack)(lua_State *L, int n);
    int (*lua_type)(lua_State *L, int idx);
    const char *(*lua_typename)(lua_State *L, int tp);
    int (*lua_toboolean)(lua_State *L, int idx);
    lua_Number (*lua_tonumberx)(lua_State *L, int idx, int *isnum);
    lua_Integer (*lua_tointegerx)(lua_State *L, int idx, int *isnum);
    const char *(*lua_tolstring)(lua_State *L, int idx, size_t *len);
    lua_Unsigned (*lua_rawlen)(lua_State *L, int idx);
    void *(*lua_touserdata)(lua_State *L, int idx);
    int (*lua_isinteger)(lua_State *L, int idx);
    int (*lua_isnumber)(lua_State *L, int idx);
    int (*lua_isstring)(lua_State *L, int idx);
    int (*lua_rawequal)(lua_State *L, int idx1, int idx2);
    void (*lua_pushnil)(lua_State *L);
    void (*lua_pushnumber)(lua_State *L, lua_Number n);
    void (*lua_pushinteger)(lua_State *L, lua_Integer n);
    const char *(*lua_pushlstring)(lua_State *L, const char *s, size_t len);
    const char *(*lua_pushstring)(lua_State *L, const char *s);
    const char *(*lua_pushfstring)(lua_State *L, const char *fmt, ...);
    void (*lua_pushcclosure)(lua_State *L, lua_CFunction fn, int n);
    void (*lua_pushboolean)(lua_State *L, int b);
    void (*lua_pushlightuserdata)(lua_State *L, void *p);
    void (*lua_createtable)(lua_State *L, int narr, int nrec);
    void *(*lua_newuserdatauv)(lua_State *L, size_t sz, int nuvalue);
    int (*lua_getfield)(lua_State *L, int idx, const char *k);
    void (*lua_setfield)(lua_State *L, int idx, const char *k);
    int (*lua_rawget)(lua_State *L, int idx);
    void (*lua_rawset)(lua_State *L, int idx);
    int (*lua_rawgeti)(lua_State *L, int idx, lua_Integer n);
    void (*lua_rawseti)(lua_State *L, int idx, lua_Integer n);
    int (*lua_getglobal)(lua_State *L, const char *name);
    void (*lua_setglobal)(lua_State *L, const char *name);
    int (*lua_gettable)(lua_State *L, int idx);
    void (*lua_settable)(lua_State *L, int idx);
    int (*lua_next)(lua_State *L, int idx);
    int (*lua_setmetatable)(lua_State *L, int objindex);
    int (*lua_getmetatable)(lua_State *L, int objindex);
    void (*lua_callk)(lua_State *L, int nargs, int nresults, lua_KContext ctx,
                      lua_KFunction k);
    int (*lua_pcallk)(lua_State *L, int nargs, int nresults, int errfunc,
                      lua_KContext ctx, lua_KFunction k);
    int (*lua_error)(lua_State *L);
    void (*lua_sethook)(lua_State *L, lua_Hook func, int mask, int count);
    lua_Hook (*lua_gethook)(lua_State *L);
    int (*lua_gethookmask)(lua_State *L);
    const char *(*lua_getupvalue)(lua_State *L, int funcindex, int n);
    const char *(*lua_setupvalue)(lua_State *L, int funcindex, int n);
    void *(*lua_upvalueid)(lua_State *L, int fidx, int n);
    int (*lua_iscfunction)(lua_State *L, int idx);
    int (*lua_gc)(lua_State *L, int what, ...);
    int (*lua_getinfo)(lua_State *L, const char *what, lua_Debug *ar);
    int (*lua_getstack)(lua_State *L, int level, lua_Debug *ar);
    size_t (*lua_stringtonumber)(lua_State *L, const char *s);
    int (*luaL_loadbufferx)(lua_State *L, const char *buff, size_t sz,
                            const char *name, const char *mode);
    int (*luaL_ref)(lua_State *L, int t);
    void (*luaL_unref)(lua_State *L, int t, int ref);
    void (*luaL_traceback)(lua_State *L, lua_State *L1, const char *msg,
                           int level);
    void (*luaL_requiref)(lua_State *L, const char *modname,
                          lua_CFunction openf, int glb);
    void (*luaL_checkstack)(lua_State *L, int sz, const char *msg);
    const char *(*luaL_checklstring)(lua_State *L, int arg, size_t *l);
    const char *(*luaL_optlstring)(lua_State *L, int arg, const char *def,
                                   size_t *l);
    lua_Integer (*luaL_checkinteger)(lua_State *L, int arg);
    lua_Integer (*luaL_optinteger)(lua_State *L, int arg, lua_Integer def);
    lua_Number (*luaL_checknumber)(lua_State *L, int arg);
    void (*luaL_checktype)(lua_State *L, int arg, int t);
    void (*luaL_checkany)(lua_State *L, int arg);
    int (*luaL_argerror)(lua_State *L, int arg, const char *extramsg);
    int (*luaL_typeerror)(lua_State *L, int arg, const char *tname);
    int (*luaL_error)(lua_State *L, const char *fmt, ...);
    const char *(*luaL_tolstring)(lua_State *L, int idx, size_t *len);
    lua_Integer (*luaL_len)(lua_State *L, int idx);
    void (*luaL_where)(lua_State *L, int lvl);
    int (*luaopen_base)(lua_State *L);
    int (*luaopen_string)(lua_State *L);
    int (*luaopen_table)(lua_State *L);
    int (*luaopen_math)(lua_State *L);
    int (*luaopen_utf8)(lua_State *L);
} limitr_lua_api;

extern limitr_lua_api limitr__lua;

/* Loads the private Lua 5.4 once per process (thread-safe). Returns 0, or
 * -1 and a static message in *err. */
int limitr__lua_api_load(const char **err);

/* Every call below goes through the table. */
#define lua_newstate(...) (limitr__lua.lua_newstate(__VA_ARGS__))
#define lua_close(...) (limitr__lua.lua_close(__VA_ARGS__))
#define lua_atpanic(...) (limitr__lua.lua_atpanic(__VA_ARGS__))
#define lua_absindex(...) (limitr__lua.lua_absindex(__VA_ARGS__))
#define lua_gettop(...) (limitr__lua.lua_gettop(__VA_ARGS__))
#define lua_settop(...) (limitr__lua.lua_settop(__VA_ARGS__))
#define lua_pushvalue(...) (limitr__lua.lua_pushvalue(__VA_ARGS__))
#define lua_rotate(...) (limitr__lua.lua_rotate(__VA_ARGS__))
#define lua_copy(...) (limitr__lua.lua_copy(__VA_ARGS__))
#define lua_checkstack(...) (limitr__lua.lua_checkstack(__VA_ARGS__))
#define lua_type(...) (limitr__lua.lua_type(__VA_ARGS__))
#define lua_typename(...) (limitr__lua.lua_typename(__VA_ARGS__))
#define lua_toboolean(...) (limitr__lua.lua_toboolean(__VA_ARGS__))
#define lua_tonumberx(...) (limitr__lua.lua_tonumberx(__VA_ARGS__))
#define lua_tointegerx(...) (limitr__lua.lua_tointegerx(__VA_ARGS__))
#define lua_tolstring(...) (limitr__lua.lua_tolstring(__VA_ARGS__))
#define lua_rawlen(...) (limitr__lua.lua_rawlen(__VA_ARGS__))
#define lua_touserdata(...) (limitr__lua.lua_touserdata(__VA_ARGS__))
#define lua_isinteger(...) (limitr__lua.lua_isinteger(__VA_ARGS__))
#define lua_isnumber(...) (limitr__lua.lua_isnumber(__VA_ARGS__))
#define lua_isstring(...) (limitr__lua.lua_isstring(__VA_ARGS__))
#define lua_rawequal(...) (limitr__lua.lua_rawequal(__VA_ARGS__))
#define lua_pushnil(...) (limitr__lua.lua_pushnil(__VA_ARGS__))
#define lua_pushnumber(...) (limitr__lua.lua_pushnumber(__VA_ARGS__))
#define lua_pushinteger(...) (limitr__lua.lua_pushinteger(__VA_ARGS__))
#define lua_pushlstring(...) (limitr__lua.lua_pushlstring(__VA_ARGS__))
#define lua_pushstring(...) (limitr__lua.lua_pushstring(__VA_ARGS__))
#define lua_pushfstring(...) (limitr__lua.lua_pushfstring(__VA_ARGS__))
#define lua_pushcclosure(...) (limitr__lua.lua_pushcclosure(__VA_ARGS__))
#define lua_pushboolean(...) (limitr__lua.lua_pushboolean(__VA_ARGS__))
#define lua_pushlightuserdata(...)                                             \
    (limitr__lua.lua_pushlightuserdata(__VA_ARGS__))
#define lua_createtable(...) (limitr__lua.lua_createtable(__VA_ARGS__))
#define lua_newuserdatauv(...) (limitr__lua.lua_newuserdatauv(__VA_ARGS__))
#define lua_getfield(...) (limitr__lua.lua_getfield(__VA_ARGS__))
#define lua_setfield(...) (limitr__lua.lua_setfield(__VA_ARGS__))
#define lua_rawget(...) (limitr__lua.lua_rawget(__VA_ARGS__))
#define lua_rawset(...) (limitr__lua.lua_rawset(__VA_ARGS__))
#define lua_rawgeti(...) (limitr__lua.lua_rawgeti(__VA_ARGS__))
#define lua_rawseti(...) (limitr__lua.lua_rawseti(__VA_ARGS__))
#define lua_getglobal(...) (limitr__lua.lua_getglobal(__VA_ARGS__))
#define lua_setglobal(...) (limitr__lua.lua_setglobal(__VA_ARGS__))
#define lua_gettable(...) (limitr__lua.lua_gettable(__VA_ARGS__))
#define lua_settable(...) (limitr__lua.lua_settable(__VA_ARGS__))
#define lua_next(...) (limitr__lua.lua_next(__VA_ARGS__))
#define lua_setmetatable(...) (limitr__lua.lua_setmetatable(__VA_ARGS__))
#define lua_getmetatable(...) (limitr__lua.lua_getmetatable(__VA_ARGS__))
#define lua_callk(...) (limitr__lua.lua_callk(__VA_ARGS__))
#define lua_pcallk(...) (limitr__lua.lua_pcallk(__VA_ARGS__))
#define lua_error(...) (limitr__lua.lua_error(__VA_ARGS__))
#define lua_sethook(...) (limitr__lua.lua_sethook(__VA_ARGS__))
#define lua_gethook(...) (limitr__lua.lua_gethook(__VA_ARGS__))
#define lua_gethookmask(...) (limitr__lua.lua_gethookmask(__VA_ARGS__))
#define lua_getupvalue(...) (limitr__lua.lua_getupvalue(__VA_ARGS__))
#define lua_setupvalue(...) (limitr__lua.lua_setupvalue(__VA_ARGS__))
#define lua_upvalueid(...) (limitr__lua.lua_upvalueid(__VA_ARGS__))
#define lua_iscfunction(...) (limitr__lua.lua_iscfunction(__VA_ARGS__))
#define lua_gc(...) (limitr__lua.lua_gc(__VA_ARGS__))
#define lua_getinfo(...) (limitr__lua.lua_getinfo(__VA_ARGS__))
#define lua_getstack(...) (limitr__lua.lua_getstack(__VA_ARGS__))
#define lua_stringtonumber(...) (limitr__lua.lua_stringtonumber(__VA_ARGS__))
#define luaL_loadbufferx(...) (limitr__lua.luaL_loadbufferx(__VA_ARGS__))
#define luaL_ref(...) (limitr__lua.luaL_ref(__VA_ARGS__))
#define luaL_unref(...) (limitr__lua.luaL_unref(__VA_ARGS__))
#define luaL_traceback(...) (limitr__lua.luaL_traceback(__VA_ARGS__))
#define luaL_requiref(...) (limitr__lua.luaL_requiref(__VA_ARGS__))
#define luaL_checkstack(...) (limitr__lua.luaL_checkstack(__VA_ARGS__))
#define luaL_checklstring(...) (limitr__lua.luaL_checklstring(__VA_ARGS__))
#define luaL_optlstring(...) (limitr__lua.luaL_optlstring(__VA_ARGS__))
#define luaL_checkinteger(...) (limitr__lua.luaL_checkinteger(__VA_ARGS__))
#define luaL_optinteger(...) (limitr__lua.luaL_optinteger(__VA_ARGS__))
#define luaL_checknumber(...) (limitr__lua.luaL_checknumber(__VA_ARGS__))
#define luaL_checktype(...) (limitr__lua.luaL_checktype(__VA_ARGS__))
#define luaL_checkany(...) (limitr__lua.luaL_checkany(__VA_ARGS__))
#define luaL_argerror(...) (limitr__lua.luaL_argerror(__VA_ARGS__))
#define luaL_typeerror(...) (limitr__lua.luaL_typeerror(__VA_ARGS__))
#define luaL_error(...) (limitr__lua.luaL_error(__VA_ARGS__))
#define luaL_tolstring(...) (limitr__lua.luaL_tolstring(__VA_ARGS__))
#define luaL_len(...) (limitr__lua.luaL_len(__VA_ARGS__))
#define luaL_where(...) (limitr__lua.luaL_where(__VA_ARGS__))
#define luaopen_base(...) (limitr__lua.luaopen_base(__VA_ARGS__))
#define luaopen_string(...) (limitr__lua.luaopen_string(__VA_ARGS__))
#define luaopen_table(...) (limitr__lua.luaopen_table(__VA_ARGS__))
#define luaopen_math(...) (limitr__lua.luaopen_math(__VA_ARGS__))
#define luaopen_utf8(...) (limitr__lua.luaopen_utf8(__VA_ARGS__))

#endif
