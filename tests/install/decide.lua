-- decide.lua LMOD_DIR CMOD_DIR: the Lua half of the install tests
-- (install.sh, luarocks.sh). Requires "limitr" with package.path and
-- package.cpath set to LMOD_DIR (share/lua/<v>) and CMOD_DIR (lib/lua/<v>)
-- alone, makes decisions, one limit being a policy snippet (run by the
-- engine's own Lua 5.4, the dlopen'ed liblua5.4.so.0), and prints them with
-- the files that require loaded.
local lmod, cmod = assert(arg[1], "LMOD_DIR"), assert(arg[2], "CMOD_DIR")
package.path = lmod .. "/?.lua;" .. lmod .. "/?/init.lua"
package.cpath = cmod .. "/?.so"

local limitr = require "limitr"
if jit then -- LuaJIT: init.lua also loads the FFI front, limitr/ffi.lua
    assert(package.loaded["limitr.ffi"], "limitr.ffi not loaded")
end

local e = assert(limitr.new([[
policy:
  credits:
    seat: {}
  plans:
    free:
      entitlements:
        seats:
          limit: { credit: seat, value: "function(customer) return 1 + 1 end" }
]], "yaml"))
assert(e:create_customer("cus_1", "free"))
print(e:limit("cus_1", "seats"), e:increment("cus_1", "seats"),
      e:increment("cus_1", "seats"), e:allow("cus_1", "seats", 1))
print(package.searchpath("limitr", package.path))
print(package.searchpath("limitr.core", package.cpath))
