-- A restart that keeps usage (docs/state.md): the first run meters a
-- customer and saves the engine's state document to a file before it exits;
-- the second run, a new process, loads the same policy, imports the file
-- and goes on where the first stopped. (The durable SQLite store, which
-- would save after every call, is not built yet: docs/roadmap.md.)
local limitr = require "limitr"

local POLICY = [[
policy:
  credits: {request: {}}
  plans:
    free:
      default: true
      entitlements:
        api: {limit: {credit: request, value: 100, resets: true, reset_inc: 1day}}
]]
local NOW = 1774872000000 -- 2026-03-30T12:00Z, so the output is fixed

local function engine()
    local e = assert(limitr.new(POLICY))
    e:set_time(NOW)
    return e
end

local state_file = arg[2] or (os.tmpname() .. ".json")

if arg[1] ~= "second-run" then
    local e = engine()
    e:create_customer("acme")
    e:allow("acme", "api", 70)
    print(("first run:  acme used %d of %d"):format(e:value("acme", "api"), e:limit("acme", "api")))
    local f = assert(io.open(state_file, "w"))
    f:write(assert(e:export()))
    f:close()
    print("first run:  state saved, exiting")
    -- the same script again, as a new process
    local lua = arg[-1] or "lua5.4"
    local cmd = ("%q %q second-run %q"):format(lua, arg[0], state_file)
    local pipe = assert(io.popen(cmd))
    io.write(pipe:read("a"))
    assert(pipe:close())
    os.remove(state_file)
else
    local e = engine()
    local f = assert(io.open(state_file))
    local report = assert(e:import(f:read("a")))
    f:close()
    print(("second run: %d customer restored"):format(report.customers))
    print(("second run: acme used %d of %d"):format(e:value("acme", "api"), e:limit("acme", "api")))
    local ok, reason = e:allow("acme", "api", 40)
    print(("second run: allow 40 -> %s %s"):format(tostring(ok), reason or ""))
    ok = e:allow("acme", "api", 30)
    print(("second run: allow 30 -> %s (used %d)"):format(tostring(ok), e:value("acme", "api")))
end
