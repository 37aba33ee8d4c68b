/* script_freeze.c: nothing a snippet runs can change what a later call
 * sees (docs/sandbox.md rule 6). Stock Lua has no read-only tables, so after
 * the `lua` chunk has run, everything reachable from its globals is
 * replaced by read-only proxies: an empty table whose metatable reads from
 * a copy (__index), refuses writes (__newindex), and answers # and pairs;
 * the copy's own tables are proxies in turn, and the chunk's functions get
 * proxies as upvalues, their _ENV included, so that the chunk's own code
 * cannot write either. What is left writable are a function's variables
 * (upvalue cells: `local n = 0 ... n = n + 1`): each call's changes to them
 * are undone after it (limitr__restore_cells). The walk is Lua code,
 * compiled in the VM from this file's text, with a few C helpers for what
 * only the C API reaches (upvalues, raw metatables). */
#include <string.h>

#include "script_sandbox.h"

/* The freezer. Arguments: the C helpers below and the real setmetatable,
 * next, type, error, tostring, rawequal. Returns {keep, root, walk}:
 *   keep(t)          t stays as it is (an already read-only library)
 *   root(v, cells)   the read-only version of v
 *   walk(f, cells)   gives function f proxies as upvalues
 * cells receives (function, index, value) triples, one per upvalue cell
 * seen for the first time, with the value it must keep, at 1, 4, 7, ...
 * (cells.n the count: a nil value leaves a hole, so never #cells). */
static const char freezer_source[] =
    "local upget, upset, upid, iscf, rawmeta, setmeta, nxt, typ, err,\n"
    "  tostr, raweq = ...\n"
    "local memo = setmeta({}, {__mode = 'k'})\n"
    "local seen = setmeta({}, {__mode = 'k'})\n"
    "local proxy\n"
    "local function refuse(_, k)\n"
    "  err(\"attempt to modify a read-only table (key '\" .. tostr(k) .. "
    "\"')\", 2)\n"
    "end\n"
    "local skip = {__index = true, __newindex = true, __metatable = true,\n"
    "  __len = true, __pairs = true, __mode = true, __close = true,\n"
    "  __gc = true}\n"
    "local function walk(f, cells)\n"
    "  if memo[f] ~= nil then return end\n"
    "  memo[f] = f\n"
    "  if iscf(f) then return end\n"
    "  local i = 1\n"
    "  while true do\n"
    "    local name, v = upget(f, i)\n"
    "    if name == nil then return end\n"
    "    local p = proxy(v, cells)\n"
    "    if not raweq(p, v) then upset(f, i, p) end\n"
    "    local id = upid(f, i)\n"
    "    if not seen[id] then\n"
    "      seen[id] = true\n"
    "      local n = cells.n or 0\n"
    "      cells[n + 1] = f\n"
    "      cells[n + 2] = i\n"
    "      cells[n + 3] = p\n"
    "      cells.n = n + 3\n"
    "    end\n"
    "    i = i + 1\n"
    "  end\n"
    "end\n"
    "function proxy(v, cells)\n"
    "  local t = typ(v)\n"
    "  if t == 'function' then walk(v, cells) return v end\n"
    "  if t ~= 'table' then return v end\n"
    "  local p = memo[v]\n"
    "  if p ~= nil then return p end\n"
    "  local copy = {}\n"
    "  p = {}\n"
    "  memo[v] = p\n"
    "  memo[p] = p\n"
    "  local pmt = {__index = copy, __newindex = refuse, __metatable = false,\n"
    "    __len = function() return #copy end,\n"
    "    __pairs = function() return nxt, copy, nil end}\n"
    "  for k, x in nxt, v do copy[proxy(k, cells)] = proxy(x, cells) end\n"
    "  local mt = rawmeta(v)\n"
    "  if mt ~= nil then\n"
    "    local mcopy = {}\n"
    "    for k, x in nxt, mt do\n"
    "      if k ~= '__gc' and k ~= '__mode' and k ~= '__close' then\n"
    "        mcopy[k] = proxy(x, cells)\n"
    "      end\n"
    "    end\n"
    "    mcopy.__newindex = refuse\n"
    "    setmeta(copy, mcopy)\n"
    "    for k, x in nxt, mcopy do\n"
    "      if not skip[k] then pmt[k] = x end\n"
    "    end\n"
    "  end\n"
    "  setmeta(p, pmt)\n"
    "  return p\n"
    "end\n"
    "return {keep = function(t) memo[t] = t end, root = proxy, walk = walk}\n";

/* ---- C helpers: what only the C API reaches ---- */

static int h_upget(lua_State *L) /* upget(f, i) -> name, value | nil */
{
    const char *name;
    luaL_checktype(L, 1, LUA_TFUNCTION);
    name = lua_getupvalue(L, 1, (int)luaL_checkinteger(L, 2));
    if (name == NULL) return 0;
    lua_pushstring(L, name);
    lua_rotate(L, -2, 1);
    return 2;
}

static int h_upset(lua_State *L) /* upset(f, i, v) */
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 3);
    lua_setupvalue(L, 1, (int)luaL_checkinteger(L, 2));
    return 0;
}

static int h_upid(lua_State *L) /* upid(f, i): the cell, as a light userdata */
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_pushlightuserdata(L, lua_upvalueid(L, 1, (int)luaL_checkinteger(L, 2)));
    return 1;
}

static int h_iscf(lua_State *L)
{
    lua_pushboolean(L, lua_iscfunction(L, 1));
    return 1;
}

static int h_rawmeta(lua_State *L) /* the metatable, whatever __metatable */
{
    if (!lua_getmetatable(L, 1)) lua_pushnil(L);
    return 1;
}

void limitr__push_freezer(lua_State *L)
{
    static const lua_CFunction helpers[] = {h_upget, h_upset, h_upid, h_iscf,
                                            h_rawmeta};
    static const char *const globals[] = {
        "setmetatable", "next", "type", "error", "tostring", "rawequal"};
    size_t i;
    if (luaL_loadbufferx(L, freezer_source, sizeof freezer_source - 1,
                         "=limitr_freeze", "t") != LUA_OK)
        lua_error(L);
    for (i = 0; i < sizeof helpers / sizeof helpers[0]; i++)
        lua_pushcclosure(L, helpers[i], 0);
    for (i = 0; i < sizeof globals / sizeof globals[0]; i++)
        lua_getglobal(L, globals[i]);
    lua_callk(L, 11, 1, 0, NULL);
}

void limitr__restore_cells(lua_State *L, int cells_idx)
{
    lua_Integer i;
    cells_idx = lua_absindex(L, cells_idx);
    /* Up to the first missing index (a value may be nil), not
       lua_rawlen: the list may live in the table's hash part, where
       finding its length is a search. */
    for (i = 1;; i += 3) {
        int index, same;
        if (lua_rawgeti(L, cells_idx, i + 1) == LUA_TNIL) {
            lua_settop(L, -2);
            break;
        }
        index = (int)lua_tointegerx(L, -1, NULL);
        lua_settop(L, -2);
        lua_rawgeti(L, cells_idx, i);     /* f */
        lua_rawgeti(L, cells_idx, i + 2); /* the value the cell keeps */
        if (lua_getupvalue(L, -2, index) == NULL) { /* f, v */
            lua_settop(L, -3);
            continue;
        }
        same = lua_rawequal(L, -1, -2); /* f, v, now */
        lua_settop(L, -2);
        if (!same) lua_setupvalue(L, -2, index); /* pops v */
        lua_settop(L, same ? -3 : -2);
    }
}
