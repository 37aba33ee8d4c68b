/* Must not build: only the script layer sees Lua's headers. */
#include "lua.h"
