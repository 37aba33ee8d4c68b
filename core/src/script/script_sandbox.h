/* script_sandbox.h: what the sandbox's parts share inside the script layer:
 * charging work done in C to a call's budget (script.c), the library
 * functions that loop in C, bounded (script_bounds.c), and the read-only
 * view of the `lua` chunk's globals (script_freeze.c). */
#ifndef LIMITR_SCRIPT_SANDBOX_H
#define LIMITR_SCRIPT_SANDBOX_H

#include "script_api.h"

/* Charges `cost` instructions' worth of work done in C to the running
 * call's instruction budget, and checks its deadline. When either is spent
 * the call is killed as by the budget hook (sticky, pcall cannot catch it):
 * this raises. */
void limitr__script_charge(lua_State *L, double cost);

/* Replaces, in the copy at idx of library `lib`, the functions that loop
 * in C on a count the caller chooses (string.rep, table.move,
 * table.concat, ...) with versions that charge that count first
 * (docs/sandbox.md rule 12). */
void limitr__bounds_install(lua_State *L, int idx, const char *lib);

/* Pushes setmetatable as snippets get it: it refuses a metatable holding
 * __gc, since Lua runs finalizers with hooks off, where no budget or
 * deadline can stop them (docs/sandbox.md rule 12b). */
void limitr__push_safe_setmetatable(lua_State *L);

/* Pushes a new freezer, a table of three functions:
 *   keep(t)         table t stays as it is (a library, read-only already);
 *   root(v, cells)  the read-only version of v: every table reachable from
 *                   it is replaced by an empty proxy over a copy whose
 *                   tables are proxies in turn, and every Lua function
 *                   reachable gets the proxies as upvalues (_ENV included);
 *   walk(f, cells)  the same for function f's upvalues.
 * cells (a list) receives (function, index, value) for each upvalue cell
 * seen the first time, the value it must keep (limitr__restore_cells).
 * Raises on memory: call it in a protected call. */
void limitr__push_freezer(lua_State *L);

/* Puts back every upvalue cell of the list at cells_idx that a call
 * changed: a chunk function's local variables (`local n = 0 ...
 * n = n + 1`) are not the call's to keep. */
void limitr__restore_cells(lua_State *L, int cells_idx);

#endif
