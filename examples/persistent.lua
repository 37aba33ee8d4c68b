-- A restart that keeps usage (docs/store.md): the first run opens a store,
-- meters a customer and exits; the second run, a new process, opens the
-- same store and goes on where the first stopped. Every call that changes
-- state was written before it returned (durability "sync"), so a crash or
-- kill -9 would keep it too.
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

local store = arg[2] or (os.tmpname() .. ".db")

if arg[1] ~= "second-run" then
    local e, info = assert(limitr.open(POLICY, { store = store }))
    e:set_time(NOW)
    print(("first run:  store created: %s"):format(tostring(info.created)))
    e:create_customer("acme")
    e:allow("acme", "api", 70)
    print(("first run:  acme used %d of %d, exiting"):format(e:value("acme", "api"), e:limit("acme", "api")))
    assert(e:close())
    -- the same script again, as a new process
    local lua = arg[-1] or "lua5.4"
    local cmd = ("%q %q second-run %q"):format(lua, arg[0], store)
    local pipe = assert(io.popen(cmd))
    io.write(pipe:read("a"))
    assert(pipe:close())
    for _, suffix in ipairs({ "", "-wal", "-shm", "-lock" }) do os.remove(store .. suffix) end
else
    local e, info = assert(limitr.open(POLICY, { store = store }))
    e:set_time(NOW)
    print(("second run: %d customer restored"):format(info.customers))
    print(("second run: acme used %d of %d"):format(e:value("acme", "api"), e:limit("acme", "api")))
    local ok, reason = e:allow("acme", "api", 40)
    print(("second run: allow 40 -> %s %s"):format(tostring(ok), reason or ""))
    ok = e:allow("acme", "api", 30)
    print(("second run: allow 30 -> %s (used %d)"):format(tostring(ok), e:value("acme", "api")))
    assert(e:close())
end
