/* script_api.c: loads the engine's private Lua 5.4 (liblua5.4.so.0) with
 * dlopen and fills the function table of script_api.h. RTLD_DEEPBIND keeps
 * the library's own calls inside it even when the process already has
 * LuaJIT's lua_* symbols (nginx; docs/design.md, Embedded Lua). ASan refuses
 * RTLD_DEEPBIND, so sanitizer builds (LIMITR_NO_DEEPBIND) load it plainly. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_DEEPBIND */
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "script_api.h"

#ifndef LIMITR_LUA_LIBRARY
#define LIMITR_LUA_LIBRARY "liblua5.4.so.0"
#endif

limitr_lua_api limitr__lua;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const char *load_error;

#define LIMITR_LUA_FUNCTIONS(X)                                                \
    X(lua_newstate)                                                            \
    X(lua_close)                                                               \
    X(lua_atpanic)                                                             \
    X(lua_absindex)                                                            \
    X(lua_gettop)                                                              \
    X(lua_settop)                                                              \
    X(lua_pushvalue)                                                           \
    X(lua_rotate)                                                              \
    X(lua_copy)                                                                \
    X(lua_checkstack)                                                          \
    X(lua_type)                                                                \
    X(lua_typename)                                                            \
    X(lua_toboolean)                                                           \
    X(lua_tonumberx)                                                           \
    X(lua_tointegerx)                                                          \
    X(lua_tolstring)                                                           \
    X(lua_rawlen)                                                              \
    X(lua_touserdata)                                                          \
    X(lua_isinteger)                                                           \
    X(lua_isnumber)                                                            \
    X(lua_isstring)                                                            \
    X(lua_rawequal)                                                            \
    X(lua_pushnil)                                                             \
    X(lua_pushnumber)                                                          \
    X(lua_pushinteger)                                                         \
    X(lua_pushlstring)                                                         \
    X(lua_pushstring)                                                          \
    X(lua_pushfstring)                                                         \
    X(lua_pushcclosure)                                                        \
    X(lua_pushboolean)                                                         \
    X(lua_pushlightuserdata)                                                   \
    X(lua_createtable)                                                         \
    X(lua_newuserdatauv)                                                       \
    X(lua_getfield)                                                            \
    X(lua_setfield)                                                            \
    X(lua_rawget)                                                              \
    X(lua_rawset)                                                              \
    X(lua_rawgeti)                                                             \
    X(lua_rawseti)                                                             \
    X(lua_getglobal)                                                           \
    X(lua_setglobal)                                                           \
    X(lua_gettable)                                                            \
    X(lua_settable)                                                            \
    X(lua_next)                                                                \
    X(lua_setmetatable)                                                        \
    X(lua_getmetatable)                                                        \
    X(lua_callk)                                                               \
    X(lua_pcallk)                                                              \
    X(lua_error)                                                               \
    X(lua_sethook)                                                             \
    X(lua_gethook)                                                             \
    X(lua_gethookmask)                                                         \
    X(lua_getupvalue)                                                          \
    X(lua_setupvalue)                                                          \
    X(lua_upvalueid)                                                           \
    X(lua_iscfunction)                                                         \
    X(lua_gc)                                                                  \
    X(lua_getinfo)                                                             \
    X(lua_getstack)                                                            \
    X(lua_stringtonumber)                                                      \
    X(luaL_loadbufferx)                                                        \
    X(luaL_ref)                                                                \
    X(luaL_unref)                                                              \
    X(luaL_traceback)                                                          \
    X(luaL_requiref)                                                           \
    X(luaL_checkstack)                                                         \
    X(luaL_checklstring)                                                       \
    X(luaL_optlstring)                                                         \
    X(luaL_checkinteger)                                                       \
    X(luaL_optinteger)                                                         \
    X(luaL_checknumber)                                                        \
    X(luaL_checktype)                                                          \
    X(luaL_checkany)                                                           \
    X(luaL_argerror)                                                           \
    X(luaL_typeerror)                                                          \
    X(luaL_error)                                                              \
    X(luaL_tolstring)                                                          \
    X(luaL_len)                                                                \
    X(luaL_where)                                                              \
    X(luaopen_base)                                                            \
    X(luaopen_string)                                                          \
    X(luaopen_table)                                                           \
    X(luaopen_math)                                                            \
    X(luaopen_utf8)

static void load(void)
{
    int flags = RTLD_NOW | RTLD_LOCAL;
    void *lib, *sym;
#if defined(RTLD_DEEPBIND) && !defined(LIMITR_NO_DEEPBIND)
    flags |= RTLD_DEEPBIND;
#endif
    lib = dlopen(LIMITR_LUA_LIBRARY, flags);
    if (lib == NULL) {
        load_error = "cannot load " LIMITR_LUA_LIBRARY " (install liblua5.4-0)";
        return;
    }
    /* Each pointer is copied out of the void * dlsym returns (ISO C has no
       conversion from object to function pointers). */
#define LOAD(name)                                                             \
    sym = dlsym(lib, #name);                                                   \
    if (sym == NULL) {                                                         \
        load_error = LIMITR_LUA_LIBRARY " lacks " #name;                       \
        return;                                                                \
    }                                                                          \
    memcpy(&limitr__lua.name, &sym, sizeof sym);
    LIMITR_LUA_FUNCTIONS(LOAD)
#undef LOAD
    /* The library stays loaded for the life of the process. */
}

int limitr__lua_api_load(const char **err)
{
    pthread_once(&load_once, load);
    if (load_error != NULL) {
        *err = load_error;
        return -1;
    }
    return 0;
}
