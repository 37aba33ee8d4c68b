/* lua_json.h: values between cJSON and a Lua state, for both VMs the
 * project talks to: the host's (bindings/lua, through lua.h) and the
 * engine's private one (script.c, through script_api.h). Include it after
 * the Lua headers of the side you are on; the functions are static, so each
 * side compiles its own copy against its own API. Neither function raises:
 * a value too deep, cyclic or of another type is nil (push) or an error
 * message (from). Tables are read with raw access only (docs/sandbox.md rule
 * 16). */
#ifndef LIMITR_LUA_JSON_H
#define LIMITR_LUA_JSON_H

#include <float.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#define LUA_JSON_MAX_DEPTH 32 /* of values copied between VMs */

/* A table the copy reads raw may be one of the side's lazy tables (built
 * when first read): the side defines LIMITR_LUA_FILL to fill it first. */
#ifndef LIMITR_LUA_FILL
#define LIMITR_LUA_FILL(L, idx) ((void)0)
#endif

/* Pushes item (NULL: nil). Whole numbers within 2^53 come as integers. */
static void lua_json_push(lua_State *L, const cJSON *item, int depth)
{
    if (item == NULL || depth > LUA_JSON_MAX_DEPTH || !lua_checkstack(L, 4)) {
        lua_pushnil(L);
        return;
    }
    if (cJSON_IsNumber(item)) {
        double d = item->valuedouble;
        if (d == (double)(lua_Integer)d && d >= -9007199254740992.0 &&
            d <= 9007199254740992.0)
            lua_pushinteger(L, (lua_Integer)d);
        else
            lua_pushnumber(L, d);
    } else if (cJSON_IsString(item)) {
        lua_pushstring(L, item->valuestring);
    } else if (cJSON_IsBool(item)) {
        lua_pushboolean(L, cJSON_IsTrue(item));
    } else if (cJSON_IsArray(item)) {
        const cJSON *c;
        lua_Integer i = 1;
        lua_createtable(L, cJSON_GetArraySize(item), 0);
        cJSON_ArrayForEach(c, item)
        {
            lua_json_push(L, c, depth + 1);
            lua_rawseti(L, -2, i++);
        }
    } else if (cJSON_IsObject(item)) {
        const cJSON *c;
        lua_createtable(L, 0, 8);
        cJSON_ArrayForEach(c, item)
        {
            lua_json_push(L, c, depth + 1);
            lua_setfield(L, -2, c->string);
        }
    } else {
        lua_pushnil(L);
    }
}

/* The place inside a value where its copy failed ("caps.rune", "[2]"). */
#define LUA_JSON_PATH_MAX 96
typedef struct lua_json_error {
    const char *message;
    char path[LUA_JSON_PATH_MAX];
} lua_json_error;

/* Puts a map key (index 0) or a list index before what err->path holds:
 * a failure's place is built on the way out, innermost last. */
static void lua_json_path_prepend(lua_json_error *err, const char *key,
                                  lua_Integer index)
{
    char head[LUA_JSON_PATH_MAX];
    size_t n, len = strlen(err->path);
    if (key != NULL) {
        n = strlen(key);
        if (n > sizeof head - 1) n = sizeof head - 1;
        memcpy(head, key, n);
    } else {
        n = (size_t)snprintf(head, sizeof head, "[%lld]", (long long)index);
    }
    if (len > 0 && err->path[0] != '[' && n < sizeof head - 1)
        head[n++] = '.'; /* a key follows */
    if (n + len > sizeof err->path - 1) /* the outermost part is kept */
        len = n < sizeof err->path - 1 ? sizeof err->path - 1 - n : 0;
    memmove(err->path + n, err->path, len);
    memcpy(err->path, head, n);
    err->path[n + len] = '\0';
}

/* The value at idx as cJSON; NULL with err->message (and err->path, where
 * inside the value) on failure (out of memory leaves the message as the
 * caller set it). A sequence 1..n is a JSON list, and so is an empty table,
 * which Lua cannot tell from an empty map. */
static cJSON *lua_json_from(lua_State *L, int idx, int depth,
                            lua_json_error *err)
{
    idx = lua_absindex(L, idx);
    if (depth > LUA_JSON_MAX_DEPTH) {
        err->message = "value nested too deeply (or cyclic)";
        return NULL;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return cJSON_CreateNull();
    case LUA_TBOOLEAN:
        return cJSON_CreateBool(lua_toboolean(L, idx));
    case LUA_TNUMBER: {
        double d = (double)lua_tonumberx(L, idx, NULL);
        if (d != d || d > DBL_MAX || d < -DBL_MAX) { /* JSON has neither */
            err->message = "NaN and infinity cannot cross as JSON";
            return NULL;
        }
        return cJSON_CreateNumber(d);
    }
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (strlen(s) != len) { /* cJSON would cut it there */
            err->message = "a string with a NUL byte cannot cross as JSON";
            return NULL;
        }
        return cJSON_CreateString(s);
    }
    case LUA_TTABLE: {
        lua_Integer n, count = 0, i;
        cJSON *out;
        LIMITR_LUA_FILL(L, idx);
        n = (lua_Integer)lua_rawlen(L, idx);
        if (!lua_checkstack(L, 4)) {
            err->message = "value nested too deeply";
            return NULL;
        }
        lua_pushnil(L);
        while (lua_next(L, idx) != 0) {
            count++;
            lua_settop(L, -2);
        }
        if (count == n) {
            out = cJSON_CreateArray();
            for (i = 1; out != NULL && i <= n; i++) {
                cJSON *c;
                lua_rawgeti(L, idx, i);
                c = lua_json_from(L, -1, depth + 1, err);
                lua_settop(L, -2);
                if (c == NULL) {
                    lua_json_path_prepend(err, NULL, i);
                    cJSON_Delete(out);
                    return NULL;
                }
                cJSON_AddItemToArray(out, c);
            }
            return out;
        }
        out = cJSON_CreateObject();
        lua_pushnil(L);
        while (out != NULL && lua_next(L, idx) != 0) {
            cJSON *c;
            if (lua_type(L, -2) != LUA_TSTRING ||
                strlen(lua_tolstring(L, -2, NULL)) != lua_rawlen(L, -2)) {
                err->message = "table keys must be strings without NUL "
                               "bytes (or a sequence 1..n)";
                lua_settop(L, -3);
                cJSON_Delete(out);
                return NULL;
            }
            c = lua_json_from(L, -1, depth + 1, err);
            if (c == NULL) {
                lua_json_path_prepend(err, lua_tolstring(L, -2, NULL), 0);
                lua_settop(L, -3);
                cJSON_Delete(out);
                return NULL;
            }
            cJSON_AddItemToObject(out, lua_tolstring(L, -2, NULL), c);
            lua_settop(L, -2);
        }
        return out;
    }
    default:
        err->message = "only nil, booleans, numbers, strings and tables can "
                       "cross between Lua and the engine";
        return NULL;
    }
}

#endif
