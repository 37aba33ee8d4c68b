/* Must build: the script layer sees Lua's headers (the check that
 * engine_includes_lua fails for the right reason). */
#include "lua.h"
int script_sees_lua(void);
int script_sees_lua(void) { return LUA_VERSION_NUM; }
