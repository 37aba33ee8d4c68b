/* script_pattern.h: Lua 5.4 pattern matching (string.find/match/gmatch/gsub)
 * for the sandbox, charging every matcher step to a per-call work budget. */
#ifndef LIMITR_SCRIPT_PATTERN_H
#define LIMITR_SCRIPT_PATTERN_H

#include "script_api.h"

/* Work left for pattern matching in the current snippet call; the engine
 * defines it (script.c). Each matcher step (each attempt to match a single
 * pattern item against a character, each backtracking step, each recursion)
 * decrements it by 1; when it would go below 0 the function raises the Lua
 * error "pattern too complex (work budget exhausted)". */
long *limitr__pattern_budget(lua_State *L);

/* Sets find, match, gmatch, gsub (and nothing else) in the table at index
 * idx to the bounded versions. */
void limitr__pattern_install(lua_State *L, int idx);

#endif
