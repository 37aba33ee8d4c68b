-- The Lua 5.4 module of limitr from a checkout:
--   luarocks --lua-version=5.4 make            (or --tree DIR, --local)
-- builds it with CMake (the C core linked in statically, without the C
-- library's own install) and installs require "limitr" (share/lua/5.4/
-- limitr/*.lua) and limitr.core (lib/lua/5.4/limitr/core.so).
rockspec_format = "3.0"
package = "limitr"
version = "scm-1"

source = {
   url = "git+file://.", -- built from the checkout: `luarocks make`
}

description = {
   summary = "Embedded engine for plans, entitlements, usage limits and credits",
   detailed = [[
Your monetization rules (seat caps, token quotas, plan checks) live in a
policy document (YAML or JSON) that your application loads; the engine
enforces it locally, inside the process, from C or from Lua.
]],
   license = "Apache-2.0",
   labels = { "limits", "quota", "entitlements", "billing" },
}

-- The module is built against Lua 5.4's headers (pkg-config lua5.4).
dependencies = {
   "lua >= 5.4, < 5.5",
}

-- Build time: libyaml and cJSON (Debian: libyaml-dev, libcjson-dev), found
-- by CMake through pkg-config, and CMake itself.
-- Run time: the engine runs policy snippets in its own Lua 5.4, loaded with
-- dlopen("liblua5.4.so.0") (Debian: liblua5.4-0, which lua5.4 pulls in);
-- LUA54 checks that the library is there.
external_dependencies = {
   YAML = { header = "yaml.h", library = "yaml" },
   CJSON = { header = "cjson/cJSON.h", library = "cjson" },
   LUA54 = { library = "lua5.4" },
}

build = {
   type = "cmake",
   variables = {
      CMAKE_INSTALL_PREFIX = "$(PREFIX)",
      LIMITR_BUILD_TESTS = "OFF",
      LIMITR_WITH_LUAJIT = "OFF",
      LIMITR_INSTALL_C = "OFF",
      LIMITR_INSTALL_LUA_CMOD_DIR = "$(LIBDIR)",
      LIMITR_INSTALL_LUA_LMOD_DIR = "$(LUADIR)",
   },
}
