/* lua_items.h: values between a Lua state and limitr_item lists (limitr.h),
 * without JSON, for both VMs (as lua_json.h: include it after the Lua
 * headers of your side; static functions). Host functions' arguments and
 * results cross this way. The rules are lua_json.h's: nil, booleans,
 * numbers (finite), strings (no NUL byte) and tables (a sequence 1..n or an
 * empty table is a list, else string keys), LUA_JSON_MAX_DEPTH deep, read
 * with raw access only. A list's strings point into the Lua values: valid
 * while those stay referenced. */
#ifndef LIMITR_LUA_ITEMS_H
#define LIMITR_LUA_ITEMS_H

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "limitr.h"

#ifndef LUA_JSON_MAX_DEPTH
#define LUA_JSON_MAX_DEPTH 32
#endif
#define LUA_ITEMS_MAX 1000000 /* items in one list */

/* A table the copy reads raw may be one of the side's lazy tables (built
 * when first read): the side defines LIMITR_LUA_FILL to fill it first. */
#ifndef LIMITR_LUA_FILL
#define LIMITR_LUA_FILL(L, idx) ((void)0)
#endif

/* A growable list of items (free items with free()). */
typedef struct lua_items {
    limitr_item *items;
    size_t n, cap;
} lua_items;

/* A new item with key, or NULL when memory or the bound ran out. */
static limitr_item *lua_items_add(lua_items *b, const char *key,
                                  limitr_item_kind kind)
{
    limitr_item *it;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        limitr_item *grown;
        if (cap > LUA_ITEMS_MAX) return NULL;
        if ((grown = realloc(b->items, cap * sizeof *grown)) == NULL)
            return NULL;
        b->items = grown;
        b->cap = cap;
    }
    it = &b->items[b->n++];
    memset(it, 0, sizeof *it);
    it->key = key;
    it->kind = kind;
    return it;
}

/* Appends the value at idx (key: its name in the enclosing table, or
 * NULL). 0, or -1 with *err. */
static int lua_items_from(lua_State *L, int idx, const char *key, int depth,
                          lua_items *b, const char **err)
{
    limitr_item *it;
    size_t at;
    lua_Integer n, count = 0, i;
    idx = lua_absindex(L, idx);
    if (depth > LUA_JSON_MAX_DEPTH) {
        *err = "value nested too deeply (or cyclic)";
        return -1;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        it = lua_items_add(b, key, LIMITR_ITEM_NULL);
        break;
    case LUA_TBOOLEAN:
        if ((it = lua_items_add(b, key, LIMITR_ITEM_BOOLEAN)) != NULL)
            it->number = lua_toboolean(L, idx);
        break;
    case LUA_TNUMBER: {
        double d = (double)lua_tonumberx(L, idx, NULL);
        if (d != d || d > DBL_MAX || d < -DBL_MAX) {
            *err = "NaN and infinity cannot cross between Lua and the engine";
            return -1;
        }
        if ((it = lua_items_add(b, key, LIMITR_ITEM_NUMBER)) != NULL)
            it->number = d;
        break;
    }
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (strlen(s) != len) {
            *err = "a string with a NUL byte cannot cross between Lua and "
                   "the engine";
            return -1;
        }
        if ((it = lua_items_add(b, key, LIMITR_ITEM_STRING)) != NULL)
            it->text = s;
        break;
    }
    case LUA_TTABLE:
        LIMITR_LUA_FILL(L, idx);
        if (!lua_checkstack(L, 4)) {
            *err = "value nested too deeply";
            return -1;
        }
        n = (lua_Integer)lua_rawlen(L, idx);
        lua_pushnil(L);
        while (lua_next(L, idx) != 0) {
            count++;
            lua_settop(L, -2);
        }
        if ((it = lua_items_add(
                 b, key, count == n ? LIMITR_ITEM_ARRAY : LIMITR_ITEM_TABLE)) ==
            NULL)
            break;
        at = b->n - 1;
        if (count == n) {
            for (i = 1; i <= n; i++) {
                int failed;
                lua_rawgeti(L, idx, i);
                failed = lua_items_from(L, -1, NULL, depth + 1, b, err);
                lua_settop(L, -2);
                if (failed) return -1;
            }
        } else {
            lua_pushnil(L);
            while (lua_next(L, idx) != 0) {
                if (lua_type(L, -2) != LUA_TSTRING ||
                    strlen(lua_tolstring(L, -2, NULL)) != lua_rawlen(L, -2)) {
                    *err = "table keys must be strings without NUL bytes "
                           "(or a sequence 1..n)";
                    lua_settop(L, -3);
                    return -1;
                }
                if (lua_items_from(L, -1, lua_tolstring(L, -2, NULL), depth + 1,
                                   b, err) != 0) {
                    lua_settop(L, -3);
                    return -1;
                }
                lua_settop(L, -2);
            }
        }
        b->items[at].size = (size_t)count;
        return 0;
    default:
        *err = "only nil, booleans, numbers, strings and tables can cross "
               "between Lua and the engine";
        return -1;
    }
    if (it == NULL) {
        *err = "out of memory (or more than a million values)";
        return -1;
    }
    return 0;
}

/* Pushes items[*i] (a table or list with its entries) and moves *i past
 * it. A value the rules above do not know (a snapshot) is nil. */
static void lua_items_push(lua_State *L, const limitr_item *items, size_t *i)
{
    const limitr_item *it = &items[(*i)++];
    size_t k;
    luaL_checkstack(L, 4, "value nested too deeply");
    switch (it->kind) {
    case LIMITR_ITEM_NUMBER:
        if (it->number == (double)(lua_Integer)it->number &&
            it->number >= -9007199254740992.0 &&
            it->number <= 9007199254740992.0)
            lua_pushinteger(L, (lua_Integer)it->number);
        else
            lua_pushnumber(L, it->number);
        return;
    case LIMITR_ITEM_BOOLEAN:
        lua_pushboolean(L, it->number != 0);
        return;
    case LIMITR_ITEM_STRING:
        lua_pushstring(L, it->text);
        return;
    case LIMITR_ITEM_ARRAY:
        lua_createtable(L, (int)it->size, 0);
        for (k = 0; k < it->size; k++) {
            lua_items_push(L, items, i);
            lua_rawseti(L, -2, (lua_Integer)k + 1);
        }
        return;
    case LIMITR_ITEM_TABLE:
        lua_createtable(L, 0, (int)it->size);
        for (k = 0; k < it->size; k++) {
            const char *key = items[*i].key;
            lua_items_push(L, items, i);
            lua_setfield(L, -2, key);
        }
        return;
    case LIMITR_ITEM_NULL:
    case LIMITR_ITEM_JSON:
    case LIMITR_ITEM_SNAPSHOT:
        break;
    }
    lua_pushnil(L);
}

#endif
