/* Must not build: the Lua binding sees limitr.h and lua_json.h only. */
#include "engine.h"
